package dev.mancom.transport.udp;

import dev.mancom.transport.TransportContext;
import dev.mancom.transport.TransportUri;
import io.netty.channel.epoll.Epoll;
import org.junit.jupiter.api.Assumptions;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.time.Duration;
import java.util.Arrays;
import java.util.Queue;
import java.util.Random;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * What the UDP transport's tests share: transports on either I/O implementation, URIs, plain datagram sockets that
 * receive with a deadline.
 */
final class UdpTestSupport
{
    /**
     * Generous, so that a loaded two-core machine running two builds at once still passes.
     */
    static final Duration DEADLINE = Duration.ofSeconds(60);
    static final long DEADLINE_SECONDS = DEADLINE.getSeconds();

    static final String EPOLL = "epoll";
    static final String NIO = "nio";

    /**
     * A receive buffer larger than any datagram, so that a datagram that came whole can be told from a truncated
     * one: a receive that fills it up has been cut.
     */
    static final int RECEIVE_LENGTH = 64 * 1024 + 1;

    private static final AtomicInteger PREFIX_COUNT = new AtomicInteger();

    private UdpTestSupport()
    {
    }

    /**
     * A thread-name prefix no other transport of this JVM uses.
     *
     * @param test names the test.
     * @return the prefix.
     */
    static String uniquePrefix(final String test)
    {
        return "udp-" + test + "-" + PREFIX_COUNT.incrementAndGet() + "-";
    }

    /**
     * A transport on the named I/O implementation; skips the test when epoll is asked for and not available.
     *
     * @param io        {@link #EPOLL} or {@link #NIO}.
     * @param prefix    thread-name prefix.
     * @param ioThreads how many I/O threads.
     * @param errors    receives what the transport reports to the broker's error handler.
     * @return the transport.
     */
    static UdpTransport transport(
        final String io, final String prefix, final int ioThreads, final Queue<Throwable> errors)
    {
        final boolean epoll = EPOLL.equals(io);
        if (epoll)
        {
            Assumptions.assumeTrue(Epoll.isAvailable(), "native epoll is not available here");
        }
        return new UdpTransport(new TransportContext(ioThreads, prefix, errors::add), epoll);
    }

    static Queue<Throwable> errors()
    {
        return new ConcurrentLinkedQueue<>();
    }

    static TransportUri uri(final String text)
    {
        return TransportUri.parse(text);
    }

    static InetSocketAddress loopback(final int port)
    {
        return new InetSocketAddress(InetAddress.getLoopbackAddress(), port);
    }

    /**
     * A non-blocking datagram socket bound to an ephemeral loopback port, connected to a port when it is not 0.
     *
     * @param port where to connect, or 0.
     * @return the socket.
     * @throws IOException when it cannot be opened.
     */
    static DatagramChannel client(final int port) throws IOException
    {
        final DatagramChannel channel = DatagramChannel.open();
        channel.bind(loopback(0));
        if (0 != port)
        {
            channel.connect(loopback(port));
        }
        channel.configureBlocking(false);
        return channel;
    }

    static void send(final DatagramChannel channel, final byte[] datagram) throws IOException
    {
        final int sent = channel.write(ByteBuffer.wrap(datagram));
        if (sent != datagram.length)
        {
            throw new IOException("sent " + sent + " of " + datagram.length + " bytes");
        }
    }

    /**
     * Receive one datagram, waiting at most {@link #DEADLINE}.
     *
     * @param channel a non-blocking channel.
     * @return the datagram.
     * @throws IOException when none comes, or it was truncated.
     */
    static byte[] receive(final DatagramChannel channel) throws IOException
    {
        final ByteBuffer buffer = ByteBuffer.allocate(RECEIVE_LENGTH);
        return Arrays.copyOf(buffer.array(), receive(channel, buffer, null));
    }

    /**
     * Receive one datagram into a buffer, waiting at most {@link #DEADLINE}.
     *
     * @param channel a non-blocking channel.
     * @param buffer  cleared and filled from 0.
     * @param from    receives the sender's address when not null.
     * @return the datagram's length.
     * @throws IOException when none comes, or it was truncated.
     */
    static int receive(final DatagramChannel channel, final ByteBuffer buffer, final SocketAddress[] from)
        throws IOException
    {
        final long deadline = System.nanoTime() + DEADLINE.toNanos();
        try (Selector selector = Selector.open())
        {
            channel.register(selector, SelectionKey.OP_READ);
            while (true)
            {
                buffer.clear();
                final SocketAddress sender = channel.receive(buffer);
                if (null != sender)
                {
                    if (buffer.position() == buffer.capacity())
                    {
                        throw new IOException("a datagram of " + buffer.capacity() + " bytes or more was truncated");
                    }
                    if (null != from)
                    {
                        from[0] = sender;
                    }
                    return buffer.position();
                }
                final long remainingMs = (deadline - System.nanoTime()) / 1_000_000;
                if (remainingMs <= 0)
                {
                    throw new IOException("no datagram within " + DEADLINE);
                }
                selector.select(remainingMs);
            }
        }
    }

    static byte[] randomBytes(final Random random, final int length)
    {
        final byte[] data = new byte[length];
        random.nextBytes(data);
        return data;
    }

    /**
     * A random datagram size: mostly small, some large, now and then up to the largest UDP payload.
     *
     * @param random the source.
     * @param max    the largest size.
     * @return 1 to {@code max}.
     */
    static int randomSize(final Random random, final int max)
    {
        final int kind = random.nextInt(20);
        final int limit = kind < 14 ? 1500 : kind < 19 ? 16 * 1024 : max;
        return 1 + random.nextInt(Math.min(limit, max));
    }
}
