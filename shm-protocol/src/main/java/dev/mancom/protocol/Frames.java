package dev.mancom.protocol;

import dev.mancom.protocol.codecs.DataEncoder;
import dev.mancom.protocol.codecs.MessageHeaderEncoder;
import dev.mancom.protocol.codecs.SendEncoder;

/**
 * Offsets of the payload in the two data-carrying messages, so that the data path can gather a header and a
 * payload into one Aeron message, and hand out a view of a payload, without copying it first.
 * <pre>
 *   0                   8                   16        20
 *   +-------------------+-------------------+---------+------------------------+
 *   | SBE message header| connectionId      | length  | payload ...            |
 *   +-------------------+-------------------+---------+------------------------+
 * </pre>
 * The layout is the same for {@code Data} (broker to client) and {@code Send} (client to broker).
 */
public final class Frames
{
    /** Length of the frame up to the payload of a Data or Send message. */
    public static final int DATA_HEADER_LENGTH =
        MessageHeaderEncoder.ENCODED_LENGTH + DataEncoder.BLOCK_LENGTH + DataEncoder.payloadHeaderLength();

    /** Offset of the payload length field. */
    public static final int DATA_LENGTH_OFFSET = MessageHeaderEncoder.ENCODED_LENGTH + DataEncoder.BLOCK_LENGTH;

    static
    {
        if (DATA_HEADER_LENGTH != MessageHeaderEncoder.ENCODED_LENGTH + SendEncoder.BLOCK_LENGTH +
            SendEncoder.payloadHeaderLength())
        {
            throw new IllegalStateException("Data and Send must share one layout");
        }
    }

    /** Length prefix of a frame on the control socket. */
    public static final int CONTROL_LENGTH_PREFIX = 4;

    /** Largest frame accepted on the control socket. */
    public static final int MAX_CONTROL_FRAME_LENGTH = 64 * 1024;

    private Frames()
    {
    }
}
