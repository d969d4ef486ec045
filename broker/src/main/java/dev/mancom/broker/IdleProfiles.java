package dev.mancom.broker;

import org.agrona.concurrent.BackoffIdleStrategy;
import org.agrona.concurrent.BusySpinIdleStrategy;
import org.agrona.concurrent.IdleStrategy;

import java.util.concurrent.TimeUnit;

/**
 * The idle strategies of the broker's agents for each profile.
 */
final class IdleProfiles
{
    /** Spins before yielding in the polite profile: a few microseconds of hot polling after each piece of work. */
    static final long POLITE_MAX_SPINS = 0;
    /** Yields before parking in the polite profile. */
    static final long POLITE_MAX_YIELDS = 100;
    /** First park in the polite profile. */
    static final long POLITE_MIN_PARK_NS = TimeUnit.MICROSECONDS.toNanos(1);
    /** Longest park in the polite profile: bounds the wake-up latency of an idle agent. */
    static final long POLITE_MAX_PARK_NS = TimeUnit.MILLISECONDS.toNanos(1);

    private IdleProfiles()
    {
    }

    static IdleStrategy create(final boolean spin)
    {
        if (spin)
        {
            return new BusySpinIdleStrategy();
        }
        return new BackoffIdleStrategy(POLITE_MAX_SPINS, POLITE_MAX_YIELDS, POLITE_MIN_PARK_NS, POLITE_MAX_PARK_NS);
    }
}
