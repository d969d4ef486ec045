package dev.mancom.tests;

import dev.mancom.broker.SystemdNotifier;
import dev.mancom.tests.kit.ForkedJvm;
import dev.mancom.tests.kit.NotifySocket;
import dev.mancom.tools.Main;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code mancom broker} under systemd: a real {@code AF_UNIX} datagram socket stands in for systemd's notification
 * socket, and the broker, forked with {@code NOTIFY_SOCKET} (and {@code WATCHDOG_USEC}) pointing at it, sends
 * {@code READY=1} once it serves, {@code WATCHDOG=1} while it runs, {@code STATUS=} on every reload (SIGHUP, and
 * {@code mancom reload} refused) and {@code STOPPING=1} on SIGTERM, in that order.
 */
class SystemdNotifySystemTest
{
    private static final Duration DEADLINE = Duration.ofSeconds(60);

    @TempDir
    Path tempDir;

    @Test
    void shouldSendReadyWatchdogStatusAndStoppingInOrder() throws Exception
    {
        final Path config = tempDir.resolve("mancom.toml");
        Files.writeString(config, "[service.echo]\nlisten = [\"tcp://127.0.0.1:0\"]\n");
        try (NotifySocket systemd = new NotifySocket(tempDir.resolve("notify.sock").toString()))
        {
            // 400 ms: a ping every 200 ms, so that a few come while the test runs.
            final ForkedJvm broker = ForkedJvm.start("broker-systemd", tempDir.resolve("logs"), Main.class,
                List.of("-Xmx128m"),
                List.of("broker", "--config", config.toString(), "--dir", tempDir.resolve("broker").toString()),
                Map.of(SystemdNotifier.NOTIFY_SOCKET_ENV, systemd.name(), SystemdNotifier.WATCHDOG_USEC_ENV, "400000"));
            try
            {
                final String ready = next(systemd, broker);
                assertTrue(ready.startsWith("READY=1\nSTATUS=serving 1 service from " + config + "\nMAINPID="),
                    ready);
                assertEquals(broker.pid(), Long.parseLong(ready.substring(ready.indexOf("MAINPID=") + 8)));
                broker.awaitLine((line) -> line.contains("ManCom broker ready"), DEADLINE);

                assertEquals("WATCHDOG=1", next(systemd, broker));
                assertEquals("WATCHDOG=1", next(systemd, broker));

                Files.writeString(config, "[service.echo]\nlisten = [\"tcp://127.0.0.1:0\"]\n\n" +
                    "[service.more]\nlisten = [\"tcp://127.0.0.1:0\"]\n");
                new ProcessBuilder("kill", "-HUP", Long.toString(broker.pid())).inheritIO().start().waitFor();
                assertEquals("STATUS=reloaded; serving 2 services from " + config, nextNot(systemd, broker));

                // mancom reload (over the control socket) of a wrong file: refused, and said so.
                Files.writeString(config, "[service.echo]\nlisten = \"tcp://127.0.0.1:0\"\n");
                final String dir = tempDir.resolve("broker").toString();
                assertEquals(1, Main.execute(new PrintWriter(new StringWriter(), true),
                    new PrintWriter(new StringWriter(), true), "reload", "--dir", dir));
                assertEquals("STATUS=reload refused, running the last good configuration: " + config +
                    ":2: service.echo.listen: must be an array of URI strings such as [\"tcp://127.0.0.1:7000\"], " +
                    "not a string", nextNot(systemd, broker));

                broker.process().destroy();
                assertEquals("STOPPING=1\nSTATUS=stopping", nextNot(systemd, broker));
                assertTrue(broker.waitFor(DEADLINE));
            }
            finally
            {
                broker.close();
            }
        }
    }

    @Test
    void shouldNotifyAnAbstractSocket() throws Exception
    {
        final String name = "@mancom-test-" + ProcessHandle.current().pid() + "-" + System.nanoTime();
        try (NotifySocket systemd = new NotifySocket(name);
            SystemdNotifier notifier = SystemdNotifier.fromEnvironment(Map.of(SystemdNotifier.NOTIFY_SOCKET_ENV, name)))
        {
            assertNotNull(notifier);
            assertEquals(0, notifier.watchdogIntervalMs());
            assertTrue(notifier.notify("STATUS=hello"));
            assertEquals("STATUS=hello", systemd.receive(DEADLINE));
        }
    }

    @Test
    void shouldFeedTheWatchdogOnlyWhileTheHeartbeatIsFresh() throws Exception
    {
        final Path socket = tempDir.resolve("watchdog.sock");
        final long heartbeatMs = System.currentTimeMillis();
        final AtomicLong nowMs = new AtomicLong(heartbeatMs);
        try (NotifySocket systemd = new NotifySocket(socket.toString());
            SystemdNotifier notifier = SystemdNotifier.fromEnvironment(Map.of(
                SystemdNotifier.NOTIFY_SOCKET_ENV, socket.toString(),
                SystemdNotifier.WATCHDOG_USEC_ENV, "100000",
                SystemdNotifier.WATCHDOG_PID_ENV, Long.toString(ProcessHandle.current().pid()))))
        {
            assertNotNull(notifier);
            assertEquals(50, notifier.watchdogIntervalMs());
            notifier.startWatchdog(() -> heartbeatMs, nowMs::get);
            assertEquals("WATCHDOG=1", systemd.receive(DEADLINE));

            // The conductor stops beating: once the heartbeat is too old the pings stop.
            nowMs.set(heartbeatMs + SystemdNotifier.MAX_HEARTBEAT_AGE_MS + 1);
            drain(systemd);
            notifier.notify("STATUS=marker");
            assertEquals("STATUS=marker", systemd.receive(DEADLINE));
            final List<String> afterMarker = new ArrayList<>();
            String message;
            while (null != (message = systemd.receive(Duration.ofMillis(300))))
            {
                afterMarker.add(message);
            }
            assertEquals(List.of(), afterMarker);
        }
    }

    @Test
    void shouldIgnoreAWatchdogMeantForAnotherProcess() throws Exception
    {
        final Path socket = tempDir.resolve("other.sock");
        try (NotifySocket ignored = new NotifySocket(socket.toString());
            SystemdNotifier notifier = SystemdNotifier.fromEnvironment(Map.of(
                SystemdNotifier.NOTIFY_SOCKET_ENV, socket.toString(),
                SystemdNotifier.WATCHDOG_USEC_ENV, "100000",
                SystemdNotifier.WATCHDOG_PID_ENV, "1")))
        {
            assertNotNull(notifier);
            assertEquals(0, notifier.watchdogIntervalMs());
        }
    }

    /** Skip watchdog pings sent before the state being looked at. */
    private static void drain(final NotifySocket systemd) throws IOException
    {
        while (null != systemd.receive(Duration.ofMillis(200)))
        {
            // a ping sent while the heartbeat was still fresh
        }
    }

    private static String next(final NotifySocket systemd, final ForkedJvm broker) throws IOException
    {
        final String message = systemd.receive(DEADLINE);
        assertNotNull(message, "no notification from the broker; output:\n" + String.join("\n", broker.lines()));
        return message;
    }

    /** The next notification that is not a watchdog ping. */
    private static String nextNot(final NotifySocket systemd, final ForkedJvm broker) throws IOException
    {
        while (true)
        {
            final String message = next(systemd, broker);
            if (!"WATCHDOG=1".equals(message))
            {
                return message;
            }
        }
    }
}
