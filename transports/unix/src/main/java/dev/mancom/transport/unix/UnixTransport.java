package dev.mancom.transport.unix;

import dev.mancom.protocol.Endpoint;
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
import io.netty.channel.epoll.EpollDomainSocketChannel;
import io.netty.channel.epoll.EpollServerDomainSocketChannel;
import io.netty.channel.socket.nio.NioDomainSocketChannel;
import io.netty.channel.socket.nio.NioServerDomainSocketChannel;
import io.netty.channel.unix.DomainSocketAddress;
import io.netty.channel.unix.PeerCredentials;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.net.ConnectException;
import java.net.SocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Map;
import java.util.Objects;

/**
 * Unix domain stream sockets on Netty: native epoll domain sockets when available, with the peer's credentials from
 * the kernel; Java NIO's Unix domain sockets otherwise, without them. {@link NettyTransport} does the work that does
 * not depend on the kind of socket. Thread safe.
 */
final class UnixTransport extends NettyTransport
{
    private static final Logger LOGGER = LoggerFactory.getLogger(UnixTransport.class);

    static final String SCHEME = "unix";
    static final String PARAM_BACKLOG = "backlog";
    static final String PARAM_CONNECT_TIMEOUT_MS = "connect_timeout_ms";
    static final int DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

    /**
     * Linux's {@code sun_path} holds 108 bytes, the terminating NUL included.
     */
    static final int MAX_PATH_BYTES = 107;

    private static final String EXAMPLE = "unix:///run/mancom/echo.sock";
    private static final int S_IFMT = 0170000;
    private static final int S_IFSOCK = 0140000;

    /**
     * Why Unix domain sockets cannot be used here, or null when they can.
     */
    private final String unavailable;

    UnixTransport(final TransportContext context)
    {
        this(context, epollAvailable());
    }

    /**
     * A transport on the chosen I/O implementation; tests use this to run both.
     *
     * @param context what the broker gives every transport.
     * @param epoll   true for native epoll (which must be available), false for Java NIO.
     */
    UnixTransport(final TransportContext context, final boolean epoll)
    {
        super(
            ownThreadNames(context),
            epoll,
            epoll ? EpollServerDomainSocketChannel.class : NioServerDomainSocketChannel.class,
            epoll ? EpollDomainSocketChannel.class : NioDomainSocketChannel.class);
        unavailable = epoll ? null : jdkUnavailability();
    }

    /**
     * The context with {@code unix} added to the thread-name prefix, so that this transport's I/O threads
     * ({@code mancom-io-unix-N} in the broker) are told apart from the TCP transport's ({@code mancom-io-N}).
     */
    private static TransportContext ownThreadNames(final TransportContext context)
    {
        final String prefix = context.threadNamePrefix();
        return new TransportContext(
            context.ioThreads(),
            (prefix.isEmpty() || prefix.endsWith("-") ? prefix : prefix + "-") + SCHEME,
            context.errorHandler());
    }

    /**
     * {@inheritDoc}
     * <p>
     * Checks the URI only: whether the directory exists or the path is in use is checked by
     * {@link #listen(TransportUri, AcceptHandler)}.
     */
    public void validate(final TransportUri uri)
    {
        options(uri);
    }

    /**
     * {@inheritDoc}
     * <p>
     * Creates the socket file. Its directory must exist. A socket file at the path that no process listens on any more
     * is removed first; a socket that a process listens on, or any other file, is refused. Closing the listener
     * removes the file. Blocks until bound; must not be called on one of the transport's I/O threads.
     */
    public TransportListener listen(final TransportUri uri, final AcceptHandler acceptHandler)
    {
        Objects.requireNonNull(acceptHandler, "acceptHandler");
        final Options options = options(uri);
        checkCanListen(uri);

        final Path path = options.path;
        final Path directory = path.getParent();
        if (!Files.isDirectory(directory))
        {
            throw new TransportException("path", "cannot listen on " + uri + ": the directory " + directory +
                (Files.exists(directory) ? " is not a directory" : " does not exist"));
        }
        final Endpoint localEndpoint = endpoint(path.toString(), null);
        if (isListeningOn(localEndpoint))
        {
            throw new TransportException(
                "path", "cannot listen on " + uri + ": " + path + " is in use: this transport already listens on it");
        }
        removeStaleSocket(uri, path);

        final ServerBootstrap bootstrap = serverBootstrap(acceptHandler);
        if (options.backlog > 0)
        {
            bootstrap.option(ChannelOption.SO_BACKLOG, options.backlog);
        }
        final Channel serverChannel = bind(uri, bootstrap, address(path));
        return listening(uri, serverChannel, localEndpoint);
    }

    /**
     * {@inheritDoc}
     */
    public void connect(final TransportUri uri, final ConnectHandler connectHandler)
    {
        Objects.requireNonNull(connectHandler, "connectHandler");
        final Options options = options(uri);
        if (!checkCanConnect(uri, connectHandler))
        {
            return;
        }

        final Bootstrap bootstrap = clientBootstrap()
            .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, options.connectTimeoutMs);
        connect(bootstrap, address(options.path), connectHandler);
    }

    /**
     * {@inheritDoc}
     * <p>
     * The path of the listener, for an accepted connection; the bound path (usually none) for an outbound one.
     */
    protected Endpoint localEndpoint(final Channel channel)
    {
        String path = pathOf(channel.localAddress());
        if (path.isEmpty() && null != channel.parent())
        {
            path = pathOf(channel.parent().localAddress());
        }
        return endpoint(path, null);
    }

    /**
     * {@inheritDoc}
     * <p>
     * The peer's path (none for an accepted connection, whose peer rarely binds one; the listener's for an outbound
     * one) and, with epoll, the peer's pid, uid and gid from the kernel ({@code SO_PEERCRED}: for an outbound
     * connection, those of the process that listens).
     */
    protected Endpoint remoteEndpoint(final Channel channel)
    {
        final String path = pathOf(channel.remoteAddress());
        if (channel instanceof EpollDomainSocketChannel)
        {
            try
            {
                return endpoint(path, ((EpollDomainSocketChannel)channel).peerCredentials());
            }
            catch (final IOException ex)
            {
                reportError(new IOException("cannot read the credentials of the peer of unix://" + path + ": " +
                    describe(ex), ex));
            }
        }
        return endpoint(path, null);
    }

    /**
     * {@inheritDoc}
     * <p>
     * A {@link ConnectException} whose message is what went wrong, the same on epoll and NIO, without the path (the
     * broker names the URI): {@code No such file or directory}, {@code Connection refused} (a socket file no process
     * listens on), {@code Permission denied}.
     */
    protected Throwable connectFailure(final SocketAddress address, final Throwable cause)
    {
        if (!(cause instanceof IOException))
        {
            return cause;
        }
        String message;
        if (cause instanceof FileNotFoundException || cause instanceof NoSuchFileException)
        {
            message = "No such file or directory";
        }
        else
        {
            message = describe(cause);
            // Netty's NIO channels add the address.
            final String path = pathOf(address);
            if (!path.isEmpty() && message.endsWith(": " + path))
            {
                message = message.substring(0, message.length() - path.length() - 2);
            }
        }
        final ConnectException failure = new ConnectException(message);
        failure.initCause(cause);
        return failure;
    }

    private static Endpoint endpoint(final String path, final PeerCredentials credentials)
    {
        if (null == credentials)
        {
            return Endpoint.unix(path, Endpoint.UNKNOWN, Endpoint.UNKNOWN, Endpoint.UNKNOWN);
        }
        final int[] gids = credentials.gids();
        return Endpoint.unix(
            path, credentials.pid(), credentials.uid(), gids.length > 0 ? gids[0] : Endpoint.UNKNOWN);
    }

    private SocketAddress address(final Path path)
    {
        return isEpoll() ? new DomainSocketAddress(path.toString()) : UnixDomainSocketAddress.of(path);
    }

    private static String pathOf(final SocketAddress address)
    {
        if (address instanceof DomainSocketAddress)
        {
            return ((DomainSocketAddress)address).path();
        }
        if (address instanceof UnixDomainSocketAddress)
        {
            return ((UnixDomainSocketAddress)address).getPath().toString();
        }
        return "";
    }

    /**
     * Remove a socket file that no process listens on any more; refuse anything else at the path.
     */
    private static void removeStaleSocket(final TransportUri uri, final Path path)
    {
        final BasicFileAttributes attributes;
        try
        {
            attributes = Files.readAttributes(path, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        }
        catch (final NoSuchFileException ex)
        {
            return;
        }
        catch (final IOException ex)
        {
            throw new TransportException(
                "path", "cannot listen on " + uri + ": cannot read " + path + ": " + describe(ex), ex);
        }

        if (!isSocket(path, attributes))
        {
            throw new TransportException("path", "cannot listen on " + uri + ": " + path + " exists and is not a " +
                "socket (" + (attributes.isDirectory() ? "a directory" : attributes.isSymbolicLink() ?
                "a symbolic link" : attributes.isRegularFile() ? "a regular file" : "a special file") + ")");
        }

        // Connect to it: a live listener accepts (or its backlog is full), a stale socket file refuses.
        try (SocketChannel probe = SocketChannel.open(StandardProtocolFamily.UNIX))
        {
            probe.configureBlocking(false);
            probe.connect(UnixDomainSocketAddress.of(path));
        }
        catch (final ConnectException refused)
        {
            try
            {
                Files.deleteIfExists(path);
            }
            catch (final IOException ex)
            {
                throw new TransportException("path", "cannot listen on " + uri + ": cannot remove the stale socket " +
                    "file " + path + ": " + describe(ex), ex);
            }
            LOGGER.info("removed the stale socket file {}: no process listens on it", path);
            return;
        }
        catch (final IOException ex)
        {
            if (!Files.exists(path, LinkOption.NOFOLLOW_LINKS))
            {
                // Removed meanwhile: nothing to do.
                return;
            }
            throw new TransportException("path", "cannot listen on " + uri + ": cannot tell whether " + path +
                " is in use (" + describe(ex) + "); remove it if no process listens on it", ex);
        }
        throw new TransportException(
            "path", "cannot listen on " + uri + ": " + path + " is in use: another process listens on it");
    }

    private static boolean isSocket(final Path path, final BasicFileAttributes attributes)
    {
        if (!attributes.isOther())
        {
            return false;
        }
        try
        {
            final int mode = (Integer)Files.getAttribute(path, "unix:mode", LinkOption.NOFOLLOW_LINKS);
            return (mode & S_IFMT) == S_IFSOCK;
        }
        catch (final UnsupportedOperationException | IllegalArgumentException | IOException ex)
        {
            // No "unix" attribute view here: a socket is one of the "other" files, which is as close as we get.
            return true;
        }
    }

    private Options options(final TransportUri uri)
    {
        Objects.requireNonNull(uri, "uri");
        if (!SCHEME.equals(uri.scheme()))
        {
            throw new TransportException("scheme", "not a unix URI: '" + uri + "'");
        }
        if (null != unavailable)
        {
            throw new TransportException(null, "cannot use '" + uri + "': " + unavailable);
        }
        if (null != uri.host() && !uri.host().isEmpty())
        {
            throw new TransportException("host", "a unix URI has a path and no host: '" + uri + "' names host '" +
                uri.host() + "' (write three slashes, such as " + EXAMPLE + ")");
        }
        if (uri.port() >= 0)
        {
            throw new TransportException("port", "a unix URI has no port: '" + uri + "' (such as " + EXAMPLE + ")");
        }
        final String text = uri.path();
        if (text.isEmpty() || "/".equals(text))
        {
            throw new TransportException("path", "no socket path in '" + uri + "' (such as " + EXAMPLE + ")");
        }
        if (!text.startsWith("/"))
        {
            throw new TransportException("path", "the socket path must be absolute in '" + uri + "'");
        }
        if (text.endsWith("/"))
        {
            throw new TransportException(
                "path", "the socket path ends with '/', a directory, in '" + uri + "' (such as " + EXAMPLE + ")");
        }
        final Path path;
        try
        {
            path = Path.of(text).normalize();
        }
        catch (final InvalidPathException ex)
        {
            throw new TransportException("path", "bad socket path in '" + uri + "': " + ex.getReason());
        }
        final int length = path.toString().getBytes(StandardCharsets.UTF_8).length;
        if (length > MAX_PATH_BYTES)
        {
            throw new TransportException("path", "the socket path is " + length + " bytes long, and a Unix socket's " +
                "path may have at most " + MAX_PATH_BYTES + ", in '" + uri + "'");
        }

        int backlog = 0;
        int connectTimeoutMs = DEFAULT_CONNECT_TIMEOUT_MS;
        for (final Map.Entry<String, String> param : uri.params().entrySet())
        {
            final String key = param.getKey();
            final String value = param.getValue();
            switch (key)
            {
                case PARAM_BACKLOG:
                    backlog = positiveInt(uri, key, value);
                    break;

                case PARAM_CONNECT_TIMEOUT_MS:
                    connectTimeoutMs = positiveInt(uri, key, value);
                    break;

                default:
                    throw new TransportException(key, "unknown parameter '" + key + "' in '" + uri + "' (known: " +
                        PARAM_BACKLOG + ", " + PARAM_CONNECT_TIMEOUT_MS + ")");
            }
        }

        return new Options(path, backlog, connectTimeoutMs);
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

    private static boolean epollAvailable()
    {
        if (Epoll.isAvailable())
        {
            return true;
        }
        LOGGER.info("native epoll is not available, unix:// uses Java NIO, which cannot tell the peers' pid, uid " +
            "and gid: {}", String.valueOf(Epoll.unavailabilityCause()));
        return false;
    }

    /**
     * Why Java's own Unix domain sockets cannot be used here, or null when they can.
     */
    private static String jdkUnavailability()
    {
        try
        {
            SocketChannel.open(StandardProtocolFamily.UNIX).close();
            return null;
        }
        catch (final UnsupportedOperationException | IOException ex)
        {
            return "Unix domain sockets are not available here: native epoll is not (" +
                Epoll.unavailabilityCause() + ") and Java's cannot be opened (" + ex + ")";
        }
    }

    /**
     * The URI, checked.
     */
    private static final class Options
    {
        final Path path;
        final int backlog;
        final int connectTimeoutMs;

        Options(final Path path, final int backlog, final int connectTimeoutMs)
        {
            this.path = path;
            this.backlog = backlog;
            this.connectTimeoutMs = connectTimeoutMs;
        }
    }
}
