package dev.mancom.bench;

import dev.mancom.tools.Main;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.UnixDomainSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The JVMs the local echo benchmark forks, each with the benchmark's class path and JVM flags plus
 * {@value BenchmarkServers#JVM_HEAP_FLAG}: the {@link LocalEchoServer} of the references, and ManCom brokers each
 * with its echo application ({@code mancom broker} with a {@code [service.echo]}, {@code mancom echo echo}). Their
 * files live in one temporary directory, under {@code /dev/shm} when there is one. {@link #close()} stops every
 * JVM and deletes the directory; it is idempotent and thread safe, so that a shutdown hook may call it too.
 */
final class LocalEchoProcesses implements AutoCloseable
{
    /** The service the brokers serve and the echo applications accept. */
    static final String SERVICE = "echo";

    /** The system property of the client library's idle profile, given to the low-latency echo application. */
    static final String IDLE_SPIN_FLAG = "-D" + ManComEchoPipe.IDLE_PROP_NAME + "=" + ManComEchoPipe.IDLE_SPIN;

    /** The {@code [service.echo]} table of every broker configuration (a service needs a transport). */
    static final String SERVICE_TOML = "[service." + SERVICE + "]\nlisten = [\"tcp://127.0.0.1:0\"]\n";

    private static final Pattern LOCAL_ECHO_READY = Pattern.compile(
        Pattern.quote(LocalEchoServer.READY_LINE_PREFIX) + "tcp://([^:]+):(\\d+) unix:(\\S+) aeron:(\\S+)");
    private static final Pattern BROKER_READY = Pattern.compile("ManCom broker ready");
    private static final Pattern BROKER_LISTENING = Pattern.compile(
        "service '" + SERVICE + "' listening on tcp://([^:]+):(\\d+)");
    private static final Pattern ECHO_READY = Pattern.compile("^echoing service");
    private static final Duration STOP_TIMEOUT = Duration.ofSeconds(10);
    private static final Path SHARED_MEMORY_DIR = Paths.get("/dev/shm");

    private final List<ForkedProcess> processes = new ArrayList<>();
    private volatile ForkedProcess echoServerProcess;
    private Path workDir;
    private int brokers;
    private boolean closed;

    /**
     * Where the reference echo server serves.
     *
     * @param tcp      its loopback TCP address.
     * @param unix     its Unix domain socket.
     * @param aeronDir its media driver's directory.
     */
    record EchoServer(InetSocketAddress tcp, UnixDomainSocketAddress unix, String aeronDir)
    {
    }

    /**
     * Processes not yet started.
     */
    LocalEchoProcesses()
    {
    }

    /**
     * Create the temporary directory.
     *
     * @return the directory.
     * @throws BenchmarkException when it cannot be created.
     */
    synchronized Path workDir()
    {
        if (null == workDir)
        {
            final Path baseDir = Files.isDirectory(SHARED_MEMORY_DIR) && Files.isWritable(SHARED_MEMORY_DIR) ?
                SHARED_MEMORY_DIR : Paths.get(System.getProperty("java.io.tmpdir"));
            try
            {
                workDir = Files.createTempDirectory(baseDir, "mancom-local-echo-");
            }
            catch (final IOException ex)
            {
                throw new BenchmarkException("cannot create a temporary directory in " + baseDir + ": " + ex, ex);
            }
        }
        return workDir;
    }

    /**
     * Start the reference echo server and wait until it is ready.
     *
     * @param startTimeout how long it may take.
     * @return where it serves.
     * @throws BenchmarkException when it does not start.
     */
    EchoServer startEchoServer(final Duration startTimeout)
    {
        final Path dir = workDir().resolve("reference");
        final ForkedProcess server = fork("reference echo server", LocalEchoServer.class.getName(), List.of(),
            List.of(dir.toString()));
        echoServerProcess = server;
        final Matcher ready = server.awaitLine(LOCAL_ECHO_READY, startTimeout);
        return new EchoServer(
            new InetSocketAddress(ready.group(1), Integer.parseInt(ready.group(2))),
            UnixDomainSocketAddress.of(ready.group(3)),
            ready.group(4));
    }

    /**
     * A broker with its echo application; {@link #stop()} stops both.
     */
    final class ManComServer
    {
        private final String name;
        private final Path dir;
        private final ForkedProcess broker;
        private final InetSocketAddress tcpAddress;
        private ForkedProcess echo;

        private ManComServer(
            final String name, final Path dir, final ForkedProcess broker, final InetSocketAddress tcpAddress)
        {
            this.name = name;
            this.dir = dir;
            this.broker = broker;
            this.tcpAddress = tcpAddress;
        }

        /**
         * The broker's directory, for clients.
         *
         * @return the directory.
         */
        Path brokerDir()
        {
            return dir.resolve("broker");
        }

        /**
         * Where the broker accepts the echo service's TCP connections.
         *
         * @return the address.
         */
        InetSocketAddress tcpAddress()
        {
            return tcpAddress;
        }

        /**
         * Fail when the broker or the echo application has stopped.
         *
         * @throws BenchmarkException saying which, with its last output.
         */
        void checkAlive()
        {
            for (final ForkedProcess process : null == echo ? List.of(broker) : List.of(broker, echo))
            {
                if (!process.isAlive())
                {
                    throw new BenchmarkException("the " + process.describe());
                }
            }
        }

        /**
         * Stop the echo application, then the broker, and delete their directory.
         */
        void stop()
        {
            if (null != echo)
            {
                echo.stop(STOP_TIMEOUT);
            }
            broker.stop(STOP_TIMEOUT);
            synchronized (LocalEchoProcesses.this)
            {
                processes.remove(echo);
                processes.remove(broker);
            }
            BenchmarkServers.deleteRecursively(dir);
        }

        /**
         * {@inheritDoc}
         */
        public String toString()
        {
            return name;
        }
    }

    /**
     * Start a broker and its echo application and wait until both are ready. On failure both are stopped.
     *
     * @param name         a name for messages, such as {@code ManCom}.
     * @param lowLatency   true for the low-latency profile: {@code idle = "spin"} in the broker,
     *                     {@value #IDLE_SPIN_FLAG} for the echo application.
     * @param startTimeout how long each JVM may take to become ready.
     * @return the running pair.
     * @throws BenchmarkException when one does not start.
     */
    ManComServer startManCom(final String name, final boolean lowLatency, final Duration startTimeout)
    {
        final Path dir;
        final Path configFile;
        synchronized (this)
        {
            // Under the lock, so that nothing is created again in the directory once close() has deleted it.
            if (closed)
            {
                throw new BenchmarkException("stopped before the " + name + " broker was started");
            }
            dir = workDir().resolve("mancom-" + (++brokers));
            configFile = dir.resolve("mancom.toml");
            try
            {
                Files.createDirectories(dir);
                Files.writeString(configFile, brokerConfig(lowLatency));
            }
            catch (final IOException ex)
            {
                throw new BenchmarkException("cannot write " + configFile + ": " + ex, ex);
            }
        }
        final ForkedProcess broker;
        try
        {
            broker = fork(name + " broker", Main.class.getName(), List.of(),
                List.of("broker", "--config", configFile.toString(), "--dir", dir.resolve("broker").toString()));
        }
        catch (final RuntimeException ex)
        {
            BenchmarkServers.deleteRecursively(dir);
            throw ex;
        }
        ManComServer server = null;
        try
        {
            broker.awaitLine(BROKER_READY, startTimeout);
            final Matcher listening = broker.awaitLine(BROKER_LISTENING, Duration.ofSeconds(1));
            server = new ManComServer(name, dir, broker,
                new InetSocketAddress(listening.group(1), Integer.parseInt(listening.group(2))));
            server.echo = fork(name + " echo application", Main.class.getName(),
                lowLatency ? List.of(IDLE_SPIN_FLAG) : List.of(),
                List.of("echo", SERVICE, "--dir", server.brokerDir().toString()));
            try
            {
                server.echo.awaitLine(ECHO_READY, startTimeout);
            }
            catch (final BenchmarkException ex)
            {
                throw new BenchmarkException(ex.getMessage() + System.lineSeparator() + "and the " +
                    broker.describe(), ex);
            }
            return server;
        }
        catch (final RuntimeException ex)
        {
            if (null != server)
            {
                server.stop();
            }
            else
            {
                broker.stop(STOP_TIMEOUT);
                BenchmarkServers.deleteRecursively(dir);
            }
            throw ex;
        }
    }

    /**
     * The configuration file of a broker.
     *
     * @param lowLatency true for the low-latency profile.
     * @return the TOML text.
     */
    static String brokerConfig(final boolean lowLatency)
    {
        // App-to-app bytes do not pass through the broker: the low-latency profile is the two applications'
        // setting, and a spinning broker sender would only take a core from them.
        return SERVICE_TOML;
    }

    private synchronized ForkedProcess fork(
        final String name, final String mainClass, final List<String> jvmArgs, final List<String> args)
    {
        if (closed)
        {
            throw new BenchmarkException("stopped before the " + name + " JVM was started");
        }
        final List<String> allJvmArgs = new ArrayList<>();
        allJvmArgs.add(BenchmarkServers.JVM_HEAP_FLAG);
        allJvmArgs.addAll(jvmArgs);
        final ForkedProcess process = ForkedProcess.start(name, mainClass, allJvmArgs, args);
        processes.add(process);
        return process;
    }

    /**
     * Fail when the reference echo server has stopped.
     *
     * @throws BenchmarkException with its last output.
     */
    void checkEchoServerAlive()
    {
        final ForkedProcess server = echoServerProcess;
        if (null != server && !server.isAlive())
        {
            throw new BenchmarkException("the " + server.describe());
        }
    }

    /**
     * Stop the JVMs, the last started first, and delete the temporary directory.
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
        processes.clear();
        if (null != workDir)
        {
            BenchmarkServers.deleteRecursively(workDir);
        }
    }
}
