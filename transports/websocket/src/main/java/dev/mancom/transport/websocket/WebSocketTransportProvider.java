package dev.mancom.transport.websocket;

import dev.mancom.transport.Transport;
import dev.mancom.transport.TransportContext;
import dev.mancom.transport.TransportProvider;

import java.util.Set;

/**
 * The WebSocket transport's entry point, found by {@link java.util.ServiceLoader}: serves {@code ws://}.
 */
public final class WebSocketTransportProvider implements TransportProvider
{
    /**
     * A provider; the service loader makes it.
     */
    public WebSocketTransportProvider()
    {
    }

    /**
     * {@inheritDoc}
     */
    public Set<String> schemes()
    {
        return Set.of(WebSocketOptions.SCHEME);
    }

    /**
     * {@inheritDoc}
     * <p>
     * Native epoll when available, NIO otherwise. Its I/O threads are named after the context's prefix followed by
     * {@code ws-}, such as {@code mancom-io-ws-0}.
     */
    public Transport create(final TransportContext context)
    {
        return new WebSocketTransport(context);
    }
}
