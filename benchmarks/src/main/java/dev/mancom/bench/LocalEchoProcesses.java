package dev.mancom.bench;

import dev.mancom.tools.Main;

import java.net.InetSocketAddress;
import java.net.UnixDomainSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The JVMs the local echo benchmark forks ({@link ForkedJvms}): the {@link LocalEchoServer} of the references, and
 * ManCom brokers each with its echo application ({@link ManComEchoService}). {@link #close()} stops every JVM and
 * deletes their temporary directory; it is idempotent and thread safe, so that a shutdown hook may call it too.
 */
final class LocalEchoProcesses implements AutoCloseable
{
    /** The system property of the client library's idle profile, given to the low-latency echo application. */
    static final String IDLE_SPIN_FLAG = "-D" + ManComEchoPipe.IDLE_PROP_NAME + "=" + ManComEchoPipe.IDLE_SPIN;

    private static final Pattern LOCAL_ECHO_READY = Pattern.compile(
        Pattern.quote(LocalEchoServer.READY_LINE_PREFIX) + "tcp://([^:]+):(\\d+) unix:(\\S+) aeron:(\\S+)");

    private final ForkedJvms jvms = new ForkedJvms("mancom-local-echo-");
    private volatile ForkedProcess echoServerProcess;
    private int brokers;

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
     * Start the reference echo server and wait until it is ready.
     *
     * @param startTimeout how long it may take.
     * @return where it serves.
     * @throws BenchmarkException when it does not start.
     */
    EchoServer startEchoServer(final Duration startTimeout)
    {
        final Path dir = jvms.workDir().resolve("reference");
        final ForkedProcess server = jvms.fork("reference echo server", LocalEchoServer.class.getName(), List.of(),
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
            broker.checkAlive();
            if (null != echo)
            {
                echo.checkAlive();
            }
        }

        /**
         * Stop the echo application, then the broker, and delete their directory.
         */
        void stop()
        {
            if (null != echo)
            {
                jvms.stop(echo);
            }
            jvms.stop(broker);
            ForkedJvms.deleteRecursively(dir);
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
     * @param lowLatency   true for the low-latency profile: {@value #IDLE_SPIN_FLAG} for the echo application.
     * @param startTimeout how long each JVM may take to become ready.
     * @return the running pair.
     * @throws BenchmarkException when one does not start.
     */
    ManComServer startManCom(final String name, final boolean lowLatency, final Duration startTimeout)
    {
        final String dirName;
        synchronized (this)
        {
            dirName = "mancom-" + (++brokers);
        }
        final Path configFile = jvms.writeConfig(name + " broker", dirName + "/mancom.toml", brokerConfig(lowLatency));
        final Path dir = configFile.getParent();
        final ForkedProcess broker;
        try
        {
            broker = jvms.fork(name + " broker", Main.class.getName(), List.of(),
                ManComEchoService.brokerArgs(configFile, dir.resolve("broker")));
        }
        catch (final RuntimeException ex)
        {
            ForkedJvms.deleteRecursively(dir);
            throw ex;
        }
        ManComServer server = null;
        try
        {
            broker.awaitLine(ManComEchoService.BROKER_READY, startTimeout);
            server = new ManComServer(name, dir, broker, ManComEchoService.listeningAddress(
                broker.awaitLine(ManComEchoService.BROKER_LISTENING, Duration.ofSeconds(1))));
            server.echo = jvms.fork(name + " echo application", Main.class.getName(),
                lowLatency ? List.of(IDLE_SPIN_FLAG) : List.of(), ManComEchoService.echoArgs(server.brokerDir()));
            try
            {
                server.echo.awaitLine(ManComEchoService.ECHO_READY, startTimeout);
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
                jvms.stop(broker);
                ForkedJvms.deleteRecursively(dir);
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
        return ManComEchoService.CONFIG_TOML;
    }

    /**
     * Fail when the reference echo server has stopped.
     *
     * @throws BenchmarkException with its last output.
     */
    void checkEchoServerAlive()
    {
        final ForkedProcess server = echoServerProcess;
        if (null != server)
        {
            server.checkAlive();
        }
    }

    /**
     * Stop the JVMs, the last started first, and delete the temporary directory.
     */
    public void close()
    {
        jvms.close();
    }
}
