package dev.mancom.client;

import dev.mancom.protocol.Doorbell;
import io.aeron.Publication;

/**
 * This application's stream into another application's peer stream: every app-to-app connection between the two
 * sends its bytes, credit grants and close over it, with no broker on the way. Created when the first connection
 * with that application opens (the publication is added asynchronously, so a connection may have to wait a moment
 * before its first send goes through) and kept until that application exits or this client closes.
 */
final class PeerLink
{
    final long peerClientId;
    final int streamId;
    final long registrationId;
    final Doorbell doorbell;
    volatile Publication publication;
    volatile boolean failed;

    PeerLink(final long peerClientId, final int streamId, final long registrationId, final Doorbell doorbell)
    {
        this.peerClientId = peerClientId;
        this.streamId = streamId;
        this.registrationId = registrationId;
        this.doorbell = doorbell;
    }

    /**
     * After publishing: wake the other application if it blocks.
     */
    void ring()
    {
        doorbell.ring();
    }

    public String toString()
    {
        return "PeerLink{peer=" + peerClientId + ", stream=" + streamId + (null == publication ? ", pending" : "") +
            '}';
    }
}
