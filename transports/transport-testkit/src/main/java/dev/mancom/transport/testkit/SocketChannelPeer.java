package dev.mancom.transport.testkit;

import java.io.IOException;
import java.net.SocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;

/**
 * A {@link RawPeer} on a blocking {@code java.nio} socket channel: TCP with an {@link java.net.InetSocketAddress},
 * a Unix domain socket with a {@link java.net.UnixDomainSocketAddress}.
 */
public final class SocketChannelPeer implements RawPeer
{
    private final SocketChannel channel;

    /**
     * A peer on a connected channel.
     *
     * @param channel the channel, connected, in blocking mode.
     */
    public SocketChannelPeer(final SocketChannel channel)
    {
        this.channel = channel;
    }

    /**
     * Connect to an address.
     *
     * @param address an {@link java.net.InetSocketAddress} or a {@link java.net.UnixDomainSocketAddress}.
     * @return the connected peer.
     * @throws IOException when the connection is refused.
     */
    public static SocketChannelPeer connect(final SocketAddress address) throws IOException
    {
        return new SocketChannelPeer(SocketChannel.open(address));
    }

    /**
     * The channel, for what only one transport's tests do with it (such as closing with a reset).
     *
     * @return the channel.
     */
    public SocketChannel channel()
    {
        return channel;
    }

    /**
     * {@inheritDoc}
     */
    public void write(final byte[] bytes, final int offset, final int length) throws IOException
    {
        final ByteBuffer buffer = ByteBuffer.wrap(bytes, offset, length);
        while (buffer.hasRemaining())
        {
            channel.write(buffer);
        }
    }

    /**
     * {@inheritDoc}
     */
    public int read(final byte[] bytes, final int offset, final int length) throws IOException
    {
        if (0 == length)
        {
            return 0;
        }
        int n;
        do
        {
            n = channel.read(ByteBuffer.wrap(bytes, offset, length));
        }
        while (0 == n);
        return n;
    }

    /**
     * {@inheritDoc}
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
        return "SocketChannelPeer{" + channel + "}";
    }
}
