package dev.mancom.client;

import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * A bounded circular byte buffer holding a connection's received bytes that were not yet consumed. Not thread
 * safe: the connection guards it.
 */
final class ByteRing
{
    private final UnsafeBuffer buffer;
    private final int capacity;
    private int head;
    private int size;

    ByteRing(final int capacity)
    {
        this.capacity = capacity;
        this.buffer = new UnsafeBuffer(new byte[capacity]);
    }

    int size()
    {
        return size;
    }

    int capacity()
    {
        return capacity;
    }

    boolean isEmpty()
    {
        return 0 == size;
    }

    /**
     * Append bytes.
     *
     * @return false when they do not fit (nothing is appended).
     */
    boolean append(final DirectBuffer src, final int offset, final int length)
    {
        if (length > capacity - size)
        {
            return false;
        }
        final int tail = (head + size) % capacity;
        final int first = Math.min(length, capacity - tail);
        buffer.putBytes(tail, src, offset, first);
        if (first < length)
        {
            buffer.putBytes(0, src, offset + first, length - first);
        }
        size += length;
        return true;
    }

    /**
     * Copy out and remove up to {@code length} bytes.
     *
     * @return bytes copied.
     */
    int read(final byte[] dst, final int offset, final int length)
    {
        final int n = Math.min(length, size);
        final int first = Math.min(n, capacity - head);
        buffer.getBytes(head, dst, offset, first);
        if (first < n)
        {
            buffer.getBytes(0, dst, offset + first, n - first);
        }
        skip(n);
        return n;
    }

    /**
     * Length of the readable run that starts at {@link #headOffset()} without wrapping.
     *
     * @return bytes.
     */
    int contiguousLength()
    {
        return Math.min(size, capacity - head);
    }

    int headOffset()
    {
        return head;
    }

    UnsafeBuffer buffer()
    {
        return buffer;
    }

    void skip(final int n)
    {
        head = (head + n) % capacity;
        size -= n;
        if (0 == size)
        {
            head = 0;
        }
    }

    void clear()
    {
        head = 0;
        size = 0;
    }
}
