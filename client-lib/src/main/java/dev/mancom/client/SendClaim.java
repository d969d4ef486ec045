package dev.mancom.client;

import io.aeron.logbuffer.BufferClaim;
import org.agrona.MutableDirectBuffer;

/**
 * Space claimed in a connection's outbound stream by {@link Connection#tryClaim(int, SendClaim)}: write the
 * payload in place at {@link #offset()} of {@link #buffer()}, then {@link #commit()} (or {@link #abort()}).
 * Reusable; not thread safe.
 */
public final class SendClaim
{
    final BufferClaim bufferClaim = new BufferClaim();
    private Connection connection;
    private int payloadOffset;
    private int payloadLength;

    void wrap(final Connection connection, final int payloadOffset, final int payloadLength)
    {
        this.connection = connection;
        this.payloadOffset = payloadOffset;
        this.payloadLength = payloadLength;
    }

    /**
     * The buffer to write the payload into.
     *
     * @return the log buffer.
     */
    public MutableDirectBuffer buffer()
    {
        return bufferClaim.buffer();
    }

    /**
     * Where the payload starts in {@link #buffer()}.
     *
     * @return the offset.
     */
    public int offset()
    {
        return payloadOffset;
    }

    /**
     * How many payload bytes were claimed.
     *
     * @return the length.
     */
    public int length()
    {
        return payloadLength;
    }

    /**
     * Send the payload.
     */
    public void commit()
    {
        bufferClaim.commit();
        connection.ringPeer();
    }

    /**
     * Give the space up: nothing is sent (the broker skips it) and the credit is returned.
     */
    public void abort()
    {
        bufferClaim.abort();
        connection.refundCredit(payloadLength);
    }
}
