package dev.mancom.bench;

import org.HdrHistogram.Histogram;

import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.SocketAddress;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.util.concurrent.TimeUnit;

/**
 * Ping-pong over UDP: send a datagram, wait for it to come back, repeat; each round trip timed with
 * {@link System#nanoTime()} around the send and the receive. Each datagram carries its sequence number (when it has
 * room for it). A datagram that has not come back within the loss time-out counts as lost and the next one goes;
 * an echo that comes back later, or of another sequence number, is skipped. The run fails when the echo has stood
 * still (every datagram lost) for the stall time-out.
 */
final class DatagramPingPongLoad
{
    private static final int SEQUENCE_LENGTH = Long.BYTES;

    private DatagramPingPongLoad()
    {
    }

    /**
     * What one run measured.
     *
     * @param pingPong the round-trip times of the measured round trips that came back, and how long they took.
     * @param lost     measured datagrams that did not come back within the loss time-out.
     */
    record Result(PingPongLoad.Result pingPong, long lost)
    {
    }

    /**
     * Open a socket, warm up, measure, close.
     *
     * @param target        the server's name, for messages.
     * @param address       the server's socket.
     * @param plan          what to run; its pause is ignored.
     * @param lossTimeoutNs how long to wait for a datagram's echo before counting it lost.
     * @return the round-trip times and the losses.
     * @throws BenchmarkException when the server echoes nothing for the stall time-out.
     */
    static Result run(
        final String target, final SocketAddress address, final PingPongLoad.Plan plan, final long lossTimeoutNs)
    {
        final Histogram histogram = new Histogram(3);
        final int size = plan.messageSizeBytes();
        final ByteBuffer out = PingPongLoad.message(size);
        final byte[] in = new byte[size + 1];
        final DatagramPacket packet = new DatagramPacket(in, in.length);
        final boolean checkSequence = size >= SEQUENCE_LENGTH;
        final long total = plan.totalCount();
        long lost = 0;
        long lastEchoNs = System.nanoTime();

        final DatagramChannel channel = DatagramStreamingLoad.open(target, address);
        try
        {
            final DatagramSocket socket = channel.socket();
            socket.setSoTimeout((int)Math.max(1, TimeUnit.NANOSECONDS.toMillis(lossTimeoutNs)));
            long measureStartNs = System.nanoTime();
            for (long sequence = 0; sequence < total; sequence++)
            {
                if (sequence == plan.warmupCount())
                {
                    measureStartNs = System.nanoTime();
                }
                if (checkSequence)
                {
                    out.putLong(0, sequence);
                }
                out.clear();

                final long startNs = System.nanoTime();
                channel.write(out);
                long rttNs = -1;
                try
                {
                    while (rttNs < 0)
                    {
                        packet.setLength(in.length);
                        socket.receive(packet);
                        final long nowNs = System.nanoTime();
                        if (packet.getLength() == size &&
                            (!checkSequence || ByteBuffer.wrap(in).getLong(0) == sequence))
                        {
                            rttNs = nowNs - startNs;
                        }
                        else if (nowNs - startNs > lossTimeoutNs)
                        {
                            // Only late echoes of earlier datagrams came back: this one counts as lost too.
                            throw new SocketTimeoutException();
                        }
                    }
                    lastEchoNs = System.nanoTime();
                    if (sequence >= plan.warmupCount())
                    {
                        histogram.recordValue(rttNs);
                    }
                }
                catch (final SocketTimeoutException ex)
                {
                    if (sequence >= plan.warmupCount())
                    {
                        lost++;
                    }
                    if (System.nanoTime() - lastEchoNs > plan.stallTimeoutNs())
                    {
                        throw new BenchmarkException(target + " echoed no datagram for " +
                            TimeUnit.NANOSECONDS.toSeconds(plan.stallTimeoutNs()) + " s (after " + sequence +
                            " datagrams sent)");
                    }
                }
            }
            return new Result(new PingPongLoad.Result(histogram, System.nanoTime() - measureStartNs), lost);
        }
        catch (final IOException ex)
        {
            throw new BenchmarkException("UDP ping-pong with " + target + " failed: " + ex, ex);
        }
        finally
        {
            PingPongLoad.closeQuietly(channel);
        }
    }
}
