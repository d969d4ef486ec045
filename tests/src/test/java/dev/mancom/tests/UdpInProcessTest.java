package dev.mancom.tests;

import dev.mancom.broker.Broker;
import dev.mancom.broker.config.ConfigLoader;
import dev.mancom.client.ManCom;
import dev.mancom.protocol.Endpoint;
import dev.mancom.protocol.codecs.TransportType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * A UDP service of an embedded broker with a small credit window: a datagram that arrives when the window has room
 * for only part of it waits for credit and reaches the application whole, as one Data event.
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
