package dev.mancom.broker.internal;

import io.aeron.driver.status.PublisherLimit;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.status.AtomicCounter;
import org.agrona.concurrent.status.CountersManager;
import org.agrona.concurrent.status.CountersReader;
import org.junit.jupiter.api.Test;

import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The rate is read from real Agrona counters, laid out as the media driver lays out its own.
 */
class PublisherLimitRateTest
{
    private static final long WINDOW = 2 * 1024 * 1024;
    private static final long MS = TimeUnit.MILLISECONDS.toNanos(1);

    private final CountersManager counters = new CountersManager(
        new UnsafeBuffer(new byte[CountersReader.METADATA_LENGTH * 16]),
        new UnsafeBuffer(new byte[CountersReader.COUNTER_LENGTH * 16]));

    @Test
    void shouldParkLongWhenLimitsDoNotMove()
    {
        newLimit().set(WINDOW);
        final PublisherLimitRate rate = rateSampledAt(10 * MS);
        assertEquals(PublisherLimitRate.MAX_PARK_NS, rate.parkNs(20 * MS));
    }

    @Test
    void shouldParkShortWhileAStreamMovesGigabytesASecond()
    {
        final AtomicCounter limit = newLimit();
        final PublisherLimitRate rate = rateSampledAt(10 * MS);
        limit.set(16_000_000L); // 16 GB/s (two streams of 8) over the next millisecond
        assertEquals(PublisherLimitRate.MIN_PARK_NS, rate.parkNs(11 * MS));
    }

    @Test
    void shouldFollowTheRateBetweenTheBounds()
    {
        final AtomicCounter limit = newLimit();
        final PublisherLimitRate rate = rateSampledAt(10 * MS);
        limit.set(2_000_000L); // 2 GB/s: a window in about 1 ms, CYCLES_PER_WINDOW cycles in it
        final long parkNs = rate.parkNs(11 * MS);
        assertEquals(WINDOW / 2 / PublisherLimitRate.CYCLES_PER_WINDOW, parkNs, 1_000);
        assertTrue(parkNs > PublisherLimitRate.MIN_PARK_NS && parkNs < PublisherLimitRate.MAX_PARK_NS);
    }

    @Test
    void shouldCountOnlyPublisherLimitsAndSumAllOfThem()
    {
        final AtomicCounter other = counters.newCounter("sub-pos", 4);
        final AtomicCounter first = newLimit();
        final AtomicCounter second = newLimit();
        final PublisherLimitRate rate = rateSampledAt(10 * MS);
        other.set(1L << 40); // not a limit: ignored
        assertEquals(PublisherLimitRate.MAX_PARK_NS, rate.parkNs(11 * MS));
        first.set(1_000_000L);
        second.set(1_000_000L); // 2 GB/s together
        assertEquals(WINDOW / 2 / PublisherLimitRate.CYCLES_PER_WINDOW, rate.parkNs(12 * MS), 1_000);
    }

    @Test
    void shouldSampleAtMostOncePerInterval()
    {
        final AtomicCounter limit = newLimit();
        final PublisherLimitRate rate = rateSampledAt(10 * MS);
        limit.set(16_000_000L);
        assertEquals(PublisherLimitRate.MAX_PARK_NS, rate.parkNs(10 * MS + MS / 2)); // too early: the last park
        assertEquals(PublisherLimitRate.MIN_PARK_NS, rate.parkNs(11 * MS));
    }

    @Test
    void shouldTakeAStreamGoneAsNoMovement()
    {
        final AtomicCounter limit = newLimit();
        limit.set(100_000_000L);
        final PublisherLimitRate rate = rateSampledAt(10 * MS);
        limit.close();
        assertEquals(PublisherLimitRate.MAX_PARK_NS, rate.parkNs(11 * MS));
    }

    private AtomicCounter newLimit()
    {
        return counters.newCounter("pub-lmt", PublisherLimit.PUBLISHER_LIMIT_TYPE_ID);
    }

    private PublisherLimitRate rateSampledAt(final long nowNs)
    {
        final PublisherLimitRate rate = new PublisherLimitRate(counters, WINDOW);
        rate.parkNs(nowNs);
        return rate;
    }
}
