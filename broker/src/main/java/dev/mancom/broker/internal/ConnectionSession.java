package dev.mancom.broker.internal;

import dev.mancom.protocol.Endpoint;
import dev.mancom.protocol.codecs.CloseReason;
import dev.mancom.protocol.codecs.Handover;
import dev.mancom.transport.ConnectionHandler;
import dev.mancom.transport.TransportConnection;
import io.aeron.Publication;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One connection between a transport and the client that owns it, with its credit windows both ways.
 * <p>
 * Inbound bytes (transport to client) are published by the transport's I/O thread straight into the owner's event
 * stream, never through the conductor. The broker publishes at most {@code sendLimit} bytes in total: the credit
 * window plus the credit the client has returned. When the window is used up, or the client's stream is full, the
 * connection stops reading (so TCP's own window pushes back on the remote peer), keeps the bytes it already read
 * (at most one transport read) and is handed to the {@link Sender}, which owns its inbound side until it resumes
 * reading. Exactly one thread owns the inbound side at a time; the hand-over is through a queue.
 * <p>
 * For a transport that {@linkplain TransportConnection#keepsMessageBoundaries() keeps message boundaries} (UDP),
 * each onData call is one message: it is published as one Data event (unless it is larger than the largest payload,
 * or than the window less a quarter), waiting for credit for the whole of it rather than publishing part. Such a
 * transport delivers nothing while paused, so the bytes kept on a stall are one message.
 * <p>
 * Outbound bytes (client to transport) are written by the sender, which checks that the client stays inside its
 * window; the transport reports written bytes from its I/O thread and they are returned to the client as credit.
 * <p>
 * The sender publishes the ConnectionClosed event and then asks the conductor to release the id, so no event of a
 * connection can follow its close.
 * <p>
 * A connection of a service with {@code on_owner_exit = "hold"} is <em>holdable</em>: it keeps a copy of every byte
 * it published that its owner has not yet consumed (the client returns credit for each byte at once on such a
 * connection, so {@code sendLimit - window} is exactly what the application consumed), at most one window. When the
 * owner exits the connection is <em>orphaned</em>: it stops reading (TCP's window pushes back on the peer) and waits.
 * When another application {@linkplain #adopt adopts} it, the bytes its previous owner had not consumed are published
 * to the new owner first, then those read meanwhile, then reading resumes: no byte is lost or given twice. The inbound
 * side of a holdable connection is guarded by its monitor, so that orphaning and adoption are atomic with respect to
 * the thread that publishes; other connections take no lock.
 */
public final class ConnectionSession implements ConnectionHandler
{
    private static final Logger LOG = LoggerFactory.getLogger(ConnectionSession.class);

    /** The connection exists but the ConnectionOpened event is not yet published. */
    static final int OPENING = 0;
    /** ConnectionOpened is published; bytes flow. */
    static final int OPEN = 1;

    /** {@link #tryPublishClosed()}: not yet (no room in the stream, bytes still to publish). */
    static final int CLOSE_PENDING = 0;
    /** {@link #tryPublishClosed()}: published (or the owner is gone): the connection can be released. */
    static final int CLOSE_DONE = 1;
    /** {@link #tryPublishClosed()}: an orphan: the close waits for the adopter, which re-queues it. */
    static final int CLOSE_PARKED = 2;

    private final long id;
    private final long correlationId;
    private volatile long acceptorId;
    private volatile ClientSession owner;
    private final boolean holdable;
    private final String service;
    private final TransportConnection transport;
    private final Sender sender;
    private final int windowLength;
    private final int creditThreshold;
    private final int maxPayloadLength;
    private final int wholeMessageLimit;

    private volatile int state = OPENING;

    // Inbound side: owned by the I/O thread while reading, by the sender while stalled or closing.
    private volatile long sendLimit;
    private long published;
    private final int pendingCapacity;
    private UnsafeBuffer pending;
    private int pendingLength;
    private boolean stalled;

    // Holdable connections only (under the monitor): bytes published but not consumed, and the hand-over.
    private UnsafeBuffer retained;
    private long replayEnd;
    private volatile boolean orphaned;
    private boolean closeParked;
    private Handover handover;
    private final AtomicLong creditDebt = new AtomicLong();

    // Outbound side: the sender writes, the I/O thread reports.
    private long receivedFromClient;
    private final AtomicLong writtenUnreported = new AtomicLong();
    private final AtomicLong reportedToClient = new AtomicLong();
    private boolean dirty;
    private final AtomicBoolean creditRetryQueued = new AtomicBoolean();

    // Close.
    private volatile CloseReason closeReason;
    private volatile String closeDetail;
    private boolean closeRequestedByClient;

    ConnectionSession(
        final long id,
        final long correlationId,
        final long acceptorId,
        final ClientSession owner,
        final String service,
        final TransportConnection transport,
        final Sender sender,
        final int windowLength,
        final int maxPayloadLength,
        final int pendingCapacity,
        final boolean holdable)
    {
        this.id = id;
        this.holdable = holdable;
        this.handover = holdable ? Handover.HOLD : Handover.CLOSE;
        this.correlationId = correlationId;
        this.acceptorId = acceptorId;
        this.owner = owner;
        this.service = service;
        this.transport = transport;
        this.sender = sender;
        this.windowLength = windowLength;
        this.creditThreshold = Math.max(1, windowLength / 4);
        this.maxPayloadLength = maxPayloadLength;
        // A message no larger than the window less the credit a client may hold back (under a quarter window) always
        // fits once the client has consumed what it was given; a larger one could wait for ever, so it is split.
        this.wholeMessageLimit = transport.keepsMessageBoundaries() ? windowLength - creditThreshold : 0;
        this.sendLimit = windowLength;
        this.pendingCapacity = pendingCapacity;
    }

    /**
     * The connection's id.
     *
     * @return the id.
     */
    public long id()
    {
        return id;
    }

    ClientSession owner()
    {
        return owner;
    }

    String service()
    {
        return service;
    }

    long correlationId()
    {
        return correlationId;
    }

    long acceptorId()
    {
        return acceptorId;
    }

    int windowLength()
    {
        return windowLength;
    }

    boolean holdable()
    {
        return holdable;
    }

    boolean isOrphaned()
    {
        return orphaned;
    }

    /**
     * Conductor: what the next ConnectionOpened says of the hand-over.
     *
     * @return CLOSE, HOLD or ADOPTED.
     */
    Handover handover()
    {
        return handover;
    }

    TransportConnection transport()
    {
        return transport;
    }

    Endpoint localEndpoint()
    {
        return transport.localEndpoint();
    }

    Endpoint remoteEndpoint()
    {
        return transport.remoteEndpoint();
    }

    /**
     * Conductor: ConnectionOpened is published (or the owner is gone); start reading.
     */
    void markOpenAndRead()
    {
        state = OPEN;
        transport.resumeReading();
    }

    // ---------------------------------------------------------------- I/O thread

    /**
     * {@inheritDoc}
     */
    public void onData(final DirectBuffer buffer, final int offset, final int length)
    {
        if (holdable)
        {
            synchronized (this)
            {
                onInbound(buffer, offset, length);
            }
        }
        else
        {
            onInbound(buffer, offset, length);
        }
    }

    private void onInbound(final DirectBuffer buffer, final int offset, final int length)
    {
        if (stalled)
        {
            // A transport may deliver what it had already read after a pause: keep it, in order.
            appendPending(buffer, offset, length);
            return;
        }

        final int done = publishInbound(buffer, offset, length);
        if (done < length)
        {
            appendPending(buffer, offset + done, length - done);
            stall();
        }
        else if (sendLimit - published <= 0)
        {
            stall();
        }
    }

    /**
     * {@inheritDoc}
     */
    public void onWritten(final int length)
    {
        if (writtenUnreported.addAndGet(length) >= creditThreshold)
        {
            reportCredit();
        }
    }

    /**
     * {@inheritDoc}
     */
    public void onClosed(final CloseReason reason, final String detail)
    {
        if (CloseReason.REMOTE_CLOSED != reason && !closeRequestedByClient)
        {
            LOG.info("{} closed: {} {}", this, reason, detail);
        }
        if (null == closeReason)
        {
            closeDetail = detail;
            closeReason = reason;
        }
        sender.onConnectionClosed(this);
    }

    private void stall()
    {
        stalled = true;
        transport.pauseReading();
        sender.onStalled(this);
    }

    private void appendPending(final DirectBuffer buffer, final int offset, final int length)
    {
        if (null == pending)
        {
            // Allocated on the first stall only: most connections never need it.
            pending = new UnsafeBuffer(new byte[pendingCapacity]);
        }
        if (pendingLength + length > pending.capacity())
        {
            // The transport read past a pause by more than one read: refuse rather than grow without bound.
            closeDetail = "transport delivered " + length + " bytes while paused; buffer full";
            LOG.warn("{}: {} (pending {} of {})", this, closeDetail, pendingLength, pending.capacity());
            closeReason = CloseReason.PROTOCOL_ERROR;
            transport.abort(CloseReason.PROTOCOL_ERROR);
            return;
        }
        pending.putBytes(pendingLength, buffer, offset, length);
        pendingLength += length;
    }

    /**
     * Publish as much as credit and the stream allow.
     *
     * @return bytes taken (published, or dropped because the owner is gone).
     */
    private int publishInbound(final DirectBuffer buffer, final int offset, final int length)
    {
        if (orphaned)
        {
            return 0;
        }
        final EventEncoders encoders = EventEncoders.current();
        final ClientSession owner = this.owner;
        final Publication publication = owner.eventPublication();
        int done = 0;
        while (done < length)
        {
            final long available = sendLimit - published;
            if (available <= 0)
            {
                break;
            }
            final int whole = Math.min(length - done, maxPayloadLength);
            if (available < whole && whole <= wholeMessageLimit)
            {
                // A datagram is not split for want of credit: it waits, whole, for the credit it needs.
                break;
            }
            final int chunk = (int)Math.min(whole, available);
            if (holdable)
            {
                // Kept before it is published: once published, the owner may consume it at once, or die.
                retain(buffer, offset + done, chunk);
            }
            final long result = encoders.offerData(publication, id, buffer, offset + done, chunk);
            if (result > 0)
            {
                published += chunk;
                done += chunk;
            }
            else if (owner.isGone() || result == Publication.CLOSED || result == Publication.MAX_POSITION_EXCEEDED)
            {
                return length;
            }
            else
            {
                sender.onStreamFull();
                break;
            }
        }
        if (done > 0)
        {
            owner.ring();
        }
        return done;
    }

    /**
     * Copy bytes about to be published at {@code published} into the ring of unconsumed bytes. The ring is one window
     * long and positions map to it modulo its length: the broker never has more than a window of bytes published and
     * not consumed, so a copy never overwrites a byte the owner may still not have.
     */
    private void retain(final DirectBuffer buffer, final int offset, final int length)
    {
        if (null == retained)
        {
            retained = new UnsafeBuffer(new byte[windowLength]);
        }
        final int index = (int)(published % windowLength);
        final int first = Math.min(length, windowLength - index);
        retained.putBytes(index, buffer, offset, first);
        if (first < length)
        {
            retained.putBytes(0, buffer, offset + first, length - first);
        }
    }

    /**
     * Publish, to an adopting owner, the bytes its previous owner had not consumed, from the ring.
     *
     * @return true once all of them are published.
     */
    private boolean drainReplay()
    {
        if (published >= replayEnd)
        {
            return true;
        }
        final ClientSession owner = this.owner;
        final EventEncoders encoders = EventEncoders.current();
        boolean progress = false;
        while (published < replayEnd)
        {
            final long available = sendLimit - published;
            if (available <= 0)
            {
                break;
            }
            final int index = (int)(published % windowLength);
            final int chunk = (int)Math.min(Math.min(replayEnd - published, windowLength - index),
                Math.min(available, maxPayloadLength));
            final long result = encoders.offerData(owner.eventPublication(), id, retained, index, chunk);
            if (result > 0)
            {
                published += chunk;
                progress = true;
            }
            else if (owner.isGone() || result == Publication.CLOSED || result == Publication.MAX_POSITION_EXCEEDED)
            {
                break;
            }
            else
            {
                sender.onStreamFull();
                break;
            }
        }
        if (progress)
        {
            owner.ring();
        }
        return published >= replayEnd;
    }

    // ---------------------------------------------------------------- sender thread

    /**
     * Sender: publish what is pending and resume reading when credit allows.
     *
     * @return true when the connection is no longer stalled.
     */
    boolean drainStalled()
    {
        if (holdable)
        {
            synchronized (this)
            {
                return drainStalledInbound();
            }
        }
        return drainStalledInbound();
    }

    private boolean drainStalledInbound()
    {
        if (null != closeReason || orphaned)
        {
            // An orphan stays stalled, reading paused, until it is adopted: adoption hands it back to the sender.
            return true;
        }
        if (!drainReplay() || !drainPending())
        {
            return false;
        }
        if (sendLimit - published > 0)
        {
            stalled = false;
            transport.resumeReading();
            return true;
        }
        return false;
    }

    /**
     * Sender, for a stalled connection: whether only the client's credit can move it on (the client's Credit
     * command wakes the sender), rather than room in the client's stream (which no one announces).
     *
     * @return true when the connection has no credit left and is not closing.
     */
    boolean waitsForCredit()
    {
        return null == closeReason && sendLimit - published <= 0;
    }

    private boolean drainPending()
    {
        if (pendingLength > 0)
        {
            final int done = publishInbound(pending, 0, pendingLength);
            if (done > 0)
            {
                pendingLength -= done;
                if (pendingLength > 0)
                {
                    pending.putBytes(0, pending, done, pendingLength);
                }
            }
        }
        return 0 == pendingLength;
    }

    /**
     * Sender: try to publish ConnectionClosed after the last pending bytes.
     *
     * @return {@link #CLOSE_DONE} once it is published (or the owner is gone) and the connection can be released,
     * {@link #CLOSE_PARKED} for an orphan, {@link #CLOSE_PENDING} to try again.
     */
    int tryPublishClosed()
    {
        if (holdable)
        {
            synchronized (this)
            {
                return tryPublishClosedInbound();
            }
        }
        return tryPublishClosedInbound();
    }

    private int tryPublishClosedInbound()
    {
        if (OPEN != state)
        {
            return CLOSE_PENDING;
        }
        if (orphaned)
        {
            // Checked under the monitor before the owner: an orphan's owner is gone, and its close is the adopter's.
            closeParked = true;
            return CLOSE_PARKED;
        }
        final ClientSession owner = this.owner;
        if (owner.isGone())
        {
            return CLOSE_DONE;
        }
        if (closeRequestedByClient)
        {
            pendingLength = 0;
            replayEnd = published;
        }
        if (!drainReplay() || !drainPending())
        {
            return CLOSE_PENDING;
        }
        final CloseReason reason = null == closeReason ? CloseReason.TRANSPORT_ERROR : closeReason;
        final long result = EventEncoders.current().offerClosed(owner.eventPublication(), id, reason, closeDetail);
        if (result > 0)
        {
            owner.ring();
        }
        return result > 0 || result == Publication.CLOSED || result == Publication.NOT_CONNECTED ||
            result == Publication.MAX_POSITION_EXCEEDED ? CLOSE_DONE : CLOSE_PENDING;
    }

    /**
     * Sender: the client returned credit for bytes it consumed.
     *
     * @param length bytes.
     */
    void onClientCredit(final int length)
    {
        sendLimit += length;
    }

    /**
     * Sender: the client sent bytes for this connection.
     *
     * @return false when the client sent past its window (a protocol violation).
     */
    boolean onClientSend(final DirectBuffer buffer, final int offset, final int length)
    {
        receivedFromClient += length;
        if (receivedFromClient - reportedToClient.get() > windowLength)
        {
            return false;
        }
        if (null == closeReason && !closeRequestedByClient)
        {
            transport.write(buffer, offset, length);
            if (!dirty)
            {
                dirty = true;
                sender.markDirty(this);
            }
        }
        return true;
    }

    /**
     * Sender: flush what was written in this duty cycle.
     */
    void flush()
    {
        dirty = false;
        transport.flush();
    }

    /**
     * Sender: the client closes the connection.
     */
    void onClientClose()
    {
        closeRequestedByClient = true;
        if (null == closeReason)
        {
            closeReason = CloseReason.LOCAL_CLOSED;
            closeDetail = "closed by the application";
        }
        if (dirty)
        {
            flush();
        }
        transport.close();
    }

    /**
     * Sender: retry a credit report that found the stream full. The retry mark is cleared first, so a report that
     * fails again, on any thread, queues the connection anew and none is lost.
     *
     * @return true when the credit went out (or is no longer wanted).
     */
    boolean retryCredit()
    {
        creditRetryQueued.set(false);
        return owner.isGone() || null != closeReason || reportCredit();
    }

    private boolean reportCredit()
    {
        long length = writtenUnreported.getAndSet(0);
        if (length <= 0)
        {
            return true;
        }
        if (holdable)
        {
            length -= payCreditDebt(length);
            if (length <= 0)
            {
                return true;
            }
        }
        // Counted before the offer: once published, the client may spend it before this thread runs again.
        reportedToClient.addAndGet(length);
        final long result = EventEncoders.current().offerSendCredit(owner.eventPublication(), id, (int)length);
        if (result > 0)
        {
            owner.ring();
        }
        else if (result < 0 && !owner.isGone() && result != Publication.CLOSED && result != Publication.NOT_CONNECTED)
        {
            reportedToClient.addAndGet(-length);
            writtenUnreported.addAndGet(length);
            sender.onStreamFull();
            if (creditRetryQueued.compareAndSet(false, true))
            {
                sender.onCreditRetry(this);
            }
            return false;
        }
        return true;
    }

    /**
     * Bytes an exited owner sent that are written after its connection was adopted are not the new owner's credit.
     *
     * @return how much of {@code length} paid the debt.
     */
    private long payCreditDebt(final long length)
    {
        while (true)
        {
            final long debt = creditDebt.get();
            if (debt <= 0)
            {
                return 0;
            }
            final long paid = Math.min(debt, length);
            if (creditDebt.compareAndSet(debt, debt - paid))
            {
                return paid;
            }
        }
    }

    // ---------------------------------------------------------------- hand-over (holdable connections)

    /**
     * Conductor: the owner exited and the service holds its connections. Reading stops (the bytes wait in the
     * transport, TCP's window pushing back on the peer); nothing more is published to the dead owner.
     */
    synchronized void orphan()
    {
        orphaned = true;
        transport.pauseReading();
    }

    /**
     * Conductor, once the sender has read every command the previous owner published before it died (so that
     * {@code sendLimit} counts every byte it consumed): hand the connection to a new owner. The bytes published and
     * not consumed are published again, to the new owner, before any other; the previous owner's bytes still to be
     * written to the transport do not count against the new owner's send window.
     *
     * @param newOwner   the adopting client.
     * @param acceptorId its acceptor.
     * @return how many bytes the previous owner had not consumed (published again first).
     */
    synchronized long adopt(final ClientSession newOwner, final long acceptorId)
    {
        final long consumed = sendLimit - windowLength;
        replayEnd = published;
        published = consumed;
        creditDebt.set(receivedFromClient - reportedToClient.get());
        receivedFromClient = reportedToClient.get();
        this.owner = newOwner;
        this.acceptorId = acceptorId;
        handover = Handover.ADOPTED;
        state = OPENING;
        stalled = true;
        orphaned = false;
        return replayEnd - published;
    }

    /**
     * Conductor: ConnectionOpened is published to the adopter; the sender publishes what waits, then reads again
     * (or, for a connection that closed while held, publishes the close after it).
     */
    void markAdoptedOpen()
    {
        final boolean closed;
        synchronized (this)
        {
            state = OPEN;
            closed = closeParked;
            closeParked = false;
        }
        if (closed)
        {
            sender.onConnectionClosed(this);
        }
        else
        {
            sender.onStalled(this);
        }
    }

    /**
     * Abort the transport connection, for example because the owner exited.
     *
     * @param reason reported in the ConnectionClosed event.
     * @param detail for a person.
     */
    void abort(final CloseReason reason, final String detail)
    {
        if (holdable)
        {
            // An orphan closed for good (time-out, service removed, broker stopping): no adopter will come.
            final boolean parked;
            synchronized (this)
            {
                parked = closeParked;
                closeParked = false;
                if (orphaned && OPENING == state)
                {
                    state = OPEN;
                }
                orphaned = false;
            }
            if (parked)
            {
                sender.onConnectionClosed(this);
            }
        }
        if (null == closeReason)
        {
            closeDetail = detail;
            closeReason = reason;
        }
        transport.abort(reason);
    }

    /**
     * {@inheritDoc}
     */
    public String toString()
    {
        return "connection " + id + " of service '" + service + "' from " + transport.remoteEndpoint();
    }
}
