package dev.mancom.bench;

import dev.mancom.tools.Main;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The three JVMs the TCP echo benchmark measures, each forked with the benchmark's class path and JVM flags plus
 * {@value #JVM_HEAP_FLAG}: a plain {@link NettyEchoServer}, a ManCom broker ({@code mancom broker}) serving the
 * {@code echo} service on an ephemeral port, and the ManCom echo application ({@code mancom echo echo}). Their
 * files live in a temporary directory, under {@code /dev/shm} when there is one, as the broker's directory is by
 * default. {@link #close()} stops every JVM and deletes the directory; it is idempotent and thread safe, so that
 * a shutdown hook may call it too.
 */
final class BenchmarkServers implements AutoCloseable
{
    /** The heap of each forked JVM. */
    static final String JVM_HEAP_FLAG = "-Xmx512m";

    /** The service the broker serves and the echo application accepts. */
    static final String SERVICE = "echo";

    /** The broker's configuration. */
    static final String CONFIG_TOML = "[service." + SERVICE + "]\nlisten = [\"tcp://127.0.0.1:0\"]\n";

    private static final Pattern NETTY_READY = Pattern.compile(
        Pattern.quote(NettyEchoServer.READY_LINE_PREFIX) + "tcp://([^:]+):(\\d+) \\(([^)]*)\\)");
    private static final Pattern BROKER_READY = Pattern.compile("ManCom broker ready");
    private static final Pattern BROKER_LISTENING = Pattern.compile(
        "service '" + SERVICE + "' listening on tcp://([^:]+):(\\d+)");
    private static final Pattern ECHO_READY = Pattern.compile("^echoing service");
    private static final Duration STOP_TIMEOUT = Duration.ofSeconds(10);
    private static final Path SHARED_MEMORY_DIR = Paths.get("/dev/shm");

    private final List<ForkedProcess> processes = new ArrayList<>();
    private Path workDir;
    private InetSocketAddress nettyAddress;
    private String nettyDescription;
    private InetSocketAddress mancomAddress;
    private boolean closed;

    /**
     * Servers not yet started.
     */
    BenchmarkServers()
    {
    }

    /**
     * Start the three JVMs and wait until each is ready. On failure the caller must still {@link #close()}.
     *
     * @param startTimeout how long each JVM may take to become ready.
     * @throws BenchmarkException when one does not start.
     */
    void start(final Duration startTimeout)
    {
        final Path baseDir = Files.isDirectory(SHARED_MEMORY_DIR) && Files.isWritable(SHARED_MEMORY_DIR) ?
            SHARED_MEMORY_DIR : Paths.get(System.getProperty("java.io.tmpdir"));
        final Path brokerDir;
        final Path configFile;
        synchronized (this)
        {
            try
            {
                workDir = Files.createTempDirectory(baseDir, "mancom-bench-");
                brokerDir = workDir.resolve("broker");
                configFile = workDir.resolve("mancom.toml");
                Files.writeString(configFile, CONFIG_TOML);
            }
            catch (final IOException ex)
            {
                throw new BenchmarkException("cannot create a temporary directory in " + baseDir + ": " + ex, ex);
            }
        }

        // The Netty server and the broker start side by side; the echo application needs the broker.
        final ForkedProcess netty = fork("Netty echo server", NettyEchoServer.class.getName(), List.of());
        final ForkedProcess broker = fork("ManCom broker", Main.class.getName(),
            List.of("broker", "--config", configFile.toString(), "--dir", brokerDir.toString()));

        final Matcher nettyReady = await(netty, NETTY_READY, startTimeout);
        nettyAddress = new InetSocketAddress(nettyReady.group(1), Integer.parseInt(nettyReady.group(2)));
        nettyDescription = nettyReady.group(3);

        await(broker, BROKER_READY, startTimeout);
        final Matcher listening = await(broker, BROKER_LISTENING, Duration.ofSeconds(1));
        mancomAddress = new InetSocketAddress(listening.group(1), Integer.parseInt(listening.group(2)));

        final ForkedProcess echo = fork("ManCom echo application", Main.class.getName(),
            List.of("echo", SERVICE, "--dir", brokerDir.toString()));
        await(echo, ECHO_READY, startTimeout);
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
            synchronized (this)
            {
                for (final ForkedProcess other : processes)
                {
                    if (other != process)
                    {
                        message.append(System.lineSeparator()).append("and the ").append(other.describe());
                    }
                }
            }
            throw new BenchmarkException(message.toString(), ex);
        }
    }

    private synchronized ForkedProcess fork(final String name, final String mainClass, final List<String> args)
    {
        if (closed)
        {
            throw new BenchmarkException("stopped before the " + name + " JVM was started");
        }
        final ForkedProcess process = ForkedProcess.start(name, mainClass, List.of(JVM_HEAP_FLAG), args);
        processes.add(process);
        return process;
    }

    /**
     * Where the plain Netty echo server listens.
     *
     * @return the address.
     */
    InetSocketAddress nettyAddress()
    {
        return nettyAddress;
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
     * Where the broker accepts the echo service's TCP connections.
     *
     * @return the address.
     */
    InetSocketAddress mancomAddress()
    {
        return mancomAddress;
    }

    /**
     * Fail when one of the JVMs has stopped.
     *
     * @throws BenchmarkException saying which, with its last output.
     */
    synchronized void checkAlive()
    {
        for (final ForkedProcess process : processes)
        {
            if (!process.isAlive())
            {
                throw new BenchmarkException("the " + process.describe());
            }
        }
    }

    /**
     * Describe every JVM with its last output, for a failure message.
     *
     * @return one paragraph per JVM.
     */
    synchronized String describeAll()
    {
        final StringBuilder builder = new StringBuilder();
        for (final ForkedProcess process : processes)
        {
            builder.append(System.lineSeparator()).append("  ").append(process.describe());
        }
        return builder.toString();
    }

    /**
     * Stop the JVMs, the echo application first and the Netty server last, and delete the temporary directory.
     */
    public synchronized void close()
    {
        if (closed)
        {
            return;
        }
        closed = true;
        for (int i = processes.size() - 1; i >= 0; i--)
        {
            processes.get(i).stop(STOP_TIMEOUT);
        }
        if (null != workDir)
        {
            deleteRecursively(workDir);
        }
    }

    /**
     * Delete a directory and everything in it; say so on standard error when it cannot.
     *
     * @param dir the directory.
     */
    static void deleteRecursively(final Path dir)
    {
        if (!Files.exists(dir))
        {
            return;
        }
        try (Stream<Path> paths = Files.walk(dir))
        {
            paths.sorted(Comparator.reverseOrder()).forEach((path) ->
            {
                try
                {
                    Files.deleteIfExists(path);
                }
                catch (final IOException ex)
                {
                    throw new UncheckedIOException(ex);
                }
            });
        }
        catch (final IOException | UncheckedIOException ex)
        {
            System.err.println("benchmark: could not delete " + dir + ": " + ex.getMessage());
        }
    }
}
