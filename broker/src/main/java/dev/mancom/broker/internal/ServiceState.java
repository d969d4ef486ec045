package dev.mancom.broker.internal;

import dev.mancom.broker.config.ServiceConfig;

import java.util.ArrayList;
import java.util.List;

/**
 * A configured service at run time: its listeners and its registered acceptors. A reload may change its
 * configuration and its listeners; its acceptors stay. Conductor only.
 */
final class ServiceState
{
    private final String name;
    private ServiceConfig config;
    private ServiceAccess access;
    private final List<BoundListener> listeners = new ArrayList<>();
    private final List<Acceptor> acceptors = new ArrayList<>();
    private int nextAcceptorIndex;

    ServiceState(final String name, final ServiceConfig config, final ServiceAccess access)
    {
        this.access = access;
        this.name = name;
        this.config = config;
    }

    String name()
    {
        return name;
    }

    ServiceConfig config()
    {
        return config;
    }

    ServiceAccess access()
    {
        return access;
    }

    void config(final ServiceConfig config, final ServiceAccess access)
    {
        this.access = access;
        this.config = config;
    }

    List<BoundListener> listeners()
    {
        return listeners;
    }

    /**
     * The listener of a URI, as configured.
     *
     * @param uri the URI text.
     * @return the listener, or null when the service does not listen on it.
     */
    BoundListener listenerOf(final String uri)
    {
        for (int i = 0, size = listeners.size(); i < size; i++)
        {
            if (listeners.get(i).uri().equals(uri))
            {
                return listeners.get(i);
            }
        }
        return null;
    }

    List<Acceptor> acceptors()
    {
        return acceptors;
    }

    /**
     * The acceptor that gets the next connection: round robin over the registered acceptors.
     *
     * @return the acceptor, or null when none is registered.
     */
    Acceptor nextAcceptor()
    {
        final int size = acceptors.size();
        if (0 == size)
        {
            return null;
        }
        if (nextAcceptorIndex >= size)
        {
            nextAcceptorIndex = 0;
        }
        return acceptors.get(nextAcceptorIndex++);
    }
}
