package dev.mancom.broker.internal;

import java.util.ArrayDeque;

/**
 * The program the broker starts for one service ({@code exec}): the running process, when it was started lately
 * (for the start limit), a restart waiting for its back-off, and whether the broker gave up. Conductor only.
 */
final class ServiceProgram
{
    private final ArrayDeque<Long> recentStartsMs = new ArrayDeque<>();
    private Process process;
    private long restartAtMs;
    private boolean gaveUp;

    /**
     * The running process.
     *
     * @return the process, or null when none runs.
     */
    Process process()
    {
        return process;
    }

    void process(final Process process)
    {
        this.process = process;
    }

    boolean isRunning()
    {
        return null != process;
    }

    /**
     * When a restart waits for its back-off to pass.
     *
     * @return epoch milliseconds, or 0 when no restart is scheduled.
     */
    long restartAtMs()
    {
        return restartAtMs;
    }

    void restartAtMs(final long restartAtMs)
    {
        this.restartAtMs = restartAtMs;
    }

    /**
     * Whether the broker gave up starting the program (it hit the start limit); a reload re-arms it.
     *
     * @return true after giving up.
     */
    boolean gaveUp()
    {
        return gaveUp;
    }

    void gaveUp(final boolean gaveUp)
    {
        this.gaveUp = gaveUp;
        if (!gaveUp)
        {
            recentStartsMs.clear();
        }
    }

    /**
     * Forget starts older than the interval and count the others.
     *
     * @param nowMs      the time now.
     * @param intervalMs how far back starts count.
     * @return the starts within the interval.
     */
    int recentStarts(final long nowMs, final long intervalMs)
    {
        while (!recentStartsMs.isEmpty() && nowMs - recentStartsMs.peekFirst() >= intervalMs)
        {
            recentStartsMs.pollFirst();
        }
        return recentStartsMs.size();
    }

    void recordStart(final long nowMs)
    {
        recentStartsMs.addLast(nowMs);
    }
}
