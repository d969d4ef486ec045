package dev.mancom.transport.tcp;

import dev.mancom.protocol.Endpoint;
import dev.mancom.protocol.codecs.TransportType;
import dev.mancom.transport.AcceptHandler;
import dev.mancom.transport.ConnectHandler;
import dev.mancom.transport.TransportContext;
import dev.mancom.transport.TransportException;
import dev.mancom.transport.TransportListener;
import dev.mancom.transport.TransportUri;
import dev.mancom.transport.netty.NettyTransport;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelOption;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.Map;
import java.util.Objects;

/**
 * TCP on Netty: one event-loop group (native epoll when available, NIO otherwise) serves every listener and
 * connection of the transport; {@link NettyTransport} does the work that does not depend on TCP. Thread safe.
 */
final class TcpTransport extends NettyTransport
{
    private static final Logger LOGGER = LoggerFactory.getLogger(TcpTransport.class);

    static final String SCHEME = "tcp";
    static final String PARAM_NODELAY = "nodelay";
    static final String PARAM_BACKLOG = "backlog";
    static final String PARAM_CONNECT_TIMEOUT_MS = "connect_timeout_ms";
    static final int DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

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
        super(
            context,
            epoll,
            epoll ? EpollServerSocketChannel.class : NioServerSocketChannel.class,
            epoll ? EpollSocketChannel.class : NioSocketChannel.class);
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
        checkCanListen(uri);

        final InetSocketAddress address = new InetSocketAddress(uri.host(), uri.port());
        if (address.isUnresolved())
        {
            throw new TransportException("host", "cannot listen on " + uri + ": unknown host '" + uri.host() + "'");
        }

        final ServerBootstrap bootstrap = serverBootstrap(acceptHandler)
            .option(ChannelOption.SO_REUSEADDR, true)
            .childOption(ChannelOption.TCP_NODELAY, options.noDelay);
        if (options.backlog > 0)
        {
            bootstrap.option(ChannelOption.SO_BACKLOG, options.backlog);
        }

        final Channel serverChannel = bind(uri, bootstrap, address);
        return listening(
            uri, serverChannel, Endpoint.ip(TransportType.TCP, (InetSocketAddress)serverChannel.localAddress()));
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
        if (!checkCanConnect(uri, connectHandler))
        {
            return;
        }

        final InetSocketAddress address = new InetSocketAddress(uri.host(), uri.port());
        if (address.isUnresolved())
        {
            connectHandler.onConnectFailed(new UnknownHostException("cannot connect to " + uri + ": unknown host"));
            return;
        }

        final Bootstrap bootstrap = clientBootstrap()
            .option(ChannelOption.TCP_NODELAY, options.noDelay)
            .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, options.connectTimeoutMs);
        connect(bootstrap, address, connectHandler);
    }

    /**
     * {@inheritDoc}
     */
    protected Endpoint localEndpoint(final Channel channel)
    {
        return Endpoint.ip(TransportType.TCP, (InetSocketAddress)channel.localAddress());
    }

    /**
     * {@inheritDoc}
     */
    protected Endpoint remoteEndpoint(final Channel channel)
    {
        return Endpoint.ip(TransportType.TCP, (InetSocketAddress)channel.remoteAddress());
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
}
