package dev.mancom.bench;

import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;

/**
 * The command line the echo benchmarks share: the options of the rounds and of the ping-pong and streaming loads,
 * {@code --quick} and {@code --help}, with their defaults and checks, as a picocli mixin; and how a benchmark's
 * command runs. Each benchmark declares {@code --message-size} itself (what it sizes and how large it may be
 * differ) and hands it to {@link #resolve(Integer, int)}.
 * <p>
 * The usage help lists the options by their {@code order}: these first, then {@code --message-size}
 * ({@link #MESSAGE_SIZE_ORDER}), the streaming times, a benchmark's own options (from {@link #OWN_ORDER}), and
 * {@code --quick} and {@code --help} last.
 */
final class BenchmarkOptions
{
    /** The place of {@code --message-size} in the usage help. */
    static final int MESSAGE_SIZE_ORDER = 4;

    /** The place in the usage help of the first of a benchmark's own options; the next ones follow. */
    static final int OWN_ORDER = 10;

    /** The size of each streaming write. */
    static final int STREAM_BUFFER_BYTES = 64 * 1024;

    /** The default size of a ping-pong message. */
    static final int MESSAGE_SIZE_BYTES = 64;

    @Spec(Spec.Target.MIXEE)
    private CommandSpec command;

    @Option(names = "--rounds", paramLabel = "N", order = 1,
        description = "interleaved rounds; medians are reported (default 3; --quick: 1)")
    private Integer rounds;

    @Option(names = "--pingpong-warmup", paramLabel = "N", order = 2,
        description = "ping-pong round trips before measuring, not recorded (default 20000; --quick: 1000)")
    private Long pingPongWarmupCount;

    @Option(names = "--pingpong-count", paramLabel = "N", order = 3,
        description = "ping-pong round trips measured per round and target (default 100000; --quick: 2000)")
    private Long pingPongCount;

    @Option(names = "--warmup-seconds", paramLabel = "S", order = 5,
        description = "streaming before measuring, per round and target (default 2; --quick: 0.5)")
    private Double streamWarmupSeconds;

    @Option(names = "--stream-seconds", paramLabel = "S", order = 6,
        description = "streaming measured per round and target (default 5; --quick: 1)")
    private Double streamSeconds;

    @Option(names = "--quick", order = 100, description = "small counts for a smoke run; explicit options still win")
    private boolean quick;

    @Option(names = {"-h", "--help"}, usageHelp = true, order = 101, description = "print this help and exit")
    private boolean help;

    /**
     * Whether {@code --quick} asks for small defaults.
     *
     * @return true for a smoke run.
     */
    boolean quick()
    {
        return quick;
    }

    /**
     * The settings of the loads, each option's value or its default, checked.
     *
     * @param messageSizeBytes    the benchmark's {@code --message-size}, or null for the default.
     * @param maxMessageSizeBytes the largest message the benchmark takes.
     * @return the settings.
     * @throws CommandLine.ParameterException when an option is out of range.
     */
    LoadSettings resolve(final Integer messageSizeBytes, final int maxMessageSizeBytes)
    {
        final LoadSettings settings = new LoadSettings(
            null != rounds ? rounds : (quick ? 1 : 3),
            null != pingPongWarmupCount ? pingPongWarmupCount : (quick ? 1_000 : 20_000),
            null != pingPongCount ? pingPongCount : (quick ? 2_000 : 100_000),
            null != messageSizeBytes ? messageSizeBytes : MESSAGE_SIZE_BYTES,
            STREAM_BUFFER_BYTES,
            secondsToNs(null != streamWarmupSeconds ? streamWarmupSeconds : (quick ? 0.5 : 2)),
            secondsToNs(null != streamSeconds ? streamSeconds : (quick ? 1 : 5)),
            quick);
        check(settings.rounds() >= 1, "--rounds must be at least 1");
        check(settings.pingPongWarmupCount() >= 0, "--pingpong-warmup must not be negative");
        check(settings.pingPongCount() >= 1, "--pingpong-count must be at least 1");
        check(settings.messageSizeBytes() >= 1 && settings.messageSizeBytes() <= maxMessageSizeBytes,
            "--message-size must be from 1 to " + maxMessageSizeBytes);
        check(settings.streamWarmupNs() >= 0, "--warmup-seconds must not be negative");
        check(settings.streamDurationNs() >= TimeUnit.MILLISECONDS.toNanos(100),
            "--stream-seconds must be at least 0.1");
        return settings;
    }

    /**
     * Fail with a usage error unless a condition holds.
     *
     * @param condition what must hold.
     * @param message   what is wrong otherwise, such as {@code --rounds must be at least 1}.
     * @throws CommandLine.ParameterException when it does not hold.
     */
    void check(final boolean condition, final String message)
    {
        if (!condition)
        {
            throw new CommandLine.ParameterException(command.commandLine(), message);
        }
    }

    private static long secondsToNs(final double seconds)
    {
        return Math.round(seconds * TimeUnit.SECONDS.toNanos(1));
    }

    /**
     * Run a benchmark's command as its command line asks.
     *
     * @param benchmark the {@code @Command}, its report going to {@code out}.
     * @param out       where the usage help goes.
     * @param err       where errors go, each after the command's name.
     * @param args      the options.
     * @return the exit code: 0 on success, 1 when the benchmark could not run, 2 on a wrong option.
     */
    static int execute(final Object benchmark, final PrintStream out, final PrintStream err, final String... args)
    {
        final CommandLine commandLine = new CommandLine(benchmark);
        commandLine.setOut(new PrintWriter(out, true, StandardCharsets.UTF_8));
        commandLine.setErr(new PrintWriter(err, true, StandardCharsets.UTF_8));
        commandLine.setExecutionExceptionHandler((ex, cmd, parseResult) ->
        {
            err.println(cmd.getCommandName() + ": " + ex.getMessage());
            if (!(ex instanceof BenchmarkException))
            {
                ex.printStackTrace(err);
            }
            return 1;
        });
        return commandLine.execute(args);
    }
}
