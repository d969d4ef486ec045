package dev.mancom.client;

import dev.mancom.protocol.Doorbell;
import io.aeron.ExclusivePublication;
import io.aeron.logbuffer.BufferClaim;

/**
 * This application's stream into another application's peer stream: every app-to-app connection between the two
 * sends its bytes, credit grants and close over it, with no broker on the way. Created when the first connection
 * with that application opens (the publication is added asynchronously, so a connection may have to wait a moment
 * before its first send goes through) and kept until that application exits or this client closes.
 * <p>
 * The publication is an exclusive one, a log of its own with this client's id as session id: the media driver shares
 * one log per stream among all the concurrent publications of a stream, which could then have one session id only,
 * so that a second application could not link to the same peer. An exclusive publication has a single writer, so
 * every offer and claim on it holds the link's monitor: the client's link encoders take it, and {@link #tryClaim}
 * (uncontended unless two threads of this application send to that peer at the same instant).
 */
final class PeerLink
{
    final long peerClientId;
    final int streamId;
    final Doorbell doorbell;
    volatile ExclusivePublication publication;
    volatile boolean failed;
    final long registrationId;

    PeerLink(final long peerClientId, final int streamId, final long registrationId, final Doorbell doorbell)
    {
        this.peerClientId = peerClientId;
        this.streamId = streamId;
        this.registrationId = registrationId;
        this.doorbell = doorbell;
    }

    /**
     * Claim space on the link, holding its monitor (the publication has a single writer).
     *
     * @param publication the link's publication.
     * @param length      the message's length.
     * @param claim       receives the claimed space.
     * @return as {@link ExclusivePublication#tryClaim}.
     */
    synchronized long tryClaim(final ExclusivePublication publication, final int length, final BufferClaim claim)
    {
        return publication.tryClaim(length, claim);
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
