package dev.mancom.tests.kit;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Many TCP or Unix domain socket connections to an echo service at once, from one thread: each sends its own random
 * bytes in writes of random size and checks that every byte comes back, in order.
 */
public final class EchoLoad
{
    /**
     * The outcome of a run.
     *
     * @param connections   connections that finished.
     * @param bytesVerified bytes echoed and checked.
     * @param failures      what went wrong, empty on success.
     */
    public record Result(int connections, long bytesVerified, List<String> failures)
    {
    }

    private static final class Peer
    {
        final int index;
        final SocketChannel channel;
        final byte[] data;
        int written;
        int read;
        final ByteBuffer readBuffer = ByteBuffer.allocate(64 * 1024);
        final SplittableRandom random;
        final int maxWrite;

        Peer(final int index, final SocketChannel channel, final byte[] data, final long seed, final int maxWrite)
        {
            this.index = index;
            this.channel = channel;
            this.data = data;
            this.random = new SplittableRandom(seed);
            this.maxWrite = maxWrite;
        }

        boolean done()
        {
            return read == data.length;
        }
    }

    private EchoLoad()
    {
    }

    /**
     * Run the load.
     *
     * @param address            the echo service: an {@link InetSocketAddress} or a
     *                           {@link java.net.UnixDomainSocketAddress}.
     * @param connections        how many connections at once.
     * @param bytesPerConnection bytes each sends.
     * @param maxWriteLength     largest single write; each write is 1 to this many bytes.
     * @param seed               random seed.
     * @param timeout            the whole run's deadline.
     * @return the result.
     * @throws IOException when a connection cannot be opened.
     */
    public static Result run(
        final SocketAddress address,
        final int connections,
        final int bytesPerConnection,
        final int maxWriteLength,
        final long seed,
        final Duration timeout) throws IOException
    {
        final SplittableRandom random = new SplittableRandom(seed);
        final List<Peer> peers = new ArrayList<>();
        final List<String> failures = new ArrayList<>();
        try (Selector selector = Selector.open())
        {
            for (int i = 0; i < connections; i++)
            {
                final SocketChannel channel = SocketChannel.open(address);
                channel.configureBlocking(false);
                if (address instanceof InetSocketAddress)
                {
                    channel.setOption(StandardSocketOptions.TCP_NODELAY, true);
                }
                final byte[] data = new byte[bytesPerConnection];
                new SplittableRandom(random.nextLong()).nextBytes(data);
                final Peer peer = new Peer(i, channel, data, random.nextLong(), maxWriteLength);
                peers.add(peer);
                channel.register(selector, SelectionKey.OP_READ | SelectionKey.OP_WRITE, peer);
            }

            final long deadlineNs = System.nanoTime() + timeout.toNanos();
            int remaining = connections;
            while (remaining > 0 && failures.isEmpty())
            {
                if (System.nanoTime() - deadlineNs >= 0)
                {
                    failures.add("time-out with " + remaining + " connections unfinished: " + progress(peers));
                    break;
                }
                selector.select(100);
                final Iterator<SelectionKey> keys = selector.selectedKeys().iterator();
                while (keys.hasNext())
                {
                    final SelectionKey key = keys.next();
                    keys.remove();
                    final Peer peer = (Peer)key.attachment();
                    if (key.isValid() && key.isWritable())
                    {
                        final int length = Math.min(peer.data.length - peer.written, 1 + peer.random.nextInt(
                            peer.maxWrite));
                        peer.written += peer.channel.write(ByteBuffer.wrap(peer.data, peer.written, length));
                        if (peer.written == peer.data.length)
                        {
                            key.interestOps(SelectionKey.OP_READ);
                        }
                    }
                    if (key.isValid() && key.isReadable())
                    {
                        peer.readBuffer.clear();
                        int n;
                        try
                        {
                            n = peer.channel.read(peer.readBuffer);
                        }
                        catch (final IOException ex)
                        {
                            failures.add("connection " + peer.index + describe(peer) + ": " + ex +
                                " after " + peer.read + " of " + peer.data.length + " bytes read, " + peer.written +
                                " written");
                            key.cancel();
                            continue;
                        }
                        if (n < 0)
                        {
                            failures.add("connection " + peer.index + describe(peer) +
                                " closed by the server after " + peer.read + " of " + peer.data.length + " bytes");
                            key.cancel();
                            continue;
                        }
                        for (int j = 0; j < n; j++)
                        {
                            if (peer.readBuffer.get(j) != peer.data[peer.read + j])
                            {
                                failures.add("connection " + peer.index + ": byte " + (peer.read + j) + " differs");
                                break;
                            }
                        }
                        peer.read += n;
                        if (peer.done())
                        {
                            key.cancel();
                            remaining--;
                        }
                    }
                }
            }
        }
        finally
        {
            for (final Peer peer : peers)
            {
                peer.channel.close();
            }
        }
        long verified = 0;
        int finished = 0;
        for (final Peer peer : peers)
        {
            verified += peer.read;
            finished += peer.done() ? 1 : 0;
        }
        return new Result(finished, verified, failures);
    }

    private static String describe(final Peer peer) throws IOException
    {
        final SocketAddress local = peer.channel.getLocalAddress();
        return local instanceof InetSocketAddress ? " (local port " + ((InetSocketAddress)local).getPort() + ")" : "";
    }

    private static String progress(final List<Peer> peers)
    {
        final StringBuilder sb = new StringBuilder();
        int shown = 0;
        for (final Peer peer : peers)
        {
            if (!peer.done() && shown++ < 5)
            {
                sb.append("[#").append(peer.index).append(" written ").append(peer.written).append(" read ")
                    .append(peer.read).append("] ");
            }
        }
        return sb.toString();
    }
}
