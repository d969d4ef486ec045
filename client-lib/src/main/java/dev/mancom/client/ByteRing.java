package dev.mancom.client;

import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * A bounded circular byte buffer holding a connection's received bytes that were not yet consumed. It starts
 * small and grows, doubling, up to its bound (the credit window), so that thousands of connections that are read
 * promptly cost little memory. Not thread safe: the connection guards it.
 */
final class ByteRing
{
    private static final int INITIAL_CAPACITY = 16 * 1024;

    private final int maxCapacity;
    private UnsafeBuffer buffer;
    private int capacity;
    private int head;
    private int size;

    ByteRing(final int maxCapacity)
    {
        this.maxCapacity = maxCapacity;
    }

    int size()
    {
        return size;
    }

    boolean isEmpty()
    {
        return 0 == size;
    }

    /**
     * Append bytes.
     *
     * @return false when they do not fit within the bound (nothing is appended).
     */
    boolean append(final DirectBuffer src, final int offset, final int length)
    {
        if (length > maxCapacity - size)
        {
            return false;
        }
        if (length > capacity - size)
        {
            grow(size + length);
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

    private void grow(final int required)
    {
        int newCapacity = Math.max(capacity, Math.min(INITIAL_CAPACITY, maxCapacity));
        while (newCapacity < required)
        {
            newCapacity = (int)Math.min((long)newCapacity * 2, maxCapacity);
        }
        final UnsafeBuffer newBuffer = new UnsafeBuffer(new byte[newCapacity]);
        if (size > 0)
        {
            final int first = Math.min(size, capacity - head);
            newBuffer.putBytes(0, buffer, head, first);
            if (first < size)
            {
                newBuffer.putBytes(first, buffer, 0, size - first);
            }
        }
        buffer = newBuffer;
        capacity = newCapacity;
        head = 0;
    }

    /**
     * Copy out and remove up to {@code length} bytes.
     *
     * @return bytes copied.
     */
    int read(final byte[] dst, final int offset, final int length)
    {
        final int n = Math.min(length, size);
        if (0 == n)
        {
            return 0;
        }
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
        return 0 == size ? 0 : Math.min(size, capacity - head);
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
        if (0 == n)
        {
            return;
        }
        head = (head + n) % capacity;
        size -= n;
        if (0 == size)
        {
            head = 0;
        }
    }
}
