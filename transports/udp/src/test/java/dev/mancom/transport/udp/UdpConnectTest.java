package dev.mancom.transport.udp;

import dev.mancom.protocol.codecs.CloseReason;
import dev.mancom.protocol.codecs.TransportType;
import dev.mancom.transport.ConnectHandler;
import dev.mancom.transport.TransportConnection;
import dev.mancom.transport.TransportException;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import static dev.mancom.transport.udp.UdpTestSupport.DEADLINE;
import static dev.mancom.transport.udp.UdpTestSupport.DEADLINE_SECONDS;
import static dev.mancom.transport.udp.UdpTestSupport.client;
import static dev.mancom.transport.udp.UdpTestSupport.errors;
import static dev.mancom.transport.udp.UdpTestSupport.randomBytes;
import static dev.mancom.transport.udp.UdpTestSupport.randomSize;
import static dev.mancom.transport.udp.UdpTestSupport.receive;
import static dev.mancom.transport.udp.UdpTestSupport.transport;
import static dev.mancom.transport.udp.UdpTestSupport.uniquePrefix;
import static dev.mancom.transport.udp.UdpTestSupport.uri;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Outbound connections (connected datagram channels) against plain datagram sockets. Every test runs on native
 * epoll and on NIO.
 */
class UdpConnectTest
{
    private static final int DATAGRAMS = 200;

    private final Queue<Throwable> errors = errors();
    private final Random random = new Random();
    private final ExecutorService threads = Executors.newCachedThreadPool();
    private UdpTransport transport;
    private String prefix;

    @AfterEach
    void tearDown()
    {
        threads.shutdownNow();
        if (null != transport)
        {
            transport.close();
        }
    }

    @ParameterizedTest
    @ValueSource(strings = { "epoll", "nio" })
    void shouldEchoEveryDatagramWholeThroughAPlainEchoPeer(final String io) throws Exception
    {
        start(io);
        try (DatagramChannel peer = client(0))
        {
            final int peerPort = ((InetSocketAddress)peer.getLocalAddress()).getPort();
            final AtomicReference<SocketAddress> peerSawFrom = new AtomicReference<>();
            final Future<Integer> echoes = threads.submit(() -> echoPeer(peer, DATAGRAMS, peerSawFrom));

            final RecordingConnectHandler connectHandler = new RecordingConnectHandler();
            transport.connect(uri("udp://127.0.0.1:" + peerPort), connectHandler);
            final TransportConnection connection = connectHandler.connected.get(DEADLINE_SECONDS, TimeUnit.SECONDS);
            assertTrue(connectHandler.thread.get().startsWith(prefix), connectHandler.thread::get);
            assertEquals(TransportType.UDP, connection.remoteEndpoint().type());
            assertEquals(peerPort, connection.remoteEndpoint().port());
            assertEquals(InetAddress.getLoopbackAddress(), connection.localEndpoint().address());
            final RecordingHandler handler = new RecordingHandler(prefix).attach(connection);

            // One datagram at a time: the loopback loses none when no buffer overflows.
            final List<byte[]> sent = new ArrayList<>();
            long bytes = 0;
            for (int i = 0; i < DATAGRAMS; i++)
            {
                final byte[] datagram = randomBytes(random, randomSize(random, UdpOptions.MAX_UDP_PAYLOAD));
                sent.add(datagram);
                bytes += datagram.length;
                connection.write(new UnsafeBuffer(datagram), 0, datagram.length);
                connection.flush();
                assertTrue(handler.awaitDatagram(), "no echo of datagram " + i);
            }
            for (int i = 0; i < sent.size(); i++)
            {
                assertArrayEquals(sent.get(i), handler.datagrams.get(i), "echo " + i);
            }
            final long total = bytes;
            await().atMost(DEADLINE).until(() -> handler.written.get() == total);
            assertEquals(connection.localEndpoint().port(), ((InetSocketAddress)peerSawFrom.get()).getPort());

            connection.close();
            assertTrue(handler.awaitClosed());
            assertEquals(CloseReason.LOCAL_CLOSED, handler.closeReason);
            assertEquals(DATAGRAMS, echoes.get(DEADLINE_SECONDS, TimeUnit.SECONDS));
            assertNoViolations(handler);
            assertEquals(1, connectHandler.calls.get());
        }
    }

    @ParameterizedTest
    @ValueSource(strings = { "epoll", "nio" })
    void shouldTakeOnlyThePeersDatagramsAndCloseWithTimeoutWhenIdle(final String io) throws Exception
    {
        start(io);
        try (DatagramChannel peer = client(0); DatagramChannel stranger = client(0))
        {
            final int peerPort = ((InetSocketAddress)peer.getLocalAddress()).getPort();
            final RecordingConnectHandler connectHandler = new RecordingConnectHandler();
            transport.connect(uri("udp://127.0.0.1:" + peerPort + "?idle_timeout=200ms"), connectHandler);
            final TransportConnection connection = connectHandler.connected.get(DEADLINE_SECONDS, TimeUnit.SECONDS);
            final RecordingHandler handler = new RecordingHandler(prefix).attach(connection);

            final byte[] hello = randomBytes(random, 100);
            connection.write(new UnsafeBuffer(hello), 0, hello.length);
            connection.flush();
            final ByteBuffer buffer = ByteBuffer.allocate(UdpTestSupport.RECEIVE_LENGTH);
            final SocketAddress[] from = new SocketAddress[1];
            assertEquals(hello.length, receive(peer, buffer, from));

            // A connected socket takes datagrams from its peer only.
            stranger.send(ByteBuffer.wrap(new byte[] { 6, 6, 6 }), from[0]);
            final byte[] reply = randomBytes(random, 300);
            peer.send(ByteBuffer.wrap(reply), from[0]);
            await().atMost(DEADLINE).until(() -> handler.datagrams.size() == 1);
            assertArrayEquals(reply, handler.datagrams.get(0));

            assertTrue(handler.awaitClosed());
            assertEquals(CloseReason.TIMEOUT, handler.closeReason);
            assertEquals(1, handler.datagrams.size());
            assertFalse(((UdpConnection)connection).isOpen());
            assertNoViolations(handler);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = { "epoll", "nio" })
    void shouldStayOpenWhenNothingListensAtThePeersAddress(final String io) throws Exception
    {
        start(io);
        final int port;
        try (DatagramChannel gone = client(0))
        {
            port = ((InetSocketAddress)gone.getLocalAddress()).getPort();
        }

        final RecordingConnectHandler connectHandler = new RecordingConnectHandler();
        transport.connect(uri("udp://127.0.0.1:" + port + "?idle_timeout=300ms"), connectHandler);
        final TransportConnection connection = connectHandler.connected.get(DEADLINE_SECONDS, TimeUnit.SECONDS);
        final RecordingHandler handler = new RecordingHandler(prefix).attach(connection);
        // Each datagram may bring back an ICMP port unreachable; that closes nothing, and credit still comes back.
        for (int i = 1; i <= 3; i++)
        {
            final byte[] datagram = randomBytes(random, 100);
            connection.write(new UnsafeBuffer(datagram), 0, datagram.length);
            connection.flush();
            final long expected = 100L * i;
            await().atMost(DEADLINE).until(() -> handler.written.get() == expected);
        }
        assertTrue(handler.awaitClosed());
        assertEquals(CloseReason.TIMEOUT, handler.closeReason);
        assertNoViolations(handler);
    }

    @ParameterizedTest
    @ValueSource(strings = { "epoll", "nio" })
    void shouldReportAnUnknownHostAndRefusePortZero(final String io) throws Exception
    {
        start(io);
        final RecordingConnectHandler connectHandler = new RecordingConnectHandler();
        transport.connect(uri("udp://no-such-host.invalid:9000"), connectHandler);
        assertInstanceOf(UnknownHostException.class, connectHandler.failed.get(DEADLINE_SECONDS, TimeUnit.SECONDS));
        assertEquals(1, connectHandler.calls.get());

        final TransportException error = assertThrows(TransportException.class, () ->
            transport.connect(uri("udp://127.0.0.1:0"), new RecordingConnectHandler()));
        assertEquals("port", error.key());
        assertTrue(errors.isEmpty(), errors::toString);
    }

    private void start(final String io)
    {
        prefix = uniquePrefix("connect-" + io);
        transport = transport(io, prefix, 2, errors);
    }

    /**
     * Echo datagrams to their sender.
     *
     * @return how many it echoed.
     */
    private static int echoPeer(final DatagramChannel peer, final int count, final AtomicReference<SocketAddress> from)
        throws Exception
    {
        final ByteBuffer buffer = ByteBuffer.allocate(UdpTestSupport.RECEIVE_LENGTH);
        final SocketAddress[] sender = new SocketAddress[1];
        for (int i = 0; i < count; i++)
        {
            final int length = receive(peer, buffer, sender);
            from.set(sender[0]);
            buffer.flip();
            assertEquals(length, peer.send(buffer, sender[0]));
        }
        return count;
    }

    private void assertNoViolations(final RecordingHandler handler)
    {
        assertTrue(handler.violations.isEmpty(), handler.violations::toString);
        assertEquals(1, handler.closeCount.get());
        assertTrue(errors.isEmpty(), errors::toString);
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
