package dev.mancom.transport.udp;

import dev.mancom.protocol.codecs.TransportType;
import dev.mancom.transport.TransportConnection;
import dev.mancom.transport.TransportListener;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.net.InetSocketAddress;
import java.nio.channels.DatagramChannel;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;

import static dev.mancom.transport.udp.UdpTestSupport.DEADLINE;
import static dev.mancom.transport.udp.UdpTestSupport.DEADLINE_SECONDS;
import static dev.mancom.transport.udp.UdpTestSupport.EPOLL;
import static dev.mancom.transport.udp.UdpTestSupport.NIO;
import static dev.mancom.transport.udp.UdpTestSupport.client;
import static dev.mancom.transport.udp.UdpTestSupport.errors;
import static dev.mancom.transport.udp.UdpTestSupport.randomBytes;
import static dev.mancom.transport.udp.UdpTestSupport.randomSize;
import static dev.mancom.transport.udp.UdpTestSupport.receive;
import static dev.mancom.transport.udp.UdpTestSupport.send;
import static dev.mancom.transport.udp.UdpTestSupport.transport;
import static dev.mancom.transport.udp.UdpTestSupport.uniquePrefix;
import static dev.mancom.transport.udp.UdpTestSupport.uri;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.params.provider.Arguments.arguments;

/**
 * An echo server built on the SPI, with several plain datagram sockets at once: each client is a connection of its
 * own, every datagram arrives whole as one onData call and comes back as one datagram, and onWritten accounts for
 * every byte echoed.
 */
class UdpEchoTest
{
    private static final int CLIENTS = 6;
    private static final int DATAGRAMS_PER_CLIENT = 300;
    /**
     * The payload the clients together may have in flight, in KiB. All clients send to the listener's one socket,
     * whose receive buffer is the kernel's default (about 208 KiB on Linux, counted with each datagram's overhead):
     * six clients with a 64 KiB datagram each would overflow it whenever the I/O thread is a little behind, and the
     * kernel would drop one, unseen. The transport cannot help that (UDP); the test keeps below it.
     */
    private static final int IN_FLIGHT_KIB = 64;
    private static final String FROM_IO_THREAD = "the I/O thread";
    private static final String FROM_SENDER = "a sender thread";

    private final Queue<Throwable> errors = errors();
    private UdpTransport transport;
    private ExecutorService clients;
    private Sender sender;

    @AfterEach
    void tearDown() throws InterruptedException
    {
        if (null != clients)
        {
            clients.shutdownNow();
        }
        if (null != sender)
        {
            sender.stop();
        }
        if (null != transport)
        {
            transport.close();
        }
    }

    static Stream<Arguments> ioAndWriter()
    {
        return Stream.of(
            arguments(EPOLL, FROM_IO_THREAD),
            arguments(EPOLL, FROM_SENDER),
            arguments(NIO, FROM_IO_THREAD),
            arguments(NIO, FROM_SENDER));
    }

    @ParameterizedTest(name = "{0}, writes from {1}")
    @MethodSource("ioAndWriter")
    void shouldEchoEveryDatagramWholeOnAConnectionPerClient(final String io, final String writer) throws Exception
    {
        final String prefix = uniquePrefix("echo");
        transport = transport(io, prefix, 2, errors);
        if (FROM_SENDER.equals(writer))
        {
            sender = new Sender();
        }

        final Map<Integer, EchoHandler> handlers = new ConcurrentHashMap<>();
        final TransportListener listener = transport.listen(
            uri("udp://127.0.0.1:0"),
            (connection) ->
            {
                final EchoHandler handler = new EchoHandler(prefix, sender);
                final EchoHandler previous = handlers.put(connection.remoteEndpoint().port(), handler);
                if (null != previous)
                {
                    handler.violations.add("a second connection for port " + connection.remoteEndpoint().port());
                }
                handler.attach(connection);
            });
        final int port = listener.localEndpoint().port();
        assertEquals(TransportType.UDP, listener.localEndpoint().type());

        clients = Executors.newFixedThreadPool(CLIENTS);
        final List<Future<List<byte[]>>> results = new ArrayList<>();
        final List<Integer> clientPorts = new ArrayList<>();
        final Semaphore inFlight = new Semaphore(IN_FLIGHT_KIB);
        for (int i = 0; i < CLIENTS; i++)
        {
            final DatagramChannel channel = client(port);
            clientPorts.add(((InetSocketAddress)channel.getLocalAddress()).getPort());
            final long seed = 1000L * i + System.nanoTime();
            results.add(clients.submit(() -> echoClient(channel, seed, inFlight)));
        }

        final Map<Integer, List<byte[]>> sentByPort = new ConcurrentHashMap<>();
        for (int i = 0; i < CLIENTS; i++)
        {
            sentByPort.put(clientPorts.get(i), results.get(i).get(DEADLINE_SECONDS, TimeUnit.SECONDS));
        }

        assertEquals(new HashSet<>(clientPorts), handlers.keySet(), "one connection per client address");
        for (final Map.Entry<Integer, EchoHandler> entry : handlers.entrySet())
        {
            final EchoHandler handler = entry.getValue();
            final List<byte[]> sent = sentByPort.get(entry.getKey());
            assertTrue(handler.violations.isEmpty(), handler.violations::toString);
            assertEquals(sent.size(), handler.datagrams.size(), "one onData call per datagram");
            for (int i = 0; i < sent.size(); i++)
            {
                assertTrue(Arrays.equals(sent.get(i), handler.datagrams.get(i)), "datagram " + i + " differs");
            }
            final long bytes = sent.stream().mapToLong((datagram) -> datagram.length).sum();
            assertEquals(bytes, handler.echoed.get());
            // The client received every echo, so every datagram had left the socket; onWritten may still be on its way.
            await().atMost(DEADLINE).until(() -> handler.written.get() == bytes);
            assertEquals(0, handler.connection.droppedDatagrams());
            assertEquals(0, handler.connection.droppedWrites());
            assertEquals(0, handler.closeCount.get());
            assertTrue(handler.connection.isOpen());
        }
        assertTrue(errors.isEmpty(), errors::toString);
    }

    /**
     * Send datagrams of random sizes one at a time, each once its echo came back (so that no socket buffer
     * overflows and nothing is lost on the loopback), and check that each echo is the datagram, whole. Each datagram
     * holds its size of the clients' shared in-flight budget until its echo is back.
     */
    private static List<byte[]> echoClient(final DatagramChannel channel, final long seed, final Semaphore inFlight)
        throws Exception
    {
        final Random random = new Random(seed);
        final List<byte[]> sent = new ArrayList<>();
        try (channel)
        {
            for (int i = 0; i < DATAGRAMS_PER_CLIENT; i++)
            {
                final byte[] datagram = randomBytes(random, randomSize(random, UdpOptions.MAX_UDP_PAYLOAD));
                sent.add(datagram);
                final byte[] echo = exchange(channel, datagram, inFlight);
                if (!Arrays.equals(datagram, echo))
                {
                    throw new AssertionError("echo " + i + " of " + echo.length + " bytes differs from the datagram " +
                        "of " + datagram.length + " bytes at " + Arrays.mismatch(datagram, echo));
                }
            }
            // The largest datagram there is, once.
            final byte[] largest = randomBytes(random, UdpOptions.MAX_UDP_PAYLOAD);
            sent.add(largest);
            final byte[] echo = exchange(channel, largest, inFlight);
            assertEquals(largest.length, echo.length);
            assertTrue(Arrays.equals(largest, echo), "the largest datagram's echo differs");
        }
        return sent;
    }

    private static byte[] exchange(final DatagramChannel channel, final byte[] datagram, final Semaphore inFlight)
        throws Exception
    {
        final int permits = Math.min(IN_FLIGHT_KIB, 1 + datagram.length / 1024);
        inFlight.acquire(permits);
        try
        {
            send(channel, datagram);
            return receive(channel);
        }
        finally
        {
            inFlight.release(permits);
        }
    }

    /**
     * Records, and writes every datagram back as one write: at once on the I/O thread, or through a sender thread
     * as the broker does.
     */
    private static final class EchoHandler extends RecordingHandler
    {
        final AtomicLong echoed = new AtomicLong();
        private final Sender sender;

        EchoHandler(final String ioThreadPrefix, final Sender sender)
        {
            super(ioThreadPrefix);
            this.sender = sender;
        }

        public void onData(final DirectBuffer buffer, final int offset, final int length)
        {
            super.onData(buffer, offset, length);
            assertNotNull(connection);
            if (null == sender)
            {
                connection.write(buffer, offset, length);
                connection.flush();
                echoed.addAndGet(length);
            }
            else
            {
                final byte[] copy = new byte[length];
                buffer.getBytes(offset, copy);
                sender.submit(this, copy);
            }
        }
    }

    /**
     * One thread that writes for every connection and flushes whatever it has written when it runs out of work.
     */
    private static final class Sender implements Runnable
    {
        private static final Item STOP = new Item(null, null);

        private final BlockingQueue<Item> queue = new LinkedBlockingQueue<>();
        private final Thread thread = new Thread(this, "test-sender");

        Sender()
        {
            thread.setDaemon(true);
            thread.start();
        }

        void submit(final EchoHandler handler, final byte[] bytes)
        {
            queue.add(new Item(handler, bytes));
        }

        void stop() throws InterruptedException
        {
            queue.add(STOP);
            thread.join(DEADLINE.toMillis());
        }

        public void run()
        {
            final UnsafeBuffer view = new UnsafeBuffer();
            final Set<TransportConnection> unflushed = new HashSet<>();
            try
            {
                while (true)
                {
                    Item item = queue.take();
                    while (null != item && STOP != item)
                    {
                        view.wrap(item.bytes);
                        item.handler.connection.write(view, 0, item.bytes.length);
                        item.handler.echoed.addAndGet(item.bytes.length);
                        unflushed.add(item.handler.connection);
                        item = queue.poll();
                    }
                    for (final TransportConnection connection : unflushed)
                    {
                        connection.flush();
                    }
                    unflushed.clear();
                    if (STOP == item)
                    {
                        return;
                    }
                }
            }
            catch (final InterruptedException ex)
            {
                Thread.currentThread().interrupt();
            }
        }
    }

    /**
     * Bytes to write for one connection.
     */
    private static final class Item
    {
        final EchoHandler handler;
        final byte[] bytes;

        Item(final EchoHandler handler, final byte[] bytes)
        {
            this.handler = handler;
            this.bytes = bytes;
        }
    }
}
