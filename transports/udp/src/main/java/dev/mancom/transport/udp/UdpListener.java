package dev.mancom.transport.udp;

import dev.mancom.protocol.Endpoint;
import dev.mancom.protocol.codecs.CloseReason;
import dev.mancom.protocol.codecs.TransportType;
import dev.mancom.transport.AcceptHandler;
import dev.mancom.transport.TransportListener;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoop;
import io.netty.channel.socket.DatagramPacket;
import io.netty.util.concurrent.Promise;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.PortUnreachableException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A bound datagram channel that serves every remote address as a connection of its own, and the only handler of
 * that channel's pipeline.
 * <p>
 * The first datagram from an address that has no connection opens one (the accept handler is told, then the
 * datagram is the connection's first data); the next ones from that address are that connection's data. A
 * connection that closes (idle time-out, close, abort) is forgotten at once: the next datagram from its address
 * opens a new one. Datagrams from new addresses are dropped, and counted in {@link #refusedDatagrams()}, while the
 * listener has {@code max_connections} connections open and after it is closed.
 * <p>
 * Threading: the connection table and everything that calls the accept handler run on the channel's I/O thread; all
 * the listener's connections live on that one thread.
 */
final class UdpListener extends ChannelInboundHandlerAdapter implements TransportListener
{
    private static final Logger LOGGER = LoggerFactory.getLogger(UdpListener.class);
    private static final long CLOSE_WAIT_MS = 5_000;

    private final UdpTransport transport;
    private final UdpOptions options;
    private final AcceptHandler acceptHandler;
    private final AtomicBoolean closed = new AtomicBoolean();
    private final AtomicLong refusedDatagrams = new AtomicLong();

    private volatile Channel channel;
    private volatile Endpoint localEndpoint;
    private volatile boolean accepting = true;

    // Used on the I/O thread only.
    private final Map<InetSocketAddress, UdpConnection> connections = new HashMap<>();
    private boolean warnedFull;

    UdpListener(final UdpTransport transport, final UdpOptions options, final AcceptHandler acceptHandler)
    {
        this.transport = transport;
        this.options = options;
        this.acceptHandler = acceptHandler;
    }

    /**
     * The channel is bound. Called on the I/O thread before the first read, and again by the thread that bound.
     *
     * @param channel       the bound channel.
     * @param localEndpoint where.
     */
    void bound(final Channel channel, final Endpoint localEndpoint)
    {
        this.channel = channel;
        this.localEndpoint = localEndpoint;
    }

    /**
     * {@inheritDoc}
     * <p>
     * The local endpoint of every connection the listener opens too: the listener's bound address (which is the
     * wildcard address when it is bound to one), not the address a datagram was sent to.
     */
    public Endpoint localEndpoint()
    {
        return localEndpoint;
    }

    /**
     * {@inheritDoc} Bound when created: ready until closed.
     */
    public boolean isReady()
    {
        return !closed.get() && null != channel;
    }

    /**
     * {@inheritDoc}
     * <p>
     * Datagrams from new addresses are dropped from now on. The connections already open go on, on the same socket,
     * which is closed once the last of them closes: until then the port stays bound. Off the I/O threads, when no
     * connection is open, this waits until the socket is closed, so that the port can be bound again at once.
     */
    public void close()
    {
        if (!closed.compareAndSet(false, true))
        {
            return;
        }

        accepting = false;
        transport.closed(this);
        final Channel channel = this.channel;
        final EventLoop eventLoop = channel.eventLoop();
        if (eventLoop.inEventLoop())
        {
            closeChannelWhenUnused();
            return;
        }

        final Promise<Boolean> closing = eventLoop.newPromise();
        try
        {
            eventLoop.execute(() -> closing.trySuccess(closeChannelWhenUnused()));
        }
        catch (final RejectedExecutionException ignore)
        {
            // The loop is shutting down and closes its sockets as it goes.
            return;
        }
        if (closing.awaitUninterruptibly(CLOSE_WAIT_MS) && Boolean.TRUE.equals(closing.getNow()))
        {
            channel.closeFuture().awaitUninterruptibly(CLOSE_WAIT_MS);
            awaitNextSelect(eventLoop);
        }
    }

    /**
     * How many datagrams were dropped because they came from an address with no connection while the listener had
     * {@code max_connections} connections open, or after it was closed. Any thread.
     *
     * @return the count since the listener was bound.
     */
    long refusedDatagrams()
    {
        return refusedDatagrams.get();
    }

    /**
     * How many connections are open. I/O thread.
     *
     * @return the count.
     */
    int connectionCount()
    {
        return connections.size();
    }

    /**
     * {@inheritDoc}
     * <p>
     * Runs before the first read; {@link #bound(Channel, Endpoint)}, on the thread that bound, may come later.
     */
    public void channelActive(final ChannelHandlerContext ctx)
    {
        bound(ctx.channel(), Endpoint.ip(TransportType.UDP, (InetSocketAddress)ctx.channel().localAddress()));
        ctx.fireChannelActive();
    }

    /**
     * {@inheritDoc}
     */
    public void channelRead(final ChannelHandlerContext ctx, final Object msg)
    {
        final DatagramPacket packet = (DatagramPacket)msg;
        try
        {
            final ByteBuf content = packet.content();
            if (content.isReadable())
            {
                dispatch(packet.sender(), content);
            }
        }
        finally
        {
            packet.release();
        }
    }

    /**
     * {@inheritDoc}
     */
    public void channelReadComplete(final ChannelHandlerContext ctx)
    {
        // Auto-read schedules the next read; nothing for the rest of the pipeline.
    }

    /**
     * {@inheritDoc}
     */
    public void exceptionCaught(final ChannelHandlerContext ctx, final Throwable cause)
    {
        // An unconnected socket sees no ICMP errors on Linux; anything else is the socket's or the system's trouble.
        if (!(cause instanceof PortUnreachableException))
        {
            transport.reportError(cause instanceof IOException ?
                new IOException("udp listener " + localEndpoint + ": " + UdpTransport.describe(cause), cause) : cause);
        }
    }

    /**
     * {@inheritDoc}
     */
    public void channelInactive(final ChannelHandlerContext ctx)
    {
        if (!connections.isEmpty())
        {
            final String detail = transport.isClosed() ? "" : "the listening socket closed";
            final CloseReason reason = transport.isClosed() ? CloseReason.BROKER_SHUTDOWN : CloseReason.TRANSPORT_ERROR;
            for (final UdpConnection connection : new ArrayList<>(connections.values()))
            {
                connection.finish(reason, detail);
            }
        }
        transport.closed(this);
    }

    /**
     * I/O thread: a connection of this listener closed; forget its address.
     *
     * @param connection the connection.
     */
    void forget(final UdpConnection connection)
    {
        connections.remove(connection.remoteAddress(), connection);
        if (!accepting)
        {
            closeChannelWhenUnused();
        }
    }

    private void dispatch(final InetSocketAddress sender, final ByteBuf content)
    {
        UdpConnection connection = connections.get(sender);
        if (null == connection)
        {
            if (!accepting || connections.size() >= options.maxConnections)
            {
                refusedDatagrams.incrementAndGet();
                if (accepting && !warnedFull)
                {
                    warnedFull = true;
                    LOGGER.warn("udp listener {} has {} connections open (max_connections): datagrams from new " +
                        "addresses are dropped", localEndpoint, connections.size());
                }
                return;
            }
            if (connections.isEmpty())
            {
                warnedFull = false;
            }

            connection = new UdpConnection(transport, options, channel, this, sender);
            connections.put(sender, connection);
            connection.open(localEndpoint);
            try
            {
                acceptHandler.onAccept(connection);
            }
            catch (final Throwable ex)
            {
                transport.reportError(ex);
                connection.finish(CloseReason.TRANSPORT_ERROR, UdpTransport.describe(ex));
                return;
            }
        }
        connection.onDatagram(content);
    }

    private boolean closeChannelWhenUnused()
    {
        final Channel channel = this.channel;
        if (connections.isEmpty() && channel.isOpen())
        {
            channel.close();
            return true;
        }
        return false;
    }

    /**
     * NIO closes a socket that is registered with a selector only when the selector next runs after Netty has
     * cancelled the key, which is after the close future completes. A task scheduled from a task runs only after the
     * loop's next select, by when the port is free.
     */
    private static void awaitNextSelect(final EventLoop eventLoop)
    {
        final Promise<Void> selected = eventLoop.newPromise();
        try
        {
            eventLoop.execute(() -> eventLoop.schedule(() -> selected.trySuccess(null), 0, TimeUnit.NANOSECONDS));
        }
        catch (final RejectedExecutionException ignore)
        {
            // The loop is shutting down and closes its sockets as it goes.
            return;
        }
        selected.awaitUninterruptibly(CLOSE_WAIT_MS);
    }

    /**
     * The listener as a printable endpoint.
     *
     * @return such as {@code UdpListener{udp://127.0.0.1:9000}}.
     */
    public String toString()
    {
        return "UdpListener{" + localEndpoint + (closed.get() ? ", closed}" : "}");
    }
}
