package dev.mancom.bench;

import java.io.IOException;
import java.io.PrintStream;
import java.math.BigDecimal;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.List;
import java.util.Locale;
import java.util.function.ToDoubleFunction;

/**
 * What the reports of the echo benchmarks have in common: the units, the command line and the machine and JVM it
 * ran on, the line each measurement prints as it ends, the title of the results and the medians over the rounds.
 */
final class BenchmarkReport
{
    /** System property with the command line that ran the benchmark, as printed in the report. */
    static final String COMMAND_PROP_NAME = "mancom.bench.command";

    /** Nanoseconds per microsecond. */
    static final double NS_PER_US = 1_000.0;

    /** Bytes per MB. */
    static final double BYTES_PER_MB = 1_000_000.0;

    /** Bytes per GB. */
    static final double BYTES_PER_GB = 1_000_000_000.0;

    private BenchmarkReport()
    {
    }

    /**
     * The command line that ran a benchmark: as {@code benchmarks/run} typed it, else its main class and options.
     *
     * @param mainClass the benchmark's main class.
     * @param args      its options.
     * @return such as {@code benchmarks/run tcp-echo --quick}.
     */
    static String commandLine(final Class<?> mainClass, final String[] args)
    {
        return System.getProperty(COMMAND_PROP_NAME,
            "java ... " + mainClass.getName() + (args.length > 0 ? " " + String.join(" ", args) : ""));
    }

    /**
     * This machine: cores, CPU model and operating system.
     *
     * @return such as {@code nproc 8, AMD EPYC 7B13, Linux 6.1.0 amd64}.
     */
    static String machine()
    {
        return "nproc " + Runtime.getRuntime().availableProcessors() + cpuModel() + ", " +
            System.getProperty("os.name") + " " + System.getProperty("os.version") + " " +
            System.getProperty("os.arch");
    }

    /**
     * The CPU model of this machine, as {@code /proc/cpuinfo} names it.
     *
     * @return such as {@code ", AMD EPYC 7B13"}, or empty when unknown.
     */
    private static String cpuModel()
    {
        try
        {
            for (final String line : Files.readAllLines(Paths.get("/proc/cpuinfo")))
            {
                if (line.startsWith("model name"))
                {
                    return ", " + line.substring(line.indexOf(':') + 1).trim();
                }
            }
        }
        catch (final IOException | RuntimeException ignore)
        {
            // not Linux, or not readable
        }
        return "";
    }

    /**
     * This JVM.
     *
     * @return such as {@code OpenJDK 64-Bit Server VM 17.0.15+6 (Eclipse Adoptium)}.
     */
    static String jvm()
    {
        return System.getProperty("java.vm.name") + " " + System.getProperty("java.runtime.version") + " (" +
            System.getProperty("java.vm.vendor") + ")";
    }

    /**
     * A number as an option takes it, without trailing zeros.
     *
     * @param value the number.
     * @return such as {@code 0.5} or {@code 2}.
     */
    static String plain(final double value)
    {
        return BigDecimal.valueOf(value).stripTrailingZeros().toPlainString();
    }

    /**
     * Print the line of one ping-pong measurement.
     *
     * @param round       such as {@code round 1/3}.
     * @param load        the load's name, such as {@code ping-pong}.
     * @param target      the target's name.
     * @param targetWidth the width of the target's column.
     * @param result      what was measured.
     * @param out         where to print.
     */
    static void printPingPong(
        final String round,
        final String load,
        final String target,
        final int targetWidth,
        final PingPongLoad.Result result,
        final PrintStream out)
    {
        final Percentiles rtt = Percentiles.of(result.histogram());
        out.printf(Locale.ROOT,
            "%s  %s  %-" + targetWidth + "s  p50 %7.1f  p90 %7.1f  p99 %7.1f  p99.9 %7.1f  max %8.1f us" +
            "  (%,d in %.1f s)%n",
            round, load, target,
            rtt.p50Ns() / NS_PER_US,
            rtt.p90Ns() / NS_PER_US,
            rtt.p99Ns() / NS_PER_US,
            rtt.p999Ns() / NS_PER_US,
            rtt.maxNs() / NS_PER_US,
            rtt.count(),
            result.elapsedNs() / 1e9);
    }

    /**
     * Print the line of one streaming measurement.
     *
     * @param round       such as {@code round 1/3}.
     * @param target      the target's name.
     * @param targetWidth the width of the target's column.
     * @param result      what was measured.
     * @param out         where to print.
     */
    static void printStreaming(
        final String round, final String target, final int targetWidth, final StreamingLoad.Result result,
        final PrintStream out)
    {
        out.printf(Locale.ROOT, "%s  streaming  %-" + targetWidth + "s  %,8.0f MB/s  (%,.2f GB in %.2f s)%n",
            round, target, result.bytesPerSecond() / BYTES_PER_MB, result.bytes() / BYTES_PER_GB,
            result.elapsedNs() / 1e9);
    }

    /**
     * Print the title of the results.
     *
     * @param rounds how many rounds the medians are of.
     * @param out    where to print.
     */
    static void printResultsTitle(final int rounds, final PrintStream out)
    {
        out.printf(Locale.ROOT, "Results: %s%n", 1 == rounds ? "one round" : "median of " + rounds + " rounds");
    }

    /**
     * The median of one figure over rounds.
     *
     * @param rounds the figures of each round, at least one.
     * @param figure which figure.
     * @param <T>    the type of a round's figures.
     * @return the middle value, or the mean of the two middle values.
     */
    static <T> double median(final List<T> rounds, final ToDoubleFunction<T> figure)
    {
        final double[] values = rounds.stream().mapToDouble(figure).sorted().toArray();
        final int middle = values.length / 2;
        return 1 == values.length % 2 ? values[middle] : (values[middle - 1] + values[middle]) / 2;
    }
}
