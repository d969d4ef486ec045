package dev.mancom.bench;

import java.io.Closeable;
import java.io.IOException;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * Closes a channel when a load stops making progress, so that a blocking read of a server that stopped echoing
 * ends with an exception instead of hanging the benchmark.
 */
final class StallWatchdog implements AutoCloseable
{
    private static final long CHECK_INTERVAL_MS = 100;

    private final Thread thread;
    private final LongSupplier progress;
    private final Closeable channel;
    private final long stallTimeoutNs;
    private volatile boolean running = true;
    private volatile boolean stalled;

    /**
     * Start watching.
     *
     * @param name           a name for the thread.
     * @param progress       a count that grows while the load makes progress.
     * @param channel        what to close when it stops growing.
     * @param stallTimeoutNs how long it may stand still.
     */
    StallWatchdog(final String name, final LongSupplier progress, final Closeable channel, final long stallTimeoutNs)
    {
        this.progress = progress;
        this.channel = channel;
        this.stallTimeoutNs = stallTimeoutNs;
        this.thread = new Thread(this::watch, "watchdog-" + name);
        thread.setDaemon(true);
        thread.start();
    }

    private void watch()
    {
        long lastProgress = progress.getAsLong();
        long lastChangeNs = System.nanoTime();
        while (running)
        {
            try
            {
                Thread.sleep(CHECK_INTERVAL_MS);
            }
            catch (final InterruptedException ex)
            {
                return;
            }
            final long current = progress.getAsLong();
            final long nowNs = System.nanoTime();
            if (current != lastProgress)
            {
                lastProgress = current;
                lastChangeNs = nowNs;
            }
            else if (running && nowNs - lastChangeNs > stallTimeoutNs)
            {
                stalled = true;
                try
                {
                    channel.close();
                }
                catch (final IOException ignore)
                {
                    // closing is all we can do
                }
                return;
            }
        }
    }

    /**
     * Whether the watchdog closed the channel because the load stood still.
     *
     * @return true when it did.
     */
    boolean stalled()
    {
        return stalled;
    }

    /**
     * The stall timeout in seconds, for messages.
     *
     * @return seconds.
     */
    long stallTimeoutSeconds()
    {
        return TimeUnit.NANOSECONDS.toSeconds(stallTimeoutNs);
    }

    /**
     * Stop watching.
     */
    public void close()
    {
        running = false;
        thread.interrupt();
    }
}
