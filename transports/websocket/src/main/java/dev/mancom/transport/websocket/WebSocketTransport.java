package dev.mancom.transport.websocket;

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
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.FastThreadLocalThread;
import io.netty.util.concurrent.Future;

import java.net.Inet6Address;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Pattern;

/**
 * WebSocket ({@code ws://HOST:PORT/PATH}) on Netty's HTTP codec: one event-loop group (native epoll when available,
 * NIO otherwise) serves every listener and connection of the transport. Each WebSocket is one connection. Thread
 * safe.
 * <p>
 * A listener is an HTTP server that upgrades requests for its path to WebSocket; any other request gets an HTTP
 * error (404 for another path, 400 for a request of the path that is not an upgrade, 405 for a method other than
 * GET) and is closed. A connection is handed to the broker once its handshake is complete, with reading paused.
 */
final class WebSocketTransport implements Transport
{
    /** Pooled and direct: inbound messages are handed over by address, outbound copies cost no garbage. */
    static final ByteBufAllocator ALLOCATOR = PooledByteBufAllocator.DEFAULT;

    /** The largest HTTP request or response of a handshake (headers included). */
    static final int MAX_HANDSHAKE_LENGTH = 16 * 1024;

    private static final long SHUTDOWN_TIMEOUT_MS = 2_000;
    private static final long TERMINATION_WAIT_MS = 10_000;
    private static final Pattern NATIVE_ERROR_PREFIX =
        Pattern.compile("^\\w+\\(\\.\\.\\) failed(?: with error\\(-?\\d+\\))?: ?");

    private final TransportContext context;
    private final boolean epoll;
    private final MultiThreadIoEventLoopGroup group;
    private final Set<WebSocketListener> listeners = ConcurrentHashMap.newKeySet();
    private final Set<WebSocketConnection> connections = ConcurrentHashMap.newKeySet();
    private final AtomicBoolean closed = new AtomicBoolean();

    WebSocketTransport(final TransportContext context)
    {
        this(context, Epoll.isAvailable());
    }

    /**
     * A transport on the chosen I/O implementation; tests use this to run both.
     *
     * @param context what the broker gives every transport.
     * @param epoll   true for native epoll (which must be available), false for NIO.
     */
    WebSocketTransport(final TransportContext context, final boolean epoll)
    {
        this.context = Objects.requireNonNull(context, "context");
        this.epoll = epoll;
        final String prefix = context.threadNamePrefix();
        final ThreadFactory threads = threadFactory(
            (prefix.isEmpty() || prefix.endsWith("-") ? prefix : prefix + "-") + "ws-");
        if (epoll)
        {
            Epoll.ensureAvailability();
            group = new MultiThreadIoEventLoopGroup(context.ioThreads(), threads, EpollIoHandler.newFactory());
        }
        else
        {
            group = new MultiThreadIoEventLoopGroup(context.ioThreads(), threads, NioIoHandler.newFactory());
        }
    }

    /**
     * {@inheritDoc}
     */
    public void validate(final TransportUri uri)
    {
        WebSocketOptions.parse(uri);
    }

    /**
     * {@inheritDoc}
     * <p>
     * Blocks until bound; must not be called on one of the transport's I/O threads.
     */
    public TransportListener listen(final TransportUri uri, final AcceptHandler acceptHandler)
    {
        Objects.requireNonNull(acceptHandler, "acceptHandler");
        final WebSocketOptions options = WebSocketOptions.parse(uri);
        if (isIoThread())
        {
            throw new IllegalStateException("listen must not be called on an I/O thread of the transport");
        }
        if (closed.get())
        {
            throw new TransportException(null, "cannot listen on " + uri + ": the transport is closed");
        }
        final InetSocketAddress address = new InetSocketAddress(options.host, options.port);
        if (address.isUnresolved())
        {
            throw new TransportException("host", "cannot listen on " + uri + ": unknown host '" + uri.host() + "'");
        }

        final ServerBootstrap bootstrap = new ServerBootstrap()
            .group(group)
            .channel(epoll ? EpollServerSocketChannel.class : NioServerSocketChannel.class)
            .option(ChannelOption.SO_REUSEADDR, true)
            .childOption(ChannelOption.AUTO_READ, false)
            .childOption(ChannelOption.ALLOCATOR, ALLOCATOR)
            .childOption(ChannelOption.TCP_NODELAY, options.noDelay)
            .handler(new ServerErrorReporter(this));
        if (options.backlog > 0)
        {
            bootstrap.option(ChannelOption.SO_BACKLOG, options.backlog);
        }
        bootstrap.childHandler(new ChannelInitializer<Channel>()
        {
            protected void initChannel(final Channel channel)
            {
                channel.pipeline()
                    .addLast("http", new HttpServerCodec(4096, MAX_HANDSHAKE_LENGTH, 8192))
                    .addLast("aggregator", new HttpObjectAggregator(MAX_HANDSHAKE_LENGTH))
                    .addLast("handshake", new ServerHandshake(WebSocketTransport.this, options, acceptHandler));
            }
        });

        final ChannelFuture bindFuture = bootstrap.bind(address).awaitUninterruptibly();
        if (!bindFuture.isSuccess())
        {
            final Throwable cause = bindFuture.cause();
            throw new TransportException(null, "cannot listen on " + uri + ": " + describe(cause), cause);
        }
        final Channel serverChannel = bindFuture.channel();
        final InetSocketAddress bound = (InetSocketAddress)serverChannel.localAddress();
        final WebSocketListener listener = new WebSocketListener(this, serverChannel, endpoint(bound, options.path));
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
     * The TCP connect and the WebSocket handshake both count as connecting: the handler is told once the server has
     * accepted the upgrade, or of the first failure. Query parameters are the transport's own and are not sent. A
     * host name is resolved on the calling thread.
     */
    public void connect(final TransportUri uri, final ConnectHandler connectHandler)
    {
        Objects.requireNonNull(connectHandler, "connectHandler");
        final WebSocketOptions options = WebSocketOptions.parse(uri);
        if (0 == options.port)
        {
            throw new TransportException("port", "cannot connect to port 0 in '" + uri + "'");
        }
        if (closed.get())
        {
            connectHandler.onConnectFailed(
                new IllegalStateException("cannot connect to " + uri + ": the transport is closed"));
            return;
        }
        final InetSocketAddress address = new InetSocketAddress(options.host, options.port);
        if (address.isUnresolved())
        {
            connectHandler.onConnectFailed(new UnknownHostException("cannot connect to " + uri + ": unknown host"));
            return;
        }

        final ClientHandshake handshake = new ClientHandshake(this, options, address, connectHandler);
        final Bootstrap bootstrap = new Bootstrap()
            .group(group)
            .channel(epoll ? EpollSocketChannel.class : NioSocketChannel.class)
            .option(ChannelOption.AUTO_READ, false)
            .option(ChannelOption.ALLOCATOR, ALLOCATOR)
            .option(ChannelOption.TCP_NODELAY, options.noDelay)
            .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, options.connectTimeoutMs)
            .handler(new ChannelInitializer<Channel>()
            {
                protected void initChannel(final Channel channel)
                {
                    channel.pipeline()
                        .addLast("http", new HttpClientCodec(4096, MAX_HANDSHAKE_LENGTH, 8192))
                        .addLast("aggregator", new HttpObjectAggregator(MAX_HANDSHAKE_LENGTH))
                        .addLast("handshake", handshake);
                }
            });
        final ChannelFuture connectFuture = bootstrap.connect(address).addListener(handshake::connected);
        if (connectFuture.isDone() && !connectFuture.isSuccess() && group.isShuttingDown())
        {
            // Registration was refused by a loop that is shutting down, and Netty cannot notify listeners there.
            handshake.connected(connectFuture);
        }
    }

    /**
     * {@inheritDoc}
     * <p>
     * Open connections are aborted with {@link CloseReason#BROKER_SHUTDOWN}; connections still in their handshake are
     * closed. Waits for the I/O threads to stop unless called on one of them.
     */
    public void close()
    {
        if (!closed.compareAndSet(false, true))
        {
            return;
        }
        for (final WebSocketListener listener : listeners)
        {
            listener.close();
        }
        for (final WebSocketConnection connection : connections)
        {
            connection.abort(CloseReason.BROKER_SHUTDOWN);
        }
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
    boolean isClosed()
    {
        return closed.get();
    }

    /**
     * Whether the transport runs on native epoll.
     *
     * @return true for epoll, false for NIO.
     */
    boolean isEpoll()
    {
        return epoll;
    }

    /**
     * Whether the calling thread is one of the transport's I/O threads.
     *
     * @return true on an I/O thread.
     */
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

    /**
     * Report an error no caller can receive to the broker's error handler.
     *
     * @param error the error.
     */
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

    void opened(final WebSocketConnection connection)
    {
        connections.add(connection);
        if (closed.get())
        {
            connection.abort(CloseReason.BROKER_SHUTDOWN);
        }
    }

    void closed(final WebSocketConnection connection)
    {
        connections.remove(connection);
    }

    void closed(final WebSocketListener listener)
    {
        listeners.remove(listener);
    }

    /**
     * The endpoint of one end: a {@code PLUGIN} endpoint of scheme {@code ws} whose opaque address is the UTF-8
     * {@code ws://IP:PORT/PATH} and whose printable form ({@link Endpoint#path()}) is {@code IP:PORT/PATH}, so that it
     * prints as that URI.
     *
     * @param address the socket address.
     * @param path    the WebSocket's path, or empty for an end that has none (an accepted peer).
     * @return the endpoint.
     */
    static Endpoint endpoint(final SocketAddress address, final String path)
    {
        final String hostPort;
        if (address instanceof InetSocketAddress inet && null != inet.getAddress())
        {
            final String ip = inet.getAddress().getHostAddress();
            hostPort = (inet.getAddress() instanceof Inet6Address ? "[" + ip + "]" : ip) + ":" + inet.getPort();
        }
        else
        {
            hostPort = String.valueOf(address);
        }
        final String printable = hostPort + path;
        return Endpoint.plugin(
            WebSocketOptions.SCHEME,
            (WebSocketOptions.SCHEME + "://" + printable).getBytes(StandardCharsets.US_ASCII),
            printable);
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

    private static ThreadFactory threadFactory(final String namePrefix)
    {
        final AtomicInteger count = new AtomicInteger();
        return (runnable) ->
        {
            // FastThreadLocalThread lets Netty's pooled allocator keep a per-thread cache on the I/O threads.
            final Thread thread = new FastThreadLocalThread(runnable, namePrefix + count.getAndIncrement());
            thread.setDaemon(false);
            return thread;
        };
    }
}
