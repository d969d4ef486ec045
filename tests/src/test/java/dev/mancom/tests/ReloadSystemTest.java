package dev.mancom.tests;

import dev.mancom.tests.kit.EndpointEchoApp;
import dev.mancom.tests.kit.ForkedBroker;
import dev.mancom.tests.kit.ForkedJvm;
import dev.mancom.tools.Main;
import dev.mancom.tools.ReloadRequest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The runtime switch with real processes: a forked broker started from a configuration file and a forked echo
 * application. The file moves the service to another transport and the broker is told to reload, by
 * {@code mancom reload} or by SIGHUP; the connection opened before goes on byte-exact, new connections come in on
 * the new transport to the same application process, which was never restarted, and the old listener is gone.
 */
class ReloadSystemTest
{
    private static final Duration DEADLINE = Duration.ofSeconds(60);

    @TempDir
    Path tempDir;

    @Test
    void shouldMoveAServiceFromTcpToUnixOnMancomReloadWithoutDisturbingConnectionsOrTheApplication()
        throws Exception
    {
        final Path echoSocket = tempDir.resolve("echo.sock");
        try (ForkedBroker broker = ForkedBroker.start(tempDir, TcpEchoSystemTest.ECHO_CONFIG, List.of("-Xmx256m"));
            ForkedJvm app = startEchoApp(broker))
        {
            final long appPid = app.pid();
            final InetSocketAddress tcp = broker.tcpAddress("echo");
            try (SocketChannel before = SocketChannel.open(tcp))
            {
                assertEchoesRandomBytes(before, 64 * 1024, 1);
                app.awaitLine((line) -> line.startsWith("accepted TCP"), DEADLINE);

                Files.writeString(tempDir.resolve("mancom.toml"),
                    "[service.echo]\nlisten = [\"unix://" + echoSocket + "\"]\n");
                final ForkedJvm reload = runTool(broker, "reload");
                assertEquals(0, reload.process().exitValue(), String.join("\n", reload.lines()));
                final String output = String.join("\n", reload.lines());
                assertTrue(output.contains("configuration reloaded from " + tempDir.resolve("mancom.toml") +
                    ": 2 changes"), output);
                assertTrue(output.contains("service 'echo' listening on unix://" + echoSocket), output);
                assertTrue(output.contains("service 'echo' stopped listening on tcp://" +
                    tcp.getAddress().getHostAddress() + ":" + tcp.getPort()), output);

                // The connection accepted on TCP goes on, byte-exact.
                assertEchoesRandomBytes(before, 256 * 1024, 2);

                // A new connection comes in on the Unix socket, to the same application process.
                try (SocketChannel after = SocketChannel.open(UnixDomainSocketAddress.of(echoSocket)))
                {
                    assertEchoesRandomBytes(after, 256 * 1024, 3);
                }
                app.awaitLine((line) -> line.startsWith("accepted UNIX pid=" + ProcessHandle.current().pid()),
                    DEADLINE);
                assertTrue(app.process().isAlive());
                assertEquals(appPid, app.pid());
                assertEquals(1, app.lines().stream().filter("registered"::equals).count(), "registered once");

                // The TCP listener is closed.
                assertThrows(ConnectException.class, () -> SocketChannel.open(tcp).close());
                assertEchoesRandomBytes(before, 1024, 4);
            }
        }
    }

    @Test
    void shouldMoveAServiceFromUnixToTcpOnSighup() throws Exception
    {
        final Path echoSocket = tempDir.resolve("echo.sock");
        final String config = "[service.echo]\nlisten = [\"unix://" + echoSocket + "\"]\n";
        try (ForkedBroker broker = ForkedBroker.start(tempDir, config, List.of("-Xmx256m"));
            ForkedJvm app = startEchoApp(broker))
        {
            final long appPid = app.pid();
            try (SocketChannel before = SocketChannel.open(UnixDomainSocketAddress.of(echoSocket)))
            {
                assertEchoesRandomBytes(before, 64 * 1024, 5);

                Files.writeString(tempDir.resolve("mancom.toml"), TcpEchoSystemTest.ECHO_CONFIG);
                final Process kill = new ProcessBuilder("kill", "-HUP", Long.toString(broker.jvm().pid()))
                    .redirectErrorStream(true).start();
                assertEquals(0, kill.waitFor(), new String(kill.getInputStream().readAllBytes()));
                broker.jvm().awaitLine((line) -> line.contains("configuration reloaded from"), DEADLINE);

                assertEchoesRandomBytes(before, 256 * 1024, 6);
                try (SocketChannel after = SocketChannel.open(broker.tcpAddress("echo")))
                {
                    assertEchoesRandomBytes(after, 256 * 1024, 7);
                }
                app.awaitLine((line) -> line.startsWith("accepted TCP"), DEADLINE);
                assertTrue(app.process().isAlive());
                assertEquals(appPid, app.pid());

                // The Unix listener is closed and its socket file removed.
                assertFalse(Files.exists(echoSocket, LinkOption.NOFOLLOW_LINKS));
                assertThrows(IOException.class,
                    () -> SocketChannel.open(UnixDomainSocketAddress.of(echoSocket)).close());
                assertTrue(broker.jvm().process().isAlive());
            }
        }
    }

    @Test
    void shouldRefuseABadReloadNamingFileLineAndKeyAndKeepServing() throws Exception
    {
        final Path file = tempDir.resolve("mancom.toml");
        try (ForkedBroker broker = ForkedBroker.start(tempDir, TcpEchoSystemTest.ECHO_CONFIG, List.of("-Xmx256m"));
            ForkedJvm app = startEchoApp(broker))
        {
            final InetSocketAddress tcp = broker.tcpAddress("echo");
            try (SocketChannel before = SocketChannel.open(tcp))
            {
                assertEchoesRandomBytes(before, 16 * 1024, 8);

                // Through the real command: exit code 1 and the reason on standard error.
                Files.writeString(file, "[service.echo]\nlisten = [\"foo://127.0.0.1:7000\"]\n");
                final ForkedJvm reload = runTool(broker, "reload");
                final String output = String.join("\n", reload.lines());
                assertEquals(1, reload.process().exitValue(), output);
                assertTrue(output.contains("mancom reload: refused, the broker keeps its running configuration: " +
                    file + ":2: service.echo.listen: 'foo://127.0.0.1:7000': no transport serves 'foo://'"), output);

                // The same request from this JVM, for the other bad files.
                assertRefused(broker, file, "[service.echo]\nlisten = [\"tcp://127.0.0.1:99999\"]\n",
                    file + ":2: service.echo.listen: 'tcp://127.0.0.1:99999': port 99999 is not in 0..65535");
                assertRefused(broker, file, "[service.echo]\nlisten = [\"tcp://127.0.0.1:0\"\n",
                    file + ":3:1: syntax error: ");
                assertRefused(broker, file, "[broker]\ncredit_window = \"64k\"\n" + TcpEchoSystemTest.ECHO_CONFIG,
                    file + ":2: broker.credit_window: changes only on restart: the broker runs with \"256k\", the " +
                    "file now says \"64k\"");
                assertRefused(broker, file, "[service.echo]\nlisten = [\"tcp://127.0.0.1:0\"]\n\n" +
                    "[service.other]\nlisten = [\"unix://" + tempDir.resolve("no-such-dir").resolve("x.sock") +
                    "\"]\n", file + ":5: service.other.listen: 'unix://" + tempDir.resolve("no-such-dir") +
                    "/x.sock': ");

                // Nothing changed: the connection goes on, the listener still accepts.
                assertEchoesRandomBytes(before, 64 * 1024, 9);
                try (SocketChannel after = SocketChannel.open(tcp))
                {
                    assertEchoesRandomBytes(after, 16 * 1024, 10);
                }
                assertTrue(broker.jvm().lines().stream().noneMatch((line) -> line.contains("stopped listening")),
                    String.join("\n", broker.jvm().lines()));
            }
        }
    }

    @Test
    void shouldSayNoBrokerRunsWhereThereIsNone()
    {
        final ReloadRequest.Result result = ReloadRequest.send(tempDir.resolve("nobody"), Duration.ofSeconds(5));
        assertEquals(ReloadRequest.Outcome.NO_BROKER, result.outcome());
        assertEquals("no broker is running in " + tempDir.resolve("nobody") + " (start one with: mancom broker " +
            "--dir " + tempDir.resolve("nobody") + ")", result.message());
    }

    private static void assertRefused(
        final ForkedBroker broker, final Path file, final String toml, final String expected) throws IOException
    {
        Files.writeString(file, toml);
        final ReloadRequest.Result result = ReloadRequest.send(broker.dir(), DEADLINE);
        assertEquals(ReloadRequest.Outcome.REFUSED, result.outcome(), result.message());
        assertTrue(result.message().startsWith(expected), result.message());
    }

    private ForkedJvm startEchoApp(final ForkedBroker broker) throws IOException
    {
        final ForkedJvm app = ForkedJvm.start("echo-app", tempDir.resolve("logs"), EndpointEchoApp.class,
            List.of("-Xmx128m"), List.of(broker.dir().toString(), "echo"));
        app.awaitLine("registered"::equals, DEADLINE);
        return app;
    }

    private ForkedJvm runTool(final ForkedBroker broker, final String command) throws IOException
    {
        final ForkedJvm tool = ForkedJvm.start("mancom-" + command, tempDir.resolve("logs"), Main.class,
            List.of("-Xmx64m"), List.of(command, "--dir", broker.dir().toString()));
        assertTrue(tool.waitFor(DEADLINE), "mancom " + command + " did not end");
        return tool;
    }

    /**
     * Send random bytes and read them back, checking every one (the connection is closed if the deadline passes).
     */
    private static void assertEchoesRandomBytes(final SocketChannel channel, final int length, final long seed)
        throws IOException
    {
        final byte[] sent = new byte[length];
        new SplittableRandom(seed).nextBytes(sent);
        final ByteBuffer received = ByteBuffer.allocate(length);
        final Thread reader = new Thread(() ->
        {
            try
            {
                while (received.hasRemaining() && channel.read(received) >= 0)
                {
                    // Blocking reads while the writer writes: the echo never waits for a reader.
                }
            }
            catch (final IOException ignore)
            {
                // Seen as missing bytes below.
            }
        }, "echo-reader");
        reader.start();
        channel.write(ByteBuffer.wrap(sent));
        try
        {
            reader.join(DEADLINE.toMillis());
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
        }
        if (reader.isAlive())
        {
            channel.close();
        }
        assertEquals(length, received.position(), "bytes echoed");
        assertArrayEquals(sent, received.array());
    }
}
