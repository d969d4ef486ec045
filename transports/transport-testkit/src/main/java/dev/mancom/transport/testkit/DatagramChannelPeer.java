package dev.mancom.transport.testkit;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;

/**
 * A {@link RawPeer} on a blocking, connected {@code java.nio} datagram channel: each {@link #write} is one datagram,
 * and reads return the datagrams that come back from the connected address, one at a time. It
 * {@link #keepsMessageBoundaries() keeps message boundaries} and {@link #opensOnFirstMessage() opens its connection
 * with its first datagram}.
 * <p>
 * UDP has no end of stream: {@link #read} never returns -1, and {@link #close()} tells the transport nothing. One
 * thread may write while another reads; reads are for one thread at a time.
 */
public final class DatagramChannelPeer implements RawPeer
{
    /**
     * Holds any datagram whole (65,535 less the UDP header over IPv6 is 65,527 bytes), so none is truncated.
     */
    private static final int RECEIVE_LENGTH = 64 * 1024;

    private final DatagramChannel channel;
    private final ByteBuffer received = ByteBuffer.allocate(RECEIVE_LENGTH).flip();

    /**
     * A peer on a channel.
     *
     * @param channel the channel, bound, connected, in blocking mode.
     */
    public DatagramChannelPeer(final DatagramChannel channel)
    {
        this.channel = channel;
    }

    /**
     * Bind an ephemeral port on the loopback address and connect to an address: only datagrams from it are read.
     *
     * @param address an {@link InetSocketAddress}.
     * @return the connected peer.
     * @throws IOException when the channel cannot be opened.
     */
    public static DatagramChannelPeer connect(final SocketAddress address) throws IOException
    {
        final DatagramChannel channel = DatagramChannel.open();
        try
        {
            channel.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            channel.connect(address);
            return new DatagramChannelPeer(channel);
        }
        catch (final IOException | RuntimeException ex)
        {
            channel.close();
            throw ex;
        }
    }

    /**
     * The channel, for what only one transport's tests do with it.
     *
     * @return the channel.
     */
    public DatagramChannel channel()
    {
        return channel;
    }

    /**
     * {@inheritDoc}
     * <p>
     * One datagram of all the bytes; {@code length} must be at most the largest datagram the transport takes.
     */
    public void write(final byte[] bytes, final int offset, final int length) throws IOException
    {
        final int sent = channel.write(ByteBuffer.wrap(bytes, offset, length));
        if (sent != length)
        {
            throw new IOException("sent " + sent + " of " + length + " bytes in one datagram");
        }
    }

    /**
     * {@inheritDoc}
     * <p>
     * Bytes of one datagram: what is left of the last one read, else the next one, waiting for it.
     */
    public int read(final byte[] bytes, final int offset, final int length) throws IOException
    {
        if (0 == length)
        {
            return 0;
        }
        while (!received.hasRemaining())
        {
            // An empty datagram carries nothing: wait for the next.
            received.clear();
            channel.read(received);
            received.flip();
        }
        final int n = Math.min(length, received.remaining());
        received.get(bytes, offset, n);
        return n;
    }

    /**
     * {@inheritDoc}
     */
    public boolean keepsMessageBoundaries()
    {
        return true;
    }

    /**
     * {@inheritDoc}
     */
    public boolean opensOnFirstMessage()
    {
        return true;
    }

    /**
     * {@inheritDoc}
     * <p>
     * Closes the channel; the transport does not see it (UDP has no close).
     */
    public void close() throws IOException
    {
        channel.close();
    }

    /**
     * The peer as its channel.
     *
     * @return the channel's description.
     */
    public String toString()
    {
        return "DatagramChannelPeer{" + channel + "}";
    }
}
