package dev.mancom.bench;

import dev.mancom.broker.config.ConfigLoader;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.PrintStream;
import java.net.SocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;

import static dev.mancom.bench.BenchmarkReport.BYTES_PER_GB;
import static dev.mancom.bench.BenchmarkReport.BYTES_PER_MB;
import static dev.mancom.bench.BenchmarkReport.NS_PER_US;

/**
 * End-to-end echo benchmark over one transport (TCP, a Unix domain socket or UDP): the same client load against a
 * plain Netty echo server on that transport and against ManCom (a broker that accepts the connections and an echo
 * application behind it, over shared memory), each server in its own JVM, interleaved round by round so that machine
 * noise hits both alike; the median of the rounds is printed side by side with the ratio of ManCom's figure to
 * Netty's.
 * <p>
 * Two loads from this JVM. Over TCP and Unix sockets, each over one connection: 64-byte ping-pong (round-trip time
 * percentiles) and 64 KiB streaming with a writer and a reader thread (bytes echoed per second). Over UDP, each from
 * one socket: 64-byte datagram ping-pong, a datagram that has not come back within the loss time-out counted lost
 * ({@link DatagramPingPongLoad}), and datagram streaming as fast as the socket sends, measuring the throughput
 * delivered back and the loss ({@link DatagramStreamingLoad}). Run it from the repository root with
 * {@code benchmarks/run transport-echo --transport tcp|unix|udp [options]} ({@code benchmarks/run tcp-echo} is
 * {@code --transport tcp}); {@code --help} lists the options.
 */
@Command(
    name = "transport-echo",
    sortOptions = false,
    usageHelpWidth = 110,
    description = {
        "Measure echo over TCP, a Unix domain socket or UDP through ManCom (broker + echo application over shared",
        "memory) against a plain Netty echo server on the same transport, each in its own JVM, interleaved round by",
        "round; print the medians side by side."
    })
public final class TransportEchoBenchmark implements Callable<Integer>
{
    /** The name of the plain Netty target in the report. */
    public static final String NETTY = "direct Netty";

    /** The name of the ManCom target in the report. */
    public static final String MANCOM = "via ManCom";

    private static final Duration START_TIMEOUT = Duration.ofSeconds(60);
    private static final int TARGET_WIDTH = 12;
    private static final int MAX_MESSAGE_SIZE_BYTES = 1024 * 1024;
    private static final int MAX_DATAGRAM_BYTES = 65_507;
    private static final int DATAGRAM_SIZE_BYTES = 1_472;
    private static final long LOSS_TIMEOUT_MS = 200;
    private static final int WINDOW_DATAGRAMS = 64;

    /**
     * The transports the benchmark runs over.
     */
    public enum EchoTransport
    {
        /** TCP on 127.0.0.1. */
        tcp,
        /** A Unix domain stream socket. */
        unix,
        /** UDP on 127.0.0.1. */
        udp
    }

    @Mixin
    private BenchmarkOptions options;

    @Option(names = "--message-size", paramLabel = "BYTES", order = BenchmarkOptions.MESSAGE_SIZE_ORDER,
        description = "ping-pong message size (default 64; udp: at most 65507)")
    private Integer messageSizeBytes;

    @Option(names = "--transport", paramLabel = "T", order = BenchmarkOptions.OWN_ORDER,
        description = "tcp, unix or udp (default tcp)")
    private EchoTransport transport = EchoTransport.tcp;

    @Option(names = "--datagram-size", paramLabel = "BYTES", order = BenchmarkOptions.OWN_ORDER + 1,
        description = "udp: the size of each streamed datagram (default 1472, a full Ethernet frame's payload)")
    private int datagramSizeBytes = DATAGRAM_SIZE_BYTES;

    @Option(names = "--datagram-window", paramLabel = "N", order = BenchmarkOptions.OWN_ORDER + 2,
        description = "udp: streamed datagrams sent and not yet back at most (default 64)")
    private int windowDatagrams = WINDOW_DATAGRAMS;

    @Option(names = "--loss-timeout-ms", paramLabel = "MS", order = BenchmarkOptions.OWN_ORDER + 3,
        description = "udp: a ping-pong datagram, or a full streaming window, not back within this is lost " +
            "(default 200)")
    private long lossTimeoutMs = LOSS_TIMEOUT_MS;

    private PrintStream out = System.out;
    private String[] args = new String[0];

    /**
     * The figures of one target: ping-pong round-trip times, streaming throughput, and over UDP the losses.
     *
     * @param pingPong       the ping-pong round-trip times.
     * @param bytesPerSecond bytes echoed per second while streaming.
     * @param lostPings      measured ping-pong datagrams that did not come back in time (0 over a stream).
     * @param streamLoss     the share of the streamed bytes that did not come back (0 over a stream).
     */
    public record Figures(Percentiles pingPong, double bytesPerSecond, double lostPings, double streamLoss)
    {
    }

    /**
     * How a run goes over UDP.
     *
     * @param datagramSizeBytes the size of each streamed datagram.
     * @param windowDatagrams   streamed datagrams sent and not yet back at most.
     * @param lossTimeoutNs     how long a ping-pong datagram, or a full streaming window, may wait for the echo
     *                          before it counts lost.
     */
    public record DatagramSettings(int datagramSizeBytes, int windowDatagrams, long lossTimeoutNs)
    {
    }

    /**
     * What a run measured.
     *
     * @param transport    the transport.
     * @param datagrams    how it went over UDP (the defaults over the others).
     * @param settings     the settings.
     * @param netty        the median figures of the plain Netty server.
     * @param mancom       the median figures through ManCom.
     * @param nettyRounds  the Netty figures of each round.
     * @param mancomRounds the ManCom figures of each round.
     */
    public record Results(
        EchoTransport transport,
        DatagramSettings datagrams,
        LoadSettings settings,
        Figures netty,
        Figures mancom,
        List<Figures> nettyRounds,
        List<Figures> mancomRounds)
    {
    }

    /**
     * Run the benchmark and exit with 0 on success, 1 when it could not run, 2 on a wrong option.
     *
     * @param args the options.
     */
    public static void main(final String[] args)
    {
        System.exit(execute(System.out, System.err, args));
    }

    /**
     * Run the benchmark as the command line asks.
     *
     * @param out  where the report goes.
     * @param err  where errors go.
     * @param args the options.
     * @return the exit code: 0 on success, 1 when it could not run, 2 on a wrong option.
     */
    public static int execute(final PrintStream out, final PrintStream err, final String... args)
    {
        final TransportEchoBenchmark command = new TransportEchoBenchmark();
        command.out = out;
        command.args = args.clone();
        return BenchmarkOptions.execute(command, out, err, args);
    }

    /**
     * The settings the options give.
     *
     * @param args the options.
     * @return the settings.
     * @throws CommandLine.ParameterException when an option is wrong.
     */
    public static LoadSettings settings(final String... args)
    {
        final TransportEchoBenchmark command = new TransportEchoBenchmark();
        new CommandLine(command).parseArgs(args);
        return command.resolveSettings();
    }

    /**
     * The UDP settings the options give.
     *
     * @param args the options.
     * @return the settings.
     * @throws CommandLine.ParameterException when an option is wrong.
     */
    public static DatagramSettings datagramSettings(final String... args)
    {
        final TransportEchoBenchmark command = new TransportEchoBenchmark();
        new CommandLine(command).parseArgs(args);
        return command.resolveDatagramSettings();
    }

    /**
     * Run with the options given.
     *
     * @return 0.
     */
    public Integer call()
    {
        final LoadSettings settings = resolveSettings();
        run(transport, resolveDatagramSettings(), settings,
            BenchmarkReport.commandLine(TransportEchoBenchmark.class, args), out);
        return 0;
    }

    private LoadSettings resolveSettings()
    {
        return options.resolve(
            messageSizeBytes, EchoTransport.udp == transport ? MAX_DATAGRAM_BYTES : MAX_MESSAGE_SIZE_BYTES);
    }

    private DatagramSettings resolveDatagramSettings()
    {
        options.check(datagramSizeBytes >= 1 && datagramSizeBytes <= MAX_DATAGRAM_BYTES,
            "--datagram-size must be from 1 to " + MAX_DATAGRAM_BYTES);
        options.check(windowDatagrams >= 1, "--datagram-window must be at least 1");
        options.check(lossTimeoutMs >= 1, "--loss-timeout-ms must be at least 1");
        return new DatagramSettings(
            datagramSizeBytes, windowDatagrams, TimeUnit.MILLISECONDS.toNanos(lossTimeoutMs));
    }

    /**
     * Start the TCP servers, run the rounds, print the report, stop the servers.
     *
     * @param settings what to run.
     * @param command  the command line to print in the report.
     * @param out      where the report goes.
     * @return the figures.
     * @throws BenchmarkException when a server does not start or stops echoing.
     */
    public static Results run(final LoadSettings settings, final String command, final PrintStream out)
    {
        return run(EchoTransport.tcp, new DatagramSettings(DATAGRAM_SIZE_BYTES, WINDOW_DATAGRAMS,
            TimeUnit.MILLISECONDS.toNanos(LOSS_TIMEOUT_MS)), settings, command, out);
    }

    /**
     * Start the servers, run the rounds, print the report, stop the servers.
     *
     * @param transport what the loads run over.
     * @param datagrams how the loads go over UDP.
     * @param settings  what to run.
     * @param command   the command line to print in the report.
     * @param out       where the report goes.
     * @return the figures.
     * @throws BenchmarkException when a server does not start or stops echoing.
     */
    public static Results run(
        final EchoTransport transport,
        final DatagramSettings datagrams,
        final LoadSettings settings,
        final String command,
        final PrintStream out)
    {
        printHeader(transport, datagrams, settings, command, out);
        final BenchmarkServers servers = new BenchmarkServers(transport.name());
        // Ctrl-C or SIGTERM, even while the servers start, must not leave a server behind.
        final StopOnExit stopOnExit = new StopOnExit("transport-echo", "the servers", servers::close);
        try (stopOnExit)
        {
            servers.start(START_TIMEOUT);
            printServers(transport, servers, out);
            out.println();
            final Results results;
            try
            {
                results = runRounds(transport, datagrams, settings, servers, out);
            }
            catch (final BenchmarkException ex)
            {
                throw new BenchmarkException(ex.getMessage() + System.lineSeparator() + "the servers:" +
                    servers.describeAll(), ex);
            }
            out.println();
            printResults(results, out);
            return results;
        }
    }

    private static Results runRounds(
        final EchoTransport transport,
        final DatagramSettings datagrams,
        final LoadSettings settings,
        final BenchmarkServers servers,
        final PrintStream out)
    {
        final boolean udp = EchoTransport.udp == transport;
        final List<Figures> nettyRounds = new ArrayList<>();
        final List<Figures> mancomRounds = new ArrayList<>();
        for (int round = 1; round <= settings.rounds(); round++)
        {
            // Alternate which target goes first, so that neither always runs right after the other's load.
            final boolean nettyFirst = 1 == round % 2;
            final String label = String.format(Locale.ROOT, "round %d/%d", round, settings.rounds());

            final PingPongLoad.Result[] pingPong = new PingPongLoad.Result[2];
            final long[] lostPings = new long[2];
            for (int i = 0; i < 2; i++)
            {
                final boolean netty = nettyFirst == (0 == i);
                final String target = netty ? NETTY : MANCOM;
                final SocketAddress address = netty ? servers.nettyAddress() : servers.mancomAddress();
                servers.checkAlive();
                final PingPongLoad.Result result;
                if (udp)
                {
                    final DatagramPingPongLoad.Result datagram = DatagramPingPongLoad.run(
                        target, address, settings.pingPongPlan(), datagrams.lossTimeoutNs());
                    result = datagram.pingPong();
                    lostPings[netty ? 0 : 1] = datagram.lost();
                }
                else
                {
                    result = PingPongLoad.run(target, address, settings.pingPongPlan());
                }
                pingPong[netty ? 0 : 1] = result;
                BenchmarkReport.printPingPong(label, "ping-pong", target, TARGET_WIDTH, result, out);
                if (udp)
                {
                    out.printf(Locale.ROOT, "%s  ping-pong  %-" + TARGET_WIDTH + "s  lost %,d of %,d%n",
                        label, target, lostPings[netty ? 0 : 1], settings.pingPongCount());
                }
            }

            final StreamingLoad.Result[] streaming = new StreamingLoad.Result[2];
            final double[] streamLoss = new double[2];
            for (int i = 0; i < 2; i++)
            {
                final boolean netty = nettyFirst == (0 == i);
                final String target = netty ? NETTY : MANCOM;
                final SocketAddress address = netty ? servers.nettyAddress() : servers.mancomAddress();
                servers.checkAlive();
                final StreamingLoad.Result result;
                if (udp)
                {
                    final StreamingLoad.Plan plan = settings.streamingPlan();
                    final DatagramStreamingLoad.Result datagram = DatagramStreamingLoad.run(target, address,
                        new StreamingLoad.Plan(datagrams.datagramSizeBytes(), plan.warmupNs(), plan.durationNs(),
                        plan.stallTimeoutNs()), datagrams.windowDatagrams(), datagrams.lossTimeoutNs());
                    result = datagram.streaming();
                    streamLoss[netty ? 0 : 1] = datagram.loss();
                }
                else
                {
                    result = StreamingLoad.run(target, address, settings.streamingPlan());
                }
                streaming[netty ? 0 : 1] = result;
                BenchmarkReport.printStreaming(label, target, TARGET_WIDTH, result, out);
                if (udp)
                {
                    out.printf(Locale.ROOT, "%s  streaming  %-" + TARGET_WIDTH + "s  lost %.1f%% of the datagrams " +
                        "sent%n", label, target, 100 * streamLoss[netty ? 0 : 1]);
                }
            }

            nettyRounds.add(figures(pingPong[0], streaming[0], lostPings[0], streamLoss[0]));
            mancomRounds.add(figures(pingPong[1], streaming[1], lostPings[1], streamLoss[1]));
        }
        servers.checkAlive();
        return new Results(transport, datagrams, settings, median(nettyRounds), median(mancomRounds), nettyRounds,
            mancomRounds);
    }

    private static Figures figures(
        final PingPongLoad.Result pingPong,
        final StreamingLoad.Result streaming,
        final long lostPings,
        final double streamLoss)
    {
        return new Figures(Percentiles.of(pingPong.histogram()), streaming.bytesPerSecond(), lostPings, streamLoss);
    }

    private static Figures median(final List<Figures> rounds)
    {
        return new Figures(
            Percentiles.median(rounds, Figures::pingPong),
            BenchmarkReport.median(rounds, Figures::bytesPerSecond),
            BenchmarkReport.median(rounds, Figures::lostPings),
            BenchmarkReport.median(rounds, Figures::streamLoss));
    }

    // ------------------------------------------------------------------ report

    private static void printHeader(
        final EchoTransport transport,
        final DatagramSettings datagrams,
        final LoadSettings settings,
        final String command,
        final PrintStream out)
    {
        out.println("ManCom " + title(transport) + " echo benchmark: the same load against a plain Netty echo " +
            "server and through ManCom");
        out.println("  command : " + command);
        out.println("  machine : " + BenchmarkReport.machine());
        out.println("  JVM     : " + BenchmarkReport.jvm());
        if (EchoTransport.udp == transport)
        {
            out.println("  options : --transport udp " + settings.toOptions() + " --datagram-size " +
                datagrams.datagramSizeBytes() + " --datagram-window " + datagrams.windowDatagrams() +
                " --loss-timeout-ms " +
                TimeUnit.NANOSECONDS.toMillis(datagrams.lossTimeoutNs()));
            out.println("  loads   : ping-pong: one connected blocking java.nio DatagramChannel, " +
                settings.messageSizeBytes() + "-byte datagrams, one in flight; one not back within " +
                TimeUnit.NANOSECONDS.toMillis(datagrams.lossTimeoutNs()) + " ms is lost;");
            out.println("            streaming: one socket, " + datagrams.datagramSizeBytes() + "-byte datagrams " +
                "from a writer thread, at most " + datagrams.windowDatagrams() + " not yet back (written off as " +
                "lost after the loss time-out), a reader thread counts the echo;");
            out.println("            throughput is what came back; loss is the share sent that never came back; " +
                "MB = 10^6 bytes");
        }
        else
        {
            out.println("  options : --transport " + transport + " " + settings.toOptions());
            out.println("  loads   : ping-pong: one connection, blocking java.nio" +
                (EchoTransport.tcp == transport ? ", TCP_NODELAY, " : ", ") +
                settings.messageSizeBytes() + "-byte messages, one in flight;");
            out.println("            streaming: one connection, " + settings.streamBufferBytes() / 1024 +
                " KiB writes from a writer thread, a reader thread counts the echo; MB = 10^6 bytes");
        }
        out.println("  rounds  : Netty and ManCom alternate within each round (odd rounds Netty first);");
        out.println("            each figure is the median over the rounds");
    }

    private static void printServers(
        final EchoTransport transport, final BenchmarkServers servers, final PrintStream out)
    {
        out.println("  servers : each in its own JVM with the JVM flags of jvm.flags and " +
            ForkedJvms.JVM_HEAP_FLAG + "; the clients run in this JVM");
        out.println("            " + NETTY + ": " + servers.nettyUri() + ", NettyEchoServer (" +
            servers.nettyDescription() + ")");
        out.println("            " + MANCOM + ":   " + servers.mancomUri() + ", 'mancom broker' with " +
            "[service." + ManComEchoService.SERVICE + "] listen = [\"" +
            (EchoTransport.unix == transport ? "unix://..." : transport + "://127.0.0.1:0") + "\"],");
        out.println("                          'mancom echo " + ManComEchoService.SERVICE + "' as the application; " +
            "broker settings: " + brokerSettings());
    }

    private static String title(final EchoTransport transport)
    {
        return switch (transport)
        {
            case tcp -> "TCP";
            case unix -> "Unix domain socket";
            case udp -> "UDP";
        };
    }

    private static String brokerSettings()
    {
        try
        {
            final String[] lines = ConfigLoader.parse(ManComEchoService.CONFIG_TOML, "benchmark").toString()
                .split("\n");
            final StringBuilder builder = new StringBuilder();
            for (final String setting : lines.length > 1 ? lines[1].trim().split(" ") : new String[0])
            {
                // The benchmark passes its own directory; the rest are the defaults the broker runs with.
                if (!setting.startsWith("dir=") && !setting.startsWith("journal=") && !setting.startsWith("plugins="))
                {
                    builder.append(builder.length() > 0 ? " " : "").append(setting);
                }
            }
            return builder.toString();
        }
        catch (final RuntimeException ex)
        {
            return "(unknown)";
        }
    }

    private static void printResults(final Results results, final PrintStream out)
    {
        final Figures netty = results.netty();
        final Figures mancom = results.mancom();
        BenchmarkReport.printResultsTitle(results.settings().rounds(), out);
        out.printf(Locale.ROOT, "%-30s %14s %14s %8s %9s%n",
            results.settings().messageSizeBytes() + "-byte ping-pong RTT (us)", NETTY, MANCOM, "ratio", "diff");
        final Percentiles nettyRtt = netty.pingPong();
        final Percentiles mancomRtt = mancom.pingPong();
        printLatencyRow("p50", nettyRtt.p50Ns(), mancomRtt.p50Ns(), out);
        printLatencyRow("p90", nettyRtt.p90Ns(), mancomRtt.p90Ns(), out);
        printLatencyRow("p99", nettyRtt.p99Ns(), mancomRtt.p99Ns(), out);
        printLatencyRow("p99.9", nettyRtt.p999Ns(), mancomRtt.p999Ns(), out);
        printLatencyRow("max", nettyRtt.maxNs(), mancomRtt.maxNs(), out);
        out.printf(Locale.ROOT, "%-30s %14s %14s %8s%n",
            EchoTransport.udp == results.transport() ?
            results.datagrams().datagramSizeBytes() + "-byte datagram streaming" :
            results.settings().streamBufferBytes() / 1024 + " KiB streaming", NETTY, MANCOM, "ratio");
        out.printf(Locale.ROOT, "  %-28s %14.0f %14.0f %8.2f%n", "MB/s",
            netty.bytesPerSecond() / BYTES_PER_MB, mancom.bytesPerSecond() / BYTES_PER_MB,
            mancom.bytesPerSecond() / netty.bytesPerSecond());
        out.printf(Locale.ROOT, "  %-28s %14.2f %14.2f %8.2f%n", "GB/s",
            netty.bytesPerSecond() / BYTES_PER_GB, mancom.bytesPerSecond() / BYTES_PER_GB,
            mancom.bytesPerSecond() / netty.bytesPerSecond());
        if (EchoTransport.udp == results.transport())
        {
            out.printf(Locale.ROOT, "%-30s %14s %14s%n", "UDP losses", NETTY, MANCOM);
            out.printf(Locale.ROOT, "  %-28s %14.0f %14.0f%n",
                "ping-pong lost (of " + results.settings().pingPongCount() + ")",
                netty.lostPings(), mancom.lostPings());
            out.printf(Locale.ROOT, "  %-28s %13.1f%% %13.1f%%%n", "streamed datagrams lost",
                100 * netty.streamLoss(), 100 * mancom.streamLoss());
        }
        out.println("ratio = " + MANCOM + " / " + NETTY + "; diff = " + MANCOM + " - " + NETTY + " (us); max " +
            (EchoTransport.udp == results.transport() ? "and the losses are the medians" : "is the median") +
            " of the rounds'");
    }

    private static void printLatencyRow(
        final String name, final double nettyNs, final double mancomNs, final PrintStream out)
    {
        out.printf(Locale.ROOT, "  %-28s %14.1f %14.1f %8.2f %+9.1f%n",
            name, nettyNs / NS_PER_US, mancomNs / NS_PER_US, mancomNs / nettyNs, (mancomNs - nettyNs) / NS_PER_US);
    }
}
