package dev.mancom.transport.netty;

import dev.mancom.protocol.Endpoint;
import dev.mancom.protocol.codecs.CloseReason;
import dev.mancom.transport.AcceptHandler;
import dev.mancom.transport.ConnectHandler;
import dev.mancom.transport.Transport;
import dev.mancom.transport.TransportContext;
import dev.mancom.transport.TransportException;
import dev.mancom.transport.TransportListener;
import dev.mancom.transport.TransportUri;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.FastThreadLocalThread;
import io.netty.util.concurrent.Future;

import java.net.SocketAddress;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Pattern;

/**
 * The part of a transport on Netty that does not depend on what its sockets are: one event-loop group (native epoll
 * or NIO) serving every listener and connection of the transport, the registries that let {@link #close()} close
 * them all, binding, outbound connects reported exactly once, and the {@link NettyConnection} put in every channel.
 * A transport module (tcp, unix) adds its URIs, its socket options and its endpoints. Thread safe.
 * <p>
 * Internal to the transport modules; Netty types do not leave them.
 */
public abstract class NettyTransport implements Transport
{
    /**
     * Pooled and direct, so that inbound bytes can be handed over by address and outbound copies cost no garbage.
     */
    public static final ByteBufAllocator ALLOCATOR = PooledByteBufAllocator.DEFAULT;

    private static final long SHUTDOWN_TIMEOUT_MS = 2_000;
    private static final long TERMINATION_WAIT_MS = 10_000;

    /**
     * Netty's native errors read "bind(..) failed with error(-98): Address already in use"; people want the last part.
     */
    private static final Pattern NATIVE_ERROR_PREFIX =
        Pattern.compile("^\\w+\\(\\.\\.\\) failed(?: with error\\(-?\\d+\\))?: ?");

    private final TransportContext context;
    private final boolean epoll;
    private final MultiThreadIoEventLoopGroup group;
    private final Class<? extends ServerChannel> serverChannelClass;
    private final Class<? extends Channel> channelClass;
    private final ChannelHandler serverErrorReporter = new ServerErrorReporter();
    private final Set<NettyListener> listeners = ConcurrentHashMap.newKeySet();
    private final Set<NettyConnection> connections = ConcurrentHashMap.newKeySet();
    private final AtomicBoolean closed = new AtomicBoolean();

    /**
     * Start the transport's event loops.
     *
     * @param context            what the broker gives every transport.
     * @param epoll              true for native epoll (which must be available), false for NIO.
     * @param serverChannelClass the listeners' channel class, of the chosen I/O implementation.
     * @param channelClass       the outbound connections' channel class, of the chosen I/O implementation.
     */
    protected NettyTransport(
        final TransportContext context,
        final boolean epoll,
        final Class<? extends ServerChannel> serverChannelClass,
        final Class<? extends Channel> channelClass)
    {
        this.context = Objects.requireNonNull(context, "context");
        this.epoll = epoll;
        this.serverChannelClass = Objects.requireNonNull(serverChannelClass, "serverChannelClass");
        this.channelClass = Objects.requireNonNull(channelClass, "channelClass");
        if (epoll)
        {
            Epoll.ensureAvailability();
            group = new MultiThreadIoEventLoopGroup(
                context.ioThreads(), threadFactory(context.threadNamePrefix()), EpollIoHandler.newFactory());
        }
        else
        {
            group = new MultiThreadIoEventLoopGroup(
                context.ioThreads(), threadFactory(context.threadNamePrefix()), NioIoHandler.newFactory());
        }
    }

    /**
     * The local endpoint of a connection that has just become active. On the connection's I/O thread.
     *
     * @param channel the connection's channel.
     * @return its local endpoint.
     */
    protected abstract Endpoint localEndpoint(Channel channel);

    /**
     * The remote endpoint of a connection that has just become active. On the connection's I/O thread.
     *
     * @param channel the connection's channel.
     * @return its remote endpoint.
     */
    protected abstract Endpoint remoteEndpoint(Channel channel);

    /**
     * Whether the transport runs on native epoll.
     *
     * @return true for epoll, false for NIO.
     */
    public boolean isEpoll()
    {
        return epoll;
    }

    /**
     * A server bootstrap with what every listener of the transport has: the event loops, the channel class, accepted
     * channels with auto-read off and the pooled allocator, a {@link NettyConnection} in each, and accept errors
     * reported to the broker. The caller adds its own options and binds with
     * {@link #bind(TransportUri, ServerBootstrap, SocketAddress)}.
     *
     * @param acceptHandler receives each accepted connection.
     * @return the bootstrap.
     */
    protected final ServerBootstrap serverBootstrap(final AcceptHandler acceptHandler)
    {
        Objects.requireNonNull(acceptHandler, "acceptHandler");
        return new ServerBootstrap()
            .group(group)
            .channel(serverChannelClass)
            .handler(serverErrorReporter)
            .childOption(ChannelOption.AUTO_READ, false)
            .childOption(ChannelOption.ALLOCATOR, ALLOCATOR)
            .childHandler(new ConnectionInitializer(this, acceptHandler));
    }

    /**
     * A bootstrap with what every outbound connection of the transport has: the event loops, the channel class,
     * auto-read off, the pooled allocator and a {@link NettyConnection}. The caller adds its own options and connects
     * with {@link #connect(Bootstrap, SocketAddress, ConnectHandler)}.
     *
     * @return the bootstrap.
     */
    protected final Bootstrap clientBootstrap()
    {
        return new Bootstrap()
            .group(group)
            .channel(channelClass)
            .option(ChannelOption.AUTO_READ, false)
            .option(ChannelOption.ALLOCATOR, ALLOCATOR)
            .handler(new ConnectionInitializer(this, null));
    }

    /**
     * Refuse to listen on a closed transport or from one of its own I/O threads (waiting for the bind there could
     * wait for that very thread).
     *
     * @param uri the URI about to be bound.
     * @throws TransportException when the transport is closed.
     */
    protected final void checkCanListen(final TransportUri uri)
    {
        if (isIoThread())
        {
            throw new IllegalStateException("listen must not be called on an I/O thread of the transport");
        }
        if (closed.get())
        {
            throw new TransportException(null, "cannot listen on " + uri + ": the transport is closed");
        }
    }

    /**
     * Bind a listener and wait until it is bound. Must not be called on an I/O thread of the transport.
     *
     * @param uri       the URI, for messages.
     * @param bootstrap from {@link #serverBootstrap(AcceptHandler)}, with the caller's options.
     * @param address   where to bind.
     * @return the bound server channel; pass it to {@link #listening(TransportUri, Channel, Endpoint)}.
     * @throws TransportException naming the URI and why the bind failed.
     */
    protected final Channel bind(final TransportUri uri, final ServerBootstrap bootstrap, final SocketAddress address)
    {
        checkCanListen(uri);
        final ChannelFuture bindFuture = bootstrap.bind(address).awaitUninterruptibly();
        if (!bindFuture.isSuccess())
        {
            final Throwable cause = bindFuture.cause();
            throw new TransportException(null, "cannot listen on " + uri + ": " + describe(cause), cause);
        }
        return bindFuture.channel();
    }

    /**
     * Register a bound server channel as a listener of this transport.
     *
     * @param uri           the URI it was bound for, for messages.
     * @param serverChannel the channel {@link #bind(TransportUri, ServerBootstrap, SocketAddress)} returned.
     * @param localEndpoint where it is bound.
     * @return the listener.
     * @throws TransportException when the transport was closed meanwhile (the listener is then closed).
     */
    protected final TransportListener listening(
        final TransportUri uri, final Channel serverChannel, final Endpoint localEndpoint)
    {
        final NettyListener listener = new NettyListener(this, serverChannel, localEndpoint);
        listeners.add(listener);
        if (closed.get())
        {
            // close() ran while we were binding and did not see this listener.
            listener.close();
            throw new TransportException(null, "cannot listen on " + uri + ": the transport is closed");
        }
        return listener;
    }

    /**
     * Whether one of the transport's open listeners is bound to an endpoint.
     *
     * @param localEndpoint the endpoint.
     * @return true when a listener of this transport has that local endpoint.
     */
    protected final boolean isListeningOn(final Endpoint localEndpoint)
    {
        for (final NettyListener listener : listeners)
        {
            if (listener.localEndpoint().equals(localEndpoint))
            {
                return true;
            }
        }
        return false;
    }

    /**
     * Whether the transport is open for a new outbound connection; when it is not, the handler is told so.
     *
     * @param uri            the URI, for the message.
     * @param connectHandler told of the failure.
     * @return true when the connect may go on.
     */
    protected final boolean checkCanConnect(final TransportUri uri, final ConnectHandler connectHandler)
    {
        if (closed.get())
        {
            connectHandler.onConnectFailed(
                new IllegalStateException("cannot connect to " + uri + ": the transport is closed"));
            return false;
        }
        return true;
    }

    /**
     * Open an outbound connection and report the result to the handler, exactly once, on an I/O thread.
     *
     * @param bootstrap      from {@link #clientBootstrap()}, with the caller's options.
     * @param address        where to connect.
     * @param connectHandler receives the connection or the failure.
     */
    protected final void connect(
        final Bootstrap bootstrap, final SocketAddress address, final ConnectHandler connectHandler)
    {
        final ConnectListener listener = new ConnectListener(address, connectHandler);
        final ChannelFuture connectFuture = bootstrap.connect(address).addListener(listener);
        if (connectFuture.isDone() && !connectFuture.isSuccess() && group.isShuttingDown())
        {
            // Registration was refused by a loop that is shutting down, and Netty cannot notify listeners there.
            listener.operationComplete(connectFuture);
        }
    }

    /**
     * What an outbound connect that failed reports to its handler. By default the failure as Netty gives it.
     *
     * @param address where it tried to connect.
     * @param cause   the failure.
     * @return what the handler receives.
     */
    protected Throwable connectFailure(final SocketAddress address, final Throwable cause)
    {
        return cause;
    }

    /**
     * {@inheritDoc}
     * <p>
     * Open connections are aborted with {@link CloseReason#BROKER_SHUTDOWN}. Waits for the I/O threads to stop unless
     * called on one of them.
     */
    public void close()
    {
        if (!closed.compareAndSet(false, true))
        {
            return;
        }

        for (final NettyListener listener : listeners)
        {
            listener.close();
        }
        for (final NettyConnection connection : connections)
        {
            connection.abort(CloseReason.BROKER_SHUTDOWN);
        }

        // Quiet period 0: the tasks already queued (the aborts above, their onClosed) still run before the loops stop.
        final Future<?> termination = group.shutdownGracefully(0, SHUTDOWN_TIMEOUT_MS, TimeUnit.MILLISECONDS);
        if (!isIoThread())
        {
            termination.awaitUninterruptibly(TERMINATION_WAIT_MS);
        }
    }

    /**
     * Whether {@link #close()} was called.
     *
     * @return true once closed.
     */
    public boolean isClosed()
    {
        return closed.get();
    }

    /**
     * Whether the calling thread is one of the transport's I/O threads.
     *
     * @return true on an I/O thread.
     */
    public boolean isIoThread()
    {
        for (final EventExecutor executor : group)
        {
            if (executor.inEventLoop())
            {
                return true;
            }
        }
        return false;
    }

    /**
     * Report an error no caller can receive to the broker's error handler.
     *
     * @param error the error.
     */
    public void reportError(final Throwable error)
    {
        try
        {
            context.errorHandler().accept(error);
        }
        catch (final RuntimeException ignore)
        {
            // The broker's error handler failing must not take an I/O thread down with it.
        }
    }

    void opened(final NettyConnection connection)
    {
        connections.add(connection);
        if (closed.get())
        {
            // Opened while close() was iterating; it will not be aborted there.
            connection.abort(CloseReason.BROKER_SHUTDOWN);
        }
    }

    void closed(final NettyConnection connection)
    {
        connections.remove(connection);
    }

    void closed(final NettyListener listener)
    {
        listeners.remove(listener);
    }

    /**
     * A person's description of an I/O failure, without Netty's native call prefix.
     *
     * @param cause the failure.
     * @return its message, or its type when it has none.
     */
    public static String describe(final Throwable cause)
    {
        final String message = cause.getMessage();
        if (null == message || message.isEmpty())
        {
            return cause.getClass().getSimpleName();
        }
        return NATIVE_ERROR_PREFIX.matcher(message).replaceFirst("");
    }

    private void connected(
        final ChannelFuture future, final SocketAddress address, final ConnectHandler connectHandler)
    {
        if (!future.isSuccess())
        {
            try
            {
                connectHandler.onConnectFailed(connectFailure(address, future.cause()));
            }
            catch (final RuntimeException ex)
            {
                reportError(ex);
            }
            return;
        }

        final NettyConnection connection = future.channel().pipeline().get(NettyConnection.class);
        try
        {
            if (null == connection)
            {
                throw new IllegalStateException("the channel has no NettyConnection: " + future.channel());
            }
            connection.open();
        }
        catch (final RuntimeException ex)
        {
            // Still exactly one call of the handler: the connection is of no use without its endpoints.
            future.channel().close();
            try
            {
                connectHandler.onConnectFailed(ex);
            }
            catch (final RuntimeException handlerEx)
            {
                reportError(handlerEx);
            }
            return;
        }

        try
        {
            connectHandler.onConnected(connection);
        }
        catch (final RuntimeException ex)
        {
            reportError(ex);
            connection.abort(CloseReason.TRANSPORT_ERROR);
        }
    }

    private static ThreadFactory threadFactory(final String prefix)
    {
        final String namePrefix = prefix.isEmpty() || prefix.endsWith("-") ? prefix : prefix + "-";
        final AtomicInteger count = new AtomicInteger();
        return (runnable) ->
        {
            // FastThreadLocalThread lets Netty's pooled allocator keep a per-thread cache on the I/O threads.
            final Thread thread = new FastThreadLocalThread(runnable, namePrefix + count.getAndIncrement());
            thread.setDaemon(false);
            return thread;
        };
    }

    /**
     * Reports the result of one connect to its handler, once.
     */
    private final class ConnectListener implements ChannelFutureListener
    {
        private final SocketAddress address;
        private final ConnectHandler connectHandler;
        private final AtomicBoolean reported = new AtomicBoolean();

        ConnectListener(final SocketAddress address, final ConnectHandler connectHandler)
        {
            this.address = address;
            this.connectHandler = connectHandler;
        }

        /**
         * {@inheritDoc}
         */
        public void operationComplete(final ChannelFuture future)
        {
            if (reported.compareAndSet(false, true))
            {
                connected(future, address, connectHandler);
            }
        }
    }

    /**
     * Puts a {@link NettyConnection} in each new channel's pipeline.
     */
    private static final class ConnectionInitializer extends ChannelInitializer<Channel>
    {
        private final NettyTransport transport;
        private final AcceptHandler acceptHandler;

        ConnectionInitializer(final NettyTransport transport, final AcceptHandler acceptHandler)
        {
            this.transport = transport;
            this.acceptHandler = acceptHandler;
        }

        /**
         * {@inheritDoc}
         */
        protected void initChannel(final Channel channel)
        {
            channel.pipeline().addLast(new NettyConnection(transport, channel, acceptHandler));
        }
    }

    /**
     * Reports failures to accept (such as running out of file descriptors) to the broker, then lets Netty's acceptor
     * back off as it does.
     */
    @ChannelHandler.Sharable
    private final class ServerErrorReporter extends ChannelInboundHandlerAdapter
    {
        /**
         * {@inheritDoc}
         */
        public void exceptionCaught(final ChannelHandlerContext ctx, final Throwable cause)
        {
            reportError(cause);
            ctx.fireExceptionCaught(cause);
        }
    }
}
