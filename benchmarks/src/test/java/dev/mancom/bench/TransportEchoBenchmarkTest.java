package dev.mancom.bench;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Smoke tests of the transport echo benchmark: a short run over each transport starts the three JVMs, measures both
 * targets and prints the table. Only that the figures exist is checked, never their values.
 */
class TransportEchoBenchmarkTest
{
    /** Small counts and short streams: a smoke run, not a measurement. */
    private static final String[] SHORT = {
        "--rounds", "1", "--pingpong-warmup", "200", "--pingpong-count", "500",
        "--warmup-seconds", "0.3", "--stream-seconds", "0.3" };

    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void quickRunMeasuresBothTargets()
    {
        final BenchmarkTests.Report<TransportEchoBenchmark.Results> run = BenchmarkTests.run((out) ->
            TransportEchoBenchmark.run(
                TransportEchoBenchmark.settings("--quick"), "TransportEchoBenchmarkTest --quick", out));

        final TransportEchoBenchmark.Results results = run.results();
        final String report = run.report();
        assertEquals(1, results.nettyRounds().size(), report);
        assertEquals(1, results.mancomRounds().size(), report);
        assertMeasured(results.netty(), report);
        assertMeasured(results.mancom(), report);
        assertTrue(report.contains("TCP echo benchmark"), report);
        assertTrue(report.contains("64-byte ping-pong RTT (us)"), report);
        assertTrue(report.contains("64 KiB streaming"), report);
        assertTrue(report.contains("MB/s"), report);
    }

    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void unixRunMeasuresBothTargetsOverUnixSockets()
    {
        final BenchmarkTests.Report<TransportEchoBenchmark.Results> run =
            shortRun(TransportEchoBenchmark.EchoTransport.unix);

        final String report = run.report();
        assertMeasured(run.results().netty(), report);
        assertMeasured(run.results().mancom(), report);
        assertTrue(report.contains("Unix domain socket echo benchmark"), report);
        assertTrue(report.contains("unix:///"), report);
    }

    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void udpRunMeasuresBothTargetsAndCountsLosses()
    {
        final BenchmarkTests.Report<TransportEchoBenchmark.Results> run =
            shortRun(TransportEchoBenchmark.EchoTransport.udp);

        final String report = run.report();
        for (final TransportEchoBenchmark.Figures figures : new TransportEchoBenchmark.Figures[] {
            run.results().netty(), run.results().mancom() })
        {
            // UDP may lose: a ping-pong with a datagram back, and a loss that is a share, whatever came back.
            assertTrue(figures.pingPong().count() > 0, report);
            assertTrue(figures.lostPings() >= 0 && figures.lostPings() <= 500, report);
            assertTrue(figures.streamLoss() >= 0 && figures.streamLoss() <= 1, report);
            assertTrue(figures.bytesPerSecond() >= 0, report);
        }
        assertTrue(report.contains("UDP echo benchmark"), report);
        assertTrue(report.contains("1472-byte datagram streaming"), report);
        assertTrue(report.contains("streamed datagrams lost"), report);
    }

    @Test
    void wrongOptionIsAUsageError()
    {
        final String err = BenchmarkTests.usageError(TransportEchoBenchmark::execute, "--rounds", "0");
        assertTrue(err.contains("--rounds must be at least 1"), err);

        final String transport = BenchmarkTests.usageError(TransportEchoBenchmark::execute, "--transport", "sctp");
        assertTrue(transport.contains("--transport"), transport);

        final String datagram = BenchmarkTests.usageError(
            TransportEchoBenchmark::execute, "--transport", "udp", "--datagram-size", "70000");
        assertTrue(datagram.contains("--datagram-size must be from 1 to 65507"), datagram);
    }

    @Test
    void quickChoosesSmallCountsAndExplicitOptionsWin()
    {
        final LoadSettings settings = TransportEchoBenchmark.settings("--pingpong-count", "500", "--quick");

        assertEquals(1, settings.rounds());
        assertEquals(500, settings.pingPongCount());
        assertEquals(64, settings.messageSizeBytes());
        assertEquals(3, TransportEchoBenchmark.settings().rounds());
        assertEquals(1472, TransportEchoBenchmark.datagramSettings("--transport", "udp").datagramSizeBytes());
    }

    private static BenchmarkTests.Report<TransportEchoBenchmark.Results> shortRun(
        final TransportEchoBenchmark.EchoTransport transport)
    {
        final String[] args = new String[SHORT.length + 2];
        args[0] = "--transport";
        args[1] = transport.name();
        System.arraycopy(SHORT, 0, args, 2, SHORT.length);
        return BenchmarkTests.run((out) -> TransportEchoBenchmark.run(transport,
            TransportEchoBenchmark.datagramSettings(args), TransportEchoBenchmark.settings(args),
            "TransportEchoBenchmarkTest " + transport, out));
    }

    private static void assertMeasured(final TransportEchoBenchmark.Figures figures, final String report)
    {
        BenchmarkTests.assertMeasured(figures.pingPong(), figures.bytesPerSecond(), report);
    }
}
