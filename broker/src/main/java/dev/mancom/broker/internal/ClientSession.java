package dev.mancom.broker.internal;

import dev.mancom.protocol.Doorbell;
import io.aeron.Publication;
import io.aeron.Subscription;
import org.agrona.collections.Long2ObjectHashMap;
import org.agrona.collections.LongHashSet;
import org.agrona.concurrent.status.AtomicCounter;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.List;

/**
 * One application attached to the broker: its control socket, its two streams, its acceptors and connections.
 * <p>
 * The conductor owns the registries; the sender polls {@link #commandSubscription()}; any thread may publish on
 * {@link #eventPublication()} (a concurrent publication) and read {@link #isGone()}.
 */
public final class ClientSession
{
    /** Waiting for Hello. */
    static final int AWAIT_HELLO = 0;
    /** Welcome sent; waiting for Attach. */
    static final int AWAIT_ATTACH = 1;
    /** Attached: commands flow. */
    static final int ACTIVE = 2;
    /** Gone: the socket closed or the client broke the protocol. */
    static final int CLOSED = 3;

    private final SocketChannel controlChannel;
    private final PeerCredentials credentials;
    private final ByteBuffer readBuffer;
    private final Long2ObjectHashMap<ConnectionSession> connections = new Long2ObjectHashMap<>();
    private final List<Acceptor> acceptors = new ArrayList<>();

    private long clientId;
    private String name = "";
    private Publication eventPublication;
    private Subscription commandSubscription;
    private long aeronClientId = -1;
    private int state = AWAIT_HELLO;
    private volatile boolean gone;
    private AtomicCounter doorbellCounter;
    private Doorbell doorbell;
    private final LongHashSet localLinks = new LongHashSet();
    private int peerStreamId;
    private int protocolMinor;
    private final List<ConnectionSession> orphans = new ArrayList<>();
    private volatile boolean hasOrphans;

    ClientSession(
        final SocketChannel controlChannel,
        final PeerCredentials credentials,
        final int readBufferLength)
    {
        this.controlChannel = controlChannel;
        this.credentials = credentials;
        this.readBuffer = ByteBuffer.allocate(readBufferLength).order(ByteOrder.LITTLE_ENDIAN);
    }

    SocketChannel controlChannel()
    {
        return controlChannel;
    }

    /**
     * What the kernel says of the client's process.
     *
     * @return its credentials.
     */
    public PeerCredentials credentials()
    {
        return credentials;
    }

    ByteBuffer readBuffer()
    {
        return readBuffer;
    }

    Long2ObjectHashMap<ConnectionSession> connections()
    {
        return connections;
    }

    List<Acceptor> acceptors()
    {
        return acceptors;
    }

    /**
     * Ids of the app-to-app connections this client takes part in. Conductor only.
     *
     * @return the ids.
     */
    LongHashSet localLinks()
    {
        return localLinks;
    }

    int peerStreamId()
    {
        return peerStreamId;
    }

    void peerStreamId(final int streamId)
    {
        this.peerStreamId = streamId;
    }

    int doorbellCounterId()
    {
        return null == doorbellCounter ? -1 : doorbellCounter.id();
    }

    /**
     * The client's id, unique for the broker's lifetime.
     *
     * @return the id.
     */
    public long clientId()
    {
        return clientId;
    }

    String name()
    {
        return name;
    }

    void welcome(
        final long clientId,
        final String name,
        final Publication eventPublication,
        final Subscription commandSubscription)
    {
        this.clientId = clientId;
        this.name = name;
        this.eventPublication = eventPublication;
        this.commandSubscription = commandSubscription;
        this.state = AWAIT_ATTACH;
    }

    void doorbell(final AtomicCounter counter, final Doorbell doorbell)
    {
        this.doorbellCounter = counter;
        this.doorbell = doorbell;
    }

    AtomicCounter doorbellCounter()
    {
        return doorbellCounter;
    }

    /**
     * After publishing to the client's event stream: wake the client if it blocks. Any thread; a volatile read
     * unless the client is parked, then a futex wake from the one writer that wins the swap.
     */
    void ring()
    {
        final Doorbell doorbell = this.doorbell;
        if (null != doorbell)
        {
            doorbell.ring();
        }
    }

    Publication eventPublication()
    {
        return eventPublication;
    }

    Subscription commandSubscription()
    {
        return commandSubscription;
    }

    long aeronClientId()
    {
        return aeronClientId;
    }

    void attach(final long aeronClientId)
    {
        this.aeronClientId = aeronClientId;
        this.state = ACTIVE;
    }

    int state()
    {
        return state;
    }

    void markGone()
    {
        state = CLOSED;
        gone = true;
    }

    /**
     * Whether the client is gone: its control socket closed or it broke the protocol. Any thread.
     *
     * @return true once gone.
     */
    public boolean isGone()
    {
        return gone;
    }

    /**
     * {@inheritDoc}
     */
    public String toString()
    {
        return "client " + clientId + (name.isEmpty() ? "" : " '" + name + "'") + " (" + credentials + ")";
    }

    /**
     * The minor protocol version the client spoke in its Hello.
     *
     * @return the minor version.
     */
    int protocolMinor()
    {
        return protocolMinor;
    }

    void protocolMinor(final int minor)
    {
        this.protocolMinor = minor;
    }

    /**
     * Conductor: the connections this gone client left to be held for the next owner, handed to their service once
     * the sender has read the client's last commands.
     *
     * @return the orphans.
     */
    List<ConnectionSession> orphans()
    {
        return orphans;
    }

    /**
     * Whether the sender must read this gone client's last commands (Send and Credit) before it lets it go.
     *
     * @return true when it left orphans.
     */
    boolean hasOrphans()
    {
        return hasOrphans;
    }

    void hasOrphans(final boolean value)
    {
        hasOrphans = value;
    }
}
