package dev.mancom.tests;

import dev.mancom.tests.kit.ForkedBroker;
import dev.mancom.tools.JavaProcess;
import dev.mancom.tools.Main;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Activation ({@code exec}): the broker starts a real program (the {@code mancom echo} command in a JVM of its own)
 * when the first connection arrives, hands it that connection, restarts it after kill -9, stops it with itself,
 * and gives up on a program that keeps failing.
 */
class ActivationSystemTest
{
    private static final Duration DEADLINE = Duration.ofSeconds(60);
    private static final Pattern STARTED =
        Pattern.compile("service '([^']+)': started its program .* \\(pid (\\d+)\\)");

    @TempDir
    Path tempDir;

    @Test
    void shouldStartTheProgramOnTheFirstConnectionAndRestartItAfterKill9() throws Exception
    {
        // No --dir: the program finds the broker through MANCOM_DIR, which the broker sets.
        final List<String> command = JavaProcess.command(Main.class.getName(),
            List.of("-Xmx96m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"), List.of("echo", "act"));
        final String config = "[service.act]\nlisten = [\"tcp://127.0.0.1:0\"]\nexec = " + tomlArray(command) +
            "\nrestart = \"on-failure\"\n";
        final long secondPid;
        try (ForkedBroker broker = ForkedBroker.start(tempDir, config, List.of("-Xmx128m")))
        {
            final InetSocketAddress address = broker.tcpAddress("act");
            assertEquals(0, startedPids(broker, "act").size(), "nothing is started before a connection arrives");

            // The first connection starts the program, waits for it to register, and is echoed.
            TcpEchoSystemTest.assertEchoes(address, "the first connection starts the program");
            final long firstPid = startedPids(broker, "act").get(0);
            assertTrue(ProcessHandle.of(firstPid).isPresent());

            ProcessHandle.of(firstPid).orElseThrow().destroyForcibly();

            // Restarted by the broker (restart = "on-failure"), not by the next connection: await the new process,
            // then its registration, before connecting.
            await().atMost(DEADLINE).pollInterval(Duration.ofMillis(20)).until(
                () -> startedPids(broker, "act").size() >= 2);
            broker.jvm().awaitLine((line) -> line.contains("exited with status 137 (signal 9)"), DEADLINE);
            secondPid = startedPids(broker, "act").get(1);
            assertNotEquals(firstPid, secondPid);
            await().atMost(DEADLINE).pollInterval(Duration.ofMillis(20)).until(
                () -> UnownedConnectionsSystemTest.countLines(broker.jvm(), "echoing service 'act'") >= 2);
            TcpEchoSystemTest.assertEchoes(address, "a connection after kill -9 is served by the restarted program");
            assertEquals(2, startedPids(broker, "act").size());
        }
        // Stopping the broker stopped the program it started.
        await().atMost(DEADLINE).pollInterval(Duration.ofMillis(20)).until(
            () -> ProcessHandle.of(secondPid).map((p) -> !p.isAlive()).orElse(true));
    }

    @Test
    void shouldGiveUpOnAProgramThatKeepsFailingAndRefuseItsConnections() throws Exception
    {
        final String program = Files.isExecutable(Paths.get("/bin/false")) ? "/bin/false" : "/usr/bin/false";
        final String config = "[service.failing]\nlisten = [\"tcp://127.0.0.1:0\"]\nexec = [\"" + program +
            "\"]\nrestart = \"on-failure\"\n";
        try (ForkedBroker broker = ForkedBroker.start(tempDir, config, List.of("-Xmx128m")))
        {
            final InetSocketAddress address = broker.tcpAddress("failing");
            try (Socket socket = new Socket(address.getAddress(), address.getPort()))
            {
                socket.setSoTimeout(30_000);
                socket.getOutputStream().write("anyone?".getBytes(StandardCharsets.US_ASCII));
                // Started, failed, restarted with a back-off up to the limit, then the broker gives up and closes
                // the connection that waited for it.
                broker.jvm().awaitLine((line) -> line.contains("service 'failing': its program " +
                    "(service.failing.exec) started 5 times within 60 s: giving up " +
                    "(service.failing.restart = \"on-failure\")"), DEADLINE);
                assertEquals(-1, UnownedConnectionsSystemTest.readUntilClosed(socket));
            }
            assertEquals(5, startedPids(broker, "failing").size());

            // From then on, connections are refused at once, and nothing is started.
            try (Socket socket = new Socket(address.getAddress(), address.getPort()))
            {
                socket.setSoTimeout(30_000);
                assertEquals(-1, UnownedConnectionsSystemTest.readUntilClosed(socket));
            }
            assertEquals(5, startedPids(broker, "failing").size());

            // A reload (here of the same file) re-arms it: the next connection starts the program again.
            final Process hangUp = new ProcessBuilder("kill", "-HUP", Long.toString(broker.jvm().pid()))
                .redirectErrorStream(true).start();
            assertEquals(0, hangUp.waitFor(), new String(hangUp.getInputStream().readAllBytes()));
            broker.jvm().awaitLine((line) -> line.contains("service 'failing': the broker starts its program " +
                "(service.failing.exec) again on the next connection"), DEADLINE);
            try (Socket socket = new Socket(address.getAddress(), address.getPort()))
            {
                await().atMost(DEADLINE).pollInterval(Duration.ofMillis(20)).until(
                    () -> startedPids(broker, "failing").size() >= 6);
            }
        }
    }

    @Test
    void shouldStopItsProgramsWithSigtermWhenTheBrokerStops() throws Exception
    {
        // A program that never registers and does not notice the broker going: only the broker's SIGTERM ends it.
        final String program = Files.isExecutable(Paths.get("/bin/sleep")) ? "/bin/sleep" : "/usr/bin/sleep";
        final String config = "[service.sleeper]\nlisten = [\"tcp://127.0.0.1:0\"]\nexec = [\"" + program +
            "\", \"600\"]\nqueue_when_unowned = \"60s\"\n";
        final long pid;
        try (ForkedBroker broker = ForkedBroker.start(tempDir, config, List.of("-Xmx128m"));
            Socket socket = new Socket(broker.tcpAddress("sleeper").getAddress(),
                broker.tcpAddress("sleeper").getPort()))
        {
            await().atMost(DEADLINE).pollInterval(Duration.ofMillis(20)).until(
                () -> 1 == startedPids(broker, "sleeper").size());
            pid = startedPids(broker, "sleeper").get(0);
            assertTrue(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false));

            // SIGTERM to the broker: it stops its program, then closes the connection that waited for it.
            assertEquals(143, broker.jvm().terminate(DEADLINE));
            socket.setSoTimeout(30_000);
            assertEquals(-1, UnownedConnectionsSystemTest.readUntilClosed(socket));
        }
        // Nothing else ends a sleep: the broker did.
        await().atMost(DEADLINE).pollInterval(Duration.ofMillis(20)).until(
            () -> ProcessHandle.of(pid).map((p) -> !p.isAlive()).orElse(true));
    }

    static List<Long> startedPids(final ForkedBroker broker, final String service)
    {
        final List<Long> pids = new ArrayList<>();
        for (final String line : broker.jvm().lines())
        {
            final Matcher matcher = STARTED.matcher(line);
            if (matcher.find() && matcher.group(1).equals(service))
            {
                pids.add(Long.parseLong(matcher.group(2)));
            }
        }
        return pids;
    }

    static String tomlArray(final List<String> values)
    {
        final StringBuilder builder = new StringBuilder("[");
        for (final String value : values)
        {
            if (builder.length() > 1)
            {
                builder.append(", ");
            }
            builder.append('"').append(value.replace("\\", "\\\\").replace("\"", "\\\"")).append('"');
        }
        return builder.append(']').toString();
    }
}
