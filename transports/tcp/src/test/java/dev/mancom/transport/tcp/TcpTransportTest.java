package dev.mancom.transport.tcp;

import dev.mancom.protocol.Endpoint;
import dev.mancom.protocol.codecs.CloseReason;
import dev.mancom.protocol.codecs.TransportType;
import dev.mancom.transport.ConnectHandler;
import dev.mancom.transport.TransportConnection;
import dev.mancom.transport.TransportException;
import dev.mancom.transport.TransportListener;
import dev.mancom.transport.testkit.RecordingHandler;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

import static dev.mancom.transport.tcp.TcpTestSupport.DEADLINE;
import static dev.mancom.transport.tcp.TcpTestSupport.DEADLINE_SECONDS;
import static dev.mancom.transport.tcp.TcpTestSupport.errors;
import static dev.mancom.transport.tcp.TcpTestSupport.loopback;
import static dev.mancom.transport.tcp.TcpTestSupport.transport;
import static dev.mancom.transport.tcp.TcpTestSupport.uniquePrefix;
import static dev.mancom.transport.tcp.TcpTestSupport.uri;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The transport as a whole: good URIs, listeners and ports, its threads. Bad URIs, the service loader and closing
 * are in the transport test kit's suite ({@link TcpTransportEchoSuiteTest}).
 */
class TcpTransportTest
{
    private final Queue<Throwable> errors = errors();
    private TcpTransport transport;

    @AfterEach
    void tearDown()
    {
        if (null != transport)
        {
            transport.close();
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {
        "tcp://127.0.0.1:0",
        "tcp://127.0.0.1:65535",
        "tcp://localhost:7000/",
        "tcp://[::1]:7000",
        "TCP://127.0.0.1:7000?nodelay=false&backlog=10&connect_timeout_ms=500" })
    void shouldAcceptAGoodUri(final String text)
    {
        transport = transport(TcpTestSupport.NIO, uniquePrefix("uri"), 1, errors);
        transport.validate(uri(text));
    }

    @ParameterizedTest
    @ValueSource(strings = { "epoll", "nio" })
    void shouldListenOnAnEphemeralPortAndReportIt(final String io) throws Exception
    {
        transport = transport(io, uniquePrefix("listen-" + io), 1, errors);
        try (TransportListener listener = transport.listen(uri("tcp://127.0.0.1:0"), (connection) -> { }))
        {
            final Endpoint endpoint = listener.localEndpoint();
            assertEquals(TransportType.TCP, endpoint.type());
            assertEquals("tcp", endpoint.scheme());
            assertEquals(InetAddress.getLoopbackAddress(), endpoint.address());
            assertNotEquals(0, endpoint.port());
            try (Socket client = new Socket())
            {
                client.connect(new InetSocketAddress(endpoint.address(), endpoint.port()), (int)DEADLINE.toMillis());
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = { "epoll", "nio" })
    void shouldRefuseToListenTwiceOnOnePort(final String io)
    {
        transport = transport(io, uniquePrefix("twice-" + io), 1, errors);
        try (TransportListener first = transport.listen(uri("tcp://127.0.0.1:0"), (connection) -> { }))
        {
            final String second = "tcp://127.0.0.1:" + first.localEndpoint().port();
            final TransportException error = assertThrows(TransportException.class, () ->
                transport.listen(uri(second), (connection) -> { }));
            assertNull(error.key());
            assertEquals("cannot listen on " + second + ": Address already in use", error.getMessage());
        }
    }

    @ParameterizedTest
    @ValueSource(strings = { "epoll", "nio" })
    void shouldFreeThePortWhenTheListenerCloses(final String io)
    {
        transport = transport(io, uniquePrefix("relisten-" + io), 1, errors);
        final TransportListener first = transport.listen(uri("tcp://127.0.0.1:0"), (connection) -> { });
        final int port = first.localEndpoint().port();
        first.close();
        first.close();
        try (TransportListener second = transport.listen(loopback(port), (connection) -> { }))
        {
            assertEquals(port, second.localEndpoint().port());
        }
    }

    @ParameterizedTest
    @ValueSource(strings = { "epoll", "nio" })
    void shouldCloseConnectionsWithBrokerShutdownAndStopItsThreadsWhenClosed(final String io) throws Exception
    {
        final String prefix = uniquePrefix("threads-" + io);
        transport = transport(io, prefix, 2, errors);
        final CompletableFuture<RecordingHandler> accepted = new CompletableFuture<>();
        final TransportListener listener = transport.listen(
            uri("tcp://127.0.0.1:0"),
            (connection) -> accepted.complete(new RecordingHandler(prefix, false, false).attach(connection)));
        try (Socket client = new Socket())
        {
            client.connect(
                new InetSocketAddress(InetAddress.getLoopbackAddress(), listener.localEndpoint().port()),
                (int)DEADLINE.toMillis());
            final RecordingHandler handler = accepted.get(DEADLINE_SECONDS, TimeUnit.SECONDS);

            final List<Thread> ioThreads = threadsNamed(prefix);
            assertFalse(ioThreads.isEmpty());
            for (final Thread thread : ioThreads)
            {
                assertFalse(thread.isDaemon(), thread::getName);
            }

            transport.close();
            transport.close();

            assertTrue(handler.awaitClosed(DEADLINE_SECONDS));
            assertEquals(CloseReason.BROKER_SHUTDOWN, handler.closeReason);
            assertTrue(handler.violations.isEmpty(), handler.violations::toString);
            await().atMost(DEADLINE).until(() -> ioThreads.stream().noneMatch(Thread::isAlive));
            assertTrue(threadsNamed(prefix).isEmpty());

            final TransportException error = assertThrows(TransportException.class, () ->
                transport.listen(uri("tcp://127.0.0.1:0"), (connection) -> { }));
            assertTrue(error.getMessage().contains("closed"), error::getMessage);
            final CompletableFuture<Throwable> failed = new CompletableFuture<>();
            transport.connect(loopback(client.getLocalPort()), new FailingConnectHandler(failed));
            assertInstanceOf(IllegalStateException.class, failed.get(DEADLINE_SECONDS, TimeUnit.SECONDS));
        }
        assertTrue(errors.isEmpty(), errors::toString);
    }

    private static List<Thread> threadsNamed(final String prefix)
    {
        return Thread.getAllStackTraces().keySet().stream()
            .filter((thread) -> thread.getName().startsWith(prefix))
            .collect(Collectors.toList());
    }

    /**
     * Expects failure; records it.
     */
    private static final class FailingConnectHandler implements ConnectHandler
    {
        private final CompletableFuture<Throwable> failed;

        FailingConnectHandler()
        {
            this(new CompletableFuture<>());
        }

        FailingConnectHandler(final CompletableFuture<Throwable> failed)
        {
            this.failed = failed;
        }

        public void onConnected(final TransportConnection connection)
        {
            connection.abort(CloseReason.LOCAL_CLOSED);
            failed.completeExceptionally(new AssertionError("connected to " + connection));
        }

        public void onConnectFailed(final Throwable cause)
        {
            failed.complete(cause);
        }
    }
}
