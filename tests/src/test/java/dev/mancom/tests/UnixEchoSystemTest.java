package dev.mancom.tests;

import com.sun.security.auth.module.UnixSystem;
import dev.mancom.tests.kit.EchoLoad;
import dev.mancom.tests.kit.EndpointEchoApp;
import dev.mancom.tests.kit.ForkedBroker;
import dev.mancom.tests.kit.ForkedJvm;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A forked broker whose services listen on Unix domain sockets, a forked echo application, and plain Unix socket
 * clients in this JVM.
 */
class UnixEchoSystemTest
{
    private static final Duration DEADLINE = Duration.ofSeconds(60);

    @TempDir
    Path tempDir;

    @Test
    void shouldEchoEveryByteOverAUnixSocketAndTellTheApplicationTheClientsPid() throws Exception
    {
        final Path echoSocket = tempDir.resolve("echo.sock");
        final Path whoSocket = tempDir.resolve("who.sock");
        final String config =
            "[service.echo]\nlisten = [\"unix://" + echoSocket + "\"]\n" +
            "[service.who]\nlisten = [\"unix://" + whoSocket + "\"]\n";
        try (ForkedBroker broker = ForkedBroker.start(tempDir, config, List.of("-Xmx256m"));
            ForkedJvm echo = TcpEchoSystemTest.startEcho(tempDir, broker, "echo");
            ForkedJvm who = ForkedJvm.start("who", tempDir.resolve("logs"), EndpointEchoApp.class,
                List.of("-Xmx128m"), List.of(broker.dir().toString(), "who")))
        {
            assertTrue(broker.jvm().lines().stream().anyMatch(
                (line) -> line.contains("service 'echo' listening on unix://" + echoSocket)), "broker log");

            final EchoLoad.Result result = EchoLoad.run(
                UnixDomainSocketAddress.of(echoSocket), 50, 1024 * 1024, 64 * 1024, 7, Duration.ofMinutes(4));
            assertEquals(List.of(), result.failures());
            assertEquals(50, result.connections());
            assertEquals(50L * 1024 * 1024, result.bytesVerified());

            who.awaitLine("registered"::equals, DEADLINE);
            try (SocketChannel client = SocketChannel.open(UnixDomainSocketAddress.of(whoSocket)))
            {
                final byte[] ping = "who am I?".getBytes(StandardCharsets.US_ASCII);
                client.write(ByteBuffer.wrap(ping));
                assertArrayEquals(ping, read(client, ping.length));

                final String accepted = who.awaitLine((line) -> line.startsWith("accepted "), DEADLINE);
                final UnixSystem self = new UnixSystem();
                // The client binds no path of its own, so the endpoint has the kernel's credentials and no path.
                final String expected = "accepted UNIX pid=" + ProcessHandle.current().pid() + " uid=" +
                    self.getUid() + " gid=" + self.getGid() + " path=";
                assertTrue(accepted.startsWith(expected), accepted);
            }
        }
        // The broker removes its socket files when it stops.
        assertFalse(Files.exists(echoSocket, LinkOption.NOFOLLOW_LINKS));
        assertFalse(Files.exists(whoSocket, LinkOption.NOFOLLOW_LINKS));
    }

    /**
     * Read so many bytes within the deadline (the channel is closed when it passes).
     */
    private static byte[] read(final SocketChannel channel, final int length) throws Exception
    {
        final CompletableFuture<byte[]> result = CompletableFuture.supplyAsync(() ->
        {
            final ByteBuffer buffer = ByteBuffer.allocate(length);
            try
            {
                while (buffer.hasRemaining() && channel.read(buffer) >= 0)
                {
                    // Blocking reads until the bytes are in.
                }
            }
            catch (final java.io.IOException ex)
            {
                throw new java.io.UncheckedIOException(ex);
            }
            return buffer.array();
        });
        try
        {
            return result.get(DEADLINE.getSeconds(), TimeUnit.SECONDS);
        }
        finally
        {
            if (!result.isDone())
            {
                channel.close();
            }
        }
    }
}
