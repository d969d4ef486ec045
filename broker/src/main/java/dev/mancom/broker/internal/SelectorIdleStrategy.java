package dev.mancom.broker.internal;

import org.agrona.concurrent.IdleStrategy;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.invoke.VarHandle;
import java.nio.channels.Selector;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * Idles the conductor on its control-socket selector, without spinning (control work is not latency critical to
 * the microsecond): it blocks in {@code select} until a control socket is ready, another thread posts a command
 * ({@link #wake()}), or the time-out passes. Idle, the conductor wakes only every {@code maxWaitMs} for timers and
 * the heartbeat, instead of a thousand times a second. While data moves (see {@link #dataMoved(long)}) it parks
 * briefly instead of blocking, so that the threads moving data need no system call to keep it running; how briefly
 * follows the data rate ({@link PublisherLimitRate}).
 */
final class SelectorIdleStrategy implements IdleStrategy
{
    /** How long after data last moved the thread keeps from blocking. */
    static final long DATA_QUIET_NS = TimeUnit.MILLISECONDS.toNanos(5);

    private final Selector selector;
    private final long maxWaitMs;
    private final PublisherLimitRate limitRate;
    private volatile boolean blocked;
    private volatile Thread parked;
    private volatile long dataMovedNs;

    /**
     * A strategy.
     *
     * @param selector  the control sockets' selector.
     * @param maxWaitMs the longest block.
     * @param limitRate the park while data moves: the IPC limits need the duty cycle well within a term window's
     *                  worth of data.
     */
    SelectorIdleStrategy(final Selector selector, final long maxWaitMs, final PublisherLimitRate limitRate)
    {
        this.selector = selector;
        this.maxWaitMs = maxWaitMs;
        this.limitRate = limitRate;
    }

    /**
     * Wake the idling thread if it blocks. Any thread.
     */
    void wake()
    {
        // The queue's release store must not pass the load of the flag (see Doorbell on store-load reordering).
        VarHandle.fullFence();
        if (blocked)
        {
            selector.wakeup();
        }
    }

    /**
     * Data moved: the idling thread should not block for a while, and is woken if it does. Any thread; a volatile
     * read and write, and a system call only when the idling thread already blocks.
     *
     * @param nowNs the time, {@link System#nanoTime()}.
     */
    void dataMoved(final long nowNs)
    {
        dataMovedNs = nowNs;
        VarHandle.fullFence();
        if (blocked)
        {
            selector.wakeup();
        }
    }

    /**
     * Wake the conductor now, also from its short park while data moves: a stream is full and only the driver's
     * duty cycle moves its limit. At worst this costs the conductor one early round.
     */
    void wakeNow()
    {
        final Thread thread = parked;
        if (null != thread)
        {
            LockSupport.unpark(thread);
        }
        else
        {
            dataMoved(System.nanoTime());
        }
    }

    public void idle(final int workCount)
    {
        if (workCount <= 0)
        {
            idle();
        }
    }

    public void idle()
    {
        final long nowNs = System.nanoTime();
        if (nowNs - dataMovedNs < DATA_QUIET_NS)
        {
            // Data moved recently: stay awake without a system call on every round, parking briefly.
            parked = Thread.currentThread();
            LockSupport.parkNanos(limitRate.parkNs(nowNs));
            parked = null;
            return;
        }
        blocked = true;
        try
        {
            // A wake() between the last poll and here makes select return at once: no wake-up is lost.
            selector.select(maxWaitMs);
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
        finally
        {
            blocked = false;
        }
    }

    public void reset()
    {
    }

    public String alias()
    {
        return "selector";
    }
}
