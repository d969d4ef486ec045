package dev.mancom.transport;

import dev.mancom.protocol.Endpoint;
import org.agrona.DirectBuffer;

/**
 * One connection of a transport. A new connection has reading paused and no handler; the broker sets the handler
 * and then resumes reading.
 * <p>
 * Threading: {@link #write(DirectBuffer, int, int)} and {@link #flush()} are called by one thread at a time (the
 * broker's sender), which need not be the I/O thread. {@link #pauseReading()}, {@link #resumeReading()} and
 * {@link #close()} may be called from any thread.
 */
public interface TransportConnection
{
    /**
     * This end.
     *
     * @return the local endpoint.
     */
    Endpoint localEndpoint();

    /**
     * The other end.
     *
     * @return the remote endpoint.
     */
    Endpoint remoteEndpoint();

    /**
     * Whether each {@link ConnectionHandler#onData} call is one message that must reach the application whole (a
     * datagram), rather than a stretch of a byte stream. The broker then never splits one across Data events for
     * want of credit: it waits until the credit window has room for the whole message.
     *
     * @return false unless the transport says otherwise.
     */
    default boolean keepsMessageBoundaries()
    {
        return false;
    }

    /**
     * Set the handler that receives this connection's events. Called once, before {@link #resumeReading()}.
     *
     * @param handler the handler.
     */
    void handler(ConnectionHandler handler);

    /**
     * Stop delivering {@link ConnectionHandler#onData}: the transport stops reading, so back pressure reaches the
     * remote peer (TCP's window, a USB device's NAKs). Bytes already read by the transport but not yet delivered are
     * delivered after {@link #resumeReading()}.
     */
    void pauseReading();

    /**
     * Deliver {@link ConnectionHandler#onData} again.
     */
    void resumeReading();

    /**
     * Copy bytes into the transport's outbound buffer. They are sent after {@link #flush()}. The caller bounds how
     * much it writes before {@link ConnectionHandler#onWritten(int)} reports it sent.
     *
     * @param buffer holds the bytes.
     * @param offset where they start.
     * @param length how many.
     */
    void write(DirectBuffer buffer, int offset, int length);

    /**
     * Send what was written.
     */
    void flush();

    /**
     * Close the connection once the bytes already written are sent. Idempotent;
     * {@link ConnectionHandler#onClosed(dev.mancom.protocol.codecs.CloseReason, String)} follows with
     * {@code LOCAL_CLOSED}.
     */
    void close();

    /**
     * Close the connection at once, dropping unsent bytes. Idempotent.
     *
     * @param reason the reason reported to the handler.
     */
    void abort(dev.mancom.protocol.codecs.CloseReason reason);
}
