package dev.mancom.transport.testkit;

import java.io.IOException;

/**
 * The far end of a transport connection as a test drives it, without ManCom: a plain socket for TCP and Unix domain
 * sockets, a datagram socket for UDP, and later the other end of a pseudo-terminal, a WebSocket client or an emulated
 * USB device. {@link SocketChannelPeer} serves every transport whose peer is a {@code java.nio} socket channel,
 * {@link DatagramChannelPeer} every transport whose peer is a {@code java.nio} datagram channel.
 * <p>
 * One thread may write while another reads. Blocking calls return or fail when the peer is closed from another
 * thread, which is how the suite keeps every test within its deadline.
 */
public interface RawPeer extends AutoCloseable
{
    /**
     * Write all of the bytes, blocking while the transport pushes back.
     *
     * @param bytes  holds the bytes.
     * @param offset where they start.
     * @param length how many.
     * @throws IOException when the connection fails or the peer is closed.
     */
    void write(byte[] bytes, int offset, int length) throws IOException;

    /**
     * Read what has arrived, blocking until at least one byte has.
     *
     * @param bytes  where to put them.
     * @param offset where in the array.
     * @param length at most this many.
     * @return how many bytes were read, or -1 at the end of the stream (the transport closed the connection).
     * @throws IOException when the connection fails or the peer is closed.
     */
    int read(byte[] bytes, int offset, int length) throws IOException;

    /**
     * Whether this peer's messages keep their boundaries (a datagram socket): each {@link #write} is one message, and
     * each {@link #read} returns bytes of one message only, the whole message when {@code length} allows (what does
     * not fit is returned by the next reads). The suite then echoes message by message, one message in flight per
     * connection (a lossy transport loses nothing when nothing overflows), and checks that every message comes back
     * whole and alone.
     *
     * @return false by default: a byte stream, whose reads may split and join writes.
     */
    default boolean keepsMessageBoundaries()
    {
        return false;
    }

    /**
     * Whether the transport learns of this peer only from its first message: a UDP listener opens a connection for
     * a remote address when the first datagram from it arrives, whereas a TCP listener accepts when the peer
     * connects. The suite then writes a first message before it waits for the transport to accept the connection,
     * and counts its bytes in what the transport receives.
     *
     * @return false by default: connecting is enough.
     */
    default boolean opensOnFirstMessage()
    {
        return false;
    }

    /**
     * Close this end in the orderly way of the transport, which the transport sees as the peer's close. Idempotent.
     *
     * @throws IOException when closing fails.
     */
    void close() throws IOException;
}
