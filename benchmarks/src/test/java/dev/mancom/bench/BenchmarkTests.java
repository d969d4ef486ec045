package dev.mancom.bench;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What the tests of the echo benchmarks share: a run with its report, a command line with a wrong option, and the
 * check that figures were measured (never their values).
 */
final class BenchmarkTests
{
    private BenchmarkTests()
    {
    }

    /**
     * A benchmark's run.
     *
     * @param <R> what it returns.
     */
    @FunctionalInterface
    interface Run<R>
    {
        /**
         * Run it.
         *
         * @param out where the report goes.
         * @return what it measured.
         */
        R run(PrintStream out);
    }

    /**
     * A benchmark's {@code execute(out, err, args)}.
     */
    @FunctionalInterface
    interface Execute
    {
        /**
         * Run the command line.
         *
         * @param out  where the report goes.
         * @param err  where errors go.
         * @param args the options.
         * @return the exit code.
         */
        int execute(PrintStream out, PrintStream err, String... args);
    }

    /**
     * What a run measured and printed.
     *
     * @param results what it returned.
     * @param report  what it printed.
     * @param <R>     the type of its results.
     */
    record Report<R>(R results, String report)
    {
    }

    /**
     * Run a benchmark and keep its report; the report is printed too, for the test's output.
     *
     * @param benchmark the run.
     * @param <R>       what it returns.
     * @return its results and report.
     */
    static <R> Report<R> run(final Run<R> benchmark)
    {
        final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        final R results = benchmark.run(new PrintStream(bytes, true, StandardCharsets.UTF_8));
        final String report = bytes.toString(StandardCharsets.UTF_8);
        System.out.println(report);
        return new Report<>(results, report);
    }

    /**
     * Run a benchmark's command line with a wrong option, which must be a usage error (exit code 2).
     *
     * @param execute the benchmark's {@code execute}.
     * @param args    the options.
     * @return what it printed on standard error.
     */
    static String usageError(final Execute execute, final String... args)
    {
        final ByteArrayOutputStream err = new ByteArrayOutputStream();
        final int exitCode = execute.execute(
            new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8),
            new PrintStream(err, true, StandardCharsets.UTF_8),
            args);

        assertEquals(2, exitCode);
        return err.toString(StandardCharsets.UTF_8);
    }

    /**
     * Check that round-trip times and a throughput were measured: round trips recorded, percentiles in order,
     * bytes echoed.
     *
     * @param rtt            the round-trip times.
     * @param bytesPerSecond the throughput.
     * @param report         the report, for the failure message.
     */
    static void assertMeasured(final Percentiles rtt, final double bytesPerSecond, final String report)
    {
        assertTrue(rtt.count() > 0, report);
        assertTrue(rtt.p50Ns() > 0, report);
        assertTrue(rtt.p50Ns() <= rtt.p90Ns(), report);
        assertTrue(rtt.p90Ns() <= rtt.p99Ns(), report);
        assertTrue(rtt.p99Ns() <= rtt.p999Ns(), report);
        assertTrue(rtt.p999Ns() <= rtt.maxNs(), report);
        assertTrue(bytesPerSecond > 0 && Double.isFinite(bytesPerSecond), report);
    }
}
