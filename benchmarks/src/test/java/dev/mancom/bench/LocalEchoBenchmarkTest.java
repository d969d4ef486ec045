package dev.mancom.bench;

import dev.mancom.broker.config.BrokerConfig;
import dev.mancom.broker.config.ConfigLoader;
import dev.mancom.broker.config.IdleProfile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Smoke test of the local echo benchmark: a small run starts the reference echo server and a ManCom broker with
 * its echo application, measures the references and prints the tables. Only that the figures exist is checked,
 * never their values. ManCom's target may be {@code n/a} (its app-to-app path may not exist yet); it must then say
 * why.
 */
class LocalEchoBenchmarkTest
{
    private static final List<LocalEchoBenchmark.Target> REFERENCES = List.of(
        LocalEchoBenchmark.Target.TCP,
        LocalEchoBenchmark.Target.UNIX,
        LocalEchoBenchmark.Target.AERON_SPIN,
        LocalEchoBenchmark.Target.AERON_BACKOFF);

    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void smallRunMeasuresTheReferences()
    {
        final LocalEchoBenchmark.Settings settings = LocalEchoBenchmark.settings(
            "--quick",
            "--targets", "tcp,unix,aeron-spin,aeron-backoff,mancom",
            "--pingpong-warmup", "200",
            "--pingpong-count", "500",
            "--warmup-seconds", "0.2",
            "--stream-seconds", "0.3",
            "--wakeup-count", "20",
            "--wakeup-pause-ms", "5");
        final BenchmarkTests.Report<LocalEchoBenchmark.Results> run = BenchmarkTests.run((out) ->
            LocalEchoBenchmark.run(settings, "LocalEchoBenchmarkTest", out));

        final LocalEchoBenchmark.Results results = run.results();
        final String report = run.report();
        for (final LocalEchoBenchmark.Target target : REFERENCES)
        {
            final LocalEchoBenchmark.TargetResults targetResults = results.get(target);
            assertTrue(targetResults.measured(), target + " not measured: " + targetResults.unavailable());
            assertEquals(1, targetResults.rounds().size(), report);
            assertMeasured(targetResults.median(), report);
            assertTrue(report.contains(target.label()), report);
        }
        // ManCom is measured app-to-app; a smoke run this short, on a loaded machine, may see no streamed byte
        // while the link between the two applications is still being set up, so only its round trips must count.
        final LocalEchoBenchmark.TargetResults mancom = results.get(LocalEchoBenchmark.Target.MANCOM);
        assertTrue(mancom.measured(), "ManCom not measured: " + mancom.unavailable() + "\n" + report);
        assertTrue(mancom.median().pingPong().count() > 0, report);
        assertTrue(mancom.median().bytesPerSecond() >= 0, report);
        assertTrue(report.contains("64-byte ping-pong RTT (us)"), report);
        assertTrue(report.contains("64 KiB streaming"), report);
        assertTrue(report.contains("wake-up RTT (us)"), report);
        assertTrue(report.contains("Targets of issue 3"), report);
        assertTrue(report.contains("ManCom p50 <= 0.2 x loopback TCP p50"), report);
        assertTrue(report.contains("ManCom wake-up p99 <= loopback TCP wake-up p99 + 100 us"), report);
        assertTrue(report.contains("command : LocalEchoBenchmarkTest"), report);
    }

    @Test
    void unknownTargetIsAUsageError()
    {
        final String err = BenchmarkTests.usageError(LocalEchoBenchmark::execute, "--targets", "tcp,carrier-pigeon");

        assertTrue(err.contains("unknown target 'carrier-pigeon'"), err);
    }

    @Test
    void quickChoosesSmallCountsAndExplicitOptionsWin()
    {
        final LocalEchoBenchmark.Settings settings = LocalEchoBenchmark.settings(
            "--wakeup-count", "70", "--quick", "--targets", "mancom,tcp");

        assertEquals(1, settings.load().rounds());
        assertEquals(2_000, settings.load().pingPongCount());
        assertEquals(70, settings.wakeupCount());
        assertEquals(TimeUnit.MILLISECONDS.toNanos(10), settings.wakeupPauseNs());
        assertEquals(List.of(LocalEchoBenchmark.Target.MANCOM, LocalEchoBenchmark.Target.TCP), settings.targets());
        assertFalse(settings.mancomViaTcp());

        final LocalEchoBenchmark.Settings defaults = LocalEchoBenchmark.settings();
        assertEquals(3, defaults.load().rounds());
        assertEquals(300, defaults.wakeupCount());
        assertEquals(List.of(LocalEchoBenchmark.Target.values()), defaults.targets());
    }

    @Test
    void brokerConfigurationsAreValid()
    {
        final BrokerConfig lowLatency = ConfigLoader.parse(LocalEchoProcesses.brokerConfig(true), "low latency");
        final BrokerConfig defaults = ConfigLoader.parse(LocalEchoProcesses.brokerConfig(false), "default");

        // The broker is not on the app-to-app data path: both profiles run it with its default idle strategy.
        assertEquals(IdleProfile.POLITE, lowLatency.idle());
        assertEquals(IdleProfile.POLITE, defaults.idle());
        assertTrue(lowLatency.services().containsKey(ManComEchoService.SERVICE));
    }

    private static void assertMeasured(final LocalEchoBenchmark.Figures figures, final String report)
    {
        BenchmarkTests.assertMeasured(figures.pingPong(), figures.bytesPerSecond(), report);
        final Percentiles wakeup = figures.wakeup();
        assertTrue(wakeup.count() > 0, report);
        assertTrue(wakeup.p50Ns() > 0 && wakeup.p50Ns() <= wakeup.p99Ns(), report);
    }
}
