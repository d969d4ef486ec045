package dev.mancom.transport.tcp;

import dev.mancom.transport.Transport;
import dev.mancom.transport.TransportContext;
import dev.mancom.transport.TransportProvider;

import java.util.Set;

/**
 * The TCP transport plug-in: serves {@code tcp://host:port} URIs on Netty, with native epoll when the platform has
 * it and NIO otherwise.
 * <p>
 * URI parameters: {@code nodelay=true|false} (TCP_NODELAY, default true), {@code backlog=N} (listen backlog, for
 * listeners) and {@code connect_timeout_ms=N} (default 10000, for outbound connections).
 */
public final class TcpTransportProvider implements TransportProvider
{
    private static final Set<String> SCHEMES = Set.of(TcpTransport.SCHEME);

    /**
     * A provider; {@link java.util.ServiceLoader} calls this.
     */
    public TcpTransportProvider()
    {
    }

    /**
     * {@inheritDoc}
     */
    public Set<String> schemes()
    {
        return SCHEMES;
    }

    /**
     * {@inheritDoc}
     */
    public Transport create(final TransportContext context)
    {
        return new TcpTransport(context);
    }
}
