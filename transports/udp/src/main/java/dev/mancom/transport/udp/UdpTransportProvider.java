package dev.mancom.transport.udp;

import dev.mancom.transport.Transport;
import dev.mancom.transport.TransportContext;
import dev.mancom.transport.TransportProvider;

import java.util.Set;

/**
 * The UDP transport plug-in: serves {@code udp://host:port} URIs on Netty, with native epoll when the platform has
 * it and NIO otherwise. The semantics (message boundaries, one connection per remote address, idle time-out, what
 * is dropped and counted) and the URI parameters are described in the {@linkplain dev.mancom.transport.udp package}.
 */
public final class UdpTransportProvider implements TransportProvider
{
    private static final Set<String> SCHEMES = Set.of(UdpOptions.SCHEME);

    /**
     * A provider; {@link java.util.ServiceLoader} calls this.
     */
    public UdpTransportProvider()
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
        return new UdpTransport(context);
    }
}
