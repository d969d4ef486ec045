package dev.mancom.transport.tcp;

import dev.mancom.protocol.codecs.CloseReason;
import dev.mancom.protocol.codecs.TransportType;
import dev.mancom.transport.ConnectHandler;
import dev.mancom.transport.TransportConnection;
import dev.mancom.transport.TransportListener;
import dev.mancom.transport.netty.NettyConnection;
import dev.mancom.transport.testkit.RecordingHandler;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.io.InputStream;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;

import static dev.mancom.transport.tcp.TcpTestSupport.DEADLINE;
import static dev.mancom.transport.tcp.TcpTestSupport.DEADLINE_SECONDS;
import static dev.mancom.transport.tcp.TcpTestSupport.EPOLL;
import static dev.mancom.transport.tcp.TcpTestSupport.errors;
import static dev.mancom.transport.tcp.TcpTestSupport.loopback;
import static dev.mancom.transport.tcp.TcpTestSupport.transport;
import static dev.mancom.transport.tcp.TcpTestSupport.uniquePrefix;
import static dev.mancom.transport.tcp.TcpTestSupport.uri;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * One connection at a time, against plain sockets: what is particular to TCP or to one I/O implementation (a reset,
 * the peer's close seen by epoll while reading is paused, outbound connections' ports). Echo, back pressure, write
 * accounting and the common ways a connection closes are in the transport test kit's suite
 * ({@link TcpTransportEchoSuiteTest}). Every test runs on native epoll and on NIO.
 */
class TcpConnectionTest
{
    private final Queue<Throwable> errors = errors();
    private final List<AutoCloseable> closeables = new ArrayList<>();
    private final ExecutorService threads = Executors.newCachedThreadPool();
    private TcpTransport transport;
    private int port;

    @AfterEach
    void tearDown() throws Exception
    {
        threads.shutdownNow();
        for (final AutoCloseable closeable : closeables)
        {
            closeable.close();
        }
        if (null != transport)
        {
            transport.close();
        }
    }

    @ParameterizedTest
    @ValueSource(strings = { "epoll", "nio" })
    void shouldDeliverBytesThePeerSentBeforeClosingWhileReadingWasPaused(final String io) throws Exception
    {
        final String prefix = start(io);
        final CompletableFuture<TransportConnection> accepted = new CompletableFuture<>();
        final TransportListener listener = transport.listen(uri("tcp://127.0.0.1:0"), accepted::complete);
        closeables.add(listener);

        final Socket client = connectClient(listener.localEndpoint().port());
        final TransportConnection connection = accepted.get(DEADLINE_SECONDS, TimeUnit.SECONDS);
        final RecordingHandler handler = new RecordingHandler(prefix, true, false);
        handler.connection = connection;
        connection.handler(handler);

        // Small enough for the receive window: with more, the peer's close would wait behind unread bytes.
        final byte[] data = randomBytes(16 * 1024 + 7);
        client.getOutputStream().write(data);
        client.close();
        if (EPOLL.equals(io))
        {
            // epoll reports the peer's close while reading is paused; Netty then reads to the end and closes.
            await().atMost(DEADLINE).until(() -> !((NettyConnection)connection).isOpen());
        }
        assertEquals(0, handler.received.get(), "bytes delivered before resumeReading");
        assertEquals(0, handler.closeCount.get(), "onClosed before the bytes that came first");

        connection.resumeReading();
        assertTrue(handler.awaitClosed(DEADLINE_SECONDS));
        assertEquals(CloseReason.REMOTE_CLOSED, handler.closeReason);
        assertArrayEquals(data, handler.bytes());
        assertNoViolations(handler);
    }

    @ParameterizedTest
    @ValueSource(strings = { "epoll", "nio" })
    void shouldReportAPeerCloseThatCameBeforeTheHandlerWasSet(final String io) throws Exception
    {
        final String prefix = start(io);
        final CompletableFuture<TransportConnection> accepted = new CompletableFuture<>();
        final TransportListener listener = transport.listen(uri("tcp://127.0.0.1:0"), accepted::complete);
        closeables.add(listener);

        final Socket client = connectClient(listener.localEndpoint().port());
        final TransportConnection connection = accepted.get(DEADLINE_SECONDS, TimeUnit.SECONDS);
        client.close();
        if (EPOLL.equals(io))
        {
            await().atMost(DEADLINE).until(() -> !((NettyConnection)connection).isOpen());
        }

        final RecordingHandler handler = new RecordingHandler(prefix, false, false).attach(connection);
        assertTrue(handler.awaitClosed(DEADLINE_SECONDS));
        assertEquals(CloseReason.REMOTE_CLOSED, handler.closeReason);
        assertEquals(0, handler.receivedAtClose);
        assertNoViolations(handler);
    }

    @ParameterizedTest
    @ValueSource(strings = { "epoll", "nio" })
    void shouldReportTransportErrorWhenThePeerResets(final String io) throws Exception
    {
        final CompletableFuture<RecordingHandler> accepted = listenWith(io, (handler) -> { });
        final Socket client = connectClient();
        final RecordingHandler handler = accepted.get(DEADLINE_SECONDS, TimeUnit.SECONDS);
        client.setSoLinger(true, 0);
        client.close();

        assertTrue(handler.awaitClosed(DEADLINE_SECONDS));
        assertEquals(CloseReason.TRANSPORT_ERROR, handler.closeReason);
        assertFalse(handler.closeDetail.isEmpty());
        assertNoViolations(handler);
    }

    @ParameterizedTest
    @ValueSource(strings = { "epoll", "nio" })
    void shouldConnectOutToAServerSocketAndExchangeBytes(final String io) throws Exception
    {
        final String prefix = start(io);
        try (ServerSocket server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress()))
        {
            final RecordingConnectHandler connectHandler = new RecordingConnectHandler();
            transport.connect(uri("tcp://127.0.0.1:" + server.getLocalPort() + "?nodelay=false"), connectHandler);
            server.setSoTimeout((int)DEADLINE.toMillis());
            try (Socket peer = server.accept())
            {
                final TransportConnection connection =
                    connectHandler.connected.get(DEADLINE_SECONDS, TimeUnit.SECONDS);
                assertEquals(TransportType.TCP, connection.remoteEndpoint().type());
                assertEquals(server.getLocalPort(), connection.remoteEndpoint().port());
                assertEquals(peer.getPort(), connection.localEndpoint().port());
                assertEquals(InetAddress.getLoopbackAddress(), connection.localEndpoint().address());
                assertTrue(connectHandler.thread.get().startsWith(prefix), connectHandler.thread::get);

                final RecordingHandler handler = new RecordingHandler(prefix, true, false).attach(connection);
                final byte[] hello = "hello".getBytes(StandardCharsets.US_ASCII);
                peer.getOutputStream().write(hello);
                await().atMost(DEADLINE).until(() -> handler.received.get() == hello.length);
                assertArrayEquals(hello, handler.bytes());

                final byte[] world = "world".getBytes(StandardCharsets.US_ASCII);
                connection.write(new UnsafeBuffer(world), 0, world.length);
                connection.flush();
                peer.setSoTimeout((int)DEADLINE.toMillis());
                assertArrayEquals(world, peer.getInputStream().readNBytes(world.length));

                connection.close();
                assertEquals(-1, peer.getInputStream().read());
                assertTrue(handler.awaitClosed(DEADLINE_SECONDS));
                assertEquals(CloseReason.LOCAL_CLOSED, handler.closeReason);
                await().atMost(DEADLINE).until(() -> handler.written.get() == world.length);
                assertNoViolations(handler);
            }
            assertEquals(1, connectHandler.calls.get());
        }
    }

    @ParameterizedTest
    @ValueSource(strings = { "epoll", "nio" })
    void shouldCallOnConnectFailedOnceWhenNothingListens(final String io) throws Exception
    {
        final String prefix = start(io);
        // A bound socket that does not listen: its port refuses connections and no one else can take it meanwhile.
        try (Socket bound = new Socket())
        {
            bound.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            final RecordingConnectHandler connectHandler = new RecordingConnectHandler();
            transport.connect(loopback(bound.getLocalPort()), connectHandler);

            final Throwable cause = connectHandler.failed.get(DEADLINE_SECONDS, TimeUnit.SECONDS);
            assertInstanceOf(ConnectException.class, cause);
            assertTrue(connectHandler.thread.get().startsWith(prefix), connectHandler.thread::get);
            assertFalse(connectHandler.connected.isDone());
            assertEquals(1, connectHandler.calls.get());
        }
        assertTrue(errors.isEmpty(), errors::toString);
    }

    private String start(final String io)
    {
        final String prefix = uniquePrefix("conn-" + io);
        transport = transport(io, prefix, 2, errors);
        return prefix;
    }

    /**
     * Start a transport and a listener whose connections get a capturing {@link RecordingHandler} and start reading.
     */
    private CompletableFuture<RecordingHandler> listenWith(
        final String io, final Consumer<RecordingHandler> setUp)
    {
        final String prefix = start(io);
        final CompletableFuture<RecordingHandler> accepted = new CompletableFuture<>();
        final TransportListener listener = transport.listen(
            uri("tcp://127.0.0.1:0?backlog=64"),
            (connection) ->
            {
                final RecordingHandler handler = new RecordingHandler(prefix, true, false);
                setUp.accept(handler);
                accepted.complete(handler.attach(connection));
            });
        closeables.add(listener);
        port = listener.localEndpoint().port();
        return accepted;
    }

    private Socket connectClient() throws IOException
    {
        return connectClient(port);
    }

    private Socket connectClient(final int port) throws IOException
    {
        final Socket socket = new Socket();
        closeables.add(socket);
        socket.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), (int)DEADLINE.toMillis());
        return socket;
    }

    private void assertNoViolations(final RecordingHandler handler)
    {
        assertTrue(handler.violations.isEmpty(), handler.violations::toString);
        assertEquals(1, handler.closeCount.get());
        assertTrue(errors.isEmpty(), errors::toString);
    }

    private static void assertPeerSeesTheEnd(final InputStream in)
    {
        try
        {
            assertEquals(-1, in.read());
        }
        catch (final IOException ex)
        {
            // A reset is an end too.
            assertNotNull(ex.getMessage());
        }
    }

    private static byte[] randomBytes(final int length)
    {
        final byte[] data = new byte[length];
        new Random().nextBytes(data);
        return data;
    }

    /**
     * Counts the calls of a {@link ConnectHandler}; the first one completes a future.
     */
    private static final class RecordingConnectHandler implements ConnectHandler
    {
        final CompletableFuture<TransportConnection> connected = new CompletableFuture<>();
        final CompletableFuture<Throwable> failed = new CompletableFuture<>();
        final AtomicInteger calls = new AtomicInteger();
        final AtomicReference<String> thread = new AtomicReference<>();

        public void onConnected(final TransportConnection connection)
        {
            calls.incrementAndGet();
            thread.set(Thread.currentThread().getName());
            connected.complete(connection);
        }

        public void onConnectFailed(final Throwable cause)
        {
            calls.incrementAndGet();
            thread.set(Thread.currentThread().getName());
            failed.complete(cause);
        }
    }
}
