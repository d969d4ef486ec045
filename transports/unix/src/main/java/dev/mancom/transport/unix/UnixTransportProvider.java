package dev.mancom.transport.unix;

import dev.mancom.transport.Transport;
import dev.mancom.transport.TransportContext;
import dev.mancom.transport.TransportProvider;

import java.util.Set;

/**
 * The Unix domain socket transport plug-in: serves {@code unix:///absolute/path} URIs (stream sockets) on Netty.
 * <p>
 * With native epoll (Linux on x86-64) the remote endpoint of every connection carries the peer's pid, uid and gid as
 * the kernel reports them ({@code SO_PEERCRED}). Elsewhere the transport runs on Java's own Unix domain sockets
 * (NIO), which cannot tell them: they are then {@link dev.mancom.protocol.Endpoint#UNKNOWN}.
 * <p>
 * Listening creates the socket file, whose directory must exist; a socket file that no process listens on any more
 * (left by a process that died) is removed first; any other file at the path is refused. Closing the listener
 * removes the file. URI parameters: {@code backlog=N} (listen backlog, for listeners) and
 * {@code connect_timeout_ms=N} (default 10000, for outbound connections).
 */
public final class UnixTransportProvider implements TransportProvider
{
    private static final Set<String> SCHEMES = Set.of(UnixTransport.SCHEME);

    /**
     * A provider; {@link java.util.ServiceLoader} calls this.
     */
    public UnixTransportProvider()
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
        return new UnixTransport(context);
    }
}
