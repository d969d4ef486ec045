package dev.mancom.broker.internal;

import dev.mancom.transport.TransportListener;

/**
 * A bound listener and the service its connections go to. A reload may hand the listener to another service
 * (the same URI moved from one service to another) without closing it: the accept handler looks the service up
 * here when each connection arrives. Conductor only.
 */
final class BoundListener
{
    private final String uri;
    private ServiceState service;
    private TransportListener listener;

    BoundListener(final String uri, final ServiceState service)
    {
        this.uri = uri;
        this.service = service;
    }

    /**
     * The URI as configured, which identifies the listener from one configuration to the next.
     *
     * @return the URI text.
     */
    String uri()
    {
        return uri;
    }

    ServiceState service()
    {
        return service;
    }

    void service(final ServiceState service)
    {
        this.service = service;
    }

    TransportListener listener()
    {
        return listener;
    }

    void listener(final TransportListener listener)
    {
        this.listener = listener;
    }

    public String toString()
    {
        return null == listener ? uri : listener.localEndpoint().toString();
    }
}
