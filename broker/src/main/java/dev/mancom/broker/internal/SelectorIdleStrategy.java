package dev.mancom.broker.internal;

import org.agrona.concurrent.IdleStrategy;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.Selector;

/**
 * Idles the conductor on its control-socket selector: a short spin and yield after work, then it blocks in
 * {@code select} until a control socket is ready, another thread posts a command ({@link #wake()}), or the
 * time-out passes. Idle, the conductor wakes only every {@code maxWaitMs} for timers and the heartbeat, instead of
 * a thousand times a second.
 */
final class SelectorIdleStrategy implements IdleStrategy
{
    private final Selector selector;
    private final int maxSpins;
    private final int maxYields;
    private final long maxWaitMs;
    private volatile boolean blocked;
    private int spins;
    private int yields;

    SelectorIdleStrategy(final Selector selector, final int maxSpins, final int maxYields, final long maxWaitMs)
    {
        this.selector = selector;
        this.maxSpins = maxSpins;
        this.maxYields = maxYields;
        this.maxWaitMs = maxWaitMs;
    }

    /**
     * Wake the idling thread if it blocks. Any thread.
     */
    void wake()
    {
        if (blocked)
        {
            selector.wakeup();
        }
    }

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

    public void idle()
    {
        if (spins < maxSpins)
        {
            spins++;
            Thread.onSpinWait();
        }
        else if (yields < maxYields)
        {
            yields++;
            Thread.yield();
        }
        else
        {
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
    }

    public void reset()
    {
        spins = 0;
        yields = 0;
    }

    public String alias()
    {
        return "selector";
    }
}
