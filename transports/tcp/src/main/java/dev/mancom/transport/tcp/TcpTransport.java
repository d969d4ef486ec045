package dev.mancom.transport.tcp;

import dev.mancom.protocol.Endpoint;
import dev.mancom.protocol.codecs.CloseReason;
import dev.mancom.protocol.codecs.TransportType;
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
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.FastThreadLocalThread;
import io.netty.util.concurrent.Future;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Pattern;

/**
 * TCP on Netty: one event-loop group (native epoll when available, NIO otherwise) serves every listener and
 * connection of the transport. Thread safe.
 */
final class TcpTransport implements Transport
{
    private static final Logger LOGGER = LoggerFactory.getLogger(TcpTransport.class);

    static final String SCHEME = "tcp";
    static final String PARAM_NODELAY = "nodelay";
    static final String PARAM_BACKLOG = "backlog";
    static final String PARAM_CONNECT_TIMEOUT_MS = "connect_timeout_ms";
    static final int DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

    /**
     * Pooled and direct, so that inbound bytes can be handed over by address and outbound copies cost no garbage.
     */
    static final ByteBufAllocator ALLOCATOR = PooledByteBufAllocator.DEFAULT;

    private static final long SHUTDOWN_TIMEOUT_MS = 2_000;
    private static final long TERMINATION_WAIT_MS = 10_000;

    /**
     * Netty's native errors read "bind(..) failed with error(-98): Address already in use"; people want the last part.
     */
    private static final Pattern NATIVE_ERROR_PREFIX =
        Pattern.compile("^\\w+\\(\\.\\.\\) failed(?: with error\\(-?\\d+\\))?: ?");

    private final TransportContext context;
    private final MultiThreadIoEventLoopGroup group;
    private final Class<? extends ServerChannel> serverChannelClass;
    private final Class<? extends Channel> channelClass;
    private final ChannelHandler serverErrorReporter = new ServerErrorReporter();
    private final Set<TcpListener> listeners = ConcurrentHashMap.newKeySet();
    private final Set<TcpConnection> connections = ConcurrentHashMap.newKeySet();
    private final AtomicBoolean closed = new AtomicBoolean();

    TcpTransport(final TransportContext context)
    {
        this(context, epollAvailable());
    }

    /**
     * A transport on the chosen I/O implementation; tests use this to run both.
     *
     * @param context what the broker gives every transport.
     * @param epoll   true for native epoll (which must be available), false for NIO.
     */
    TcpTransport(final TransportContext context, final boolean epoll)
    {
        this.context = Objects.requireNonNull(context, "context");
        if (epoll)
        {
            Epoll.ensureAvailability();
            group = new MultiThreadIoEventLoopGroup(
                context.ioThreads(), threadFactory(context.threadNamePrefix()), EpollIoHandler.newFactory());
            serverChannelClass = EpollServerSocketChannel.class;
            channelClass = EpollSocketChannel.class;
        }
        else
        {
            group = new MultiThreadIoEventLoopGroup(
                context.ioThreads(), threadFactory(context.threadNamePrefix()), NioIoHandler.newFactory());
            serverChannelClass = NioServerSocketChannel.class;
            channelClass = NioSocketChannel.class;
        }
    }

    /**
     * {@inheritDoc}
     */
    public void validate(final TransportUri uri)
    {
        options(uri);
    }

    /**
     * {@inheritDoc}
     * <p>
     * Blocks until bound; must not be called on one of the transport's I/O threads.
     */
    public TransportListener listen(final TransportUri uri, final AcceptHandler acceptHandler)
    {
        Objects.requireNonNull(acceptHandler, "acceptHandler");
        final Options options = options(uri);
        if (isIoThread())
        {
            // Waiting for the bind here could wait for this very thread.
            throw new IllegalStateException("listen must not be called on an I/O thread of the transport");
        }
        if (closed.get())
        {
            throw new TransportException(null, "cannot listen on " + uri + ": the transport is closed");
        }

        final InetSocketAddress address = new InetSocketAddress(uri.host(), uri.port());
        if (address.isUnresolved())
        {
            throw new TransportException("host", "cannot listen on " + uri + ": unknown host '" + uri.host() + "'");
        }

        final ServerBootstrap bootstrap = new ServerBootstrap()
            .group(group)
            .channel(serverChannelClass)
            .option(ChannelOption.SO_REUSEADDR, true)
            .handler(serverErrorReporter)
            .childOption(ChannelOption.AUTO_READ, false)
            .childOption(ChannelOption.TCP_NODELAY, options.noDelay)
            .childOption(ChannelOption.ALLOCATOR, ALLOCATOR)
            .childHandler(new ConnectionInitializer(this, acceptHandler));
        if (options.backlog > 0)
        {
            bootstrap.option(ChannelOption.SO_BACKLOG, options.backlog);
        }

        final ChannelFuture bindFuture = bootstrap.bind(address).awaitUninterruptibly();
        if (!bindFuture.isSuccess())
        {
            final Throwable cause = bindFuture.cause();
            throw new TransportException(null, "cannot listen on " + uri + ": " + describe(cause), cause);
        }

        final Channel serverChannel = bindFuture.channel();
        final TcpListener listener = new TcpListener(
            this, serverChannel, Endpoint.ip(TransportType.TCP, (InetSocketAddress)serverChannel.localAddress()));
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
     * {@inheritDoc}
     * <p>
     * A host name is resolved on the calling thread, so that no I/O thread waits for DNS; a name that does not
     * resolve is reported to {@code connectHandler} on the calling thread.
     */
    public void connect(final TransportUri uri, final ConnectHandler connectHandler)
    {
        Objects.requireNonNull(connectHandler, "connectHandler");
        final Options options = options(uri);
        if (closed.get())
        {
            connectHandler.onConnectFailed(
                new IllegalStateException("cannot connect to " + uri + ": the transport is closed"));
            return;
        }

        final InetSocketAddress address = new InetSocketAddress(uri.host(), uri.port());
        if (address.isUnresolved())
        {
            connectHandler.onConnectFailed(new UnknownHostException("cannot connect to " + uri + ": unknown host"));
            return;
        }

        final Bootstrap bootstrap = new Bootstrap()
            .group(group)
            .channel(channelClass)
            .option(ChannelOption.AUTO_READ, false)
            .option(ChannelOption.TCP_NODELAY, options.noDelay)
            .option(ChannelOption.ALLOCATOR, ALLOCATOR)
            .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, options.connectTimeoutMs)
            .handler(new ConnectionInitializer(this, null));

        final ConnectListener listener = new ConnectListener(connectHandler);
        final ChannelFuture connectFuture = bootstrap.connect(address).addListener(listener);
        if (connectFuture.isDone() && !connectFuture.isSuccess() && group.isShuttingDown())
        {
            // Registration was refused by a loop that is shutting down, and Netty cannot notify listeners there.
            listener.operationComplete(connectFuture);
        }
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

        for (final TcpListener listener : listeners)
        {
            listener.close();
        }
        for (final TcpConnection connection : connections)
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

    boolean isClosed()
    {
        return closed.get();
    }

    boolean isIoThread()
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

    void reportError(final Throwable error)
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

    void opened(final TcpConnection connection)
    {
        connections.add(connection);
        if (closed.get())
        {
            // Opened while close() was iterating; it will not be aborted there.
            connection.abort(CloseReason.BROKER_SHUTDOWN);
        }
    }

    void closed(final TcpConnection connection)
    {
        connections.remove(connection);
    }

    void closed(final TcpListener listener)
    {
        listeners.remove(listener);
    }

    /**
     * A person's description of an I/O failure, without Netty's native call prefix.
     *
     * @param cause the failure.
     * @return its message, or its type when it has none.
     */
    static String describe(final Throwable cause)
    {
        final String message = cause.getMessage();
        if (null == message || message.isEmpty())
        {
            return cause.getClass().getSimpleName();
        }
        return NATIVE_ERROR_PREFIX.matcher(message).replaceFirst("");
    }

    private void connected(final ChannelFuture future, final ConnectHandler connectHandler)
    {
        if (!future.isSuccess())
        {
            try
            {
                connectHandler.onConnectFailed(future.cause());
            }
            catch (final RuntimeException ex)
            {
                reportError(ex);
            }
            return;
        }

        final TcpConnection connection = future.channel().pipeline().get(TcpConnection.class);
        try
        {
            if (null == connection)
            {
                throw new IllegalStateException("the channel has no TcpConnection: " + future.channel());
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

    private static boolean epollAvailable()
    {
        if (Epoll.isAvailable())
        {
            return true;
        }
        LOGGER.info("native epoll is not available, TCP uses NIO: {}", String.valueOf(Epoll.unavailabilityCause()));
        return false;
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

    private static Options options(final TransportUri uri)
    {
        Objects.requireNonNull(uri, "uri");
        if (!SCHEME.equals(uri.scheme()))
        {
            throw new TransportException("scheme", "not a tcp URI: '" + uri + "'");
        }
        if (null == uri.host() || uri.host().isEmpty())
        {
            throw new TransportException("host", "no host in '" + uri + "' (such as tcp://127.0.0.1:7000)");
        }
        if (uri.port() < 0)
        {
            throw new TransportException("port", "no port in '" + uri + "' (such as tcp://127.0.0.1:7000)");
        }
        if (uri.port() > 65535)
        {
            throw new TransportException("port", "port " + uri.port() + " is not in 0..65535 in '" + uri + "'");
        }
        if (!uri.path().isEmpty() && !"/".equals(uri.path()))
        {
            throw new TransportException("path", "a tcp URI has no path: '" + uri.path() + "' in '" + uri + "'");
        }

        boolean noDelay = true;
        int backlog = 0;
        int connectTimeoutMs = DEFAULT_CONNECT_TIMEOUT_MS;
        for (final Map.Entry<String, String> param : uri.params().entrySet())
        {
            final String key = param.getKey();
            final String value = param.getValue();
            switch (key)
            {
                case PARAM_NODELAY:
                    if ("true".equals(value))
                    {
                        noDelay = true;
                    }
                    else if ("false".equals(value))
                    {
                        noDelay = false;
                    }
                    else
                    {
                        throw new TransportException(
                            key, "nodelay must be true or false, not '" + value + "', in '" + uri + "'");
                    }
                    break;

                case PARAM_BACKLOG:
                    backlog = positiveInt(uri, key, value);
                    break;

                case PARAM_CONNECT_TIMEOUT_MS:
                    connectTimeoutMs = positiveInt(uri, key, value);
                    break;

                default:
                    throw new TransportException(
                        key, "unknown parameter '" + key + "' in '" + uri + "' (known: " + PARAM_NODELAY + ", " +
                        PARAM_BACKLOG + ", " + PARAM_CONNECT_TIMEOUT_MS + ")");
            }
        }

        return new Options(noDelay, backlog, connectTimeoutMs);
    }

    private static int positiveInt(final TransportUri uri, final String key, final String value)
    {
        try
        {
            final int n = Integer.parseInt(value);
            if (n > 0)
            {
                return n;
            }
        }
        catch (final NumberFormatException ignore)
        {
            // Reported below, with the URI.
        }
        throw new TransportException(key, key + " must be a positive integer, not '" + value + "', in '" + uri + "'");
    }

    /**
     * The URI parameters, checked.
     */
    private static final class Options
    {
        final boolean noDelay;
        final int backlog;
        final int connectTimeoutMs;

        Options(final boolean noDelay, final int backlog, final int connectTimeoutMs)
        {
            this.noDelay = noDelay;
            this.backlog = backlog;
            this.connectTimeoutMs = connectTimeoutMs;
        }
    }

    /**
     * Reports the result of one connect to its handler, once.
     */
    private final class ConnectListener implements ChannelFutureListener
    {
        private final ConnectHandler connectHandler;
        private final AtomicBoolean reported = new AtomicBoolean();

        ConnectListener(final ConnectHandler connectHandler)
        {
            this.connectHandler = connectHandler;
        }

        /**
         * {@inheritDoc}
         */
        public void operationComplete(final ChannelFuture future)
        {
            if (reported.compareAndSet(false, true))
            {
                connected(future, connectHandler);
            }
        }
    }

    /**
     * Puts a {@link TcpConnection} in each new channel's pipeline.
     */
    private static final class ConnectionInitializer extends ChannelInitializer<Channel>
    {
        private final TcpTransport transport;
        private final AcceptHandler acceptHandler;

        ConnectionInitializer(final TcpTransport transport, final AcceptHandler acceptHandler)
        {
            this.transport = transport;
            this.acceptHandler = acceptHandler;
        }

        /**
         * {@inheritDoc}
         */
        protected void initChannel(final Channel channel)
        {
            channel.pipeline().addLast(new TcpConnection(transport, channel, acceptHandler));
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
