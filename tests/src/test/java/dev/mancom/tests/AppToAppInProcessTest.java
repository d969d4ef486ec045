package dev.mancom.tests;

import dev.mancom.broker.Broker;
import dev.mancom.broker.config.ConfigLoader;
import dev.mancom.client.Acceptor;
import dev.mancom.client.Connection;
import dev.mancom.client.ManCom;
import dev.mancom.protocol.ManComException;
import dev.mancom.protocol.codecs.CloseReason;
import dev.mancom.protocol.codecs.ErrorCode;
import dev.mancom.protocol.codecs.TransportType;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * App-to-app connections between two clients of an embedded broker, in one JVM (each client has its own Aeron
 * client, streams and doorbell, as it would in its own process; AppToAppSystemTest runs them in separate JVMs).
 */
class AppToAppInProcessTest
{
    private static final Duration TIMEOUT = Duration.ofSeconds(20);

    @TempDir
    Path tempDir;

    private Broker broker;
    private ManCom server;
    private ManCom client;

    @BeforeEach
    void setUp()
    {
        final String toml = "[service.echo]\nlisten = [\"tcp://127.0.0.1:0\"]\n\n[service.blocking]\n";
        broker = Broker.launch(new Broker.Context()
            .config(ConfigLoader.parse(toml, "test"))
            .brokerDir(tempDir.resolve("broker")));
        server = ManCom.connect(new ManCom.Context().dir(tempDir.resolve("broker")).dispatchThread(true)
            .clientName("server"));
        client = ManCom.connect(new ManCom.Context().dir(tempDir.resolve("broker")).clientName("client"));
    }

    @AfterEach
    void tearDown()
    {
        if (null != client)
        {
            client.close();
        }
        if (null != server)
        {
            server.close();
        }
        if (null != broker)
        {
            broker.close();
        }
    }

    @Test
    void shouldEchoFourMegabytesInOrderBetweenTwoApplications() throws Exception
    {
        final CompletableFuture<Connection> accepted = new CompletableFuture<>();
        server.registerAcceptor("echo", (connection) ->
        {
            accepted.complete(connection);
            connection.dataHandler((c, buffer, offset, length) -> Math.max(0, c.offer(buffer, offset, length)));
        });

        final Connection connection = client.connect("echo");
        assertTrue(connection.isAppToApp());
        assertEquals(TransportType.LOCAL, connection.remoteEndpoint().type());
        assertEquals(ProcessHandle.current().pid(), connection.remoteEndpoint().pid());

        final Connection serverSide = accepted.get(20, TimeUnit.SECONDS);
        assertTrue(serverSide.isAppToApp());
        assertEquals(TransportType.LOCAL, serverSide.remoteEndpoint().type());
        assertEquals(ProcessHandle.current().pid(), serverSide.remoteEndpoint().pid());
        assertTrue(serverSide.remoteEndpoint().uid() >= 0);

        final byte[] sent = new byte[4 * 1024 * 1024];
        new Random(42).nextBytes(sent);
        final byte[] received = new byte[sent.length];
        final OutputStream out = connection.outputStream();
        final InputStream in = connection.inputStream();
        final Thread writer = new Thread(() ->
        {
            try
            {
                final Random sizes = new Random(7);
                int offset = 0;
                while (offset < sent.length)
                {
                    final int chunk = Math.min(sent.length - offset, 1 + sizes.nextInt(100_000));
                    out.write(sent, offset, chunk);
                    offset += chunk;
                }
            }
            catch (final Exception ex)
            {
                throw new IllegalStateException(ex);
            }
        });
        writer.start();
        int read = 0;
        while (read < received.length)
        {
            final int n = in.read(received, read, received.length - read);
            assertTrue(n > 0, "end of stream after " + read + " bytes");
            read += n;
        }
        writer.join(20_000);
        assertArrayEquals(sent, received);

        connection.close();
        // This client has no dispatch thread: it polls while it waits (a close that meets back pressure is sent
        // again from its poll, and its own close handler runs there).
        awaitClosed(serverSide, client);
        assertEquals(CloseReason.REMOTE_CLOSED, serverSide.closeReason());
        awaitClosed(connection, client);
        assertEquals(CloseReason.LOCAL_CLOSED, connection.closeReason());
    }

    @Test
    void shouldServeTheBlockingApiAndCloseFromTheAcceptingSide() throws Exception
    {
        final Acceptor acceptor = server.registerAcceptor("blocking");
        final Connection connection = client.connect("blocking");
        final Connection serverSide = acceptor.accept(TIMEOUT);
        assertTrue(serverSide.isAppToApp());

        connection.write("ping".getBytes(), 0, 4, TIMEOUT);
        final byte[] buffer = new byte[16];
        assertEquals(4, serverSide.read(buffer, 0, 16, TIMEOUT));
        assertEquals("ping", new String(buffer, 0, 4));
        serverSide.write("pong".getBytes(), 0, 4, TIMEOUT);
        serverSide.close();

        assertEquals(4, connection.read(buffer, 0, 16, TIMEOUT));
        assertEquals("pong", new String(buffer, 0, 4));
        assertEquals(-1, connection.read(buffer, 0, 16, TIMEOUT), "end of stream after the other side closed");
        assertEquals(CloseReason.REMOTE_CLOSED, connection.closeReason());
        assertEquals(Connection.CLOSED, connection.offer(new org.agrona.concurrent.UnsafeBuffer(buffer), 0, 1));
    }

    @Test
    void shouldKeepServingAConnectionWhileAnotherOfTheSameTwoApplicationsIsNotRead() throws Exception
    {
        final Acceptor acceptor = server.registerAcceptor("blocking");
        final Connection stalled = client.connect("blocking");
        final Connection stalledServerSide = acceptor.accept(TIMEOUT);
        final Connection flowing = client.connect("blocking");
        final Connection flowingServerSide = acceptor.accept(TIMEOUT);
        assertTrue(stalled.isAppToApp() && flowing.isAppToApp());

        // Fill the stalled connection's window: the server side never reads it.
        final org.agrona.concurrent.UnsafeBuffer chunk = new org.agrona.concurrent.UnsafeBuffer(new byte[16 * 1024]);
        long stalledSent = 0;
        while (true)
        {
            client.poll();
            final int result = stalled.offer(chunk, 0, chunk.capacity());
            if (result == Connection.BACK_PRESSURED && 0 == stalled.sendCredit())
            {
                break;
            }
            stalledSent += Math.max(0, result);
        }
        assertTrue(stalledSent > 0);

        // The other connection between the same two applications (the same link) streams 4 MiB meanwhile.
        final byte[] sent = new byte[4 * 1024 * 1024];
        new Random(3).nextBytes(sent);
        final Thread writer = new Thread(() -> flowing.write(sent, 0, sent.length, TIMEOUT));
        writer.start();
        final byte[] received = new byte[sent.length];
        int read = 0;
        while (read < received.length)
        {
            final int n = flowingServerSide.read(received, read, received.length - read, TIMEOUT);
            assertTrue(n > 0, "stalled after " + read + " bytes");
            read += n;
        }
        writer.join(TIMEOUT.toMillis());
        assertArrayEquals(sent, received);

        // And the stalled one still has every byte.
        final byte[] kept = new byte[(int)stalledSent];
        int keptRead = 0;
        while (keptRead < kept.length)
        {
            final int n = stalledServerSide.read(kept, keptRead, kept.length - keptRead, TIMEOUT);
            assertTrue(n > 0);
            keptRead += n;
        }
        assertEquals(stalledSent, keptRead);
    }

    @Test
    void shouldLinkAnApplicationThatAttachesAgainRightAfterItClosed() throws Exception
    {
        server.registerAcceptor("echo", (connection) ->
            connection.dataHandler((c, buffer, offset, length) -> Math.max(0, c.offer(buffer, offset, length))));
        // Each time a new client of this process links to the server while the media driver may still hold the
        // previous client's link (another session id on the same stream) until its next check of its clients.
        for (int i = 0; i < 4; i++)
        {
            client.close();
            client = ManCom.connect(new ManCom.Context().dir(tempDir.resolve("broker")).clientName("client " + i)
                .dispatchThread(true));
            assertEchoes(client.connect("echo"), "attach " + i);
        }
    }

    @Test
    void shouldServeTwoApplicationsConnectedToTheSameApplicationAtOnce() throws Exception
    {
        server.registerAcceptor("echo", (connection) ->
            connection.dataHandler((c, buffer, offset, length) -> Math.max(0, c.offer(buffer, offset, length))));
        try (ManCom second = ManCom.connect(new ManCom.Context().dir(tempDir.resolve("broker")).clientName("second")
            .dispatchThread(true)))
        {
            client.close();
            client = ManCom.connect(new ManCom.Context().dir(tempDir.resolve("broker")).clientName("first")
                .dispatchThread(true));
            final Connection first = client.connect("echo");
            final Connection other = second.connect("echo");
            for (final Connection connection : new Connection[] {first, other, first, other})
            {
                assertEchoes(connection, "to " + connection.id());
            }
        }
    }

    private static void assertEchoes(final Connection connection, final String text)
    {
        final byte[] bytes = text.getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        connection.write(bytes, 0, bytes.length, TIMEOUT);
        final byte[] echoed = new byte[bytes.length];
        int read = 0;
        while (read < echoed.length)
        {
            final int n = connection.read(echoed, read, echoed.length - read, TIMEOUT);
            assertTrue(n > 0, "echo of '" + text + "' ended after " + read + " bytes");
            read += n;
        }
        assertArrayEquals(bytes, echoed, text);
    }

    @Test
    void shouldRefuseToConnectAnApplicationToItself()
    {
        server.registerAcceptor("blocking");
        final ManComException error = assertThrows(ManComException.class, () -> server.connect("blocking"));
        assertEquals(ErrorCode.CONNECT_FAILED, error.code());
    }

    @Test
    void shouldSayWhenNoApplicationAcceptsTheService()
    {
        final ManComException error = assertThrows(ManComException.class, () -> client.connect("blocking"));
        assertEquals(ErrorCode.CONNECT_FAILED, error.code());
        assertTrue(error.getMessage().contains("no application accepts service 'blocking'"), error.getMessage());
    }

    /**
     * Wait for the connection to close, this thread driving the client that polls itself meanwhile.
     */
    private static void awaitClosed(final Connection connection, final ManCom poller)
    {
        await().atMost(TIMEOUT).pollInSameThread().pollInterval(Duration.ofMillis(1)).alias("closed: " + connection)
            .until(() ->
            {
                poller.poll();
                return connection.isClosed();
            });
    }
}
