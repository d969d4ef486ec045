package dev.mancom.transport.udp;

import dev.mancom.protocol.Endpoint;
import dev.mancom.protocol.codecs.CloseReason;
import dev.mancom.protocol.codecs.TransportType;
import dev.mancom.transport.ConnectHandler;
import dev.mancom.transport.Transport;
import dev.mancom.transport.TransportConnection;
import dev.mancom.transport.TransportContext;
import dev.mancom.transport.TransportException;
import dev.mancom.transport.TransportListener;
import dev.mancom.transport.TransportProvider;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.net.InetAddress;
import java.nio.channels.DatagramChannel;
import java.util.List;
import java.util.Queue;
import java.util.ServiceLoader;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static dev.mancom.transport.udp.UdpTestSupport.DEADLINE;
import static dev.mancom.transport.udp.UdpTestSupport.DEADLINE_SECONDS;
import static dev.mancom.transport.udp.UdpTestSupport.client;
import static dev.mancom.transport.udp.UdpTestSupport.errors;
import static dev.mancom.transport.udp.UdpTestSupport.send;
import static dev.mancom.transport.udp.UdpTestSupport.transport;
import static dev.mancom.transport.udp.UdpTestSupport.uniquePrefix;
import static dev.mancom.transport.udp.UdpTestSupport.uri;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.params.provider.Arguments.arguments;

/**
 * The transport as a whole: URIs, listeners, its threads, and how it is found and closed.
 */
class UdpTransportTest
{
    private final Queue<Throwable> errors = errors();
    private UdpTransport transport;

    @AfterEach
    void tearDown()
    {
        if (null != transport)
        {
            transport.close();
        }
    }

    static Stream<Arguments> badUris()
    {
        return Stream.of(
            arguments("udp://127.0.0.1", "port"),
            arguments("udp://127.0.0.1:70000", "port"),
            arguments("udp://127.0.0.1:port", "port"),
            arguments("udp:///no/authority", "host"),
            arguments("tcp://127.0.0.1:9000", "scheme"),
            arguments("udp://127.0.0.1:9000/path", "path"),
            arguments("udp://127.0.0.1:9000?colour=blue", "colour"),
            arguments("udp://127.0.0.1:9000?idle_timeout=", "idle_timeout"),
            arguments("udp://127.0.0.1:9000?idle_timeout=0s", "idle_timeout"),
            arguments("udp://127.0.0.1:9000?idle_timeout=-5s", "idle_timeout"),
            arguments("udp://127.0.0.1:9000?idle_timeout=soon", "idle_timeout"),
            arguments("udp://127.0.0.1:9000?idle_timeout=30d", "idle_timeout"),
            arguments("udp://127.0.0.1:9000?idle_timeout=9999999h", "idle_timeout"),
            arguments("udp://127.0.0.1:9000?max_connections=0", "max_connections"),
            arguments("udp://127.0.0.1:9000?max_connections=many", "max_connections"),
            arguments("udp://127.0.0.1:9000?queue_bytes=-1", "queue_bytes"),
            arguments("udp://127.0.0.1:9000?max_datagram=65508", "max_datagram"),
            arguments("udp://127.0.0.1:9000?max_datagram=0", "max_datagram"));
    }

    @ParameterizedTest(name = "{0} is wrong in {1}")
    @MethodSource("badUris")
    void shouldRefuseABadUriNamingWhatIsWrong(final String text, final String key)
    {
        transport = transport(UdpTestSupport.NIO, uniquePrefix("uri"), 1, errors);
        final TransportException parseOrValidateError = assertThrows(TransportException.class, () ->
            transport.validate(uri(text)));
        assertEquals(key, parseOrValidateError.key());
        assertTrue(parseOrValidateError.getMessage().contains(text), parseOrValidateError::getMessage);
        if ("udp://127.0.0.1:port".equals(text))
        {
            // Refused by the URI parser already.
            return;
        }

        final TransportException listenError = assertThrows(TransportException.class, () ->
            transport.listen(uri(text), (connection) -> { }));
        assertEquals(key, listenError.key());

        final TransportException connectError = assertThrows(TransportException.class, () ->
            transport.connect(uri(text), new FailingConnectHandler()));
        assertEquals(key, connectError.key());
    }

    @ParameterizedTest
    @ValueSource(strings = {
        "udp://127.0.0.1:0",
        "udp://127.0.0.1:65535",
        "udp://localhost:9000/",
        "udp://[::1]:9000",
        "udp://0.0.0.0:9000?idle_timeout=30s",
        "udp://127.0.0.1:9000?idle_timeout=500ms&max_connections=10&queue_bytes=1&max_datagram=1",
        "udp://127.0.0.1:9000?idle_timeout=45",
        "udp://127.0.0.1:9000?idle_timeout=5m&max_datagram=65507",
        "UDP://127.0.0.1:9000?idle_timeout=1h" })
    void shouldAcceptAGoodUri(final String text)
    {
        transport = transport(UdpTestSupport.NIO, uniquePrefix("uri"), 1, errors);
        transport.validate(uri(text));
    }

    @Test
    void shouldReadTheDefaultsAndTheGivenParameters()
    {
        final UdpOptions defaults = UdpOptions.parse(uri("udp://127.0.0.1:9000"));
        assertEquals(TimeUnit.SECONDS.toNanos(60), defaults.idleTimeoutNs);
        assertEquals(1024, defaults.maxConnections);
        assertEquals(64 * 1024, defaults.queueBytes);
        assertEquals(65_507, defaults.maxDatagram);

        final UdpOptions given = UdpOptions.parse(
            uri("udp://127.0.0.1:9000?idle_timeout=250ms&max_connections=3&queue_bytes=100&max_datagram=1400"));
        assertEquals(TimeUnit.MILLISECONDS.toNanos(250), given.idleTimeoutNs);
        assertEquals(3, given.maxConnections);
        assertEquals(100, given.queueBytes);
        assertEquals(1400, given.maxDatagram);
        assertEquals(TimeUnit.SECONDS.toNanos(45), UdpOptions.parse(uri("udp://h:1?idle_timeout=45")).idleTimeoutNs);
        assertEquals(TimeUnit.MINUTES.toNanos(2), UdpOptions.parse(uri("udp://h:1?idle_timeout=2m")).idleTimeoutNs);
    }

    @ParameterizedTest
    @ValueSource(strings = { "epoll", "nio" })
    void shouldListenOnAnEphemeralPortAndReportIt(final String io) throws Exception
    {
        final String prefix = uniquePrefix("listen-" + io);
        transport = transport(io, prefix, 1, errors);
        final CompletableFuture<TransportConnection> accepted = new CompletableFuture<>();
        try (TransportListener listener = transport.listen(uri("udp://127.0.0.1:0"), accepted::complete);
            DatagramChannel client = client(0))
        {
            final Endpoint endpoint = listener.localEndpoint();
            assertEquals(TransportType.UDP, endpoint.type());
            assertEquals("udp", endpoint.scheme());
            assertEquals(InetAddress.getLoopbackAddress(), endpoint.address());
            assertNotEquals(0, endpoint.port());
            assertEquals("udp://127.0.0.1:" + endpoint.port(), endpoint.toString());

            client.connect(UdpTestSupport.loopback(endpoint.port()));
            send(client, new byte[] { 1 });
            final TransportConnection connection = accepted.get(DEADLINE_SECONDS, TimeUnit.SECONDS);
            assertEquals(endpoint, connection.localEndpoint());
            assertEquals(client.getLocalAddress(), UdpTestSupport.loopback(connection.remoteEndpoint().port()));
            assertTrue(connection.keepsMessageBoundaries());
            connection.abort(CloseReason.LOCAL_CLOSED);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = { "epoll", "nio" })
    void shouldRefuseToListenTwiceOnOnePort(final String io)
    {
        transport = transport(io, uniquePrefix("twice-" + io), 1, errors);
        try (TransportListener first = transport.listen(uri("udp://127.0.0.1:0"), (connection) -> { }))
        {
            final String second = "udp://127.0.0.1:" + first.localEndpoint().port();
            final TransportException error = assertThrows(TransportException.class, () ->
                transport.listen(uri(second), (connection) -> { }));
            assertNull(error.key());
            assertEquals("cannot listen on " + second + ": Address already in use", error.getMessage());
        }
    }

    @ParameterizedTest
    @ValueSource(strings = { "epoll", "nio" })
    void shouldFreeThePortWhenAListenerWithNoConnectionCloses(final String io)
    {
        transport = transport(io, uniquePrefix("relisten-" + io), 1, errors);
        final TransportListener first = transport.listen(uri("udp://127.0.0.1:0"), (connection) -> { });
        final int port = first.localEndpoint().port();
        first.close();
        first.close();
        try (TransportListener second = transport.listen(uri("udp://127.0.0.1:" + port), (connection) -> { }))
        {
            assertEquals(port, second.localEndpoint().port());
        }
    }

    @ParameterizedTest
    @ValueSource(strings = { "epoll", "nio" })
    void shouldStopItsThreadsAndRefuseWorkWhenClosed(final String io) throws Exception
    {
        final String prefix = uniquePrefix("threads-" + io);
        transport = transport(io, prefix, 2, errors);
        final CompletableFuture<RecordingHandler> accepted = new CompletableFuture<>();
        final TransportListener listener = transport.listen(
            uri("udp://127.0.0.1:0"), (connection) -> accepted.complete(new RecordingHandler(prefix).attach(connection)));
        try (DatagramChannel client = client(listener.localEndpoint().port()))
        {
            send(client, new byte[] { 1 });
            final RecordingHandler handler = accepted.get(DEADLINE_SECONDS, TimeUnit.SECONDS);

            final List<Thread> ioThreads = threadsNamed(prefix);
            assertFalse(ioThreads.isEmpty());
            for (final Thread thread : ioThreads)
            {
                assertFalse(thread.isDaemon(), thread::getName);
            }

            transport.close();
            transport.close();

            assertTrue(handler.awaitClosed());
            assertEquals(CloseReason.BROKER_SHUTDOWN, handler.closeReason);
            assertTrue(handler.violations.isEmpty(), handler.violations::toString);
            await().atMost(DEADLINE).until(() -> ioThreads.stream().noneMatch(Thread::isAlive));
            assertTrue(threadsNamed(prefix).isEmpty());

            final TransportException error = assertThrows(TransportException.class, () ->
                transport.listen(uri("udp://127.0.0.1:0"), (connection) -> { }));
            assertTrue(error.getMessage().contains("closed"), error::getMessage);
            final CompletableFuture<Throwable> failed = new CompletableFuture<>();
            transport.connect(uri("udp://127.0.0.1:9"), new FailingConnectHandler(failed));
            assertInstanceOf(IllegalStateException.class, failed.get(DEADLINE_SECONDS, TimeUnit.SECONDS));
        }
        assertTrue(errors.isEmpty(), errors::toString);
    }

    @Test
    void shouldBeFoundByServiceLoaderForTheUdpScheme()
    {
        final List<TransportProvider> providers = ServiceLoader.load(TransportProvider.class).stream()
            .map(ServiceLoader.Provider::get)
            .filter((provider) -> provider.schemes().contains("udp"))
            .collect(Collectors.toList());
        assertEquals(1, providers.size());
        assertInstanceOf(UdpTransportProvider.class, providers.get(0));
        assertEquals(Set.of("udp"), providers.get(0).schemes());

        final String prefix = uniquePrefix("provider");
        try (Transport created = providers.get(0).create(new TransportContext(1, prefix, errors::add)))
        {
            created.validate(uri("udp://127.0.0.1:9000?idle_timeout=30s"));
            try (TransportListener listener = created.listen(uri("udp://127.0.0.1:0"), (connection) -> { }))
            {
                assertNotEquals(0, listener.localEndpoint().port());
            }
        }
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
