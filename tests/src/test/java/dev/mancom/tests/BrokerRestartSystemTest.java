package dev.mancom.tests;

import dev.mancom.tests.kit.ForkedBroker;
import dev.mancom.tests.kit.ForkedJvm;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The broker is killed with kill -9, then stopped with SIGTERM, and started again each time on the same directory,
 * while one application ({@code mancom echo}) keeps running: it reports each loss, registers its service again by
 * itself with each new broker, and a new TCP connection echoes through it, without restarting it.
 */
class BrokerRestartSystemTest
{
    private static final String CONFIG = "[service.echo]\nlisten = [\"tcp://127.0.0.1:0\"]\n";
    private static final Duration DEADLINE = Duration.ofSeconds(60);

    @TempDir
    Path tempDir;

    @Test
    void shouldKeepTheApplicationRunningAcrossAKilledAndAStoppedBroker() throws Exception
    {
        ForkedBroker broker = ForkedBroker.start(tempDir, CONFIG, List.of("-Xmx128m"));
        try (ForkedJvm app = TcpEchoSystemTest.startEcho(tempDir, broker, "echo"))
        {
            final InetSocketAddress first = broker.tcpAddress("echo");
            try (Socket open = new Socket(first.getAddress(), first.getPort()))
            {
                open.setSoTimeout((int)DEADLINE.toMillis());
                roundTrip(open, "before the kill");

                broker.jvm().kill9();

                // The remote peer's connection died with the broker; the application did not.
                assertEquals(-1, readUntilClosed(open));
            }
            app.awaitLine((line) -> line.startsWith("broker lost: "), DEADLINE);
            assertTrue(app.process().isAlive(), "the application exited with its broker");

            // A new broker takes the dead one's directory over; the application comes back by itself.
            broker = ForkedBroker.start(tempDir, CONFIG, List.of("-Xmx128m"));
            app.awaitLine((line) -> line.startsWith("broker back: ") && line.contains("reconnection 1"), DEADLINE);
            TcpEchoSystemTest.assertEchoes(broker.tcpAddress("echo"), "after the kill -9");

            // A clean stop (SIGTERM) is handled the same way.
            broker.jvm().terminate(DEADLINE);
            app.awaitLine((line) -> line.startsWith("broker lost: ") && countLost(app) == 2, DEADLINE);
            assertTrue(app.process().isAlive(), "the application exited with its broker");
            broker = ForkedBroker.start(tempDir, CONFIG, List.of("-Xmx128m"));
            app.awaitLine((line) -> line.startsWith("broker back: ") && line.contains("reconnection 2"), DEADLINE);
            TcpEchoSystemTest.assertEchoes(broker.tcpAddress("echo"), "after the SIGTERM");
        }
        finally
        {
            broker.close();
        }
    }

    private static long countLost(final ForkedJvm app)
    {
        return app.lines().stream().filter((line) -> line.startsWith("broker lost: ")).count();
    }

    private static void roundTrip(final Socket socket, final String text) throws IOException
    {
        final byte[] bytes = text.getBytes();
        socket.getOutputStream().write(bytes);
        assertArrayEquals(bytes, socket.getInputStream().readNBytes(bytes.length));
    }

    private static int readUntilClosed(final Socket socket)
    {
        try
        {
            return socket.getInputStream().read();
        }
        catch (final IOException ex)
        {
            return -1; // reset
        }
    }
}
