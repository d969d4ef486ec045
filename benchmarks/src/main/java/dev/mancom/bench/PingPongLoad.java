package dev.mancom.bench;

import org.HdrHistogram.Histogram;

import java.io.IOException;
import java.net.SocketAddress;
import java.net.StandardProtocolFamily;
import java.net.StandardSocketOptions;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channel;
import java.nio.channels.SocketChannel;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Ping-pong over one TCP (or Unix domain socket) connection: send a message, read it back whole, repeat; each round
 * trip timed with {@link System#nanoTime()} around the write and the last read. A blocking {@link SocketChannel}
 * with direct buffers, so that each write and read is one system call. Each message carries its sequence number
 * (when it has room for it), checked on return, so that an echo that loses or reorders bytes fails the run. With a
 * pause, each message is sent that long after the previous echo came back (not timed), so that the server's
 * reader has gone to sleep: the round trip then includes its wake-up.
 */
final class PingPongLoad
{
    private static final int SEQUENCE_LENGTH = Long.BYTES;

    private PingPongLoad()
    {
    }

    /**
     * What one run measured.
     *
     * @param histogram the round-trip times of the measured round trips, in nanoseconds.
     * @param elapsedNs how long the measured round trips took together.
     */
    record Result(Histogram histogram, long elapsedNs)
    {
    }

    /**
     * What one ping-pong run does, over a socket or over an {@link EchoPipe} ({@link PipeLoads}).
     *
     * @param messageSizeBytes the size of each message.
     * @param warmupCount      round trips not recorded, first.
     * @param count            round trips recorded.
     * @param pauseNs          how long to wait before sending each message (not timed); 0 for none.
     * @param stallTimeoutNs   how long a round trip may take before the run fails.
     */
    record Plan(int messageSizeBytes, long warmupCount, long count, long pauseNs, long stallTimeoutNs)
    {
        /**
         * Whether each message has room for its sequence number, which the echo must return.
         *
         * @return true when the messages are checked.
         */
        boolean checksSequence()
        {
            return messageSizeBytes >= SEQUENCE_LENGTH;
        }

        /**
         * The round trips of a run, the warm-up's included.
         *
         * @return how many.
         */
        long totalCount()
        {
            return warmupCount + count;
        }
    }

    /**
     * Connect, warm up, measure, disconnect, pausing before each message if the plan says so.
     *
     * @param target  the server's name, for messages.
     * @param address where the echo server listens: an {@code InetSocketAddress} or a
     *                {@link UnixDomainSocketAddress}.
     * @param plan    what to run.
     * @return the round-trip times; the elapsed time includes the pauses.
     * @throws BenchmarkException when the server does not echo.
     */
    static Result run(final String target, final SocketAddress address, final Plan plan)
    {
        final Histogram histogram = new Histogram(3);
        final AtomicLong progress = new AtomicLong();
        final ByteBuffer outBuffer = message(plan.messageSizeBytes());
        final ByteBuffer inBuffer = ByteBuffer.allocateDirect(plan.messageSizeBytes());
        final boolean checkSequence = plan.checksSequence();
        final long total = plan.totalCount();

        final SocketChannel channel = connect(target, address);
        try (StallWatchdog watchdog = new StallWatchdog(
            "ping-pong-" + target, progress::get, channel, plan.stallTimeoutNs()))
        {
            long measureStartNs = System.nanoTime();
            long sequence = 0;
            try
            {
                for (; sequence < total; sequence++)
                {
                    if (sequence == plan.warmupCount())
                    {
                        measureStartNs = System.nanoTime();
                    }
                    if (plan.pauseNs() > 0)
                    {
                        pause(target, plan.pauseNs());
                    }
                    if (checkSequence)
                    {
                        outBuffer.putLong(0, sequence);
                    }
                    outBuffer.clear();
                    inBuffer.clear();

                    final long startNs = System.nanoTime();
                    do
                    {
                        channel.write(outBuffer);
                    }
                    while (outBuffer.hasRemaining());
                    do
                    {
                        if (channel.read(inBuffer) < 0)
                        {
                            throw new BenchmarkException(target + " closed the ping-pong connection after " +
                                sequence + " round trips");
                        }
                    }
                    while (inBuffer.hasRemaining());
                    final long rttNs = System.nanoTime() - startNs;

                    if (checkSequence && inBuffer.getLong(0) != sequence)
                    {
                        throw new BenchmarkException(target + " echoed message " + inBuffer.getLong(0) +
                            " when message " + sequence + " was expected");
                    }
                    if (sequence >= plan.warmupCount())
                    {
                        histogram.recordValue(rttNs);
                    }
                    progress.lazySet(sequence + 1);
                }
            }
            catch (final IOException ex)
            {
                if (watchdog.stalled())
                {
                    throw new BenchmarkException(target + " did not echo a ping-pong message within " +
                        watchdog.stallTimeoutSeconds() + " s (after " + sequence + " round trips)", ex);
                }
                throw new BenchmarkException("ping-pong with " + target + " failed after " + sequence +
                    " round trips: " + ex, ex);
            }
            return new Result(histogram, System.nanoTime() - measureStartNs);
        }
        finally
        {
            closeQuietly(channel);
        }
    }

    /**
     * A message to send: a direct buffer of letters, {@code abc...z} over and over.
     *
     * @param sizeBytes its size.
     * @return the buffer, its position 0 and its limit its size.
     */
    static ByteBuffer message(final int sizeBytes)
    {
        final ByteBuffer buffer = ByteBuffer.allocateDirect(sizeBytes);
        for (int i = 0; i < sizeBytes; i++)
        {
            buffer.put(i, (byte)('a' + (i % 26)));
        }
        return buffer;
    }

    /**
     * Sleep between two round trips.
     *
     * @param target  the server's name, for messages.
     * @param pauseNs how long.
     * @throws BenchmarkException when interrupted.
     */
    static void pause(final String target, final long pauseNs)
    {
        try
        {
            TimeUnit.NANOSECONDS.sleep(pauseNs);
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            throw new BenchmarkException("interrupted during the ping-pong with " + target, ex);
        }
    }

    /**
     * Open a blocking connection: TCP with TCP_NODELAY, or a Unix domain socket.
     *
     * @param target  the server's name, for messages.
     * @param address where it listens: an {@code InetSocketAddress} or a {@link UnixDomainSocketAddress}.
     * @return the connected channel.
     * @throws BenchmarkException when it cannot connect.
     */
    static SocketChannel connect(final String target, final SocketAddress address)
    {
        SocketChannel channel = null;
        try
        {
            if (address instanceof UnixDomainSocketAddress)
            {
                channel = SocketChannel.open(StandardProtocolFamily.UNIX);
            }
            else
            {
                channel = SocketChannel.open();
                channel.setOption(StandardSocketOptions.TCP_NODELAY, true);
            }
            channel.connect(address);
            return channel;
        }
        catch (final IOException ex)
        {
            closeQuietly(channel);
            throw new BenchmarkException("cannot connect to " + target + " at " + address + ": " + ex, ex);
        }
    }

    /**
     * Close a channel, ignoring failures.
     *
     * @param channel the channel or null: a socket or a datagram channel.
     */
    static void closeQuietly(final Channel channel)
    {
        if (null != channel)
        {
            try
            {
                channel.close();
            }
            catch (final IOException ignore)
            {
                // nothing more to do
            }
        }
    }
}
