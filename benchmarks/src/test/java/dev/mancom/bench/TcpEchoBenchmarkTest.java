package dev.mancom.bench;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
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
        final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        final PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);

        final TcpEchoBenchmark.Results results = TcpEchoBenchmark.run(
            TcpEchoBenchmark.settings("--quick"), "TcpEchoBenchmarkTest --quick", out);

        final String report = bytes.toString(StandardCharsets.UTF_8);
        System.out.println(report);
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
        final ByteArrayOutputStream err = new ByteArrayOutputStream();
        final int exitCode = TcpEchoBenchmark.execute(
            new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8),
            new PrintStream(err, true, StandardCharsets.UTF_8),
            "--rounds", "0");

        assertEquals(2, exitCode);
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("--rounds must be at least 1"));
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
        final Percentiles rtt = figures.pingPong();
        assertTrue(rtt.p50Ns() > 0, report);
        assertTrue(rtt.p50Ns() <= rtt.p90Ns(), report);
        assertTrue(rtt.p90Ns() <= rtt.p99Ns(), report);
        assertTrue(rtt.p99Ns() <= rtt.p999Ns(), report);
        assertTrue(rtt.p999Ns() <= rtt.maxNs(), report);
        assertTrue(figures.bytesPerSecond() > 0 && Double.isFinite(figures.bytesPerSecond()), report);
    }
}
