package dev.mancom.bench;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

/**
 * Datagram streaming over UDP: one socket of this JVM, a writer thread sending datagrams of one size while a reader
 * thread counts the datagrams that come back. UDP has no flow control, so the writer keeps its own window: at most
 * {@code window} datagrams sent and not yet back. A writer with no window would only measure which process the
 * scheduler favours, the kernel dropping whatever the echo has no CPU time to read. When the window stays full for
 * the loss time-out, its datagrams are written off as lost and the writer goes on with a full window again. The
 * figures are the throughput delivered back to the client and the share of the datagrams sent that never came back
 * (after the run, once nothing has come back for half a second). The client's socket asks for a 4 MiB receive buffer
 * (the kernel caps it at {@code net.core.rmem_max}), so that most of what is lost is lost by the echo, not by the
 * client.
 */
final class DatagramStreamingLoad extends StreamingMeasurement
{
    private static final int RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024;

    private final DatagramChannel channel;
    private final Semaphore window;
    private final int windowDatagrams;
    private final long lossTimeoutNs;

    /**
     * What one run measured.
     *
     * @param streaming    the throughput echoed during the measurement.
     * @param sentBytes    bytes sent over the whole run, the warm-up's included.
     * @param echoedBytes  bytes that came back over the whole run.
     */
    record Result(StreamingLoad.Result streaming, long sentBytes, long echoedBytes)
    {
        /**
         * The share of what was sent that did not come back.
         *
         * @return from 0 to 1.
         */
        double loss()
        {
            return 0 == sentBytes ? 0 : 1 - (double)echoedBytes / sentBytes;
        }
    }

    private DatagramStreamingLoad(
        final String target,
        final DatagramChannel channel,
        final StreamingLoad.Plan plan,
        final int windowDatagrams,
        final long lossTimeoutNs)
    {
        super(target, plan);
        this.channel = channel;
        this.windowDatagrams = windowDatagrams;
        this.lossTimeoutNs = lossTimeoutNs;
        this.window = new Semaphore(windowDatagrams);
    }

    /**
     * Open a socket, stream datagrams of {@code plan.bufferSizeBytes()} through the warm-up and the measurement, wait
     * for the stragglers, close.
     *
     * @param target  the server's name, for messages.
     * @param address where the echo server's socket is.
     * @param plan          what to run; each datagram is {@code bufferSizeBytes} long.
     * @param window        datagrams sent and not yet back at most.
     * @param lossTimeoutNs how long the window may stay full before its datagrams count lost.
     * @return the throughput and the loss.
     * @throws BenchmarkException when the server echoes nothing.
     */
    static Result run(
        final String target,
        final SocketAddress address,
        final StreamingLoad.Plan plan,
        final int window,
        final long lossTimeoutNs)
    {
        final DatagramStreamingLoad load =
            new DatagramStreamingLoad(target, open(target, address), plan, window, lossTimeoutNs);
        final StreamingLoad.Result streaming = load.run();
        return new Result(streaming, load.bytesWritten(), load.bytesRead());
    }

    /**
     * A blocking datagram socket on an ephemeral loopback port, connected to the server.
     *
     * @param target  the server's name, for messages.
     * @param address the server's socket.
     * @return the channel.
     * @throws BenchmarkException when it cannot be opened.
     */
    static DatagramChannel open(final String target, final SocketAddress address)
    {
        DatagramChannel channel = null;
        try
        {
            channel = DatagramChannel.open();
            // As large as the kernel allows (net.core.rmem_max), so that the client drops little of the echo and the
            // loss measured is the echo's.
            channel.setOption(StandardSocketOptions.SO_RCVBUF, RECEIVE_BUFFER_BYTES);
            channel.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            channel.connect(address);
            return channel;
        }
        catch (final IOException ex)
        {
            PingPongLoad.closeQuietly(channel);
            throw new BenchmarkException("cannot open a UDP socket to " + target + " at " + address + ": " + ex, ex);
        }
    }

    boolean lossy()
    {
        return true;
    }

    void write() throws IOException
    {
        final ByteBuffer buffer = PingPongLoad.message(plan.bufferSizeBytes());
        long total = 0;
        try
        {
            while (writing())
            {
                if (!window.tryAcquire(lossTimeoutNs, TimeUnit.NANOSECONDS))
                {
                    // What is in flight is not coming back: start again with a full window.
                    window.drainPermits();
                    window.release(windowDatagrams);
                    continue;
                }
                buffer.clear();
                total += channel.write(buffer);
                setBytesWritten(total);
            }
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
        }
    }

    void read() throws IOException
    {
        // Larger than any datagram, so that none is cut short.
        final ByteBuffer buffer = ByteBuffer.allocateDirect(64 * 1024);
        long total = 0;
        while (!closing())
        {
            buffer.clear();
            total += channel.read(buffer);
            setBytesRead(total);
            window.release();
        }
    }

    void onClose()
    {
        PingPongLoad.closeQuietly(channel);
    }
}
