package dev.mancom.bench;

import java.io.IOException;
import java.net.SocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Streaming over one TCP (or Unix domain socket) connection: a writer thread writes buffers as fast as the
 * connection takes them while a reader thread reads the echo and counts it. After a warm-up, the bytes read over a
 * fixed time give the throughput. At the end the writer stops and the reader waits for every byte written to come
 * back, so that the server is idle again before the next measurement and an echo that loses bytes fails the run.
 */
final class StreamingLoad
{
    private static final long CHECK_INTERVAL_NS = TimeUnit.MILLISECONDS.toNanos(50);
    private static final long THREAD_JOIN_TIMEOUT_MS = 10_000;

    private final String target;
    private final SocketChannel channel;
    private final int bufferSizeBytes;
    private final long stallTimeoutNs;
    private final AtomicLong bytesWritten = new AtomicLong();
    private final AtomicLong bytesRead = new AtomicLong();
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    private volatile boolean writing = true;
    private volatile boolean closing;
    private long lastReadBytes;
    private long lastProgressNs;

    /**
     * What one run measured.
     *
     * @param bytesPerSecond bytes echoed per second during the measurement.
     * @param bytes          bytes echoed during the measurement.
     * @param elapsedNs      how long the measurement took.
     */
    record Result(double bytesPerSecond, long bytes, long elapsedNs)
    {
    }

    private StreamingLoad(
        final String target, final SocketChannel channel, final int bufferSizeBytes, final long stallTimeoutNs)
    {
        this.target = target;
        this.channel = channel;
        this.bufferSizeBytes = bufferSizeBytes;
        this.stallTimeoutNs = stallTimeoutNs;
    }

    /**
     * Connect, stream through the warm-up and the measurement, drain, disconnect.
     *
     * @param target          the server's name, for messages.
     * @param address         where the echo server listens.
     * @param bufferSizeBytes the size of each write (and of the reader's buffer).
     * @param warmupNs        how long to stream before measuring.
     * @param durationNs      how long to measure.
     * @param stallTimeoutNs  how long the echo may stand still before the run fails.
     * @return the throughput.
     * @throws BenchmarkException when the server does not echo every byte.
     */
    static Result run(
        final String target,
        final SocketAddress address,
        final int bufferSizeBytes,
        final long warmupNs,
        final long durationNs,
        final long stallTimeoutNs)
    {
        final SocketChannel channel = PingPongLoad.connect(target, address);
        return new StreamingLoad(target, channel, bufferSizeBytes, stallTimeoutNs).run(warmupNs, durationNs);
    }

    private Result run(final long warmupNs, final long durationNs)
    {
        final Thread writer = new Thread(this::write, "stream-writer-" + target);
        final Thread reader = new Thread(this::read, "stream-reader-" + target);
        writer.setDaemon(true);
        reader.setDaemon(true);
        lastProgressNs = System.nanoTime();
        reader.start();
        writer.start();
        try
        {
            final long startNs = System.nanoTime();
            awaitUntil(startNs + warmupNs);
            final long measureStartNs = System.nanoTime();
            final long measureStartBytes = bytesRead.get();
            awaitUntil(measureStartNs + durationNs);
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
            return new Result(bytes * (double)TimeUnit.SECONDS.toNanos(1) / elapsedNs, bytes, elapsedNs);
        }
        finally
        {
            closing = true;
            writing = false;
            PingPongLoad.closeQuietly(channel);
            join(writer);
            join(reader);
        }
    }

    private void write()
    {
        final ByteBuffer buffer = ByteBuffer.allocateDirect(bufferSizeBytes);
        for (int i = 0; i < bufferSizeBytes; i++)
        {
            buffer.put(i, (byte)('a' + (i % 26)));
        }
        long total = 0;
        try
        {
            while (writing)
            {
                buffer.clear();
                do
                {
                    total += channel.write(buffer);
                }
                while (buffer.hasRemaining());
                bytesWritten.lazySet(total);
            }
        }
        catch (final IOException | RuntimeException ex)
        {
            if (!closing)
            {
                failure.compareAndSet(null, ex);
            }
        }
        finally
        {
            bytesWritten.set(total);
        }
    }

    private void read()
    {
        final ByteBuffer buffer = ByteBuffer.allocateDirect(bufferSizeBytes);
        long total = 0;
        try
        {
            while (!closing)
            {
                buffer.clear();
                final int read = channel.read(buffer);
                if (read < 0)
                {
                    if (!closing)
                    {
                        failure.compareAndSet(null, new BenchmarkException(target +
                            " closed the streaming connection after echoing " + total + " bytes"));
                    }
                    return;
                }
                total += read;
                bytesRead.lazySet(total);
            }
        }
        catch (final IOException | RuntimeException ex)
        {
            if (!closing)
            {
                failure.compareAndSet(null, ex);
            }
        }
    }

    /**
     * Wait for the echo of every byte written.
     */
    private void drain()
    {
        final long writtenBytes = bytesWritten.get();
        while (bytesRead.get() < writtenBytes)
        {
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
        else if (nowNs - lastProgressNs > stallTimeoutNs)
        {
            throw new BenchmarkException(target + " echoed nothing for " +
                TimeUnit.NANOSECONDS.toSeconds(stallTimeoutNs) + " s while streaming (" + readBytes + " of " +
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
