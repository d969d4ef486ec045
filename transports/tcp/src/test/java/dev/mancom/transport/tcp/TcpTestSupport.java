package dev.mancom.transport.tcp;

import dev.mancom.transport.TransportContext;
import dev.mancom.transport.TransportUri;
import io.netty.channel.epoll.Epoll;
import org.junit.jupiter.api.Assumptions;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.time.Duration;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * What the TCP transport's tests share: transports on either I/O implementation, URIs, a byte pattern.
 */
final class TcpTestSupport
{
    /**
     * Generous, so that a loaded two-core machine running two builds at once still passes.
     */
    static final Duration DEADLINE = Duration.ofSeconds(60);
    static final long DEADLINE_SECONDS = DEADLINE.getSeconds();

    static final String EPOLL = "epoll";
    static final String NIO = "nio";

    private static final AtomicInteger PREFIX_COUNT = new AtomicInteger();

    private TcpTestSupport()
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
        return "tcp-" + test + "-" + PREFIX_COUNT.incrementAndGet() + "-";
    }

    /**
     * A transport on the named I/O implementation; skips the test when epoll is asked for and not available.
     *
     * @param io         {@link #EPOLL} or {@link #NIO}.
     * @param prefix     thread-name prefix.
     * @param ioThreads  how many I/O threads.
     * @param errors     receives what the transport reports to the broker's error handler.
     * @return the transport.
     */
    static TcpTransport transport(
        final String io, final String prefix, final int ioThreads, final Queue<Throwable> errors)
    {
        final boolean epoll = EPOLL.equals(io);
        if (epoll)
        {
            Assumptions.assumeTrue(Epoll.isAvailable(), "native epoll is not available here");
        }
        return new TcpTransport(new TransportContext(ioThreads, prefix, errors::add), epoll);
    }

    static Queue<Throwable> errors()
    {
        return new ConcurrentLinkedQueue<>();
    }

    static TransportUri uri(final String text)
    {
        return TransportUri.parse(text);
    }

    static TransportUri loopback(final int port)
    {
        return uri("tcp://127.0.0.1:" + port);
    }

    /**
     * The byte at a position of a long stream that tests can check without keeping it.
     *
     * @param position in the stream.
     * @return the byte.
     */
    static byte pattern(final long position)
    {
        return (byte)(position * 31 + (position >>> 11));
    }

    static void fillPattern(final byte[] chunk, final long position, final int length)
    {
        for (int i = 0; i < length; i++)
        {
            chunk[i] = pattern(position + i);
        }
    }

    /**
     * Write a stretch of the pattern.
     *
     * @param out      where.
     * @param total    how many bytes.
     * @param progress counts the bytes the socket has taken, for callers watching from another thread.
     * @throws IOException when the socket fails.
     */
    static void writePattern(final OutputStream out, final long total, final AtomicLong progress) throws IOException
    {
        final byte[] chunk = new byte[64 * 1024];
        long position = 0;
        while (position < total)
        {
            final int length = (int)Math.min(chunk.length, total - position);
            fillPattern(chunk, position, length);
            out.write(chunk, 0, length);
            position += length;
            progress.set(position);
        }
        out.flush();
    }

    /**
     * Read to the end of the stream, checking every byte against the pattern.
     *
     * @param in where.
     * @return how many bytes came before the end.
     * @throws IOException when the socket fails.
     */
    static long readPatternToEnd(final InputStream in) throws IOException
    {
        final byte[] chunk = new byte[64 * 1024];
        long position = 0;
        int n;
        while ((n = in.read(chunk)) >= 0)
        {
            for (int i = 0; i < n; i++)
            {
                if (chunk[i] != pattern(position + i))
                {
                    throw new IOException("byte " + (position + i) + " is wrong");
                }
            }
            position += n;
        }
        return position;
    }
}
