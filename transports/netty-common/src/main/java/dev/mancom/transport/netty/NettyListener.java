package dev.mancom.transport.netty;

import dev.mancom.protocol.Endpoint;
import dev.mancom.transport.TransportListener;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.EventLoop;
import io.netty.util.concurrent.Promise;

import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A bound server channel. Closing it stops accepting; the connections it accepted go on. Thread safe.
 */
final class NettyListener implements TransportListener
{
    private static final long CLOSE_WAIT_MS = 5_000;

    private final NettyTransport transport;
    private final Channel channel;
    private final Endpoint localEndpoint;
    private final AtomicBoolean closed = new AtomicBoolean();

    NettyListener(final NettyTransport transport, final Channel channel, final Endpoint localEndpoint)
    {
        this.transport = transport;
        this.channel = channel;
        this.localEndpoint = localEndpoint;
    }

    /**
     * {@inheritDoc}
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
        return !closed.get();
    }

    /**
     * {@inheritDoc}
     * <p>
     * Off the I/O threads this waits until the socket is closed, so that the port can be bound again at once.
     */
    public void close()
    {
        if (!closed.compareAndSet(false, true))
        {
            return;
        }

        transport.closed(this);
        final ChannelFuture closeFuture = channel.close();
        final EventLoop eventLoop = channel.eventLoop();
        if (!eventLoop.inEventLoop())
        {
            closeFuture.awaitUninterruptibly(CLOSE_WAIT_MS);
            awaitNextSelect(eventLoop);
        }
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
     * @return such as {@code tcp://127.0.0.1:7000}.
     */
    public String toString()
    {
        return "Listener{" + localEndpoint + (closed.get() ? ", closed}" : "}");
    }
}
