package dev.mancom.broker.internal;

import dev.mancom.broker.config.ServiceConfig;
import dev.mancom.transport.TransportConnection;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

/**
 * A configured service at run time: its listeners, its registered acceptors, the connections held while it has
 * none ({@code queue_when_unowned}, activation), and the program the broker started for it ({@code exec}). A reload
 * may change its configuration and its listeners; its acceptors, held connections and program stay. Conductor only.
 */
final class ServiceState
{
    private final String name;
    private ServiceConfig config;
    private ServiceAccess access;
    private final List<BoundListener> listeners = new ArrayList<>();
    private final List<Acceptor> acceptors = new ArrayList<>();
    private final ArrayDeque<HeldConnection> held = new ArrayDeque<>();
    private final ArrayDeque<Orphan> orphans = new ArrayDeque<>();
    private final ServiceProgram program;
    private int nextAcceptorIndex;

    ServiceState(final String name, final ServiceConfig config, final ServiceAccess access)
    {
        this.access = access;
        this.name = name;
        this.config = config;
        this.program = new ServiceProgram();
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

    /**
     * Connections that arrived while no acceptor was registered, in arrival order: reading paused, no handler set.
     *
     * @return the held connections.
     */
    ArrayDeque<HeldConnection> held()
    {
        return held;
    }

    /**
     * Connections whose owner exited, held for the next application that registers ({@code on_owner_exit = "hold"}),
     * in the order their owners exited.
     *
     * @return the orphans.
     */
    ArrayDeque<Orphan> orphans()
    {
        return orphans;
    }

    /**
     * The state of the program the broker starts for this service ({@code exec}).
     *
     * @return the program state.
     */
    ServiceProgram program()
    {
        return program;
    }

    /**
     * A connection held until an acceptor registers or its deadline passes: one that came through a transport, or
     * an application's connect by service name (an app-to-app connection, not opened yet).
     *
     * @param connection    the transport connection, paused and without handler; null for an app-to-app connect.
     * @param client        the application that connects, for an app-to-app connect; null otherwise.
     * @param correlationId the Connect command's correlation id, for an app-to-app connect.
     * @param deadlineMs    when it is closed (or the connect fails) if no acceptor came, epoch milliseconds.
     */
    record HeldConnection(TransportConnection connection, ClientSession client, long correlationId, long deadlineMs)
    {
    }

    /**
     * A connection whose owner exited, held for adoption.
     *
     * @param session    the connection, orphaned: reading paused, its unconsumed bytes kept.
     * @param deadlineMs when it is closed if nobody adopted it ({@code queue_when_unowned}), epoch milliseconds;
     *                   {@code Long.MAX_VALUE} to hold it until an application registers or the peer goes.
     */
    record Orphan(ConnectionSession session, long deadlineMs)
    {
    }
}
