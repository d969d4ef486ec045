package dev.mancom.client;

import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ByteRingTest
{
    @Test
    void shouldKeepBytesInOrderAcrossTheWrap()
    {
        final ByteRing ring = new ByteRing(16);
        final SplittableRandom random = new SplittableRandom(1);
        final byte[] expected = new byte[10_000];
        random.nextBytes(expected);
        final byte[] actual = new byte[expected.length];
        int written = 0;
        int read = 0;
        while (read < expected.length)
        {
            final int toWrite = Math.min(expected.length - written, random.nextInt(1, 17));
            if (ring.append(new UnsafeBuffer(expected), written, toWrite))
            {
                written += toWrite;
            }
            read += ring.read(actual, read, random.nextInt(1, 17));
        }
        assertArrayEquals(expected, actual);
        assertTrue(ring.isEmpty());
    }

    @Test
    void shouldRefuseWhatDoesNotFitAndAppendNothing()
    {
        final ByteRing ring = new ByteRing(8);
        assertTrue(ring.append(new UnsafeBuffer(new byte[6]), 0, 6));
        assertFalse(ring.append(new UnsafeBuffer(new byte[3]), 0, 3));
        assertEquals(6, ring.size());
    }

    @Test
    void shouldGrowUpToItsBoundKeepingOrder()
    {
        final ByteRing ring = new ByteRing(100_000);
        final byte[] expected = new byte[100_000];
        new SplittableRandom(2).nextBytes(expected);
        assertTrue(ring.append(new UnsafeBuffer(expected), 0, 10));
        final byte[] first = new byte[5];
        ring.read(first, 0, 5);
        assertTrue(ring.append(new UnsafeBuffer(expected), 10, 99_990));
        assertFalse(ring.append(new UnsafeBuffer(expected), 0, 6));
        final byte[] actual = new byte[99_995];
        assertEquals(99_995, ring.read(actual, 0, actual.length));
        for (int i = 0; i < actual.length; i++)
        {
            assertEquals(expected[5 + i], actual[i]);
        }
    }

    @Test
    void shouldExposeTheContiguousRunBeforeTheWrap()
    {
        final ByteRing ring = new ByteRing(8);
        ring.append(new UnsafeBuffer(new byte[]{1, 2, 3, 4, 5, 6}), 0, 6);
        ring.skip(5);
        ring.append(new UnsafeBuffer(new byte[]{7, 8, 9}), 0, 3);
        assertEquals(3, ring.contiguousLength());
        assertEquals(5, ring.headOffset());
        ring.skip(3);
        assertEquals(1, ring.contiguousLength());
        assertEquals(9, ring.buffer().getByte(ring.headOffset()));
    }
}
