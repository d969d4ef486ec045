package dev.mancom.transport.udp;

import dev.mancom.protocol.codecs.CloseReason;
import dev.mancom.transport.TransportConnection;
import dev.mancom.transport.TransportListener;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.net.InetSocketAddress;
import java.nio.channels.DatagramChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.Random;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

import static dev.mancom.transport.udp.UdpTestSupport.DEADLINE;
import static dev.mancom.transport.udp.UdpTestSupport.DEADLINE_SECONDS;
import static dev.mancom.transport.udp.UdpTestSupport.errors;
import static dev.mancom.transport.udp.UdpTestSupport.randomBytes;
import static dev.mancom.transport.udp.UdpTestSupport.receive;
import static dev.mancom.transport.udp.UdpTestSupport.send;
import static dev.mancom.transport.udp.UdpTestSupport.transport;
import static dev.mancom.transport.udp.UdpTestSupport.uniquePrefix;
import static dev.mancom.transport.udp.UdpTestSupport.uri;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A listener's connections, one remote address each, against plain datagram sockets: idle time-out, what closing
 * forgets, the bounded queue of a paused connection, the connection limit, datagram size limits. Every test runs on
 * native epoll and on NIO.
 */
class UdpListenerTest
{
    private final Queue<Throwable> errors = errors();
    private final List<AutoCloseable> closeables = new ArrayList<>();
    private final BlockingQueue<RecordingHandler> accepted = new LinkedBlockingQueue<>();
    private final Random random = new Random();
    private UdpTransport transport;
    private UdpListener listener;
    private String prefix;

    @AfterEach
    void tearDown() throws Exception
    {
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
    void shouldCloseAnIdleConnectionWithTimeoutAndOpenANewOneForTheNextDatagram(final String io) throws Exception
    {
        listen(io, "?idle_timeout=200ms", (handler) -> { });
        final DatagramChannel client = client(listener.localEndpoint().port());
        final byte[] first = randomBytes(random, 100);
        send(client, first);
        final RecordingHandler handler = nextAccepted();
        assertEquals(
            ((InetSocketAddress)client.getLocalAddress()).getPort(), handler.connection.remoteEndpoint().port());

        assertTrue(handler.awaitClosed());
        assertEquals(CloseReason.TIMEOUT, handler.closeReason);
        assertTrue(handler.closeDetail.contains("idle_timeout"), handler.closeDetail);
        assertFalse(handler.connection.isOpen());
        assertEquals(1, handler.datagrams.size());
        assertArrayEquals(first, handler.datagrams.get(0));
        assertNoViolations(handler);

        // The address is forgotten: the next datagram from it opens a new connection.
        final byte[] second = randomBytes(random, 200);
        send(client, second);
        final RecordingHandler again = nextAccepted();
        assertNotSame(handler.connection, again.connection);
        assertEquals(handler.connection.remoteEndpoint(), again.connection.remoteEndpoint());
        await().atMost(DEADLINE).until(() -> again.datagrams.size() == 1);
        assertArrayEquals(second, again.datagrams.get(0));
        assertTrue(again.awaitClosed());
        assertEquals(CloseReason.TIMEOUT, again.closeReason);
        assertNoViolations(again);
        assertEquals(1, handler.datagrams.size(), "the closed connection got nothing more");
    }

    @ParameterizedTest
    @ValueSource(strings = { "epoll", "nio" })
    void shouldQueueUpToTheBoundWhilePausedThenDropAndCount(final String io) throws Exception
    {
        // 4 datagrams of 1,000 bytes fit in 4,096 bytes; the fifth does not.
        listen(io, "?queue_bytes=4096", (handler) -> handler.pauseAfter = 1);
        final DatagramChannel client = client(listener.localEndpoint().port());
        send(client, randomBytes(random, 10));
        final RecordingHandler handler = nextAccepted();
        await().atMost(DEADLINE).until(() -> handler.paused);

        final List<byte[]> batch = new ArrayList<>();
        for (int i = 0; i < 20; i++)
        {
            final byte[] datagram = randomBytes(random, 1000);
            batch.add(datagram);
            send(client, datagram);
        }
        await().atMost(DEADLINE).until(() -> handler.connection.receivedDatagrams() == 21);
        assertEquals(16, handler.connection.droppedDatagrams());
        assertEquals(1, handler.datagrams.size(), "delivered while paused");

        handler.resume();
        await().atMost(DEADLINE).until(() -> handler.datagrams.size() == 5);
        for (int i = 0; i < 4; i++)
        {
            assertArrayEquals(batch.get(i), handler.datagrams.get(1 + i), "queued datagram " + i);
        }

        // Reading again: nothing more is dropped.
        final byte[] last = randomBytes(random, 5000);
        send(client, last);
        await().atMost(DEADLINE).until(() -> handler.datagrams.size() == 6);
        assertArrayEquals(last, handler.datagrams.get(5));
        assertEquals(16, handler.connection.droppedDatagrams());
        assertEquals(0, handler.closeCount.get());
        handler.connection.close();
        assertTrue(handler.awaitClosed());
        assertNoViolations(handler);
    }

    @ParameterizedTest
    @ValueSource(strings = { "epoll", "nio" })
    void shouldQueueDatagramsThatComeBeforeTheHandlerAndDeliverThemInOrder(final String io) throws Exception
    {
        prefix = uniquePrefix("early-" + io);
        transport = transport(io, prefix, 1, errors);
        final BlockingQueue<TransportConnection> connections = new LinkedBlockingQueue<>();
        listener = (UdpListener)transport.listen(uri("udp://127.0.0.1:0"), connections::add);
        final DatagramChannel client = client(listener.localEndpoint().port());
        closeables.add(client);

        final List<byte[]> sent = new ArrayList<>();
        for (int i = 0; i < 10; i++)
        {
            final byte[] datagram = randomBytes(random, 1 + random.nextInt(3000));
            sent.add(datagram);
            send(client, datagram);
        }
        final TransportConnection connection = connections.poll(DEADLINE_SECONDS, TimeUnit.SECONDS);
        assertNotNull(connection);
        final RecordingHandler handler = new RecordingHandler(prefix);
        handler.connection = (UdpConnection)connection;
        connection.handler(handler);
        // Reading is paused until resumed, handler or not.
        final byte[] afterHandler = randomBytes(random, 10);
        sent.add(afterHandler);
        send(client, afterHandler);
        await().atMost(DEADLINE).until(() -> handler.connection.receivedDatagrams() == 11);
        assertEquals(0, handler.datagrams.size());

        connection.resumeReading();
        await().atMost(DEADLINE).until(() -> handler.datagrams.size() == 11);
        for (int i = 0; i < sent.size(); i++)
        {
            assertArrayEquals(sent.get(i), handler.datagrams.get(i));
        }
        assertEquals(0, handler.connection.droppedDatagrams());
        assertTrue(handler.violations.isEmpty(), handler.violations::toString);
    }

    @ParameterizedTest
    @ValueSource(strings = { "epoll", "nio" })
    void shouldDropDatagramsFromNewAddressesBeyondMaxConnections(final String io) throws Exception
    {
        listen(io, "?max_connections=2", (handler) -> { });
        final int port = listener.localEndpoint().port();
        final DatagramChannel first = client(port);
        final DatagramChannel second = client(port);
        final DatagramChannel third = client(port);

        send(first, new byte[] { 1 });
        final RecordingHandler firstHandler = nextAccepted();
        send(second, new byte[] { 2 });
        final RecordingHandler secondHandler = nextAccepted();
        send(third, new byte[] { 3 });
        send(third, new byte[] { 3, 3 });
        await().atMost(DEADLINE).until(() -> listener.refusedDatagrams() == 2);
        assertNull(accepted.poll());

        // The open connections go on.
        send(second, new byte[] { 2, 2 });
        await().atMost(DEADLINE).until(() -> secondHandler.datagrams.size() == 2);

        // Room again: the third address gets a connection with its next datagram.
        firstHandler.connection.close();
        assertTrue(firstHandler.awaitClosed());
        assertEquals(CloseReason.LOCAL_CLOSED, firstHandler.closeReason);
        send(third, new byte[] { 3, 3, 3 });
        final RecordingHandler thirdHandler = nextAccepted();
        assertEquals(((InetSocketAddress)third.getLocalAddress()).getPort(),
            thirdHandler.connection.remoteEndpoint().port());
        await().atMost(DEADLINE).until(() -> thirdHandler.datagrams.size() == 1);
        assertArrayEquals(new byte[] { 3, 3, 3 }, thirdHandler.datagrams.get(0));
        assertEquals(2, listener.refusedDatagrams());
        assertNoViolations(firstHandler);
    }

    @ParameterizedTest
    @ValueSource(strings = { "epoll", "nio" })
    void shouldRefuseDatagramsLargerThanMaxDatagramBothWays(final String io) throws Exception
    {
        listen(io, "?max_datagram=1000", (handler) -> { });
        final DatagramChannel client = client(listener.localEndpoint().port());
        send(client, randomBytes(random, 1000));
        final RecordingHandler handler = nextAccepted();
        send(client, randomBytes(random, 1001));
        final byte[] fits = randomBytes(random, 999);
        send(client, fits);
        await().atMost(DEADLINE).until(() -> handler.datagrams.size() == 2);
        assertArrayEquals(fits, handler.datagrams.get(1));
        assertEquals(1, handler.connection.droppedDatagrams());

        // A write too large is not sent, not split; it is counted and reported written all the same.
        final byte[] tooLarge = randomBytes(random, 1001);
        final byte[] small = randomBytes(random, 10);
        handler.connection.write(new UnsafeBuffer(tooLarge), 0, tooLarge.length);
        handler.connection.write(new UnsafeBuffer(small), 0, small.length);
        handler.connection.flush();
        assertArrayEquals(small, receive(client));
        await().atMost(DEADLINE).until(() -> handler.written.get() == tooLarge.length + small.length);
        assertEquals(1, handler.connection.droppedWrites());
        handler.connection.close();
        assertTrue(handler.awaitClosed());
        assertNoViolations(handler);
    }

    @ParameterizedTest
    @ValueSource(strings = { "epoll", "nio" })
    void shouldSendWhatWasWrittenBeforeClosingAndForgetTheAddress(final String io) throws Exception
    {
        listen(io, "", (handler) -> { });
        final DatagramChannel client = client(listener.localEndpoint().port());
        send(client, new byte[] { 42 });
        final RecordingHandler handler = nextAccepted();

        // Written, partly flushed, then closed: every datagram goes out, each whole, in order.
        final List<byte[]> replies = new ArrayList<>();
        for (int i = 0; i < 5; i++)
        {
            final byte[] reply = randomBytes(random, 1 + random.nextInt(20_000));
            replies.add(reply);
            handler.connection.write(new UnsafeBuffer(reply), 0, reply.length);
            if (2 == i)
            {
                handler.connection.flush();
            }
        }
        handler.connection.close();
        handler.connection.close();
        for (final byte[] reply : replies)
        {
            assertArrayEquals(reply, receive(client));
        }
        assertTrue(handler.awaitClosed());
        assertEquals(CloseReason.LOCAL_CLOSED, handler.closeReason);
        assertEquals(replies.stream().mapToLong((reply) -> reply.length).sum(), handler.written.get());
        assertNoViolations(handler);

        send(client, new byte[] { 43 });
        final RecordingHandler again = nextAccepted();
        await().atMost(DEADLINE).until(() -> again.datagrams.size() == 1);
        assertArrayEquals(new byte[] { 43 }, again.datagrams.get(0));
        assertEquals(1, handler.datagrams.size());
    }

    @ParameterizedTest
    @ValueSource(strings = { "epoll", "nio" })
    void shouldReportTheGivenReasonWhenAborted(final String io) throws Exception
    {
        listen(io, "", (handler) -> { });
        final DatagramChannel client = client(listener.localEndpoint().port());
        send(client, new byte[] { 1 });
        final RecordingHandler handler = nextAccepted();
        handler.connection.abort(CloseReason.PROTOCOL_ERROR);
        handler.connection.abort(CloseReason.TIMEOUT);
        handler.connection.close();
        assertTrue(handler.awaitClosed());
        assertEquals(CloseReason.PROTOCOL_ERROR, handler.closeReason);
        assertNoViolations(handler);
    }

    @ParameterizedTest
    @ValueSource(strings = { "epoll", "nio" })
    void shouldKeepItsConnectionsWhenTheListenerClosesAndFreeThePortWithTheLast(final String io) throws Exception
    {
        listen(io, "", (handler) -> { });
        final int port = listener.localEndpoint().port();
        final DatagramChannel client = client(port);
        send(client, new byte[] { 1 });
        final RecordingHandler handler = nextAccepted();

        listener.close();
        listener.close();
        final DatagramChannel newcomer = client(port);
        send(newcomer, new byte[] { 9 });
        await().atMost(DEADLINE).until(() -> listener.refusedDatagrams() == 1);

        send(client, new byte[] { 2 });
        await().atMost(DEADLINE).until(() -> handler.datagrams.size() == 2);
        final byte[] reply = { 3 };
        handler.connection.write(new UnsafeBuffer(reply), 0, reply.length);
        handler.connection.flush();
        assertArrayEquals(reply, receive(client));
        assertNull(accepted.poll());

        handler.connection.close();
        assertTrue(handler.awaitClosed());
        // The last connection took the socket with it: the port can be bound again.
        await().atMost(DEADLINE).ignoreExceptions().until(() ->
        {
            try (TransportListener again = transport.listen(uri("udp://127.0.0.1:" + port), (connection) -> { }))
            {
                return again.localEndpoint().port() == port;
            }
        });
        assertNoViolations(handler);
    }

    @ParameterizedTest
    @ValueSource(strings = { "epoll", "nio" })
    void shouldCloseConnectionsWithBrokerShutdownWhenTheTransportCloses(final String io) throws Exception
    {
        listen(io, "", (handler) -> { });
        final DatagramChannel client = client(listener.localEndpoint().port());
        send(client, new byte[] { 1 });
        final RecordingHandler handler = nextAccepted();
        transport.close();
        assertTrue(handler.awaitClosed());
        assertEquals(CloseReason.BROKER_SHUTDOWN, handler.closeReason);
        assertNoViolations(handler);
    }

    private void listen(final String io, final String query, final Consumer<RecordingHandler> setUp)
    {
        prefix = uniquePrefix("listener-" + io);
        transport = transport(io, prefix, 1, errors);
        listener = (UdpListener)transport.listen(
            uri("udp://127.0.0.1:0" + query),
            (connection) ->
            {
                final RecordingHandler handler = new RecordingHandler(prefix);
                setUp.accept(handler);
                accepted.add(handler.attach(connection));
            });
    }

    private RecordingHandler nextAccepted() throws InterruptedException
    {
        final RecordingHandler handler = accepted.poll(DEADLINE_SECONDS, TimeUnit.SECONDS);
        assertNotNull(handler, "no connection accepted");
        return handler;
    }

    private DatagramChannel client(final int port) throws java.io.IOException
    {
        final DatagramChannel channel = UdpTestSupport.client(port);
        closeables.add(channel);
        return channel;
    }

    private void assertNoViolations(final RecordingHandler handler)
    {
        assertTrue(handler.violations.isEmpty(), handler.violations::toString);
        assertEquals(1, handler.closeCount.get());
        assertTrue(errors.isEmpty(), errors::toString);
    }
}
