package dev.mancom.bench;

import java.io.IOException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * One streaming measurement, whatever carries the echo: a writer thread sends as fast as the echo takes the bytes
 * while a reader thread counts what comes back. After a warm-up, the bytes read over a fixed time give the
 * throughput. At the end the writer stops and the reader waits for every byte written to come back, so that the echo
 * is idle again before the next measurement and an echo that loses bytes fails the run. The calling thread checks,
 * every few milliseconds, that neither thread failed and that the echo has not stood still too long.
 * <p>
 * Subclasses send and receive: {@link StreamingLoad} over a socket, {@link PipeLoads} over an {@link EchoPipe},
 * {@link DatagramStreamingLoad} over UDP. An echo that may lose what it was sent ({@link #lossy()}, UDP) is drained
 * only until it has been quiet for a while, and what did not come back is its loss, not a failure.
 */
abstract class StreamingMeasurement
{
    private static final long CHECK_INTERVAL_NS = TimeUnit.MILLISECONDS.toNanos(50);
    private static final long THREAD_JOIN_TIMEOUT_MS = 10_000;
    private static final long LOSSY_QUIET_NS = TimeUnit.MILLISECONDS.toNanos(500);

    /** The target's name, for messages. */
    final String target;

    /** What to run. */
    final StreamingLoad.Plan plan;

    private final AtomicLong bytesWritten = new AtomicLong();
    private final AtomicLong bytesRead = new AtomicLong();
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    private volatile boolean writing = true;
    private volatile boolean closing;
    private long lastReadBytes;
    private long lastProgressNs;

    /**
     * A measurement not yet run.
     *
     * @param target the target's name, for messages.
     * @param plan   what to run.
     */
    StreamingMeasurement(final String target, final StreamingLoad.Plan plan)
    {
        this.target = target;
        this.plan = plan;
    }

    /**
     * Send, on the writer thread, while {@link #writing()}; count with {@link #setBytesWritten(long)}.
     *
     * @throws IOException when sending fails; the run fails, unless it is closing.
     */
    abstract void write() throws IOException;

    /**
     * Receive, on the reader thread, until {@link #closing()}; count with {@link #setBytesRead(long)}.
     *
     * @throws IOException when receiving fails; the run fails, unless it is closing.
     */
    abstract void read() throws IOException;

    /**
     * The run ends: the writer has been told to stop. Unblock the threads, such as by closing a channel.
     */
    void onClose()
    {
    }

    /**
     * Whether the echo may lose what was sent, as UDP does: then the drain at the end waits only until nothing has
     * come back for half a second, and bytes that never came back are not a failure.
     *
     * @return false by default: every byte must come back.
     */
    boolean lossy()
    {
        return false;
    }

    /**
     * Bytes the writer has sent so far, the warm-up's included.
     *
     * @return the count.
     */
    final long bytesWritten()
    {
        return bytesWritten.get();
    }

    /**
     * Bytes that have come back so far, the warm-up's included.
     *
     * @return the count.
     */
    final long bytesRead()
    {
        return bytesRead.get();
    }

    /**
     * Whether the writer is to go on.
     *
     * @return false once the measurement is over.
     */
    final boolean writing()
    {
        return writing;
    }

    /**
     * Whether the run is ending: the reader is to stop, and failures no longer count.
     *
     * @return true once the run is ending.
     */
    final boolean closing()
    {
        return closing;
    }

    /**
     * Say how many bytes the writer has sent so far; on the writer thread.
     *
     * @param total bytes sent since the start.
     */
    final void setBytesWritten(final long total)
    {
        bytesWritten.lazySet(total);
    }

    /**
     * Say how many bytes have come back so far; on the reader thread.
     *
     * @param total bytes echoed since the start.
     */
    final void setBytesRead(final long total)
    {
        bytesRead.lazySet(total);
    }

    /**
     * Stream through the warm-up and the measurement, then drain.
     *
     * @return the throughput.
     * @throws BenchmarkException when the echo does not return every byte.
     */
    final StreamingLoad.Result run()
    {
        final Thread writer = new Thread(this::writeUntilStopped, "stream-writer-" + target);
        final Thread reader = new Thread(this::readUntilClosed, "stream-reader-" + target);
        writer.setDaemon(true);
        reader.setDaemon(true);
        lastProgressNs = System.nanoTime();
        reader.start();
        writer.start();
        try
        {
            final long startNs = System.nanoTime();
            awaitUntil(startNs + plan.warmupNs());
            final long measureStartNs = System.nanoTime();
            final long measureStartBytes = bytesRead.get();
            awaitUntil(measureStartNs + plan.durationNs());
            final long measureEndBytes = bytesRead.get();
            final long measureEndNs = System.nanoTime();

            writing = false;
            join(writer);
            if (writer.isAlive())
            {
                throw new BenchmarkException("the writer of the " + target + " stream did not stop within " +
                    TimeUnit.MILLISECONDS.toSeconds(THREAD_JOIN_TIMEOUT_MS) + " s");
            }
            checkFailure();
            drain();

            final long bytes = measureEndBytes - measureStartBytes;
            final long elapsedNs = measureEndNs - measureStartNs;
            return new StreamingLoad.Result(bytes * (double)TimeUnit.SECONDS.toNanos(1) / elapsedNs, bytes, elapsedNs);
        }
        finally
        {
            closing = true;
            writing = false;
            onClose();
            join(writer);
            join(reader);
        }
    }

    private void writeUntilStopped()
    {
        try
        {
            write();
        }
        catch (final IOException | RuntimeException ex)
        {
            fail(ex);
        }
    }

    private void readUntilClosed()
    {
        try
        {
            read();
        }
        catch (final IOException | RuntimeException ex)
        {
            fail(ex);
        }
    }

    private void fail(final Exception ex)
    {
        if (!closing)
        {
            failure.compareAndSet(null, ex);
        }
    }

    /**
     * Wait for the echo of every byte written.
     */
    private void drain()
    {
        final long writtenBytes = bytesWritten.get();
        final long quietSinceNs = System.nanoTime();
        while (bytesRead.get() < writtenBytes)
        {
            if (lossy() && System.nanoTime() - Math.max(quietSinceNs, lastProgressNs) > LOSSY_QUIET_NS)
            {
                return;
            }
            pause();
        }
        if (bytesRead.get() != writtenBytes)
        {
            throw new BenchmarkException(target + " echoed " + bytesRead.get() + " bytes of the " + writtenBytes +
                " written");
        }
    }

    private void awaitUntil(final long deadlineNs)
    {
        while (System.nanoTime() - deadlineNs < 0)
        {
            pause();
        }
    }

    /**
     * Sleep a little, then fail if a thread failed or the echo stood still too long.
     */
    private void pause()
    {
        try
        {
            TimeUnit.NANOSECONDS.sleep(CHECK_INTERVAL_NS);
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            throw new BenchmarkException("interrupted while streaming to " + target, ex);
        }
        checkFailure();
        final long nowNs = System.nanoTime();
        final long readBytes = bytesRead.get();
        if (readBytes != lastReadBytes)
        {
            lastReadBytes = readBytes;
            lastProgressNs = nowNs;
        }
        else if (nowNs - lastProgressNs > plan.stallTimeoutNs())
        {
            throw new BenchmarkException(target + " echoed nothing for " +
                TimeUnit.NANOSECONDS.toSeconds(plan.stallTimeoutNs()) + " s while streaming (" + readBytes + " of " +
                bytesWritten.get() + " bytes written came back)");
        }
    }

    private void checkFailure()
    {
        final Throwable ex = failure.get();
        if (null != ex)
        {
            if (ex instanceof BenchmarkException)
            {
                throw (BenchmarkException)ex;
            }
            throw new BenchmarkException("streaming with " + target + " failed: " + ex, ex);
        }
    }

    private static void join(final Thread thread)
    {
        try
        {
            thread.join(THREAD_JOIN_TIMEOUT_MS);
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
        }
    }
}
