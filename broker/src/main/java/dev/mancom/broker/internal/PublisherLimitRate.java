package dev.mancom.broker.internal;

import io.aeron.driver.status.PublisherLimit;
import org.agrona.concurrent.status.CountersReader;

import java.util.concurrent.TimeUnit;

/**
 * How long the conductor may park while data moves, from how fast the IPC streams' publisher limits move.
 * <p>
 * Only the embedded driver's duty cycle, on the conductor, moves an IPC publication's limit on as its readers
 * advance, and a writer may run at most one term window (half a term) past its slowest reader's position as of the
 * last duty cycle. A fixed park of 500 us between duty cycles capped one app-to-app stream at a term window per park
 * (about 2.5 GB/s at 4 MiB terms, measured), while a short park at all times would cost the conductor thousands of
 * wake-ups a second for a trickle of data. So the park follows the data rate: every millisecond (while data moves)
 * the sum of every publisher limit's counter is read from the driver's counters, and the park is chosen so that the
 * duty cycle comes round {@value #CYCLES_PER_WINDOW} times in the time all streams together move one term window,
 * within {@link #MIN_PARK_NS} and {@link #MAX_PARK_NS}. The sum over all streams overstates any one stream's rate,
 * which errs on the side of a shorter park.
 * <p>
 * Conductor thread only.
 */
final class PublisherLimitRate
{
    /** The shortest park while data moves (the kernel's timer slack adds about 50 us to it). */
    static final long MIN_PARK_NS = TimeUnit.MICROSECONDS.toNanos(50);
    /** The longest park while data moves. */
    static final long MAX_PARK_NS = TimeUnit.MICROSECONDS.toNanos(500);
    /** How often the limits are read. */
    static final long SAMPLE_INTERVAL_NS = TimeUnit.MILLISECONDS.toNanos(1);
    /** Duty cycles wanted while the streams move one term window. */
    static final int CYCLES_PER_WINDOW = 8;

    private final CountersReader counters;
    private final long termWindowLength;
    private long sampledNs;
    private long limitSum;
    private long parkNs = MAX_PARK_NS;

    /**
     * A rate over the counters of an embedded driver.
     *
     * @param counters         the driver's counters.
     * @param termWindowLength how far a writer may run past its reader: half the streams' term length.
     */
    PublisherLimitRate(final CountersReader counters, final long termWindowLength)
    {
        this.counters = counters;
        this.termWindowLength = termWindowLength;
    }

    /**
     * The park to use now, sampling the limits when the last sample is older than {@link #SAMPLE_INTERVAL_NS}.
     *
     * @param nowNs {@link System#nanoTime()}.
     * @return nanoseconds, from {@link #MIN_PARK_NS} to {@link #MAX_PARK_NS}.
     */
    long parkNs(final long nowNs)
    {
        final long elapsedNs = nowNs - sampledNs;
        if (elapsedNs >= SAMPLE_INTERVAL_NS)
        {
            final long sum = sumOfLimits();
            // A stream that went away takes its limit out of the sum: that round counts as no movement.
            parkNs = parkNs(Math.max(0, sum - limitSum), elapsedNs, termWindowLength);
            limitSum = sum;
            sampledNs = nowNs;
        }
        return parkNs;
    }

    /**
     * The park for a rate.
     *
     * @param movedBytes       how far the limits moved, all streams together.
     * @param elapsedNs        in this time.
     * @param termWindowLength half the streams' term length.
     * @return nanoseconds, from {@link #MIN_PARK_NS} to {@link #MAX_PARK_NS}.
     */
    static long parkNs(final long movedBytes, final long elapsedNs, final long termWindowLength)
    {
        if (movedBytes <= 0 || elapsedNs <= 0)
        {
            return MAX_PARK_NS;
        }
        final double bytesPerNs = (double)movedBytes / elapsedNs;
        final double ns = termWindowLength / (bytesPerNs * CYCLES_PER_WINDOW);
        return (long)Math.max(MIN_PARK_NS, Math.min(MAX_PARK_NS, ns));
    }

    private long sumOfLimits()
    {
        long sum = 0;
        // Counters are allocated from the lowest free id, so the first never-used record ends the allocated ones.
        for (int id = 0, max = counters.maxCounterId(); id <= max; id++)
        {
            final int state = counters.getCounterState(id);
            if (CountersReader.RECORD_ALLOCATED == state)
            {
                if (PublisherLimit.PUBLISHER_LIMIT_TYPE_ID == counters.getCounterTypeId(id))
                {
                    sum += counters.getCounterValue(id);
                }
            }
            else if (CountersReader.RECORD_UNUSED == state)
            {
                break;
            }
        }
        return sum;
    }
}
