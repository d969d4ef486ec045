package dev.mancom.transport.udp;

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
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.FixedRecvByteBufAllocator;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollDatagramChannel;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioDatagramChannel;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.FastThreadLocalThread;
import io.netty.util.concurrent.Future;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Pattern;

/**
 * UDP on Netty: one event-loop group (native epoll when available, NIO otherwise) serves every listener and
 * outbound connection of the transport. A listener is one bound datagram channel, on one I/O thread, that serves
 * every remote address as a connection of its own; an outbound connection is a connected datagram channel of its
 * own. Thread safe.
 */
final class UdpTransport implements Transport
{
    private static final Logger LOGGER = LoggerFactory.getLogger(UdpTransport.class);

    /**
     * Pooled and direct, so that inbound datagrams can be handed over by address and outbound copies cost no garbage.
     */
    static final ByteBufAllocator ALLOCATOR = PooledByteBufAllocator.DEFAULT;

    /**
     * Every read gets a buffer that holds the largest datagram there is (65,535 less the UDP header, over IPv6), so
     * the kernel never truncates one. Netty's default for datagram channels is 2,048 bytes.
     */
    static final int RECEIVE_BUFFER_LENGTH = 64 * 1024;

    private static final long SHUTDOWN_TIMEOUT_MS = 2_000;
    private static final long TERMINATION_WAIT_MS = 10_000;

    /**
     * Netty's native errors read "bind(..) failed with error(-98): Address already in use"; people want the last part.
     */
    private static final Pattern NATIVE_ERROR_PREFIX =
        Pattern.compile("^\\w+\\(\\.\\.\\) failed(?: with error\\(-?\\d+\\))?: ?");

    private final TransportContext context;
    private final MultiThreadIoEventLoopGroup group;
    private final Class<? extends Channel> channelClass;
    private final Set<UdpListener> listeners = ConcurrentHashMap.newKeySet();
    private final Set<UdpConnection> connections = ConcurrentHashMap.newKeySet();
    private final AtomicBoolean closed = new AtomicBoolean();

    UdpTransport(final TransportContext context)
    {
        this(context, epollAvailable());
    }

    /**
     * A transport on the chosen I/O implementation; tests use this to run both.
     *
     * @param context what the broker gives every transport.
     * @param epoll   true for native epoll (which must be available), false for NIO.
     */
    UdpTransport(final TransportContext context, final boolean epoll)
    {
        this.context = Objects.requireNonNull(context, "context");
        if (epoll)
        {
            Epoll.ensureAvailability();
            group = new MultiThreadIoEventLoopGroup(
                context.ioThreads(), threadFactory(context.threadNamePrefix()), EpollIoHandler.newFactory());
            channelClass = EpollDatagramChannel.class;
        }
        else
        {
            group = new MultiThreadIoEventLoopGroup(
                context.ioThreads(), threadFactory(context.threadNamePrefix()), NioIoHandler.newFactory());
            channelClass = NioDatagramChannel.class;
        }
    }

    /**
     * {@inheritDoc}
     */
    public void validate(final TransportUri uri)
    {
        UdpOptions.parse(uri);
    }

    /**
     * {@inheritDoc}
     * <p>
     * Blocks until bound; must not be called on one of the transport's I/O threads.
     */
    public TransportListener listen(final TransportUri uri, final AcceptHandler acceptHandler)
    {
        Objects.requireNonNull(acceptHandler, "acceptHandler");
        final UdpOptions options = UdpOptions.parse(uri);
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

        final UdpListener listener = new UdpListener(this, options, acceptHandler);
        final Bootstrap bootstrap = bootstrap().handler(listener);
        final ChannelFuture bindFuture = bootstrap.bind(address).awaitUninterruptibly();
        if (!bindFuture.isSuccess())
        {
            final Throwable cause = bindFuture.cause();
            throw new TransportException(null, "cannot listen on " + uri + ": " + describe(cause), cause);
        }

        final Channel channel = bindFuture.channel();
        listener.bound(channel, Endpoint.ip(TransportType.UDP, (InetSocketAddress)channel.localAddress()));
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
     * A connected datagram channel: the connect only binds an ephemeral port and fixes the peer's address, so it
     * succeeds whether or not anything listens there. A host name is resolved on the calling thread, so that no I/O
     * thread waits for DNS; a name that does not resolve is reported to {@code connectHandler} on the calling thread.
     *
     * @throws TransportException when the URI is wrong, or names port 0.
     */
    public void connect(final TransportUri uri, final ConnectHandler connectHandler)
    {
        Objects.requireNonNull(connectHandler, "connectHandler");
        final UdpOptions options = UdpOptions.parse(uri);
        if (0 == uri.port())
        {
            throw new TransportException("port", "cannot connect to port 0: '" + uri + "'");
        }
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

        final Bootstrap bootstrap = bootstrap().handler(new ChannelInitializer<Channel>()
        {
            protected void initChannel(final Channel channel)
            {
                channel.pipeline().addLast(new UdpConnection.OutboundHandler(
                    new UdpConnection(UdpTransport.this, options, channel, null, address)));
            }
        });

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

        for (final UdpListener listener : listeners)
        {
            listener.close();
        }
        for (final UdpConnection connection : connections)
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

    void opened(final UdpConnection connection)
    {
        connections.add(connection);
        if (closed.get())
        {
            // Opened while close() was iterating; it will not be aborted there.
            connection.abort(CloseReason.BROKER_SHUTDOWN);
        }
    }

    void closed(final UdpConnection connection)
    {
        connections.remove(connection);
    }

    void closed(final UdpListener listener)
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

    private Bootstrap bootstrap()
    {
        return new Bootstrap()
            .group(group)
            .channel(channelClass)
            .option(ChannelOption.ALLOCATOR, ALLOCATOR)
            .option(ChannelOption.RCVBUF_ALLOCATOR, new FixedRecvByteBufAllocator(RECEIVE_BUFFER_LENGTH));
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

        final UdpConnection.OutboundHandler handler =
            future.channel().pipeline().get(UdpConnection.OutboundHandler.class);
        final UdpConnection connection;
        try
        {
            if (null == handler)
            {
                throw new IllegalStateException("the channel has no UdpConnection: " + future.channel());
            }
            connection = handler.connection();
            connection.open(Endpoint.ip(TransportType.UDP, (InetSocketAddress)future.channel().localAddress()));
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
        LOGGER.info("native epoll is not available, UDP uses NIO: {}", String.valueOf(Epoll.unavailabilityCause()));
        return false;
    }

    private static ThreadFactory threadFactory(final String prefix)
    {
        final String namePrefix = prefix.isEmpty() || prefix.endsWith("-") ? prefix : prefix + "-";
        final AtomicInteger count = new AtomicInteger();
        return (runnable) ->
        {
            // FastThreadLocalThread lets Netty's pooled allocator keep a per-thread cache on the I/O threads.
            final Thread thread = new FastThreadLocalThread(runnable, namePrefix + "udp-" + count.getAndIncrement());
            thread.setDaemon(false);
            return thread;
        };
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
}
