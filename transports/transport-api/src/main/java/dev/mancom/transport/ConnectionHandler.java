package dev.mancom.transport;

import dev.mancom.protocol.codecs.CloseReason;
import org.agrona.DirectBuffer;

/**
 * The broker's side of a {@link TransportConnection}: all calls come on the connection's I/O thread, in order,
 * and must not block.
 */
public interface ConnectionHandler
{
    /**
     * Bytes arrived. The view is valid only during the call. For datagram transports one call is one datagram.
     * <p>
     * The handler may call {@link TransportConnection#pauseReading()} from here; no further call of
     * {@code onData} follows until reading is resumed.
     *
     * @param buffer holds the bytes.
     * @param offset where they start.
     * @param length how many.
     */
    void onData(DirectBuffer buffer, int offset, int length);

    /**
     * This many bytes given to {@link TransportConnection#write(DirectBuffer, int, int)} have left the transport's
     * own buffers (handed to the operating system or the device). Used for flow control.
     *
     * @param length number of bytes.
     */
    void onWritten(int length);

    /**
     * The connection is closed, for the reason given. Called exactly once; no call follows it.
     *
     * @param reason why.
     * @param detail more detail for a person, may be empty.
     */
    void onClosed(CloseReason reason, String detail);
}
