package dev.mancom.bench;

import org.HdrHistogram.Histogram;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.IdleStrategy;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.ByteBuffer;
import java.util.concurrent.TimeUnit;

/**
 * The loads of {@link PingPongLoad} and {@link StreamingLoad} over an {@link EchoPipe} instead of a socket: the same
 * measurements, with the pipe's own offer, poll and idle in place of blocking system calls, and the stall checks
 * in the loops (there is no channel to close).
 */
final class PipeLoads
{
    private static final int STALL_CHECK_MASK = 255;

    private PipeLoads()
    {
    }

    /**
     * Ping-pong: send a message, poll until it has come back whole, repeat; each round trip timed from before the
     * offer to after the poll that completed it. Each message carries its sequence number (when it has room),
     * checked on return.
     *
     * @param pipe the echo.
     * @param plan what to run.
     * @return the round-trip times.
     * @throws BenchmarkException when the echo stops or is wrong.
     */
    static PingPongLoad.Result pingPong(final EchoPipe pipe, final PingPongLoad.Plan plan)
    {
        final int messageSizeBytes = plan.messageSizeBytes();
        final long stallTimeoutNs = plan.stallTimeoutNs();
        final Histogram histogram = new Histogram(3);
        final UnsafeBuffer outBuffer = new UnsafeBuffer(PingPongLoad.message(messageSizeBytes));
        final Echo echo = new Echo(messageSizeBytes);
        final boolean checkSequence = plan.checksSequence();
        final long total = plan.totalCount();
        final String target = pipe.name();

        long measureStartNs = System.nanoTime();
        for (long sequence = 0; sequence < total; sequence++)
        {
            if (sequence == plan.warmupCount())
            {
                measureStartNs = System.nanoTime();
            }
            if (plan.pauseNs() > 0)
            {
                PingPongLoad.pause(target, plan.pauseNs());
            }
            if (checkSequence)
            {
                outBuffer.putLong(0, sequence);
            }
            echo.received = 0;
            int iterations = 0;

            final long startNs = System.nanoTime();
            int sent = 0;
            while (sent < messageSizeBytes)
            {
                final int offered = pipe.offer(outBuffer, sent, messageSizeBytes - sent);
                if (offered > 0)
                {
                    sent += offered;
                }
                else
                {
                    pipe.idle(pipe.poll(echo));
                    checkStall(++iterations, startNs, stallTimeoutNs, target, sequence);
                }
            }
            while (echo.received < messageSizeBytes)
            {
                pipe.idle(pipe.poll(echo));
                checkStall(++iterations, startNs, stallTimeoutNs, target, sequence);
            }
            final long rttNs = System.nanoTime() - startNs;

            if (echo.received > messageSizeBytes)
            {
                throw new BenchmarkException(target + " echoed " + echo.received + " bytes of a " + messageSizeBytes +
                    "-byte message");
            }
            if (checkSequence && echo.buffer.getLong(0) != sequence)
            {
                throw new BenchmarkException(target + " echoed message " + echo.buffer.getLong(0) +
                    " when message " + sequence + " was expected");
            }
            if (sequence >= plan.warmupCount())
            {
                histogram.recordValue(rttNs);
            }
        }
        return new PingPongLoad.Result(histogram, System.nanoTime() - measureStartNs);
    }

    private static void checkStall(
        final int iterations, final long startNs, final long stallTimeoutNs, final String target, final long sequence)
    {
        if (0 == (iterations & STALL_CHECK_MASK) && System.nanoTime() - startNs > stallTimeoutNs)
        {
            throw new BenchmarkException(target + " did not echo a ping-pong message within " +
                TimeUnit.NANOSECONDS.toSeconds(stallTimeoutNs) + " s (after " + sequence + " round trips)");
        }
    }

    /**
     * Collects one echoed message.
     */
    private static final class Echo implements EchoPipe.Receiver
    {
        private final UnsafeBuffer buffer;
        private int received;

        Echo(final int messageSizeBytes)
        {
            buffer = new UnsafeBuffer(ByteBuffer.allocateDirect(messageSizeBytes));
        }

        public void onBytes(final DirectBuffer source, final int offset, final int length)
        {
            final int room = buffer.capacity() - received;
            if (room > 0)
            {
                buffer.putBytes(received, source, offset, Math.min(room, length));
            }
            received += length;
        }
    }

    /**
     * Streaming: a writer thread offers buffers as fast as the pipe takes them while a reader thread polls the echo
     * and counts it; after a warm-up, the bytes read over a fixed time give the throughput. At the end the writer
     * stops and the reader waits for every byte written to come back.
     *
     * @param pipe the echo.
     * @param plan what to run; each message written is a buffer's size.
     * @return the throughput.
     * @throws BenchmarkException when the echo does not return every byte.
     */
    static StreamingLoad.Result streaming(final EchoPipe pipe, final StreamingLoad.Plan plan)
    {
        return new Streaming(pipe, plan).run();
    }

    /**
     * One streaming run.
     */
    private static final class Streaming extends StreamingMeasurement implements EchoPipe.Receiver
    {
        private final EchoPipe pipe;
        private long readTotal;

        Streaming(final EchoPipe pipe, final StreamingLoad.Plan plan)
        {
            super(pipe.name(), plan);
            this.pipe = pipe;
        }

        void write()
        {
            final int bufferSizeBytes = plan.bufferSizeBytes();
            final UnsafeBuffer buffer = new UnsafeBuffer(PingPongLoad.message(bufferSizeBytes));
            final IdleStrategy idle = pipe.newOfferIdleStrategy();
            long total = 0;
            while (writing())
            {
                int sent = 0;
                while (sent < bufferSizeBytes && !closing())
                {
                    final int offered = pipe.offer(buffer, sent, bufferSizeBytes - sent);
                    if (offered > 0)
                    {
                        sent += offered;
                        total += offered;
                        setBytesWritten(total);
                    }
                    idle.idle(offered);
                }
            }
        }

        void read()
        {
            while (!closing())
            {
                pipe.idle(pipe.poll(this));
            }
        }

        public void onBytes(final DirectBuffer buffer, final int offset, final int length)
        {
            readTotal += length;
            setBytesRead(readTotal);
        }
    }
}
