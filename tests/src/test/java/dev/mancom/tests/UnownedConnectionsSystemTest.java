package dev.mancom.tests;

import dev.mancom.broker.internal.BrokerConductor;
import dev.mancom.tests.kit.ForkedBroker;
import dev.mancom.tests.kit.ForkedJvm;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * {@code queue_when_unowned}: connections that arrive while no application accepts their service are held, with
 * every byte, and handed to the first application that registers; or closed when the time runs out; and no more
 * than {@link BrokerConductor#MAX_HELD_CONNECTIONS_PER_SERVICE} are held.
 */
class UnownedConnectionsSystemTest
{
    private static final Duration DEADLINE = Duration.ofSeconds(60);

    @TempDir
    Path tempDir;

    @Test
    void shouldHandEveryByteOfHeldConnectionsToTheApplicationThatRegistersLater() throws Exception
    {
        final String config = "[service.late]\nlisten = [\"tcp://127.0.0.1:0\", \"udp://127.0.0.1:0\"]\n" +
            "queue_when_unowned = \"60s\"\n";
        try (ForkedBroker broker = ForkedBroker.start(tempDir, config, List.of("-Xmx128m")))
        {
            final InetSocketAddress tcp = broker.tcpAddress("late");
            final InetSocketAddress udp = broker.udpAddress("late");
            final List<Socket> sockets = new ArrayList<>();
            final ExecutorService writerThreads = Executors.newFixedThreadPool(3);
            try (DatagramSocket datagrams = new DatagramSocket(new InetSocketAddress("127.0.0.1", 0)))
            {
                // 3 TCP connections, each writing 200 KB before anyone accepts (what the kernel cannot buffer waits
                // for TCP's window to open: written from other threads), and one datagram.
                final byte[][] payloads = new byte[3][];
                final List<CompletableFuture<Void>> writers = new ArrayList<>();
                for (int i = 0; i < payloads.length; i++)
                {
                    final byte[] payload = pattern(200_000, i);
                    payloads[i] = payload;
                    final Socket socket = new Socket(tcp.getAddress(), tcp.getPort());
                    socket.setSoTimeout(30_000);
                    sockets.add(socket);
                    writers.add(CompletableFuture.runAsync(() ->
                    {
                        try
                        {
                            socket.getOutputStream().write(payload);
                            socket.getOutputStream().flush();
                        }
                        catch (final IOException ex)
                        {
                            throw new UncheckedIOException(ex);
                        }
                    }, writerThreads));
                }
                final byte[] datagram = "a datagram before anyone accepts".getBytes(StandardCharsets.US_ASCII);
                datagrams.send(new DatagramPacket(datagram, datagram.length, udp));
                datagrams.setSoTimeout(30_000);
                awaitLineCount(broker.jvm(), "service 'late' has no acceptor: holding the connection", 4);

                try (ForkedJvm app = TcpEchoSystemTest.startEcho(tempDir, broker, "late"))
                {
                    broker.jvm().awaitLine((line) -> line.contains("4 held connection(s) handed"), DEADLINE);
                    for (int i = 0; i < payloads.length; i++)
                    {
                        assertArrayEquals(payloads[i], sockets.get(i).getInputStream().readNBytes(payloads[i].length),
                            "connection " + i);
                        writers.get(i).get(30, TimeUnit.SECONDS);
                    }
                    final DatagramPacket reply = new DatagramPacket(new byte[1024], 1024);
                    datagrams.receive(reply);
                    assertArrayEquals(datagram, Arrays.copyOf(reply.getData(), reply.getLength()));

                    // A held connection goes on as any other once handed over.
                    final byte[] more = pattern(10_000, 7);
                    sockets.get(0).getOutputStream().write(more);
                    assertArrayEquals(more, sockets.get(0).getInputStream().readNBytes(more.length));
                    TcpEchoSystemTest.assertEchoes(tcp, "a connection after the application registered");
                }
            }
            finally
            {
                for (final Socket socket : sockets)
                {
                    socket.close();
                }
                writerThreads.shutdownNow();
            }
        }
    }

    @Test
    void shouldCloseHeldConnectionsWhenTheTimeRunsOutAndRefuseThoseBeyondTheLimit() throws Exception
    {
        final String config = "[service.brief]\nlisten = [\"tcp://127.0.0.1:0\"]\nqueue_when_unowned = \"1s\"\n\n" +
            "[service.full]\nlisten = [\"tcp://127.0.0.1:0\"]\nqueue_when_unowned = \"60s\"\n";
        try (ForkedBroker broker = ForkedBroker.start(tempDir, config, List.of("-Xmx128m")))
        {
            final InetSocketAddress brief = broker.tcpAddress("brief");
            try (Socket socket = new Socket(brief.getAddress(), brief.getPort()))
            {
                socket.setSoTimeout(30_000);
                socket.getOutputStream().write("nobody reads this".getBytes(StandardCharsets.US_ASCII));
                assertEquals(-1, readUntilClosed(socket), "a held connection is closed when the time runs out");
                broker.jvm().awaitLine((line) -> line.contains("service 'brief': no acceptor registered in time " +
                    "(service.brief.queue_when_unowned = 1000 ms): closed 1 held connection(s)"), DEADLINE);
            }

            final InetSocketAddress full = broker.tcpAddress("full");
            final int limit = BrokerConductor.MAX_HELD_CONNECTIONS_PER_SERVICE;
            final List<Socket> held = new ArrayList<>();
            try
            {
                for (int i = 0; i < limit; i++)
                {
                    held.add(new Socket(full.getAddress(), full.getPort()));
                }
                awaitLineCount(broker.jvm(), "service 'full' has no acceptor: holding the connection", limit);
                try (Socket refused = new Socket(full.getAddress(), full.getPort()))
                {
                    refused.setSoTimeout(30_000);
                    assertEquals(-1, readUntilClosed(refused), "the connection beyond the limit is refused");
                }
                broker.jvm().awaitLine((line) -> line.contains("service 'full' has no acceptor and holds " + limit +
                    " connections already"), DEADLINE);
            }
            finally
            {
                for (final Socket socket : held)
                {
                    socket.close();
                }
            }
        }
    }

    static byte[] pattern(final int length, final int seed)
    {
        final byte[] bytes = new byte[length];
        for (int i = 0; i < length; i++)
        {
            bytes[i] = (byte)(i * 31 + seed * 7 + (i >> 8));
        }
        return bytes;
    }

    static void awaitLineCount(final ForkedJvm jvm, final String text, final int count)
    {
        await().atMost(DEADLINE).pollInterval(Duration.ofMillis(20))
            .alias(count + " broker lines with '" + text + "'")
            .until(() -> countLines(jvm, text) >= count);
    }

    static int countLines(final ForkedJvm jvm, final String text)
    {
        int count = 0;
        for (final String line : jvm.lines())
        {
            if (line.contains(text))
            {
                count++;
            }
        }
        return count;
    }

    /**
     * Read until the broker closes the connection: -1 at EOF or on a reset (the broker closed a socket whose bytes
     * nobody read, which the kernel answers with a reset).
     */
    static int readUntilClosed(final Socket socket) throws IOException
    {
        try
        {
            while (socket.getInputStream().read() >= 0)
            {
                // drain
            }
            return -1;
        }
        catch (final SocketTimeoutException ex)
        {
            throw ex;
        }
        catch (final IOException ex)
        {
            return -1;
        }
    }
}
