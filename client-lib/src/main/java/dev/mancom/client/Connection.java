package dev.mancom.client;

import dev.mancom.protocol.Endpoint;
import dev.mancom.protocol.Frames;
import dev.mancom.protocol.ManComException;
import dev.mancom.protocol.codecs.CloseReason;
import dev.mancom.protocol.codecs.Handover;
import dev.mancom.protocol.codecs.ErrorCode;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * One connection, accepted for an acceptor or opened by {@link ManCom#connect(String)}, whatever its transport.
 * <p>
 * Two ways to receive:
 * <ul>
 *     <li>Callbacks: set a {@link DataHandler} (in the accept handler, before returning); bytes are handed to it as
 *     a view into shared memory, with no copy.</li>
 *     <li>Blocking: set no data handler and call {@link #read(byte[], int, int, Duration)} or use
 *     {@link #inputStream()}; bytes wait in a buffer of at most the credit window.</li>
 * </ul>
 * Sending: {@link #offer(DirectBuffer, int, int)} and {@link #tryClaim(int, SendClaim)} never block and return a
 * count or a code; {@link #write(byte[], int, int, Duration)} and {@link #outputStream()} block until the broker's
 * credit allows. Sending is thread safe.
 */
public final class Connection implements AutoCloseable
{
    /** Result code: no credit (the remote peer or the broker is slower than the sender) or the stream is full. */
    public static final int BACK_PRESSURED = -2;
    /**
     * Result code: the broker is gone. Returned at once, without waiting, while no broker is attached, and from then
     * on by the connections its loss or its stop closed ({@code closeReason()} {@code BROKER_GONE} or
     * {@code BROKER_SHUTDOWN}).
     */
    public static final int NOT_CONNECTED = -1;
    /** Result code: the connection is closed. */
    public static final int CLOSED = -4;
    /** Result code: a claim longer than {@link #maxClaimLength()}. */
    public static final int MAX_LENGTH_EXCEEDED = -5;

    private final ManCom client;
    private final BrokerSession session;
    private final long id;
    private final String service;
    private final Endpoint localEndpoint;
    private final Endpoint remoteEndpoint;
    private final int windowLength;
    private final int creditThreshold;
    private final boolean adopted;
    private final AtomicLong sendCredit;
    private final ByteRing received;
    private final PeerLink link;

    private volatile DataHandler dataHandler;
    private final AtomicReference<PollKey> pollKey = new AtomicReference<>();
    private volatile CloseHandler closeHandler;
    private volatile boolean closeRequested;
    private volatile boolean closed;
    private volatile CloseReason closeReason;
    private volatile String closeDetail = "";
    private long consumedUngranted;
    // Whether received holds bytes: written under the monitor with every change of received, read without it on
    // the polling thread's path of each Data (a stale true there only takes the slower path, which is also correct)
    // and when a data handler is set.
    private volatile boolean hasReceived;
    private boolean inRedeliveryList;
    private Object attachment;
    private InputStream inputStream;
    private OutputStream outputStream;
    // App-to-app close, polling thread only: what is still to send, and whether the peer has closed its end.
    boolean linkCloseSent;
    boolean brokerCloseSent;
    boolean peerClosed;
    boolean lingering;

    Connection(
        final ManCom client,
        final BrokerSession session,
        final long id,
        final String service,
        final Endpoint localEndpoint,
        final Endpoint remoteEndpoint,
        final int sendWindowLength,
        final int receiveWindowLength,
        final PeerLink link,
        final Handover handover)
    {
        this.link = link;
        this.client = client;
        this.session = session;
        this.id = id;
        this.service = service;
        this.localEndpoint = localEndpoint;
        this.remoteEndpoint = remoteEndpoint;
        this.windowLength = receiveWindowLength;
        // A connection the broker holds when this application exits (on_owner_exit = "hold") returns credit for
        // every byte consumed at once: the broker then knows exactly which bytes to give the next owner.
        this.adopted = Handover.ADOPTED == handover;
        this.creditThreshold = Handover.HOLD == handover || adopted ? 1 : Math.max(1, receiveWindowLength / 4);
        this.sendCredit = new AtomicLong(sendWindowLength);
        this.received = new ByteRing(receiveWindowLength);
    }

    /**
     * The connection's id, unique in the broker.
     *
     * @return the id.
     */
    public long id()
    {
        return id;
    }

    /**
     * The service the connection belongs to (or the URI it was opened to).
     *
     * @return the service's name.
     */
    public String service()
    {
        return service;
    }

    /**
     * This end: where the broker accepted or opened the connection.
     *
     * @return the local endpoint.
     */
    public Endpoint localEndpoint()
    {
        return localEndpoint;
    }

    /**
     * The other end: a remote peer's address, a device, or another application on this machine.
     *
     * @return the remote endpoint.
     */
    public Endpoint remoteEndpoint()
    {
        return remoteEndpoint;
    }

    /**
     * Set the handler that receives bytes. Set it in the accept handler; without one, bytes wait for
     * {@link #read(byte[], int, int, Duration)}.
     *
     * @param handler the handler.
     * @return this.
     */
    public Connection dataHandler(final DataHandler handler)
    {
        this.dataHandler = handler;
        if (null != handler && hasReceived)
        {
            client.redeliverLater(this);
        }
        return this;
    }

    /**
     * Set the handler told when the connection closes.
     *
     * @param handler the handler.
     * @return this.
     */
    public Connection closeHandler(final CloseHandler handler)
    {
        this.closeHandler = handler;
        return this;
    }

    /**
     * Attach an application object.
     *
     * @param attachment anything.
     * @return this.
     */
    public Connection attach(final Object attachment)
    {
        this.attachment = attachment;
        return this;
    }

    /**
     * The attached application object.
     *
     * @return the attachment, or null.
     */
    public Object attachment()
    {
        return attachment;
    }

    /**
     * Whether this connection was adopted: its service holds connections when their owner exits
     * ({@code on_owner_exit = "hold"}), its previous owner exited, and this application registered the service after.
     * Its first bytes are those the previous owner had not consumed (the handler had not returned for them, or
     * {@code read} had not returned them); the previous owner's sends that it published before exiting were written
     * to the peer. Nothing was lost or given twice in between, except the bytes of a data handler that the exit
     * interrupted, which come again here.
     *
     * @return true for an adopted connection.
     */
    public boolean isAdopted()
    {
        return adopted;
    }

    /**
     * Whether the connection is closed: no more bytes will arrive than those already buffered.
     *
     * @return true once closed.
     */
    public boolean isClosed()
    {
        return closed;
    }

    /**
     * Why the connection closed.
     *
     * @return the reason, or null while open.
     */
    public CloseReason closeReason()
    {
        return closeReason;
    }

    /**
     * Bytes the broker lets this application send now.
     *
     * @return bytes of credit.
     */
    public long sendCredit()
    {
        return sendCredit.get();
    }

    /**
     * The largest payload {@link #tryClaim(int, SendClaim)} accepts.
     *
     * @return bytes.
     */
    public int maxClaimLength()
    {
        return session.maxPayloadLength;
    }

    // ------------------------------------------------------------------ sending

    /**
     * Send bytes without blocking. As much as the credit allows is sent, in order; the rest is left to the caller.
     *
     * @param buffer holds the bytes.
     * @param offset where they start.
     * @param length how many.
     * @return bytes sent (1 to {@code length}; {@code length} when 0 was asked), or {@link #BACK_PRESSURED},
     * {@link #NOT_CONNECTED} or {@link #CLOSED}.
     */
    public int offer(final DirectBuffer buffer, final int offset, final int length)
    {
        if (closed || closeRequested)
        {
            return closedResult();
        }
        if (0 == length)
        {
            return 0;
        }
        final int maxPayloadLength = session.maxPayloadLength;
        int sent = 0;
        while (sent < length)
        {
            final long credit = sendCredit.get();
            if (credit <= 0)
            {
                break;
            }
            final int chunk = (int)Math.min(Math.min(length - sent, maxPayloadLength), credit);
            if (!sendCredit.compareAndSet(credit, credit - chunk))
            {
                continue;
            }
            final long result = client.offerSend(this, buffer, offset + sent, chunk);
            if (result > 0)
            {
                sent += chunk;
            }
            else
            {
                sendCredit.addAndGet(chunk);
                if (result == io.aeron.Publication.NOT_CONNECTED || result == io.aeron.Publication.CLOSED)
                {
                    return 0 == sent ? NOT_CONNECTED : sent;
                }
                client.onPublicationBackPressured();
                break;
            }
        }
        if (sent > 0)
        {
            ringPeer();
            return sent;
        }
        return BACK_PRESSURED;
    }

    /**
     * Claim space to write a payload in place, in shared memory: write it at {@code claim.offset()} of
     * {@code claim.buffer()}, then {@code claim.commit()}. All or nothing.
     *
     * @param length payload length, at most {@link #maxClaimLength()}.
     * @param claim  receives the claimed space.
     * @return a positive value on success, or {@link #BACK_PRESSURED}, {@link #NOT_CONNECTED}, {@link #CLOSED} or
     * {@link #MAX_LENGTH_EXCEEDED}.
     */
    public long tryClaim(final int length, final SendClaim claim)
    {
        if (closed || closeRequested)
        {
            return closedResult();
        }
        if (length > session.maxPayloadLength || length < 0)
        {
            return MAX_LENGTH_EXCEEDED;
        }
        while (true)
        {
            final long credit = sendCredit.get();
            if (credit < length)
            {
                return BACK_PRESSURED;
            }
            if (sendCredit.compareAndSet(credit, credit - length))
            {
                break;
            }
        }
        final long result = client.claimSend(this, length, claim);
        if (result > 0)
        {
            claim.wrap(this, claim.bufferClaim.offset() + Frames.DATA_HEADER_LENGTH, length);
            return result;
        }
        sendCredit.addAndGet(length);
        if (result == io.aeron.Publication.NOT_CONNECTED || result == io.aeron.Publication.CLOSED)
        {
            return NOT_CONNECTED;
        }
        client.onPublicationBackPressured();
        return BACK_PRESSURED;
    }

    private int closedResult()
    {
        final CloseReason reason = closeReason;
        return CloseReason.BROKER_GONE == reason || CloseReason.BROKER_SHUTDOWN == reason ? NOT_CONNECTED : CLOSED;
    }

    /**
     * The attachment to the broker this connection belongs to: its ids mean nothing to any other broker.
     */
    BrokerSession session()
    {
        return session;
    }

    /**
     * After publishing: wake whoever reads it, the broker's sender or, app-to-app, the other application.
     */
    void ringPeer()
    {
        if (null != link)
        {
            link.ring();
        }
        else
        {
            client.ringBroker(session);
        }
    }

    /**
     * The link to the other application of an app-to-app connection.
     *
     * @return the link, or null when the broker carries the connection's bytes.
     */
    PeerLink link()
    {
        return link;
    }

    /**
     * Whether the connection runs straight between two applications on this machine, in shared memory, with no
     * socket and no broker on its data path.
     *
     * @return true for an app-to-app connection.
     */
    public boolean isAppToApp()
    {
        return null != link;
    }

    void refundCredit(final int length)
    {
        sendCredit.addAndGet(length);
    }

    /**
     * Send every byte, waiting for credit as long as needed up to the time-out.
     *
     * @param bytes   holds the bytes.
     * @param offset  where they start.
     * @param length  how many.
     * @param timeout how long to wait in all.
     * @throws ManComException with {@code TIMEOUT} when the time-out passed (some bytes may have been sent), or
     * {@code NOT_CONNECTED} when the connection or the broker is gone.
     */
    public void write(final byte[] bytes, final int offset, final int length, final Duration timeout)
    {
        final UnsafeBuffer view = new UnsafeBuffer(bytes, offset, length);
        final long deadlineNs = System.nanoTime() + timeout.toNanos();
        int sent = 0;
        while (sent < length)
        {
            final int result = offer(view, sent, length - sent);
            if (result > 0)
            {
                sent += result;
                continue;
            }
            if (CLOSED == result || NOT_CONNECTED == result)
            {
                throw new ManComException(ErrorCode.NOT_CONNECTED, "connection " + id + " is closed" +
                    (null == closeReason ? "" : " (" + closeReason + ")"));
            }
            if (!client.await(this::canSendOrClosed, deadlineNs))
            {
                throw new ManComException(ErrorCode.TIMEOUT, "write timed out after " + timeout + " with " +
                    (length - sent) + " of " + length + " bytes unsent");
            }
        }
    }

    boolean isCloseRequested()
    {
        return closeRequested;
    }

    boolean hasDataHandler()
    {
        return null != dataHandler;
    }

    boolean pollKey(final PollKey expected, final PollKey key)
    {
        return pollKey.compareAndSet(expected, key);
    }

    void pollKey(final PollKey key)
    {
        pollKey.set(key);
    }

    /**
     * Something changed: tell the poller this connection is registered with, if any.
     */
    void signalPoller()
    {
        final PollKey key = pollKey.get();
        if (null != key)
        {
            key.poller().markReady(key);
        }
    }

    /**
     * Whether a send could go through now: credit, and for an app-to-app connection its link is set up.
     */
    boolean canSendOrClosed()
    {
        if (closed)
        {
            return true;
        }
        if (sendCredit.get() <= 0)
        {
            return false;
        }
        return null == link || null != link.publication || link.failed;
    }

    // ------------------------------------------------------------------ blocking receive

    /**
     * Read bytes, waiting up to the time-out for at least one.
     *
     * @param dst     where to put them.
     * @param offset  where to start in {@code dst}.
     * @param length  at most how many.
     * @param timeout how long to wait.
     * @return bytes read (at least 1), 0 when the time-out passed with none, or -1 at the end of the stream (the
     * connection is closed and every byte was read).
     * @throws IllegalStateException when the connection has a data handler.
     */
    public int read(final byte[] dst, final int offset, final int length, final Duration timeout)
    {
        if (null != dataHandler)
        {
            throw new IllegalStateException("connection " + id + " has a data handler: its bytes go there");
        }
        if (0 == length)
        {
            return 0;
        }
        final long deadlineNs = System.nanoTime() + timeout.toNanos();
        while (true)
        {
            final int n;
            boolean grant = false;
            synchronized (this)
            {
                n = received.read(dst, offset, length);
                if (n > 0)
                {
                    hasReceived = !received.isEmpty();
                    grant = addConsumed(n);
                }
            }
            if (grant)
            {
                client.onConsumed(this);
            }
            if (n > 0)
            {
                return n;
            }
            if (closed)
            {
                synchronized (this)
                {
                    if (received.isEmpty())
                    {
                        return -1;
                    }
                }
                continue;
            }
            if (!client.await(this::hasReadable, deadlineNs))
            {
                return 0;
            }
        }
    }

    boolean hasReadable()
    {
        synchronized (this)
        {
            return !received.isEmpty() || closed;
        }
    }

    /**
     * A blocking stream of the connection's bytes; {@code read} waits as long as needed and returns -1 at the end.
     *
     * @return the stream (the same one each call).
     */
    public synchronized InputStream inputStream()
    {
        if (null == inputStream)
        {
            inputStream = new InputStream()
            {
                private final byte[] one = new byte[1];

                public int read() throws IOException
                {
                    final int n = read(one, 0, 1);
                    return n < 0 ? -1 : one[0] & 0xFF;
                }

                public int read(final byte[] b, final int off, final int len) throws IOException
                {
                    if (0 == len)
                    {
                        return 0;
                    }
                    while (true)
                    {
                        final int n = Connection.this.read(b, off, len, Duration.ofSeconds(1));
                        if (n != 0)
                        {
                            return n;
                        }
                        if (Thread.currentThread().isInterrupted())
                        {
                            throw new InterruptedIOException("read interrupted");
                        }
                    }
                }

                public int available()
                {
                    synchronized (Connection.this)
                    {
                        return received.size();
                    }
                }

                public void close()
                {
                    Connection.this.close();
                }
            };
        }
        return inputStream;
    }

    /**
     * A blocking stream that sends; {@code write} waits for credit as long as needed.
     *
     * @return the stream (the same one each call).
     */
    public synchronized OutputStream outputStream()
    {
        if (null == outputStream)
        {
            outputStream = new OutputStream()
            {
                public void write(final int b) throws IOException
                {
                    write(new byte[]{(byte)b}, 0, 1);
                }

                public void write(final byte[] b, final int off, final int len) throws IOException
                {
                    try
                    {
                        Connection.this.write(b, off, len, Duration.ofDays(365));
                    }
                    catch (final ManComException ex)
                    {
                        throw new IOException(ex.getMessage(), ex);
                    }
                }

                public void close()
                {
                    Connection.this.close();
                }
            };
        }
        return outputStream;
    }

    /**
     * Close the connection once every byte already sent is written. Does not wait. Idempotent.
     */
    public void close()
    {
        if (closed || closeRequested)
        {
            return;
        }
        closeRequested = true;
        client.sendClose(this);
    }

    // ------------------------------------------------------------------ polling thread

    /**
     * Polling thread: bytes arrived.
     */
    void onData(final DirectBuffer buffer, final int offset, final int length)
    {
        final DataHandler handler = this.dataHandler;
        if (null != handler)
        {
            if (!hasReceived)
            {
                final int consumed = deliver(handler, buffer, offset, length);
                if (consumed < length)
                {
                    keep(buffer, offset + consumed, length - consumed);
                    client.redeliverLater(this);
                }
                return;
            }
        }
        keep(buffer, offset, length);
        // Read the handler again after keeping: dataHandler(...) writes the handler, then reads hasReceived, and
        // keep wrote hasReceived before this read (both volatile), so a handler set meanwhile is seen here or sees
        // the kept bytes there, and they are redelivered either way (at most once: the list holds a connection once).
        if (null != handler || null != this.dataHandler)
        {
            client.redeliverLater(this);
        }
        else
        {
            signalPoller();
        }
    }

    private void keep(final DirectBuffer buffer, final int offset, final int length)
    {
        final boolean appended;
        synchronized (this)
        {
            appended = received.append(buffer, offset, length);
            hasReceived = !received.isEmpty();
        }
        if (!appended)
        {
            client.onError(new ManComException(ErrorCode.GENERIC, "connection " + id + " received " + length +
                " bytes past its credit window; closing it"));
            close();
        }
    }

    private int deliver(final DataHandler handler, final DirectBuffer buffer, final int offset, final int length)
    {
        int consumed;
        try
        {
            consumed = handler.onData(this, buffer, offset, length);
        }
        catch (final RuntimeException ex)
        {
            client.onError(ex);
            consumed = length;
        }
        consumed = Math.max(0, Math.min(consumed, length));
        if (consumed > 0 && addConsumed(consumed))
        {
            client.onConsumed(this);
        }
        return consumed;
    }

    /**
     * Polling thread: offer kept bytes to the data handler again.
     *
     * @return true when nothing is kept any more.
     */
    boolean redeliver()
    {
        final DataHandler handler = this.dataHandler;
        if (null == handler)
        {
            return true;
        }
        while (true)
        {
            final int length;
            final int offset;
            synchronized (this)
            {
                length = received.contiguousLength();
                offset = received.headOffset();
            }
            if (0 == length)
            {
                return true;
            }
            final int consumed = deliver(handler, received.buffer(), offset, length);
            synchronized (this)
            {
                received.skip(consumed);
                hasReceived = !received.isEmpty();
            }
            if (consumed < length)
            {
                return closed && received.isEmpty();
            }
        }
    }

    boolean inRedeliveryList()
    {
        return inRedeliveryList;
    }

    void inRedeliveryList(final boolean value)
    {
        inRedeliveryList = value;
    }

    /**
     * Count consumed bytes.
     *
     * @param consumed bytes the application consumed.
     * @return whether enough are counted for a grant ({@link #takeCreditToGrant(boolean)} would return some).
     */
    private synchronized boolean addConsumed(final int consumed)
    {
        consumedUngranted += consumed;
        return consumedUngranted >= creditThreshold;
    }

    /**
     * Credit to grant the broker now, if enough was consumed; resets the count.
     *
     * @param force grant whatever was consumed.
     * @return bytes to grant, or 0.
     */
    synchronized int takeCreditToGrant(final boolean force)
    {
        if (consumedUngranted >= creditThreshold || (force && consumedUngranted > 0))
        {
            final int credit = (int)Math.min(consumedUngranted, windowLength);
            consumedUngranted -= credit;
            return credit;
        }
        return 0;
    }

    synchronized void returnCreditToGrant(final int credit)
    {
        consumedUngranted += credit;
    }

    void onSendCredit(final int length)
    {
        if (sendCredit.getAndAdd(length) <= 0)
        {
            signalPoller();
        }
    }

    /**
     * Polling thread: the broker closed the connection.
     */
    void onClosed(final CloseReason reason, final String detail)
    {
        closeDetail = detail;
        closeReason = reason;
        closed = true;
        signalPoller();
        if (null != dataHandler)
        {
            redeliver();
        }
        final CloseHandler handler = this.closeHandler;
        if (null != handler)
        {
            try
            {
                handler.onClose(this, reason, detail);
            }
            catch (final RuntimeException ex)
            {
                client.onError(ex);
            }
        }
    }

    /**
     * More about why the connection closed.
     *
     * @return the detail, empty while open.
     */
    public String closeDetail()
    {
        return closeDetail;
    }

    /**
     * {@inheritDoc}
     */
    public String toString()
    {
        return "Connection{id=" + id + ", service='" + service + "', remote=" + remoteEndpoint +
            (closed ? ", closed " + closeReason : "") + '}';
    }
}
