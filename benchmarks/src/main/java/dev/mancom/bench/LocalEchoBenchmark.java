package dev.mancom.bench;

import io.aeron.Aeron;
import org.agrona.CloseHelper;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.PrintStream;
import java.net.SocketAddress;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.EnumMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;
import java.util.function.Function;
import java.util.function.ToDoubleFunction;

import static dev.mancom.bench.BenchmarkReport.BYTES_PER_MB;
import static dev.mancom.bench.BenchmarkReport.NS_PER_US;

/**
 * Local echo benchmark (issue 3): an echo between two processes of this machine, this JVM the client and a forked
 * JVM the echo, over loopback TCP, a Unix domain socket, raw Aeron IPC (both sides busy-spinning, or both backing
 * off), and ManCom's app-to-app path (a broker and the {@code mancom echo echo} application; this JVM connects
 * to the service {@code echo} with {@code ManCom.connect("echo")}) in its default profile and in its low-latency
 * profile. The references run in one {@link LocalEchoServer} JVM.
 * <p>
 * Three loads, interleaved round by round, target after target: 64-byte ping-pong (round-trip percentiles),
 * 64 KiB streaming (bytes echoed per second) and wake-up latency (64-byte ping-pong, each message sent 10 ms after
 * the previous echo, so that every reader has gone to sleep). Each figure is the median of the rounds, printed
 * beside the references with ManCom's ratio to loopback TCP, and checked against the targets. A target
 * that cannot be measured (ManCom's {@code connect} refused, a process that does not start) is reported as
 * {@code n/a} with the reason; the others are measured anyway. Run it from the repository root with
 * {@code benchmarks/run local-echo [options]}; {@code --help} lists the options.
 */
@Command(
    name = "local-echo",
    sortOptions = false,
    usageHelpWidth = 110,
    description = {
        "Measure an echo between two processes of this machine: loopback TCP, a Unix domain socket, raw Aeron IPC",
        "(busy spin and back-off) and ManCom app-to-app (default and low-latency profiles), interleaved round by",
        "round; print the medians side by side with ManCom's ratios and the issue's targets."
    })
public final class LocalEchoBenchmark implements Callable<Integer>
{
    private static final Duration START_TIMEOUT = Duration.ofSeconds(60);
    private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(10);
    private static final int WAKEUP_WARMUP_COUNT = 10;
    private static final int TARGET_WIDTH = 13;
    private static final int MAX_MESSAGE_SIZE_BYTES = 64 * 1024;
    private static final String NOT_AVAILABLE = "n/a";

    /** Target: ManCom's default p50 at most this fraction of loopback TCP's. */
    static final double P50_TARGET_RATIO = 0.2;
    /** Target: ManCom's low-latency p50 at most this many times raw Aeron IPC's (busy spin). */
    static final double LOW_LATENCY_TARGET_RATIO = 2.0;
    /** Target: ManCom's streaming at least this many times loopback TCP's. */
    static final double STREAMING_TARGET_RATIO = 1.5;
    /** Target: ManCom's wake-up p99 at most loopback TCP's plus this many microseconds. */
    static final double WAKEUP_TARGET_MARGIN_US = 100.0;

    /**
     * What the benchmark measures.
     */
    public enum Target
    {
        /** A plain echo server over loopback TCP. */
        TCP("tcp", "loopback TCP"),
        /** The same server over a Unix domain socket. */
        UNIX("unix", "Unix socket"),
        /** Raw Aeron IPC, both sides busy-spinning. */
        AERON_SPIN("aeron-spin", "Aeron spin"),
        /** Raw Aeron IPC, both sides with Aeron's default back-off. */
        AERON_BACKOFF("aeron-backoff", "Aeron backoff"),
        /** ManCom app-to-app, default profile. */
        MANCOM("mancom", "ManCom"),
        /** ManCom app-to-app, low-latency profile. */
        MANCOM_LOW_LATENCY("mancom-spin", "ManCom LL");

        private final String optionName;
        private final String label;

        Target(final String optionName, final String label)
        {
            this.optionName = optionName;
            this.label = label;
        }

        /**
         * The name {@code --targets} takes.
         *
         * @return such as {@code aeron-spin}.
         */
        public String optionName()
        {
            return optionName;
        }

        /**
         * The name in the report.
         *
         * @return such as {@code Aeron spin}.
         */
        public String label()
        {
            return label;
        }

        static Target ofOptionName(final String name)
        {
            for (final Target target : values())
            {
                if (target.optionName.equals(name))
                {
                    return target;
                }
            }
            return null;
        }

        static String optionNames()
        {
            final List<String> names = new ArrayList<>();
            for (final Target target : values())
            {
                names.add(target.optionName);
            }
            return String.join(",", names);
        }
    }

    @Mixin
    private BenchmarkOptions options;

    @Option(names = "--message-size", paramLabel = "BYTES", order = BenchmarkOptions.MESSAGE_SIZE_ORDER,
        description = "ping-pong and wake-up message size (default 64)")
    private Integer messageSizeBytes;

    @Option(names = "--wakeup-count", paramLabel = "N", order = BenchmarkOptions.OWN_ORDER,
        description = "wake-up round trips measured per round and target (default 300; --quick: 50)")
    private Long wakeupCount;

    @Option(names = "--wakeup-pause-ms", paramLabel = "MS", order = BenchmarkOptions.OWN_ORDER + 1,
        description = "pause before each wake-up message (default 10)")
    private Double wakeupPauseMs;

    @Option(names = "--targets", paramLabel = "LIST", split = ",", order = BenchmarkOptions.OWN_ORDER + 2,
        description = "the targets to measure, comma-separated (default all: tcp,unix,aeron-spin,aeron-backoff," +
            "mancom,mancom-spin)")
    private List<String> targets;

    @Option(names = "--mancom-via-tcp", order = BenchmarkOptions.OWN_ORDER + 3,
        description = "ManCom's client connects to the URI of the broker's own TCP listener of the echo service " +
            "instead of to the service (app-to-app): bytes cross loopback TCP twice; a check of the harness while " +
            "app-to-app is missing, not a figure of issue 3")
    private boolean mancomViaTcp;

    private PrintStream out = System.out;
    private String[] args = new String[0];

    /**
     * The settings of one run, resolved from the options.
     *
     * @param load          the rounds, the ping-pong and streaming loads, and whether {@code --quick} chose the
     *                      defaults; the message size is the wake-up load's too.
     * @param wakeupCount   wake-up round trips recorded, per round and target.
     * @param wakeupPauseNs pause before each wake-up message.
     * @param targets       what to measure, in the order of the first round.
     * @param mancomViaTcp  whether ManCom's client connects through the broker's TCP listener.
     */
    public record Settings(
        LoadSettings load,
        long wakeupCount,
        long wakeupPauseNs,
        List<Target> targets,
        boolean mancomViaTcp)
    {
        /**
         * The settings as the options that give them.
         *
         * @return such as {@code --rounds 3 --pingpong-warmup 20000 ...}.
         */
        public String toOptions()
        {
            final List<String> names = new ArrayList<>();
            for (final Target target : targets)
            {
                names.add(target.optionName());
            }
            return load.toOptions() +
                " --wakeup-count " + wakeupCount +
                " --wakeup-pause-ms " + BenchmarkReport.plain(wakeupPauseNs / 1e6) +
                " --targets " + String.join(",", names) +
                (mancomViaTcp ? " --mancom-via-tcp" : "");
        }

        /**
         * What each wake-up run does: ping-pong with a pause before each message.
         *
         * @return the plan.
         */
        PingPongLoad.Plan wakeupPlan()
        {
            return new PingPongLoad.Plan(load.messageSizeBytes(), Math.min(WAKEUP_WARMUP_COUNT, wakeupCount),
                wakeupCount, wakeupPauseNs, LoadSettings.STALL_TIMEOUT_NS);
        }
    }

    /**
     * The figures of one target in one round, or the medians of the rounds.
     *
     * @param pingPong       the ping-pong round-trip times.
     * @param bytesPerSecond bytes echoed per second while streaming.
     * @param wakeup         the wake-up round-trip times.
     */
    public record Figures(Percentiles pingPong, double bytesPerSecond, Percentiles wakeup)
    {
    }

    /**
     * What was measured of one target.
     *
     * @param target      the target.
     * @param rounds      the figures of each round; empty when not available.
     * @param median      the medians of the rounds, or null when not available.
     * @param unavailable why the target could not be measured, or null.
     */
    public record TargetResults(Target target, List<Figures> rounds, Figures median, String unavailable)
    {
        /**
         * Whether the target was measured.
         *
         * @return true when it has figures.
         */
        public boolean measured()
        {
            return null != median;
        }
    }

    /**
     * What a run measured.
     *
     * @param settings the settings.
     * @param targets  each target's figures, in the order of the settings.
     */
    public record Results(Settings settings, Map<Target, TargetResults> targets)
    {
        /**
         * One target's figures.
         *
         * @param target the target.
         * @return its results, or null when it was not asked for.
         */
        public TargetResults get(final Target target)
        {
            return targets.get(target);
        }

        Figures median(final Target target)
        {
            final TargetResults results = targets.get(target);
            return null == results ? null : results.median();
        }
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
        final LocalEchoBenchmark command = new LocalEchoBenchmark();
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
    public static Settings settings(final String... args)
    {
        final LocalEchoBenchmark command = new LocalEchoBenchmark();
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
        run(resolveSettings(), BenchmarkReport.commandLine(LocalEchoBenchmark.class, args), out);
        return 0;
    }

    private Settings resolveSettings()
    {
        final Set<Target> chosen = new LinkedHashSet<>();
        if (null == targets || targets.isEmpty())
        {
            chosen.addAll(Arrays.asList(Target.values()));
        }
        else
        {
            for (final String name : targets)
            {
                final Target target = Target.ofOptionName(name.trim());
                options.check(null != target, "--targets: unknown target '" + name + "' (known: " +
                    Target.optionNames() + ")");
                chosen.add(target);
            }
        }
        final Settings settings = new Settings(
            options.resolve(messageSizeBytes, MAX_MESSAGE_SIZE_BYTES),
            null != wakeupCount ? wakeupCount : (options.quick() ? 50 : 300),
            Math.round((null != wakeupPauseMs ? wakeupPauseMs : 10) * TimeUnit.MILLISECONDS.toNanos(1)),
            List.copyOf(chosen),
            mancomViaTcp);
        options.check(settings.wakeupCount() >= 1, "--wakeup-count must be at least 1");
        options.check(settings.wakeupPauseNs() >= 0 && settings.wakeupPauseNs() <= TimeUnit.SECONDS.toNanos(1),
            "--wakeup-pause-ms must be from 0 to 1000");
        return settings;
    }

    /**
     * Start the processes, run the rounds, print the report, stop the processes.
     *
     * @param settings what to run.
     * @param command  the command line to print in the report.
     * @param out      where the report goes.
     * @return the figures; a target that could not be measured has none and says why.
     * @throws BenchmarkException when the reference echo server does not start.
     */
    public static Results run(final Settings settings, final String command, final PrintStream out)
    {
        printHeader(settings, command, out);
        final Harness harness = new Harness(settings, out);
        // Ctrl-C or SIGTERM, even while the processes start, must not leave one behind.
        final StopOnExit stopOnExit = new StopOnExit("local-echo", "the processes", harness::close);
        try (stopOnExit)
        {
            harness.start();
            out.println();
            final Results results = harness.runRounds();
            out.println();
            printResults(results, out);
            return results;
        }
    }

    /**
     * The processes and clients of one run, and the rounds.
     */
    private static final class Harness
    {
        private final Settings settings;
        private final LoadSettings load;
        private final PrintStream out;
        private final LocalEchoProcesses processes = new LocalEchoProcesses();
        private final Map<Target, String> unavailable = new EnumMap<>(Target.class);
        private LocalEchoProcesses.EchoServer echoServer;
        private LocalEchoProcesses.ManComServer mancomServer;
        private Aeron aeron;
        private boolean closed;

        Harness(final Settings settings, final PrintStream out)
        {
            this.settings = settings;
            this.load = settings.load();
            this.out = out;
        }

        void start()
        {
            final boolean references = wants(Target.TCP) || wants(Target.UNIX) || wants(Target.AERON_SPIN) ||
                wants(Target.AERON_BACKOFF);
            if (references)
            {
                echoServer = processes.startEchoServer(START_TIMEOUT);
            }
            if (wants(Target.AERON_SPIN) || wants(Target.AERON_BACKOFF))
            {
                try
                {
                    final Aeron client = Aeron.connect(new Aeron.Context()
                        .aeronDirectoryName(echoServer.aeronDir())
                        .clientName("local-echo benchmark"));
                    synchronized (this)
                    {
                        aeron = client;
                        if (closed)
                        {
                            CloseHelper.quietClose(aeron);
                        }
                    }
                }
                catch (final RuntimeException ex)
                {
                    markUnavailable(Target.AERON_SPIN, "cannot attach to the echo server's media driver: " + ex);
                    markUnavailable(Target.AERON_BACKOFF, "cannot attach to the echo server's media driver: " + ex);
                }
            }
            if (wants(Target.MANCOM))
            {
                try
                {
                    mancomServer = processes.startManCom(Target.MANCOM.label(), false, START_TIMEOUT);
                }
                catch (final BenchmarkException ex)
                {
                    markUnavailable(Target.MANCOM, "did not start: " + ex.getMessage());
                }
            }
            printTargets();
        }

        private boolean wants(final Target target)
        {
            return settings.targets().contains(target);
        }

        private void markUnavailable(final Target target, final String reason)
        {
            unavailable.putIfAbsent(target, reason);
        }

        private void printTargets()
        {
            out.println("  targets : each echo in a JVM of its own with the JVM flags of jvm.flags and " +
                ForkedJvms.JVM_HEAP_FLAG + "; the clients run in this JVM");
            for (final Target target : settings.targets())
            {
                out.printf(Locale.ROOT, "            %-13s %s%n", target.label(), describe(target));
            }
            if (Runtime.getRuntime().availableProcessors() < 3 && wants(Target.MANCOM_LOW_LATENCY))
            {
                out.println("  note    : the low-latency profile spins two threads (the echo application's and " +
                    "this client's) on the " + Runtime.getRuntime().availableProcessors() + " cores here");
            }
            if (settings.mancomViaTcp())
            {
                out.println("  note    : --mancom-via-tcp: ManCom's figures are NOT app-to-app: its client " +
                    "connects to the broker's TCP listener, the bytes cross loopback TCP twice");
            }
        }

        private String describe(final Target target)
        {
            final String mancomClient = settings.mancomViaTcp() ?
                "this JVM connects with ManCom.connect(\"tcp://<the broker's echo listener>\")" :
                "this JVM connects with ManCom.connect(\"" + ManComEchoService.SERVICE + "\") (app-to-app)";
            return switch (target)
            {
                case TCP -> "tcp://" + echoServer.tcp().getHostString() + ":" + echoServer.tcp().getPort() +
                    ", LocalEchoServer: blocking NIO, a thread per connection, TCP_NODELAY";
                case UNIX -> "unix:" + echoServer.unix().getPath() + ", the same server over a Unix domain socket";
                case AERON_SPIN -> LocalEchoServer.CHANNEL + " streams " + LocalEchoServer.SPIN_PING_STREAM_ID + "/" +
                    LocalEchoServer.SPIN_PONG_STREAM_ID + " of the same JVM's embedded media driver (SHARED, " +
                    "BackoffIdleStrategy; term " + LocalEchoServer.TERM_LENGTH / 1024 / 1024 + " MiB, MTU " +
                    LocalEchoServer.MTU_LENGTH + ", the broker's), both sides BusySpinIdleStrategy";
                case AERON_BACKOFF -> LocalEchoServer.CHANNEL + " streams " + LocalEchoServer.BACKOFF_PING_STREAM_ID +
                    "/" + LocalEchoServer.BACKOFF_PONG_STREAM_ID + ", the same driver, both sides Aeron's default " +
                    "BackoffIdleStrategy";
                case MANCOM -> "'mancom broker' ([service." + ManComEchoService.SERVICE + "], default settings) " +
                    "and 'mancom echo " + ManComEchoService.SERVICE + "'; " + mancomClient + ", polls " +
                    "ManCom.poll() itself and idles with ManCom.idle()";
                case MANCOM_LOW_LATENCY -> "the same broker (not on the app-to-app data path), the echo " +
                    "application with " +
                    LocalEchoProcesses.IDLE_SPIN_FLAG + ", this client created with " +
                    ManComEchoPipe.IDLE_PROP_NAME + "=" + ManComEchoPipe.IDLE_SPIN + " and busy-spinning; " +
                    "started before each of its measurements and stopped after (it would spin during the others)";
            };
        }

        Results runRounds()
        {
            final List<Target> targets = settings.targets();
            final Map<Target, List<Figures>> rounds = new EnumMap<>(Target.class);
            for (final Target target : targets)
            {
                rounds.put(target, new ArrayList<>());
                final String reason = unavailable.get(target);
                if (null != reason)
                {
                    out.printf(Locale.ROOT, "%-13s %s (%s)%n", target.label(), NOT_AVAILABLE, reason);
                }
            }
            for (int round = 1; round <= load.rounds(); round++)
            {
                // Rotate the order, so that no target always runs right after the same other one.
                final List<Target> order = new ArrayList<>(targets);
                Collections.rotate(order, -((round - 1) % targets.size()));
                final String label = String.format(Locale.ROOT, "round %d/%d", round, load.rounds());

                final Map<Target, PingPongLoad.Result> pingPong = measureEach(order, label, "ping-pong",
                    (target) -> pingPong(target, load.pingPongPlan()),
                    (target, result) ->
                        BenchmarkReport.printPingPong(label, "ping-pong", target.label(), TARGET_WIDTH, result, out));
                final Map<Target, StreamingLoad.Result> streaming = measureEach(order, label, "streaming",
                    this::streaming,
                    (target, result) ->
                        BenchmarkReport.printStreaming(label, target.label(), TARGET_WIDTH, result, out));
                final Map<Target, PingPongLoad.Result> wakeup = measureEach(order, label, "wake-up",
                    (target) -> pingPong(target, settings.wakeupPlan()),
                    (target, result) ->
                        BenchmarkReport.printPingPong(label, "wake-up  ", target.label(), TARGET_WIDTH, result, out));

                for (final Target target : targets)
                {
                    if (!unavailable.containsKey(target))
                    {
                        rounds.get(target).add(figures(pingPong.get(target), streaming.get(target),
                            wakeup.get(target)));
                    }
                }
            }
            final Map<Target, TargetResults> results = new EnumMap<>(Target.class);
            for (final Target target : targets)
            {
                final String reason = unavailable.get(target);
                results.put(target, null != reason ?
                    new TargetResults(target, List.of(), null, reason) :
                    new TargetResults(target, List.copyOf(rounds.get(target)), median(rounds.get(target)), null));
            }
            return new Results(settings, results);
        }

        /**
         * Run one load against each target in turn and print what it measured; see {@link #measure}.
         */
        private <R> Map<Target, R> measureEach(
            final List<Target> order,
            final String label,
            final String loadName,
            final Function<Target, R> measurement,
            final BiConsumer<Target, R> print)
        {
            final Map<Target, R> results = new EnumMap<>(Target.class);
            for (final Target target : order)
            {
                final R result = measure(target, label, loadName, measurement);
                if (null != result)
                {
                    results.put(target, result);
                    print.accept(target, result);
                }
            }
            return results;
        }

        /**
         * Run one load against one target, unless it is unavailable; a failure makes it unavailable.
         */
        private <R> R measure(
            final Target target, final String label, final String loadName, final Function<Target, R> measurement)
        {
            if (unavailable.containsKey(target))
            {
                return null;
            }
            try
            {
                return measurement.apply(target);
            }
            catch (final RuntimeException ex)
            {
                final String reason = ex instanceof BenchmarkException ? ex.getMessage() : ex.toString();
                final boolean refused = reason.startsWith("connect failed");
                markUnavailable(target, refused ? reason : "failed in " + label + ", " + loadName + ": " + reason);
                if (Target.MANCOM == target && null != mancomServer)
                {
                    mancomServer.stop(); // no more measurements of it; free the machine for the others
                }
                out.printf(Locale.ROOT, "%s  %s  %-13s  %s (%s)%n", label, loadName, target.label(), NOT_AVAILABLE,
                    unavailable.get(target));
                if (!(ex instanceof BenchmarkException))
                {
                    ex.printStackTrace(out);
                }
                return null;
            }
        }

        private PingPongLoad.Result pingPong(final Target target, final PingPongLoad.Plan plan)
        {
            return withTarget(target,
                (address) -> PingPongLoad.run(target.label(), address, plan),
                (pipe) -> PipeLoads.pingPong(pipe, plan));
        }

        private StreamingLoad.Result streaming(final Target target)
        {
            final StreamingLoad.Plan plan = load.streamingPlan();
            return withTarget(target,
                (address) -> StreamingLoad.run(target.label(), address, plan),
                (pipe) -> PipeLoads.streaming(pipe, plan));
        }

        private <R> R withTarget(
            final Target target, final Function<SocketAddress, R> socketLoad, final Function<EchoPipe, R> pipeLoad)
        {
            switch (target)
            {
                case TCP:
                    processes.checkEchoServerAlive();
                    return socketLoad.apply(echoServer.tcp());

                case UNIX:
                    processes.checkEchoServerAlive();
                    return socketLoad.apply(echoServer.unix());

                case AERON_SPIN:
                case AERON_BACKOFF:
                    processes.checkEchoServerAlive();
                    try (EchoPipe pipe = AeronEchoPipe.open(
                        target.label(), aeron, Target.AERON_SPIN == target, CONNECT_TIMEOUT))
                    {
                        return pipeLoad.apply(pipe);
                    }

                case MANCOM:
                    mancomServer.checkAlive();
                    return withManCom(target, mancomServer, false, pipeLoad);

                case MANCOM_LOW_LATENCY:
                {
                    final LocalEchoProcesses.ManComServer server;
                    try
                    {
                        server = processes.startManCom(target.label(), true, START_TIMEOUT);
                    }
                    catch (final BenchmarkException ex)
                    {
                        throw new BenchmarkException("did not start: " + ex.getMessage(), ex);
                    }
                    try
                    {
                        return withManCom(target, server, true, pipeLoad);
                    }
                    finally
                    {
                        server.stop();
                    }
                }

                default:
                    throw new IllegalStateException("unknown target " + target);
            }
        }

        private <R> R withManCom(
            final Target target,
            final LocalEchoProcesses.ManComServer server,
            final boolean lowLatency,
            final Function<EchoPipe, R> pipeLoad)
        {
            final String connectTo = settings.mancomViaTcp() ? "tcp://" + server.tcpAddress().getHostString() + ":" +
                server.tcpAddress().getPort() : ManComEchoService.SERVICE;
            try (EchoPipe pipe = ManComEchoPipe.open(
                target.label(), server.brokerDir(), connectTo, lowLatency, CONNECT_TIMEOUT))
            {
                return pipeLoad.apply(pipe);
            }
            catch (final BenchmarkException ex)
            {
                if (ex.getMessage().startsWith("connect failed"))
                {
                    throw ex;
                }
                // Say whether the broker or the echo application died.
                try
                {
                    server.checkAlive();
                }
                catch (final BenchmarkException dead)
                {
                    throw new BenchmarkException(ex.getMessage() + "; " + dead.getMessage(), ex);
                }
                throw ex;
            }
        }

        /**
         * Stop every client and process, delete the temporary directory. Idempotent.
         */
        void close()
        {
            synchronized (this)
            {
                if (closed)
                {
                    return;
                }
                closed = true;
                CloseHelper.quietClose(aeron);
            }
            processes.close();
        }
    }

    private static Figures figures(
        final PingPongLoad.Result pingPong, final StreamingLoad.Result streaming, final PingPongLoad.Result wakeup)
    {
        return new Figures(
            Percentiles.of(pingPong.histogram()), streaming.bytesPerSecond(), Percentiles.of(wakeup.histogram()));
    }

    private static Figures median(final List<Figures> rounds)
    {
        return new Figures(
            Percentiles.median(rounds, Figures::pingPong),
            BenchmarkReport.median(rounds, Figures::bytesPerSecond),
            Percentiles.median(rounds, Figures::wakeup));
    }

    // ------------------------------------------------------------------ report

    private static void printHeader(final Settings settings, final String command, final PrintStream out)
    {
        final LoadSettings load = settings.load();
        out.println("ManCom local echo benchmark (issue 3): an echo between two processes of this machine over " +
            "loopback TCP, a Unix socket, raw Aeron IPC and ManCom app-to-app");
        out.println("  command : " + command);
        out.println("  machine : " + BenchmarkReport.machine());
        out.println("  load    : " + loadAverage() + " at the start (the machine may be shared)");
        out.println("  JVM     : " + BenchmarkReport.jvm());
        out.println("  options : " + settings.toOptions());
        out.println("  loads   : ping-pong: " + load.messageSizeBytes() + "-byte messages, one in flight, after " +
            load.pingPongWarmupCount() + " warm-up round trips;");
        out.println("            streaming: " + load.streamBufferBytes() / 1024 + " KiB messages from a writer " +
            "thread, a reader thread counts the echo, after a warm-up; MB = 10^6 bytes;");
        out.println("            wake-up: " + load.messageSizeBytes() + "-byte ping-pong, each message sent " +
            BenchmarkReport.plain(settings.wakeupPauseNs() / 1e6) +
            " ms after the previous echo (every reader parked), after " + WAKEUP_WARMUP_COUNT + " warm-up round trips");
        out.println("  rounds  : per load, the targets one after the other, the first rotating round by round; " +
            "each figure is the median over the rounds");
    }

    private static void printResults(final Results results, final PrintStream out)
    {
        final Settings settings = results.settings();
        final LoadSettings load = settings.load();
        final List<Target> targets = settings.targets();
        final int rounds = load.rounds();
        BenchmarkReport.printResultsTitle(rounds, out);

        printTableHeader(load.messageSizeBytes() + "-byte ping-pong RTT (us)", targets, true, out);
        printRow("p50", results, pingPong(Percentiles::p50Ns), NS_PER_US, "%.1f", true, out);
        printRow("p90", results, pingPong(Percentiles::p90Ns), NS_PER_US, "%.1f", true, out);
        printRow("p99", results, pingPong(Percentiles::p99Ns), NS_PER_US, "%.1f", true, out);
        printRow("p99.9", results, pingPong(Percentiles::p999Ns), NS_PER_US, "%.1f", true, out);
        printRow("max", results, pingPong(Percentiles::maxNs), NS_PER_US, "%.1f", true, out);
        printRow("round trips", results, pingPong(Percentiles::count), 1, "%,.0f", false, out);

        printTableHeader(load.streamBufferBytes() / 1024 + " KiB streaming", targets, true, out);
        printRow("MB/s", results, Figures::bytesPerSecond, BYTES_PER_MB, "%.0f", true, out);

        printTableHeader("wake-up RTT (us)", targets, true, out);
        printRow("p50", results, wakeup(Percentiles::p50Ns), NS_PER_US, "%.1f", true, out);
        printRow("p99", results, wakeup(Percentiles::p99Ns), NS_PER_US, "%.1f", true, out);
        printRow("round trips", results, wakeup(Percentiles::count), 1, "%,.0f", false, out);

        out.println("MC/TCP = " + Target.MANCOM.label() + " / " + Target.TCP.label() + ", LL/TCP = " +
            Target.MANCOM_LOW_LATENCY.label() + " / " + Target.TCP.label() + "; max is the median of the rounds' " +
            "maxima");
        out.println(Target.MANCOM_LOW_LATENCY.label() + " p50 / " + Target.AERON_SPIN.label() + " p50: " +
            ratioText(results.median(Target.MANCOM_LOW_LATENCY), results.median(Target.AERON_SPIN),
                pingPong(Percentiles::p50Ns)));

        boolean first = true;
        for (final Target target : targets)
        {
            final TargetResults targetResults = results.get(target);
            if (!targetResults.measured())
            {
                if (first)
                {
                    out.println("Not measured:");
                    first = false;
                }
                out.printf(Locale.ROOT, "  %-13s %s (%s)%n", target.label(), NOT_AVAILABLE,
                    targetResults.unavailable());
            }
        }
        if (rounds > 1)
        {
            out.print("rounds, streaming MB/s:");
            for (final Target target : targets)
            {
                final TargetResults targetResults = results.get(target);
                if (targetResults.measured())
                {
                    final List<String> values = new ArrayList<>();
                    for (final Figures figures : targetResults.rounds())
                    {
                        values.add(String.format(Locale.ROOT, "%.0f", figures.bytesPerSecond() / BYTES_PER_MB));
                    }
                    out.print(" " + target.label() + " " + String.join("/", values) + ";");
                }
            }
            out.println();
        }
        out.println("load: " + loadAverage() + " at the end");
        out.println();
        printTargetsMet(results, out);
    }

    /**
     * The machine's load averages, from {@code /proc/loadavg}.
     *
     * @return such as {@code load average 1.20 0.90 0.50 (1, 5, 15 min)}, or {@code load average unknown}.
     */
    static String loadAverage()
    {
        try
        {
            final String[] fields = Files.readString(Paths.get("/proc/loadavg")).trim().split("\\s+");
            return "load average " + fields[0] + " " + fields[1] + " " + fields[2] + " (1, 5, 15 min)";
        }
        catch (final IOException | RuntimeException ex)
        {
            return "load average unknown";
        }
    }

    private static ToDoubleFunction<Figures> pingPong(final ToDoubleFunction<Percentiles> percentile)
    {
        return (figures) -> percentile.applyAsDouble(figures.pingPong());
    }

    private static ToDoubleFunction<Figures> wakeup(final ToDoubleFunction<Percentiles> percentile)
    {
        return (figures) -> percentile.applyAsDouble(figures.wakeup());
    }

    private static void printTableHeader(
        final String title, final List<Target> targets, final boolean ratios, final PrintStream out)
    {
        final StringBuilder line = new StringBuilder(String.format(Locale.ROOT, "%-28s", title));
        for (final Target target : targets)
        {
            line.append(String.format(Locale.ROOT, " %13s", target.label()));
        }
        if (ratios)
        {
            line.append(String.format(Locale.ROOT, " %7s %7s", "MC/TCP", "LL/TCP"));
        }
        out.println(line);
    }

    private static void printRow(
        final String name,
        final Results results,
        final ToDoubleFunction<Figures> figure,
        final double unit,
        final String format,
        final boolean ratios,
        final PrintStream out)
    {
        final StringBuilder line = new StringBuilder(String.format(Locale.ROOT, "  %-26s", name));
        for (final Target target : results.settings().targets())
        {
            final Figures figures = results.median(target);
            line.append(String.format(Locale.ROOT, " %13s", null == figures ? NOT_AVAILABLE :
                String.format(Locale.ROOT, format, figure.applyAsDouble(figures) / unit)));
        }
        if (ratios)
        {
            final Figures tcp = results.median(Target.TCP);
            line.append(String.format(Locale.ROOT, " %7s %7s",
                ratioText(results.median(Target.MANCOM), tcp, figure),
                ratioText(results.median(Target.MANCOM_LOW_LATENCY), tcp, figure)));
        }
        out.println(line);
    }

    private static String ratioText(
        final Figures numerator, final Figures denominator, final ToDoubleFunction<Figures> figure)
    {
        if (null == numerator || null == denominator || 0 == figure.applyAsDouble(denominator))
        {
            return NOT_AVAILABLE;
        }
        return String.format(Locale.ROOT, "%.2f", figure.applyAsDouble(numerator) / figure.applyAsDouble(denominator));
    }

    private static void printTargetsMet(final Results results, final PrintStream out)
    {
        final Figures tcp = results.median(Target.TCP);
        final Figures mancom = results.median(Target.MANCOM);
        final Figures lowLatency = results.median(Target.MANCOM_LOW_LATENCY);
        final Figures spin = results.median(Target.AERON_SPIN);
        out.println("Targets of issue 3 (medians of the rounds)" + (results.settings().mancomViaTcp() ?
            "; --mancom-via-tcp: ManCom's figures are not app-to-app" : ""));
        out.printf(Locale.ROOT, "  %-58s %-44s %s%n", "target", "measured", "met?");

        if (null == mancom || null == tcp)
        {
            printTarget("ManCom p50 <= " + P50_TARGET_RATIO + " x loopback TCP p50", null, false, out);
            printTarget("ManCom p99 < loopback TCP p99", null, false, out);
        }
        else
        {
            final Percentiles mancomRtt = mancom.pingPong();
            final Percentiles tcpRtt = tcp.pingPong();
            printTarget("ManCom p50 <= " + P50_TARGET_RATIO + " x loopback TCP p50",
                String.format(Locale.ROOT, "%.1f vs %.1f us (%.2f x)", mancomRtt.p50Ns() / NS_PER_US,
                    tcpRtt.p50Ns() / NS_PER_US, mancomRtt.p50Ns() / tcpRtt.p50Ns()),
                mancomRtt.p50Ns() <= P50_TARGET_RATIO * tcpRtt.p50Ns(), out);
            printTarget("ManCom p99 < loopback TCP p99",
                String.format(Locale.ROOT, "%.1f vs %.1f us (%.2f x)", mancomRtt.p99Ns() / NS_PER_US,
                    tcpRtt.p99Ns() / NS_PER_US, mancomRtt.p99Ns() / tcpRtt.p99Ns()),
                mancomRtt.p99Ns() < tcpRtt.p99Ns(), out);
        }

        if (null == lowLatency || null == spin)
        {
            printTarget("ManCom LL p50 <= " + LOW_LATENCY_TARGET_RATIO + " x raw Aeron IPC (busy spin) p50", null,
                false, out);
        }
        else
        {
            final double lowLatencyP50Ns = lowLatency.pingPong().p50Ns();
            final double spinP50Ns = spin.pingPong().p50Ns();
            printTarget("ManCom LL p50 <= " + LOW_LATENCY_TARGET_RATIO + " x raw Aeron IPC (busy spin) p50",
                String.format(Locale.ROOT, "%.2f vs %.2f us (%.2f x)", lowLatencyP50Ns / NS_PER_US,
                    spinP50Ns / NS_PER_US, lowLatencyP50Ns / spinP50Ns),
                lowLatencyP50Ns <= LOW_LATENCY_TARGET_RATIO * spinP50Ns, out);
        }

        if (null == mancom || null == tcp)
        {
            printTarget("ManCom streaming >= " + STREAMING_TARGET_RATIO + " x loopback TCP", null, false, out);
            printTarget("ManCom wake-up p99 <= loopback TCP wake-up p99 + " + (int)WAKEUP_TARGET_MARGIN_US + " us",
                null, false, out);
        }
        else
        {
            printTarget("ManCom streaming >= " + STREAMING_TARGET_RATIO + " x loopback TCP",
                String.format(Locale.ROOT, "%.0f vs %.0f MB/s (%.2f x)", mancom.bytesPerSecond() / BYTES_PER_MB,
                    tcp.bytesPerSecond() / BYTES_PER_MB, mancom.bytesPerSecond() / tcp.bytesPerSecond()),
                mancom.bytesPerSecond() >= STREAMING_TARGET_RATIO * tcp.bytesPerSecond(), out);
            final double mancomWakeupP99Ns = mancom.wakeup().p99Ns();
            final double tcpWakeupP99Ns = tcp.wakeup().p99Ns();
            printTarget("ManCom wake-up p99 <= loopback TCP wake-up p99 + " + (int)WAKEUP_TARGET_MARGIN_US + " us",
                String.format(Locale.ROOT, "%.1f vs %.1f us (%+.1f us)", mancomWakeupP99Ns / NS_PER_US,
                    tcpWakeupP99Ns / NS_PER_US, (mancomWakeupP99Ns - tcpWakeupP99Ns) / NS_PER_US),
                mancomWakeupP99Ns <= tcpWakeupP99Ns + WAKEUP_TARGET_MARGIN_US * NS_PER_US, out);
        }
    }

    private static void printTarget(
        final String target, final String measured, final boolean met, final PrintStream out)
    {
        out.printf(Locale.ROOT, "  %-58s %-44s %s%n", target, null == measured ? NOT_AVAILABLE : measured,
            null == measured ? "not measured" : met ? "yes" : "NO");
    }
}
