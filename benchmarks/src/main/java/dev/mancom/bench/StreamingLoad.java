package dev.mancom.bench;

import java.io.IOException;
import java.net.SocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;

/**
 * Streaming over one TCP (or Unix domain socket) connection: a writer thread writes buffers as fast as the
 * connection takes them while a reader thread reads the echo and counts it. After a warm-up, the bytes read over a
 * fixed time give the throughput. At the end the writer stops and the reader waits for every byte written to come
 * back, so that the server is idle again before the next measurement and an echo that loses bytes fails the run.
 */
final class StreamingLoad extends StreamingMeasurement
{
    private final SocketChannel channel;

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

    /**
     * What one streaming run does, over a socket or over an {@link EchoPipe} ({@link PipeLoads}).
     *
     * @param bufferSizeBytes the size of each write (and of the reader's buffer).
     * @param warmupNs        how long to stream before measuring.
     * @param durationNs      how long to measure.
     * @param stallTimeoutNs  how long the echo may stand still before the run fails.
     */
    record Plan(int bufferSizeBytes, long warmupNs, long durationNs, long stallTimeoutNs)
    {
    }

    private StreamingLoad(final String target, final SocketChannel channel, final Plan plan)
    {
        super(target, plan);
        this.channel = channel;
    }

    /**
     * Connect, stream through the warm-up and the measurement, drain, disconnect.
     *
     * @param target  the server's name, for messages.
     * @param address where the echo server listens.
     * @param plan    what to run.
     * @return the throughput.
     * @throws BenchmarkException when the server does not echo every byte.
     */
    static Result run(final String target, final SocketAddress address, final Plan plan)
    {
        final SocketChannel channel = PingPongLoad.connect(target, address);
        return new StreamingLoad(target, channel, plan).run();
    }

    void write() throws IOException
    {
        final ByteBuffer buffer = PingPongLoad.message(plan.bufferSizeBytes());
        long total = 0;
        while (writing())
        {
            buffer.clear();
            do
            {
                total += channel.write(buffer);
            }
            while (buffer.hasRemaining());
            setBytesWritten(total);
        }
    }

    void read() throws IOException
    {
        final ByteBuffer buffer = ByteBuffer.allocateDirect(plan.bufferSizeBytes());
        long total = 0;
        while (!closing())
        {
            buffer.clear();
            final int read = channel.read(buffer);
            if (read < 0)
            {
                throw new BenchmarkException(target + " closed the streaming connection after echoing " + total +
                    " bytes");
            }
            total += read;
            setBytesRead(total);
        }
    }

    void onClose()
    {
        PingPongLoad.closeQuietly(channel);
    }
}
