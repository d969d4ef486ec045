package dev.mancom.transport.testkit;

import java.io.IOException;

/**
 * The far end of a transport connection as a test drives it, without ManCom: a plain socket for TCP and Unix domain
 * sockets, and later a datagram socket, the other end of a pseudo-terminal, a WebSocket client or an emulated USB
 * device. {@link SocketChannelPeer} serves every transport whose peer is a {@code java.nio} socket channel.
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
     * Close this end in the orderly way of the transport, which the transport sees as the peer's close. Idempotent.
     *
     * @throws IOException when closing fails.
     */
    void close() throws IOException;
}
