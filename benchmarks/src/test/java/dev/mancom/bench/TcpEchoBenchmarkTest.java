package dev.mancom.bench;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Smoke test of the TCP echo benchmark: a {@code --quick} run starts the three JVMs, measures both targets and
 * prints the table. Only that the figures exist is checked, never their values.
 */
class TcpEchoBenchmarkTest
{
    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void quickRunMeasuresBothTargets()
    {
        final BenchmarkTests.Report<TcpEchoBenchmark.Results> run = BenchmarkTests.run((out) ->
            TcpEchoBenchmark.run(TcpEchoBenchmark.settings("--quick"), "TcpEchoBenchmarkTest --quick", out));

        final TcpEchoBenchmark.Results results = run.results();
        final String report = run.report();
        assertEquals(1, results.nettyRounds().size(), report);
        assertEquals(1, results.mancomRounds().size(), report);
        assertMeasured(results.netty(), report);
        assertMeasured(results.mancom(), report);
        assertTrue(report.contains("64-byte ping-pong RTT (us)"), report);
        assertTrue(report.contains("64 KiB streaming"), report);
        assertTrue(report.contains("MB/s"), report);
    }

    @Test
    void wrongOptionIsAUsageError()
    {
        final String err = BenchmarkTests.usageError(TcpEchoBenchmark::execute, "--rounds", "0");

        assertTrue(err.contains("--rounds must be at least 1"), err);
    }

    @Test
    void quickChoosesSmallCountsAndExplicitOptionsWin()
    {
        final LoadSettings settings = TcpEchoBenchmark.settings("--pingpong-count", "500", "--quick");

        assertEquals(1, settings.rounds());
        assertEquals(500, settings.pingPongCount());
        assertEquals(64, settings.messageSizeBytes());
        assertEquals(3, TcpEchoBenchmark.settings().rounds());
    }

    private static void assertMeasured(final TcpEchoBenchmark.Figures figures, final String report)
    {
        BenchmarkTests.assertMeasured(figures.pingPong(), figures.bytesPerSecond(), report);
    }
}
