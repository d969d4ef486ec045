package dev.mancom.tests;

import dev.mancom.client.Connection;
import dev.mancom.client.ManCom;
import dev.mancom.protocol.ManComException;
import dev.mancom.protocol.codecs.CloseReason;
import dev.mancom.protocol.codecs.ErrorCode;
import dev.mancom.protocol.codecs.TransportType;
import dev.mancom.tests.kit.ForkedBroker;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Outbound connections: an application asks the broker to connect out over TCP, by service name (its configured
 * {@code connect} URI) or by URI, to a plain TCP echo server of this test; and a refused connect is reported.
 */
class OutboundTcpSystemTest
{
    private static final Duration TIMEOUT = Duration.ofSeconds(30);

    @TempDir
    Path tempDir;

    @Test
    void shouldConnectOutByServiceNameAndByUriAndEchoEveryByte() throws Exception
    {
        try (ServerSocket server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress()))
        {
            final Thread echo = new Thread(() -> serveEcho(server), "plain-tcp-echo");
            echo.setDaemon(true);
            echo.start();
            final String uri = "tcp://127.0.0.1:" + server.getLocalPort();
            final String config = "[service.upstream]\nconnect = \"" + uri + "\"\n";
            try (ForkedBroker broker = ForkedBroker.start(tempDir, config, List.of("-Xmx128m"));
                ManCom mancom = ManCom.connect(new ManCom.Context().dir(broker.dir()).dispatchThread(true)
                    .timeout(TIMEOUT)))
            {
                for (final String target : List.of("upstream", uri))
                {
                    final Connection connection = mancom.connect(target);
                    assertEquals(TransportType.TCP, connection.remoteEndpoint().type());
                    assertEquals(server.getLocalPort(), connection.remoteEndpoint().port());
                    final byte[] sent = new byte[512 * 1024];
                    new Random(target.length()).nextBytes(sent);
                    final Thread writer = new Thread(() -> connection.write(sent, 0, sent.length, TIMEOUT));
                    writer.start();
                    final byte[] received = connection.inputStream().readNBytes(sent.length);
                    writer.join(TIMEOUT.toMillis());
                    assertArrayEquals(sent, received, "echo through " + target);

                    connection.close();
                    final long deadlineNs = System.nanoTime() + TIMEOUT.toNanos();
                    while (!connection.isClosed() && System.nanoTime() - deadlineNs < 0)
                    {
                        Thread.onSpinWait();
                    }
                    assertTrue(connection.isClosed());
                    assertEquals(CloseReason.LOCAL_CLOSED, connection.closeReason());
                }
            }
        }
    }

    @Test
    void shouldReportARefusedConnect() throws Exception
    {
        final int closedPort;
        try (ServerSocket probe = new ServerSocket(0, 1, InetAddress.getLoopbackAddress()))
        {
            closedPort = probe.getLocalPort();
        }
        try (ForkedBroker broker = ForkedBroker.start(tempDir, "", List.of("-Xmx128m"));
            ManCom mancom = ManCom.connect(new ManCom.Context().dir(broker.dir()).timeout(TIMEOUT)))
        {
            final ManComException error = assertThrows(ManComException.class,
                () -> mancom.connect("tcp://127.0.0.1:" + closedPort));
            assertEquals(ErrorCode.CONNECT_FAILED, error.code());
            assertTrue(error.getMessage().contains("127.0.0.1:" + closedPort), error.getMessage());
        }
    }

    private static void serveEcho(final ServerSocket server)
    {
        while (!server.isClosed())
        {
            try
            {
                final Socket socket = server.accept();
                final Thread connection = new Thread(() ->
                {
                    try (socket)
                    {
                        final InputStream in = socket.getInputStream();
                        final OutputStream out = socket.getOutputStream();
                        in.transferTo(out);
                    }
                    catch (final IOException ignore)
                    {
                        // the peer went away
                    }
                });
                connection.setDaemon(true);
                connection.start();
            }
            catch (final IOException ex)
            {
                return;
            }
        }
    }
}
