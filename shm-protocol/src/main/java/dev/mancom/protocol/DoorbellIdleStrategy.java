package dev.mancom.protocol;

import org.agrona.concurrent.IdleStrategy;

import java.io.IOException;
import java.lang.invoke.VarHandle;
import java.nio.channels.Selector;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Consumer;

/**
 * An idle strategy that costs no CPU while idle and wakes within microseconds: after work it yields for a while;
 * then, unless something must be retried, it parks its {@link Doorbell}, looks once more for work, and blocks
 * until a writer rings, another thread calls {@link #wake()}, or the block time-out passes: in {@code select} on
 * control sockets when it has a selector (the broker's sender), otherwise in a futex wait on the doorbell
 * (applications, which the broker and their peers ring). With retries pending (work that no doorbell will
 * announce) it waits briefly instead, backing off up to a bound: a futex wait with that time-out, which a ring ends
 * early, or a park when it has a selector ({@code select} counts in milliseconds).
 * <p>
 * Used by the broker's sender and by the client library's poller. Not thread safe, except {@link #wake()}.
 */
public final class DoorbellIdleStrategy implements IdleStrategy
{
    /** {@link Host#peek()}: there is work; do not block. */
    public static final int PEEK_WORK = 1;
    /** {@link Host#peek()}: no work; block. */
    public static final int PEEK_NONE = 0;
    /** {@link Host#peek()}: cannot look now (another thread polls); park briefly. */
    public static final int PEEK_BUSY = -1;

    /**
     * What the strategy asks of the agent it idles.
     */
    public interface Host
    {
        /**
         * Whether something must be retried that no doorbell announces (a stalled connection, a refused handler).
         *
         * @return true to park briefly rather than block.
         */
        boolean hasRetries();

        /**
         * Look for work once more, after the doorbell is parked, without consuming it.
         *
         * @return {@link #PEEK_WORK}, {@link #PEEK_NONE} or {@link #PEEK_BUSY}.
         */
        int peek();

        /**
         * Called after each block, on the idling thread: drain what woke it (doorbell bytes, a socket's end) and
         * clear the selector's selected keys.
         */
        void onWake();
    }

    private final Doorbell doorbell;
    private final Selector selector;
    private final Host host;
    private final int maxYields;
    private final long maxBlockMs;
    private final long minParkNs;
    private final long maxParkNs;
    private final Consumer<Throwable> errorHandler;
    private volatile boolean blocked;
    private long blockLimitNs = Long.MAX_VALUE;
    private int yields;
    private long parkNs;

    /**
     * A strategy.
     *
     * @param doorbell     this reader's doorbell.
     * @param selector     the selector of the control socket(s) the writers ring, or null to wait on the doorbell's
     *                     futex.
     * @param host         the agent idled.
     * @param maxYields    yields after work before blocking.
     * @param maxBlockMs   longest block, a safety net for wake-ups that cannot be announced.
     * @param minParkNs    first park while retries are pending.
     * @param maxParkNs    longest park while retries are pending.
     * @param errorHandler where failures of {@code select} go.
     */
    public DoorbellIdleStrategy(
        final Doorbell doorbell,
        final Selector selector,
        final Host host,
        final int maxYields,
        final long maxBlockMs,
        final long minParkNs,
        final long maxParkNs,
        final Consumer<Throwable> errorHandler)
    {
        this.doorbell = doorbell;
        this.selector = selector;
        this.host = host;
        this.maxYields = maxYields;
        this.maxBlockMs = maxBlockMs;
        this.minParkNs = minParkNs;
        this.maxParkNs = maxParkNs;
        this.errorHandler = errorHandler;
        this.parkNs = minParkNs;
    }

    /**
     * Wake the idling thread if it blocks. Any thread.
     */
    public void wake()
    {
        // A queue's release store before this call must not pass the load of the flag (see Doorbell).
        VarHandle.fullFence();
        if (blocked)
        {
            if (null != selector)
            {
                selector.wakeup();
            }
            else
            {
                doorbell.ring();
            }
        }
    }

    /**
     * Bound the next block to a time (a poll with a time-out); reset after that block.
     *
     * @param limitNs the longest block, at least a microsecond is used.
     */
    public void blockLimitNs(final long limitNs)
    {
        this.blockLimitNs = Math.max(1_000, limitNs);
    }

    /**
     * {@inheritDoc}
     */
    public void idle(final int workCount)
    {
        if (workCount > 0)
        {
            reset();
        }
        else
        {
            idle();
        }
    }

    /**
     * {@inheritDoc}
     */
    public void idle()
    {
        if (yields < maxYields)
        {
            yields++;
            Thread.yield();
            return;
        }
        if (host.hasRetries())
        {
            if (null == selector)
            {
                // A futex wait can be as short as a park and still wakes on a ring: a retry waiting for what a
                // writer announces (send credit for bytes a handler refused) goes on at once when it comes.
                final long blockNs = parkNs;
                parkNs = Math.min(parkNs * 2, maxParkNs);
                block(blockNs);
            }
            else
            {
                park();
            }
            return;
        }
        block(-1);
    }

    /**
     * Block behind the doorbell.
     *
     * @param timeoutNs the longest wait, or -1 for the block time-out (bounded by {@link #blockLimitNs(long)}).
     */
    private void block(final long timeoutNs)
    {
        int peek = PEEK_NONE;
        doorbell.park();
        blocked = true;
        try
        {
            peek = host.peek();
            if (PEEK_NONE == peek)
            {
                long blockNs = timeoutNs;
                if (blockNs < 0)
                {
                    blockNs = Math.min(TimeUnit.MILLISECONDS.toNanos(maxBlockMs), blockLimitNs);
                    blockLimitNs = Long.MAX_VALUE;
                }
                if (null != selector)
                {
                    selector.select(Math.max(1, TimeUnit.NANOSECONDS.toMillis(blockNs)));
                }
                else
                {
                    doorbell.await(blockNs);
                }
            }
        }
        catch (final IOException | RuntimeException ex)
        {
            errorHandler.accept(ex);
        }
        finally
        {
            blocked = false;
            doorbell.wake();
        }
        if (PEEK_BUSY == peek)
        {
            park();
        }
        host.onWake();
    }

    private void park()
    {
        LockSupport.parkNanos(parkNs);
        parkNs = Math.min(parkNs * 2, maxParkNs);
    }

    /**
     * {@inheritDoc}
     */
    public void reset()
    {
        yields = 0;
        parkNs = minParkNs;
    }

    /**
     * {@inheritDoc}
     */
    public String alias()
    {
        return "doorbell";
    }
}
