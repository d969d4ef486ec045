package dev.mancom.tests;

import dev.mancom.broker.Broker;
import dev.mancom.broker.config.ConfigLoader;
import dev.mancom.client.Acceptor;
import dev.mancom.client.BrokerListener;
import dev.mancom.client.Connection;
import dev.mancom.client.ManCom;
import dev.mancom.client.SendClaim;
import dev.mancom.protocol.Endpoint;
import dev.mancom.protocol.ManComException;
import dev.mancom.protocol.codecs.CloseReason;
import dev.mancom.protocol.codecs.ErrorCode;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * An application outlives its broker, in one JVM: the broker is stopped ({@code Broker.close()}, what SIGTERM does)
 * and launched again on the same directory while the same {@link ManCom} and acceptors stay in use. The crash (kill
 * -9) of a broker in its own process is {@code BrokerRestartSystemTest}.
 */
class BrokerRestartInProcessTest
{
    private static final String CONFIG = "[service.echo]\nlisten = [\"tcp://127.0.0.1:0\"]\n" +
        "[service.blocking]\nlisten = [\"tcp://127.0.0.1:0\"]\n";
    private static final Duration DEADLINE = Duration.ofSeconds(30);

    @TempDir
    Path tempDir;

    @Test
    void shouldTellOfTheLossFailFastWhileGoneAndServeTheNextBrokerWithTheSameAcceptors() throws Exception
    {
        final Path dir = tempDir.resolve("broker");
        final RecordingListener listener = new RecordingListener();
        final AtomicReference<Connection> accepted = new AtomicReference<>();
        Broker broker = launch(dir);
        try (ManCom mancom = ManCom.connect(new ManCom.Context().dir(dir).dispatchThread(true)
            .brokerListener(listener).errorHandler((ex) -> { })))
        {
            final Acceptor echo = mancom.registerAcceptor("echo", (connection) ->
            {
                accepted.set(connection);
                connection.dataHandler((c, buffer, offset, length) -> Math.max(0, c.offer(buffer, offset, length)));
            });
            final Acceptor blocking = mancom.registerAcceptor("blocking");
            final long firstClientId = mancom.clientId();

            final Socket open = connect(broker.listenEndpoint("echo"));
            assertEchoes(open, "before the stop");
            final Connection connection = accepted.get();

            broker.close();

            await().atMost(DEADLINE).until(() -> listener.lost.size() == 1);
            assertTrue(listener.lost.get(0).contains(dir.toString()), listener.lost.get(0));
            assertFalse(mancom.isConnected());
            assertFalse(mancom.isClosed());

            // The open connection is closed: its remote peer was the broker's.
            await().atMost(DEADLINE).until(connection::isClosed);
            final CloseReason reason = connection.closeReason();
            assertTrue(CloseReason.BROKER_GONE == reason || CloseReason.BROKER_SHUTDOWN == reason, "" + reason);
            assertEquals(-1, readUntilClosed(open));
            open.close();

            // While no broker runs, sends and commands fail at once with NOT_CONNECTED.
            final UnsafeBuffer bytes = new UnsafeBuffer(new byte[16]);
            assertEquals(Connection.NOT_CONNECTED, connection.offer(bytes, 0, 16));
            assertEquals(Connection.NOT_CONNECTED, connection.tryClaim(16, new SendClaim()));
            assertEquals(ErrorCode.NOT_CONNECTED,
                assertThrows(ManComException.class, () -> mancom.connect("tcp://127.0.0.1:9")).code());
            assertEquals(ErrorCode.NOT_CONNECTED,
                assertThrows(ManComException.class, () -> mancom.registerAcceptor("other")).code());
            // The blocking acceptor waits through the outage: it is kept for the next broker.
            assertNull(blocking.accept(Duration.ofMillis(50)));
            assertFalse(mancom.awaitConnected(Duration.ofMillis(50)));

            broker = launch(dir);

            await().atMost(DEADLINE).until(() -> listener.reconnected.size() == 1);
            assertTrue(mancom.awaitConnected(DEADLINE));
            assertEquals(1L, listener.reconnected.get(0));
            assertEquals(1L, mancom.reconnections());
            assertTrue(mancom.isConnected());
            assertTrue(firstClientId > 0 && mancom.clientId() > 0);

            // The same acceptors serve the new broker, registered again by the client itself.
            try (Socket socket = connect(broker.listenEndpoint("echo")))
            {
                assertEchoes(socket, "after the restart");
            }
            try (Socket socket = connect(broker.listenEndpoint("blocking")))
            {
                final Connection served = blocking.accept(DEADLINE);
                final byte[] hello = "blocking after the restart".getBytes();
                socket.getOutputStream().write(hello);
                final byte[] read = new byte[hello.length];
                int n = 0;
                while (n < read.length)
                {
                    final int got = served.read(read, n, read.length - n, DEADLINE);
                    assertTrue(got > 0);
                    n += got;
                }
                assertArrayEquals(hello, read);
            }
        }
        finally
        {
            broker.close();
        }
    }

    @Test
    void shouldReleaseTheMappingsAndDescriptorsOfEachLostBroker() throws Exception
    {
        final Path dir = tempDir.resolve("broker");
        final RecordingListener listener = new RecordingListener();
        Broker broker = launch(dir);
        try (ManCom mancom = ManCom.connect(new ManCom.Context().dir(dir).brokerListener(listener)))
        {
            mancom.registerAcceptor("echo", (connection) -> connection.dataHandler(
                (c, buffer, offset, length) -> Math.max(0, c.offer(buffer, offset, length))));
            final int restarts = 3;
            for (int i = 1; i <= restarts; i++)
            {
                broker.close();
                final int lost = i;
                await().atMost(DEADLINE).until(() -> pollUntil(mancom, () -> listener.lost.size() == lost));
                broker = launch(dir);
                await().atMost(DEADLINE).until(() -> pollUntil(mancom, () -> listener.reconnected.size() == lost));
                final Endpoint endpoint = broker.listenEndpoint("echo");
                final Thread poller = pollInBackground(mancom);
                try (Socket socket = connect(endpoint))
                {
                    assertEchoes(socket, "restart " + i);
                }
                finally
                {
                    poller.interrupt();
                    poller.join();
                }
            }
            // Each lost broker's files were deleted by its stop; once its linger has passed, this process maps none
            // of them and holds no descriptor of them any more.
            await().atMost(DEADLINE).untilAsserted(() ->
            {
                mancom.poll();
                assertEquals(List.of(), deleted(dir));
            });
        }
        finally
        {
            broker.close();
        }
    }

    @Test
    void shouldCloseForGoodWhenReconnectionIsOff() throws Exception
    {
        final Path dir = tempDir.resolve("broker");
        final RecordingListener listener = new RecordingListener();
        final Broker broker = launch(dir);
        try (ManCom mancom = ManCom.connect(new ManCom.Context().dir(dir).dispatchThread(true).reconnect(false)
            .brokerListener(listener)))
        {
            final Acceptor acceptor = mancom.registerAcceptor("blocking");
            broker.close();
            await().atMost(DEADLINE).until(mancom::isClosed);
            assertEquals(1, listener.lost.size());
            assertEquals(ErrorCode.NOT_CONNECTED,
                assertThrows(ManComException.class, () -> acceptor.accept(Duration.ofSeconds(1))).code());
        }
        finally
        {
            broker.close();
        }
    }

    @Test
    void shouldCloseCleanlyLongAfterTheBrokerWasLost() throws Exception
    {
        final Path dir = tempDir.resolve("broker");
        final Broker broker = launch(dir);
        final ManCom mancom = ManCom.connect(new ManCom.Context().dir(dir).dispatchThread(true).reconnect(false));
        try
        {
            broker.close();
            await().atMost(DEADLINE).until(mancom::isClosed);
            // The lost attachment is released (unmapped) after its linger; closing the client after that must not
            // touch its memory.
            await().atMost(DEADLINE).until(() -> deleted(dir).isEmpty());
        }
        finally
        {
            broker.close();
        }
        mancom.close();
        assertTrue(mancom.isClosed());
    }

    private static Broker launch(final Path dir) throws Exception
    {
        return Broker.launch(new Broker.Context().config(ConfigLoader.parse(CONFIG, "test")).brokerDir(dir));
    }

    private static boolean pollUntil(final ManCom mancom, final java.util.function.BooleanSupplier condition)
    {
        mancom.poll();
        return condition.getAsBoolean();
    }

    private static Thread pollInBackground(final ManCom mancom)
    {
        final Thread thread = new Thread(() ->
        {
            while (!Thread.currentThread().isInterrupted())
            {
                mancom.idle(mancom.poll());
            }
        }, "test-poller");
        thread.start();
        return thread;
    }

    /**
     * The mappings and descriptors of this process that name a deleted file of the broker directory.
     */
    private static List<String> deleted(final Path dir) throws IOException
    {
        final List<String> found = new ArrayList<>();
        try (Stream<String> lines = Files.lines(Path.of("/proc/self/maps")))
        {
            lines.filter((line) -> line.contains(dir.toString()) && line.endsWith("(deleted)"))
                .forEach((line) -> found.add("mapped: " + line.substring(line.indexOf('/'))));
        }
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd")))
        {
            for (final Path fd : (Iterable<Path>)fds::iterator)
            {
                try
                {
                    final String target = Files.readSymbolicLink(fd).toString();
                    if (target.contains(dir.toString()) && target.endsWith("(deleted)"))
                    {
                        found.add("open: " + target);
                    }
                }
                catch (final IOException ignore)
                {
                    // closed meanwhile
                }
            }
        }
        return found;
    }

    private static Socket connect(final Endpoint endpoint) throws IOException
    {
        final Socket socket = new Socket(endpoint.address(), endpoint.port());
        socket.setSoTimeout((int)DEADLINE.toMillis());
        return socket;
    }

    private static void assertEchoes(final Socket socket, final String text) throws IOException
    {
        final OutputStream out = socket.getOutputStream();
        final InputStream in = socket.getInputStream();
        final byte[] bytes = text.getBytes();
        out.write(bytes);
        assertArrayEquals(bytes, in.readNBytes(bytes.length));
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

    private static final class RecordingListener implements BrokerListener
    {
        final List<String> lost = new CopyOnWriteArrayList<>();
        final List<Long> reconnected = new CopyOnWriteArrayList<>();

        public void onBrokerLost(final String reason)
        {
            lost.add(reason);
        }

        public void onBrokerReconnected(final long reconnections)
        {
            reconnected.add(reconnections);
        }
    }
}
