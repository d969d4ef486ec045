package dev.mancom.tests;

import dev.mancom.tests.kit.ForkedBroker;
import dev.mancom.tests.kit.ForkedJvm;
import dev.mancom.tests.kit.SlowReaderApp;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.CRC32;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * An application that stops reading: TCP itself must push back on the remote peers while the broker's memory stays
 * bounded, and once the application reads again every byte arrives.
 * <p>
 * The bound stated and checked: while every peer is blocked, the broker holds per connection at most the
 * credit window (256 KiB by default, in the application's shared-memory stream, not in the broker's heap) plus one
 * transport read (at most 128 KiB of heap); its heap in use, read with {@code jcmd GC.heap_info}, must stay under
 * 48 MiB, and it runs with {@code -Xmx48m -XX:MaxDirectMemorySize=32m}, so buffering what the application does
 * not read would kill it with OutOfMemoryError. Then 16 x 16 MiB go through and are checked by CRC.
 */
class BackPressureSystemTest
{
    private static final int CONNECTIONS = 16;
    private static final int BYTES_PER_CONNECTION = 16 * 1024 * 1024;
    private static final Pattern RESULT = Pattern.compile("conn (\\d+) bytes (\\d+) crc (\\d+)");

    @TempDir
    Path tempDir;

    private static final class Peer
    {
        final SocketChannel channel;
        final SplittableRandom random;
        final CRC32 crc = new CRC32();
        final ByteBuffer chunk = ByteBuffer.allocate(64 * 1024);
        long written;

        Peer(final SocketChannel channel, final long seed)
        {
            this.channel = channel;
            this.random = new SplittableRandom(seed);
            chunk.limit(0);
        }

        /**
         * Write what the socket takes now, without blocking.
         *
         * @return bytes written.
         */
        long writeSome() throws IOException
        {
            long total = 0;
            while (written < BYTES_PER_CONNECTION)
            {
                if (!chunk.hasRemaining())
                {
                    final int length = (int)Math.min(chunk.capacity(), BYTES_PER_CONNECTION - written);
                    chunk.clear().limit(length);
                    for (int i = 0; i < length; i++)
                    {
                        chunk.put(i, (byte)random.nextInt());
                    }
                    crc.update(chunk.array(), 0, length);
                }
                final int n = channel.write(chunk);
                if (0 == n)
                {
                    break;
                }
                written += n;
                total += n;
            }
            return total;
        }
    }

    @Test
    void shouldPushBackOnRemotePeersWithBoundedBrokerMemoryAndLoseNoByte() throws Exception
    {
        try (ForkedBroker broker = ForkedBroker.start(tempDir, TcpEchoSystemTest.ECHO_CONFIG.replace("echo", "sink"),
            List.of("-Xmx48m", "-XX:MaxDirectMemorySize=32m"));
            ForkedJvm app = ForkedJvm.start("slow-reader", tempDir.resolve("logs"), SlowReaderApp.class,
                List.of("-Xmx256m"), List.of(broker.dir().toString(), "sink", String.valueOf(CONNECTIONS))))
        {
            app.awaitLine("registered"::equals, Duration.ofSeconds(60));
            final InetSocketAddress address = broker.tcpAddress("sink");
            final List<Peer> peers = new ArrayList<>();
            for (int i = 0; i < CONNECTIONS; i++)
            {
                final SocketChannel channel = SocketChannel.open(address);
                channel.configureBlocking(false);
                peers.add(new Peer(channel, 1000 + i));
            }
            app.awaitLine(("accepted " + CONNECTIONS)::equals, Duration.ofSeconds(60));

            // Write until every socket has taken nothing for a while: the broker stopped reading them.
            final long deadlineNs = System.nanoTime() + Duration.ofSeconds(120).toNanos();
            long quietSinceNs = System.nanoTime();
            while (System.nanoTime() - quietSinceNs < Duration.ofSeconds(2).toNanos())
            {
                long progress = 0;
                for (final Peer peer : peers)
                {
                    progress += peer.writeSome();
                }
                if (progress > 0)
                {
                    quietSinceNs = System.nanoTime();
                }
                assertTrue(System.nanoTime() - deadlineNs < 0, "the peers never blocked");
                Thread.onSpinWait();
            }
            long blockedTotal = 0;
            for (final Peer peer : peers)
            {
                assertTrue(peer.written < BYTES_PER_CONNECTION,
                    "a peer wrote everything: nothing pushed back on it");
                blockedTotal += peer.written;
            }
            final long heapUsed = JvmProbe.heapUsedBytes(broker.jvm().pid());
            assertTrue(heapUsed < 48L * 1024 * 1024, "broker heap in use " + heapUsed);
            System.out.println("peers blocked after " + blockedTotal + " bytes; broker heap in use " + heapUsed);

            // The application reads again: every byte must arrive.
            app.send("read");
            for (final Peer peer : peers)
            {
                peer.channel.configureBlocking(true);
                while (peer.written < BYTES_PER_CONNECTION)
                {
                    peer.writeSome();
                }
                peer.channel.shutdownOutput();
            }
            app.awaitLine("done"::equals, Duration.ofSeconds(180));

            int checked = 0;
            for (final String line : app.lines())
            {
                final Matcher matcher = RESULT.matcher(line);
                if (matcher.matches())
                {
                    final int port = Integer.parseInt(matcher.group(1));
                    final Peer peer = peerOfPort(peers, port);
                    assertEquals(BYTES_PER_CONNECTION, Long.parseLong(matcher.group(2)), line);
                    assertEquals(peer.crc.getValue(), Long.parseLong(matcher.group(3)), line);
                    checked++;
                }
            }
            assertEquals(CONNECTIONS, checked);
            for (final Peer peer : peers)
            {
                peer.channel.close();
            }
            assertTrue(broker.jvm().process().isAlive(), "the broker died");
        }
    }

    private static Peer peerOfPort(final List<Peer> peers, final int port) throws IOException
    {
        for (final Peer peer : peers)
        {
            if (((InetSocketAddress)peer.channel.getLocalAddress()).getPort() == port)
            {
                return peer;
            }
        }
        throw new AssertionError("no peer with local port " + port);
    }
}
