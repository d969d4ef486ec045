package dev.mancom.tests;

import dev.mancom.broker.Broker;
import dev.mancom.broker.config.ConfigLoader;
import dev.mancom.client.Connection;
import dev.mancom.client.ManCom;
import dev.mancom.protocol.Endpoint;
import dev.mancom.protocol.codecs.TransportType;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * UDP through an embedded broker: a datagram that arrives when the credit window has room for only part of it waits
 * for credit and reaches the application whole, as one Data event; an outbound connection by URI sends each offer
 * as one datagram and delivers each datagram as one Data event.
 */
class UdpInProcessTest
{
    private static final Duration DEADLINE = Duration.ofSeconds(60);
    private static final int WINDOW = 4096;
    private static final int DATAGRAM = 3000;

    @TempDir
    Path tempDir;

    @Test
    void shouldDeliverEachDatagramAsOneDataEventWhenCreditIsShort() throws Exception
    {
        final String toml = "[service.svc]\nlisten = [\"udp://127.0.0.1:0\"]\n";
        final Map<Integer, List<byte[]>> eventsByPort = new ConcurrentHashMap<>();
        final Random random = new Random();
        try (Broker broker = Broker.launch(new Broker.Context()
                .config(ConfigLoader.parse(toml, "test"))
                .brokerDir(tempDir.resolve("broker"))
                .creditWindowLength(WINDOW));
            ManCom app = ManCom.connect(new ManCom.Context().dir(tempDir.resolve("broker")));
            DatagramChannel peerA = DatagramChannel.open();
            DatagramChannel peerB = DatagramChannel.open())
        {
            // No dispatch thread: the application consumes, and returns credit, only while this thread polls.
            app.registerAcceptor("svc", (connection) ->
            {
                final List<byte[]> events = new CopyOnWriteArrayList<>();
                eventsByPort.put(connection.remoteEndpoint().port(), events);
                connection.dataHandler((c, buffer, offset, length) ->
                {
                    final byte[] event = new byte[length];
                    buffer.getBytes(offset, event);
                    events.add(event);
                    return length;
                });
            });
            final Endpoint endpoint = broker.listenEndpoint("svc");
            assertEquals(TransportType.UDP, endpoint.type());
            final InetSocketAddress address = new InetSocketAddress(endpoint.address(), endpoint.port());
            peerA.connect(address);
            peerB.connect(address);
            final int portA = ((InetSocketAddress)peerA.getLocalAddress()).getPort();
            final int portB = ((InetSocketAddress)peerB.getLocalAddress()).getPort();

            // Open A's connection and let it read: one byte consumed, too little to return credit.
            peerA.write(ByteBuffer.wrap(new byte[] { 1 }));
            pollUntil(app, () -> eventsByPort.containsKey(portA) && 1 == eventsByPort.get(portA).size());

            // The first datagram leaves 1,095 bytes of window: too little for the second, which must wait whole.
            final List<byte[]> sent = new ArrayList<>();
            for (int i = 0; i < 10; i++)
            {
                final byte[] datagram = new byte[DATAGRAM];
                random.nextBytes(datagram);
                sent.add(datagram);
                peerA.write(ByteBuffer.wrap(datagram));
            }
            // B's connection is opened by the same I/O thread after it has read A's datagrams, so once the
            // application sees B, the broker has met the second datagram while the application had returned no credit.
            peerB.write(ByteBuffer.wrap(new byte[] { 2 }));
            pollUntil(app, () -> eventsByPort.containsKey(portB));

            final List<byte[]> events = eventsByPort.get(portA);
            pollUntil(app, () -> events.stream().mapToInt((event) -> event.length).sum() == 1 + 10 * DATAGRAM);
            assertEquals(11, events.size(), "one Data event per datagram");
            for (int i = 0; i < sent.size(); i++)
            {
                assertArrayEquals(sent.get(i), events.get(1 + i), "datagram " + i);
            }
        }
    }

    @Test
    void shouldConnectOutByUriAndExchangeWholeDatagrams() throws Exception
    {
        final String toml = "[service.unused]\n";
        final List<byte[]> events = new CopyOnWriteArrayList<>();
        final Random random = new Random();
        try (Broker broker = Broker.launch(new Broker.Context()
                .config(ConfigLoader.parse(toml, "test"))
                .brokerDir(tempDir.resolve("broker")));
            ManCom app = ManCom.connect(new ManCom.Context().dir(tempDir.resolve("broker")));
            DatagramChannel peer = DatagramChannel.open())
        {
            peer.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            peer.configureBlocking(false);
            final int peerPort = ((InetSocketAddress)peer.getLocalAddress()).getPort();
            final Connection connection = app.connect("udp://127.0.0.1:" + peerPort + "?idle_timeout=5m");
            assertEquals(TransportType.UDP, connection.remoteEndpoint().type());
            assertEquals(peerPort, connection.remoteEndpoint().port());
            connection.dataHandler((c, buffer, offset, length) ->
            {
                final byte[] event = new byte[length];
                buffer.getBytes(offset, event);
                events.add(event);
                return length;
            });

            final ByteBuffer received = ByteBuffer.allocate(64 * 1024 + 1);
            for (int i = 0; i < 20; i++)
            {
                final byte[] datagram = new byte[1 + random.nextInt(20_000)];
                random.nextBytes(datagram);
                final UnsafeBuffer view = new UnsafeBuffer(datagram);
                pollUntil(app, () -> connection.sendCredit() >= datagram.length);
                assertEquals(datagram.length, connection.offer(view, 0, datagram.length));

                // The peer gets it as one datagram, from the connection's local port, and sends it back.
                final InetSocketAddress from = (InetSocketAddress)UdpEchoSystemTest.receive(peer, received);
                assertEquals(connection.localEndpoint().port(), from.getPort());
                assertArrayEquals(datagram, Arrays.copyOf(received.array(), received.position()));
                received.flip();
                peer.send(received, from);

                final int expected = i + 1;
                pollUntil(app, () -> events.size() == expected);
                assertArrayEquals(datagram, events.get(i), "echo " + i);
            }
            connection.close();
        }
    }

    private static void pollUntil(final ManCom app, final BooleanSupplier condition)
    {
        final long deadline = System.nanoTime() + DEADLINE.toNanos();
        while (!condition.getAsBoolean())
        {
            if (System.nanoTime() - deadline > 0)
            {
                throw new AssertionError("not within " + DEADLINE);
            }
            app.idle(app.poll());
        }
    }
}
