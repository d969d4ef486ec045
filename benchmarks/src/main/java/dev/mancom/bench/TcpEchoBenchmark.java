package dev.mancom.bench;

import dev.mancom.broker.config.ConfigLoader;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

import static dev.mancom.bench.BenchmarkReport.BYTES_PER_GB;
import static dev.mancom.bench.BenchmarkReport.BYTES_PER_MB;
import static dev.mancom.bench.BenchmarkReport.NS_PER_US;

/**
 * End-to-end TCP echo benchmark: the same client load against a plain Netty echo server and against ManCom (a
 * broker that accepts the TCP connections and an echo application behind it, over shared memory), each server in
 * its own JVM, interleaved round by round so that machine noise hits both alike; the median of the rounds is
 * printed side by side with the ratio of ManCom's figure to Netty's.
 * <p>
 * Two loads, each over one TCP connection from this JVM: 64-byte ping-pong (round-trip time percentiles) and
 * 64 KiB streaming with a writer and a reader thread (bytes echoed per second). Run it from the repository root
 * with {@code benchmarks/run tcp-echo [options]}; {@code --help} lists the options.
 */
@Command(
    name = "tcp-echo",
    sortOptions = false,
    usageHelpWidth = 110,
    description = {
        "Measure TCP echo through ManCom (broker + echo application over shared memory) against a plain Netty echo",
        "server, each in its own JVM, interleaved round by round; print the medians side by side."
    })
public final class TcpEchoBenchmark implements Callable<Integer>
{
    /** The name of the plain Netty target in the report. */
    public static final String NETTY = "direct Netty";

    /** The name of the ManCom target in the report. */
    public static final String MANCOM = "via ManCom";

    private static final Duration START_TIMEOUT = Duration.ofSeconds(60);
    private static final int TARGET_WIDTH = 12;
    private static final int MAX_MESSAGE_SIZE_BYTES = 1024 * 1024;

    @Mixin
    private BenchmarkOptions options;

    @Option(names = "--message-size", paramLabel = "BYTES", order = BenchmarkOptions.MESSAGE_SIZE_ORDER,
        description = "ping-pong message size (default 64)")
    private Integer messageSizeBytes;

    private PrintStream out = System.out;
    private String[] args = new String[0];

    /**
     * The figures of one target: ping-pong round-trip times and streaming throughput.
     *
     * @param pingPong       the ping-pong round-trip times.
     * @param bytesPerSecond bytes echoed per second while streaming.
     */
    public record Figures(Percentiles pingPong, double bytesPerSecond)
    {
    }

    /**
     * What a run measured.
     *
     * @param settings     the settings.
     * @param netty        the median figures of the plain Netty server.
     * @param mancom       the median figures through ManCom.
     * @param nettyRounds  the Netty figures of each round.
     * @param mancomRounds the ManCom figures of each round.
     */
    public record Results(
        LoadSettings settings, Figures netty, Figures mancom, List<Figures> nettyRounds, List<Figures> mancomRounds)
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
        final TcpEchoBenchmark command = new TcpEchoBenchmark();
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
        final TcpEchoBenchmark command = new TcpEchoBenchmark();
        new CommandLine(command).parseArgs(args);
        return command.resolveSettings();
    }

    /**
     * Run with the options given.
     *
     * @return 0.
     */
    public Integer call()
    {
        run(resolveSettings(), BenchmarkReport.commandLine(TcpEchoBenchmark.class, args), out);
        return 0;
    }

    private LoadSettings resolveSettings()
    {
        return options.resolve(messageSizeBytes, MAX_MESSAGE_SIZE_BYTES);
    }

    /**
     * Start the servers, run the rounds, print the report, stop the servers.
     *
     * @param settings what to run.
     * @param command  the command line to print in the report.
     * @param out      where the report goes.
     * @return the figures.
     * @throws BenchmarkException when a server does not start or stops echoing.
     */
    public static Results run(final LoadSettings settings, final String command, final PrintStream out)
    {
        printHeader(settings, command, out);
        final BenchmarkServers servers = new BenchmarkServers();
        // Ctrl-C or SIGTERM, even while the servers start, must not leave a server behind.
        final StopOnExit stopOnExit = new StopOnExit("tcp-echo", "the servers", servers::close);
        try (stopOnExit)
        {
            servers.start(START_TIMEOUT);
            printServers(servers, out);
            out.println();
            final Results results;
            try
            {
                results = runRounds(settings, servers, out);
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
        final LoadSettings settings, final BenchmarkServers servers, final PrintStream out)
    {
        final List<Figures> nettyRounds = new ArrayList<>();
        final List<Figures> mancomRounds = new ArrayList<>();
        for (int round = 1; round <= settings.rounds(); round++)
        {
            // Alternate which target goes first, so that neither always runs right after the other's load.
            final boolean nettyFirst = 1 == round % 2;
            final String label = String.format(Locale.ROOT, "round %d/%d", round, settings.rounds());

            final PingPongLoad.Result[] pingPong = new PingPongLoad.Result[2];
            for (int i = 0; i < 2; i++)
            {
                final boolean netty = nettyFirst == (0 == i);
                servers.checkAlive();
                final PingPongLoad.Result result = PingPongLoad.run(
                    netty ? NETTY : MANCOM,
                    netty ? servers.nettyAddress() : servers.mancomAddress(),
                    settings.pingPongPlan());
                pingPong[netty ? 0 : 1] = result;
                BenchmarkReport.printPingPong(label, "ping-pong", netty ? NETTY : MANCOM, TARGET_WIDTH, result, out);
            }

            final StreamingLoad.Result[] streaming = new StreamingLoad.Result[2];
            for (int i = 0; i < 2; i++)
            {
                final boolean netty = nettyFirst == (0 == i);
                servers.checkAlive();
                final StreamingLoad.Result result = StreamingLoad.run(
                    netty ? NETTY : MANCOM,
                    netty ? servers.nettyAddress() : servers.mancomAddress(),
                    settings.streamingPlan());
                streaming[netty ? 0 : 1] = result;
                BenchmarkReport.printStreaming(label, netty ? NETTY : MANCOM, TARGET_WIDTH, result, out);
            }

            nettyRounds.add(figures(pingPong[0], streaming[0]));
            mancomRounds.add(figures(pingPong[1], streaming[1]));
        }
        servers.checkAlive();
        return new Results(settings, median(nettyRounds), median(mancomRounds), nettyRounds, mancomRounds);
    }

    private static Figures figures(final PingPongLoad.Result pingPong, final StreamingLoad.Result streaming)
    {
        return new Figures(Percentiles.of(pingPong.histogram()), streaming.bytesPerSecond());
    }

    private static Figures median(final List<Figures> rounds)
    {
        return new Figures(
            Percentiles.median(rounds, Figures::pingPong),
            BenchmarkReport.median(rounds, Figures::bytesPerSecond));
    }

    // ------------------------------------------------------------------ report

    private static void printHeader(final LoadSettings settings, final String command, final PrintStream out)
    {
        out.println("ManCom TCP echo benchmark: the same load against a plain Netty echo server and through ManCom");
        out.println("  command : " + command);
        out.println("  machine : " + BenchmarkReport.machine());
        out.println("  JVM     : " + BenchmarkReport.jvm());
        out.println("  options : " + settings.toOptions());
        out.println("  loads   : ping-pong: one connection, blocking java.nio, TCP_NODELAY, " +
            settings.messageSizeBytes() + "-byte messages, one in flight;");
        out.println("            streaming: one connection, " + settings.streamBufferBytes() / 1024 +
            " KiB writes from a writer thread, a reader thread counts the echo; MB = 10^6 bytes");
        out.println("  rounds  : Netty and ManCom alternate within each round (odd rounds Netty first);");
        out.println("            each figure is the median over the rounds");
    }

    private static void printServers(final BenchmarkServers servers, final PrintStream out)
    {
        out.println("  servers : each in its own JVM with the JVM flags of jvm.flags and " +
            ForkedJvms.JVM_HEAP_FLAG + "; the clients run in this JVM");
        out.println("            " + NETTY + ": " + uri(servers.nettyAddress()) + ", NettyEchoServer (" +
            servers.nettyDescription() + ")");
        out.println("            " + MANCOM + ":   " + uri(servers.mancomAddress()) + ", 'mancom broker' with " +
            "[service." + ManComEchoService.SERVICE + "] listen = [\"tcp://127.0.0.1:0\"],");
        out.println("                          'mancom echo " + ManComEchoService.SERVICE + "' as the application; " +
            "broker settings: " + brokerSettings());
    }

    private static String uri(final InetSocketAddress address)
    {
        return "tcp://" + address.getHostString() + ":" + address.getPort();
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
            results.settings().streamBufferBytes() / 1024 + " KiB streaming", NETTY, MANCOM, "ratio");
        out.printf(Locale.ROOT, "  %-28s %14.0f %14.0f %8.2f%n", "MB/s",
            netty.bytesPerSecond() / BYTES_PER_MB, mancom.bytesPerSecond() / BYTES_PER_MB,
            mancom.bytesPerSecond() / netty.bytesPerSecond());
        out.printf(Locale.ROOT, "  %-28s %14.2f %14.2f %8.2f%n", "GB/s",
            netty.bytesPerSecond() / BYTES_PER_GB, mancom.bytesPerSecond() / BYTES_PER_GB,
            mancom.bytesPerSecond() / netty.bytesPerSecond());
        out.println("ratio = " + MANCOM + " / " + NETTY + "; diff = " + MANCOM + " - " + NETTY +
            " (us); max is the median of the rounds' maxima");
    }

    private static void printLatencyRow(
        final String name, final double nettyNs, final double mancomNs, final PrintStream out)
    {
        out.printf(Locale.ROOT, "  %-28s %14.1f %14.1f %8.2f %+9.1f%n",
            name, nettyNs / NS_PER_US, mancomNs / NS_PER_US, mancomNs / nettyNs, (mancomNs - nettyNs) / NS_PER_US);
    }
}
