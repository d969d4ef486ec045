package dev.mancom.bench;

import dev.mancom.tools.Main;

import java.net.SocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The three JVMs the transport echo benchmark measures ({@link ForkedJvms}): a plain {@link NettyEchoServer}, a
 * ManCom broker ({@code mancom broker}) serving the {@code echo} service on the same transport (an ephemeral port on
 * 127.0.0.1, or a socket path in the JVMs' temporary directory), and the ManCom echo application
 * ({@code mancom echo echo}) ({@link ManComEchoService}). {@link #close()} stops every JVM and deletes
 * their temporary directory; it is idempotent and thread safe, so that a shutdown hook may call it too.
 */
final class BenchmarkServers implements AutoCloseable
{
    private static final Pattern NETTY_READY = Pattern.compile(
        Pattern.quote(NettyEchoServer.READY_LINE_PREFIX) + "(\\S+) \\(([^)]*)\\)");

    private final ForkedJvms jvms = new ForkedJvms("mancom-bench-");
    private final String scheme;
    private String nettyUri;
    private String nettyDescription;
    private String mancomUri;

    /**
     * TCP servers not yet started.
     */
    BenchmarkServers()
    {
        this("tcp");
    }

    /**
     * Servers not yet started.
     *
     * @param scheme their transport: {@code tcp}, {@code unix} or {@code udp}.
     */
    BenchmarkServers(final String scheme)
    {
        this.scheme = scheme;
    }

    /**
     * Start the three JVMs and wait until each is ready. On failure the caller must still {@link #close()}.
     *
     * @param startTimeout how long each JVM may take to become ready.
     * @throws BenchmarkException when one does not start.
     */
    void start(final Duration startTimeout)
    {
        final boolean unix = "unix".equals(scheme);
        final String listenUri = unix ?
            "unix://" + jvms.workDir().resolve("mancom-echo.sock") : scheme + "://127.0.0.1:0";
        final Path configFile = jvms.writeConfig(
            "ManCom broker", "mancom.toml", ManComEchoService.configToml(listenUri));
        final Path brokerDir = jvms.workDir().resolve("broker");

        // The Netty server and the broker start side by side; the echo application needs the broker.
        final ForkedProcess netty = jvms.fork("Netty echo server", NettyEchoServer.class.getName(), List.of(),
            unix ? List.of(scheme, jvms.workDir().resolve("netty-echo.sock").toString()) : List.of(scheme));
        final ForkedProcess broker = jvms.fork("ManCom broker", Main.class.getName(), List.of(),
            ManComEchoService.brokerArgs(configFile, brokerDir));

        final Matcher nettyReady = await(netty, NETTY_READY, startTimeout);
        nettyUri = nettyReady.group(1);
        nettyDescription = nettyReady.group(2);

        await(broker, ManComEchoService.BROKER_READY, startTimeout);
        mancomUri = await(broker, ManComEchoService.BROKER_LISTENING_URI, Duration.ofSeconds(1)).group(1);

        final ForkedProcess echo = jvms.fork("ManCom echo application", Main.class.getName(), List.of(),
            ManComEchoService.echoArgs(brokerDir));
        await(echo, ManComEchoService.ECHO_READY, startTimeout);
    }

    /**
     * Wait for a JVM's line; when it does not come, say how the other JVMs are too.
     */
    private Matcher await(final ForkedProcess process, final Pattern pattern, final Duration timeout)
    {
        try
        {
            return process.awaitLine(pattern, timeout);
        }
        catch (final BenchmarkException ex)
        {
            final StringBuilder message = new StringBuilder(ex.getMessage());
            for (final ForkedProcess other : jvms.processes())
            {
                if (other != process)
                {
                    message.append(System.lineSeparator()).append("and the ").append(other.describe());
                }
            }
            throw new BenchmarkException(message.toString(), ex);
        }
    }

    /**
     * Where the plain Netty echo server listens.
     *
     * @return an {@link java.net.InetSocketAddress}, or a {@link java.net.UnixDomainSocketAddress} for Unix sockets.
     */
    SocketAddress nettyAddress()
    {
        return ManComEchoService.address(nettyUri);
    }

    /**
     * Where the plain Netty echo server listens, as a URI.
     *
     * @return such as {@code udp://127.0.0.1:40123}.
     */
    String nettyUri()
    {
        return nettyUri;
    }

    /**
     * How the Netty server runs, as it says when ready, such as {@code epoll, 1 event-loop thread}.
     *
     * @return the description.
     */
    String nettyDescription()
    {
        return nettyDescription;
    }

    /**
     * Where the broker accepts the echo service's connections.
     *
     * @return an {@link java.net.InetSocketAddress}, or a {@link java.net.UnixDomainSocketAddress} for Unix sockets.
     */
    SocketAddress mancomAddress()
    {
        return ManComEchoService.address(mancomUri);
    }

    /**
     * Where the broker accepts the echo service's connections, as the broker says.
     *
     * @return such as {@code unix:///tmp/mancom-bench-1/mancom-echo.sock}.
     */
    String mancomUri()
    {
        return mancomUri;
    }

    /**
     * Fail when one of the JVMs has stopped.
     *
     * @throws BenchmarkException saying which, with its last output.
     */
    void checkAlive()
    {
        for (final ForkedProcess process : jvms.processes())
        {
            process.checkAlive();
        }
    }

    /**
     * Describe every JVM with its last output, for a failure message.
     *
     * @return one paragraph per JVM.
     */
    String describeAll()
    {
        final StringBuilder builder = new StringBuilder();
        for (final ForkedProcess process : jvms.processes())
        {
            builder.append(System.lineSeparator()).append("  ").append(process.describe());
        }
        return builder.toString();
    }

    /**
     * Stop the JVMs, the echo application first and the Netty server last, and delete the temporary directory.
     */
    public void close()
    {
        jvms.close();
    }
}
