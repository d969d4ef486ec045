package dev.mancom.tests;

import dev.mancom.tests.kit.ForkedBroker;
import dev.mancom.tests.kit.ForkedJvm;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * kill -9 of an application: the broker learns it from the control socket, closes that application's connections
 * at once and goes on serving everyone else.
 */
class ProcessDeathSystemTest
{
    private static final String CONFIG =
        "[service.echo]\nlisten = [\"tcp://127.0.0.1:0\"]\n\n[service.other]\nlisten = [\"tcp://127.0.0.1:0\"]\n";

    @TempDir
    Path tempDir;

    @Test
    void shouldCloseEveryConnectionOfAKilledApplicationAndKeepServingOthers() throws Exception
    {
        try (ForkedBroker broker = ForkedBroker.start(tempDir, CONFIG, List.of("-Xmx128m"));
            ForkedJvm victim = TcpEchoSystemTest.startEcho(tempDir, broker, "echo");
            ForkedJvm survivor = TcpEchoSystemTest.startEcho(tempDir, broker, "other"))
        {
            final InetSocketAddress echo = broker.tcpAddress("echo");
            final InetSocketAddress other = broker.tcpAddress("other");
            final List<Socket> victimSockets = new ArrayList<>();
            try (Socket survivorSocket = new Socket(other.getAddress(), other.getPort()))
            {
                survivorSocket.setSoTimeout(20_000);
                for (int i = 0; i < 20; i++)
                {
                    final Socket socket = new Socket(echo.getAddress(), echo.getPort());
                    socket.setSoTimeout(20_000);
                    victimSockets.add(socket);
                    roundTrip(socket, "before " + i);
                }
                roundTrip(survivorSocket, "before");

                victim.kill9();

                // Each remote peer sees its connection closed by the broker (EOF or reset), within the deadline.
                for (final Socket socket : victimSockets)
                {
                    assertEquals(-1, readUntilClosed(socket), "connection still open after the owner died");
                }

                // The other application and its connections are unaffected, and new connections work.
                roundTrip(survivorSocket, "after");
                TcpEchoSystemTest.assertEchoes(other, "a new connection after the kill");
            }
            finally
            {
                for (final Socket socket : victimSockets)
                {
                    socket.close();
                }
            }
        }
    }

    private static void roundTrip(final Socket socket, final String text) throws IOException
    {
        final byte[] bytes = text.getBytes();
        socket.getOutputStream().write(bytes);
        assertArrayEquals(bytes, socket.getInputStream().readNBytes(bytes.length));
    }

    /**
     * Read until the broker closes the connection.
     *
     * @return -1 once closed.
     * @throws SocketTimeoutException when it is not closed within the socket's time-out.
     */
    private static int readUntilClosed(final Socket socket) throws IOException
    {
        try
        {
            while (true)
            {
                final int b = socket.getInputStream().read();
                if (b < 0)
                {
                    return -1;
                }
            }
        }
        catch (final SocketTimeoutException ex)
        {
            throw ex;
        }
        catch (final IOException ex)
        {
            return -1; // reset by the broker: closed too
        }
    }
}
