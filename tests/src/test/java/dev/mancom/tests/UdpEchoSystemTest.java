package dev.mancom.tests;

import dev.mancom.tests.kit.ForkedBroker;
import dev.mancom.tests.kit.ForkedJvm;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * A forked broker serving a service on UDP and a forked {@code mancom echo} application: every datagram comes back
 * whole, as one datagram, to the address it came from.
 */
class UdpEchoSystemTest
{
    static final String ECHO_CONFIG = "[service.echo]\nlisten = [\"udp://127.0.0.1:0\"]\n";

    /**
     * The largest payload of one Data or Send message with the broker's default IPC MTU (64 KiB less 32, less the
     * Aeron and Data headers): larger datagrams reach the application as two Data events, and come back as two.
     */
    static final int MAX_DATA_PAYLOAD = 65_504 - 32 - 20;

    private static final int CLIENTS = 4;
    private static final int DATAGRAMS_PER_CLIENT = 150;
    private static final Duration DEADLINE = Duration.ofSeconds(60);

    @TempDir
    Path tempDir;

    @Test
    void shouldEchoEveryDatagramWholeToSeveralClients() throws Exception
    {
        final ExecutorService clients = Executors.newFixedThreadPool(CLIENTS);
        try (ForkedBroker broker = ForkedBroker.start(tempDir, ECHO_CONFIG, List.of("-Xmx256m"));
            ForkedJvm app = TcpEchoSystemTest.startEcho(tempDir, broker, "echo"))
        {
            final InetSocketAddress address = broker.udpAddress("echo");
            final List<Future<Integer>> results = new ArrayList<>();
            for (int i = 0; i < CLIENTS; i++)
            {
                final long seed = 7919L * i + System.nanoTime();
                results.add(clients.submit(() -> echoClient(address, seed)));
            }
            for (final Future<Integer> result : results)
            {
                assertEquals(DATAGRAMS_PER_CLIENT + 1, result.get(DEADLINE.getSeconds() * 2, TimeUnit.SECONDS));
            }
        }
        finally
        {
            clients.shutdownNow();
        }
    }

    /**
     * Send datagrams of random sizes one at a time (so that no socket buffer overflows and nothing is lost on the
     * loopback), each once the echo of the one before came back, and check each echo.
     *
     * @return how many came back.
     */
    private static int echoClient(final InetSocketAddress address, final long seed) throws IOException
    {
        final Random random = new Random(seed);
        int echoed = 0;
        try (DatagramChannel channel = DatagramChannel.open())
        {
            channel.connect(address);
            channel.configureBlocking(false);
            final ByteBuffer received = ByteBuffer.allocate(64 * 1024 + 1);
            for (int i = 0; i <= DATAGRAMS_PER_CLIENT; i++)
            {
                final int kind = random.nextInt(10);
                final int length = i == DATAGRAMS_PER_CLIENT ? MAX_DATA_PAYLOAD :
                    1 + random.nextInt(kind < 6 ? 1500 : kind < 9 ? 16 * 1024 : MAX_DATA_PAYLOAD);
                final byte[] datagram = new byte[length];
                random.nextBytes(datagram);
                assertEquals(length, channel.write(ByteBuffer.wrap(datagram)));

                final SocketAddress from = receive(channel, received);
                assertEquals(address, from);
                final byte[] echo = Arrays.copyOf(received.array(), received.position());
                if (!Arrays.equals(datagram, echo))
                {
                    throw new AssertionError("echo " + i + " of " + echo.length + " bytes differs from the datagram " +
                        "of " + length + " bytes at " + Arrays.mismatch(datagram, echo));
                }
                echoed++;
            }
        }
        return echoed;
    }

    /**
     * Receive one datagram on a non-blocking channel, waiting at most a minute.
     *
     * @param channel the channel.
     * @param buffer  cleared, then holds the datagram from 0 to its position.
     * @return the sender.
     * @throws IOException when the channel fails.
     */
    static SocketAddress receive(final DatagramChannel channel, final ByteBuffer buffer) throws IOException
    {
        final long deadline = System.nanoTime() + DEADLINE.toNanos();
        try (Selector selector = Selector.open())
        {
            channel.register(selector, SelectionKey.OP_READ);
            while (true)
            {
                buffer.clear();
                final SocketAddress from = channel.receive(buffer);
                if (null != from)
                {
                    return from;
                }
                final long remainingMs = (deadline - System.nanoTime()) / 1_000_000;
                if (remainingMs <= 0)
                {
                    throw new AssertionError("no echo within " + DEADLINE);
                }
                selector.select(remainingMs);
            }
        }
    }
}
