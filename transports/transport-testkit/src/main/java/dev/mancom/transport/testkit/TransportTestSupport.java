package dev.mancom.transport.testkit;

import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * What transport tests share: the deadline, thread-name prefixes, and a byte pattern that a reader can check without
 * keeping what was sent.
 */
public final class TransportTestSupport
{
    /**
     * Generous, so that a loaded two-core machine running two builds at once still passes.
     */
    public static final Duration DEADLINE = Duration.ofSeconds(60);

    /**
     * {@link #DEADLINE} in seconds.
     */
    public static final long DEADLINE_SECONDS = DEADLINE.getSeconds();

    private static final int CHUNK = 64 * 1024;
    private static final AtomicInteger PREFIX_COUNT = new AtomicInteger();

    private TransportTestSupport()
    {
    }

    /**
     * A thread-name prefix no other transport of this JVM uses.
     *
     * @param test names the test.
     * @return the prefix, ending with {@code -}.
     */
    public static String uniquePrefix(final String test)
    {
        return test + "-" + PREFIX_COUNT.incrementAndGet() + "-";
    }

    /**
     * The byte at a position of a long stream that tests can check without keeping it.
     *
     * @param position in the stream.
     * @return the byte.
     */
    public static byte pattern(final long position)
    {
        return (byte)(position * 31 + (position >>> 11));
    }

    /**
     * Fill a chunk with a stretch of the pattern.
     *
     * @param chunk    where.
     * @param position the stream position of the chunk's first byte.
     * @param length   how many bytes.
     */
    public static void fillPattern(final byte[] chunk, final long position, final int length)
    {
        for (int i = 0; i < length; i++)
        {
            chunk[i] = pattern(position + i);
        }
    }

    /**
     * Write a stretch of the pattern to a peer.
     *
     * @param peer     where.
     * @param total    how many bytes.
     * @param progress counts the bytes the peer has taken, for callers watching from another thread.
     * @throws IOException when the peer fails.
     */
    public static void writePattern(final RawPeer peer, final long total, final AtomicLong progress)
        throws IOException
    {
        final byte[] chunk = new byte[CHUNK];
        long position = 0;
        while (position < total)
        {
            final int length = (int)Math.min(chunk.length, total - position);
            fillPattern(chunk, position, length);
            peer.write(chunk, 0, length);
            position += length;
            progress.set(position);
        }
    }

    /**
     * Read from a peer to the end of the stream, checking every byte against the pattern.
     *
     * @param peer where.
     * @return how many bytes came before the end.
     * @throws IOException when the peer fails or a byte is wrong.
     */
    public static long readPatternToEnd(final RawPeer peer) throws IOException
    {
        final byte[] chunk = new byte[CHUNK];
        long position = 0;
        int n;
        while ((n = peer.read(chunk, 0, chunk.length)) >= 0)
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

    /**
     * Read exactly as many bytes as the array holds.
     *
     * @param peer  where.
     * @param bytes filled.
     * @return how many bytes were read: fewer than the array holds only when the stream ended first.
     * @throws IOException when the peer fails.
     */
    public static int readFully(final RawPeer peer, final byte[] bytes) throws IOException
    {
        int position = 0;
        while (position < bytes.length)
        {
            final int n = peer.read(bytes, position, bytes.length - position);
            if (n < 0)
            {
                break;
            }
            position += n;
        }
        return position;
    }
}
