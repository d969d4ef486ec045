package dev.mancom.broker.internal;

import dev.mancom.protocol.Frames;
import dev.mancom.protocol.codecs.CloseDecoder;
import dev.mancom.protocol.codecs.ConnectDecoder;
import dev.mancom.protocol.codecs.CreditDecoder;
import dev.mancom.protocol.codecs.ErrorCode;
import dev.mancom.protocol.codecs.MessageHeaderDecoder;
import dev.mancom.protocol.codecs.QueryServiceDecoder;
import dev.mancom.protocol.codecs.RegisterAcceptorDecoder;
import dev.mancom.protocol.codecs.SendDecoder;
import dev.mancom.protocol.codecs.UnregisterAcceptorDecoder;
import io.aeron.logbuffer.FragmentHandler;
import io.aeron.logbuffer.FrameDescriptor;
import io.aeron.logbuffer.Header;
import dev.mancom.protocol.Doorbell;
import dev.mancom.protocol.DoorbellIdleStrategy;
import io.aeron.logbuffer.ControlledFragmentHandler;
import org.agrona.CloseHelper;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.Agent;
import org.agrona.concurrent.BusySpinIdleStrategy;
import org.agrona.concurrent.IdleStrategy;
import org.agrona.concurrent.ManyToOneConcurrentArrayQueue;
import org.agrona.concurrent.status.AtomicCounter;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.util.ArrayList;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import static java.nio.ByteOrder.LITTLE_ENDIAN;
import java.util.function.Consumer;

/**
 * The agent that reads every client's command stream. It carries the outbound data path itself (Send, Credit and
 * Close go straight to the connection and its transport) and hands control commands (RegisterAcceptor, Connect,
 * ...) to the conductor. It also owns the connections that are stalled (waiting for credit or for room in the
 * client's stream) and those that are closing, so that every ConnectionClosed event follows the connection's last
 * Data event.
 * <p>
 * A command that does not decode, names a connection of another client or overruns its credit window ends that
 * client's session (with an Error event first); other clients are not affected.
 */
public final class Sender implements Agent
{
    private static final int FRAGMENT_LIMIT = 64;
    private static final long CONTROL_CHECK_INTERVAL_NS = TimeUnit.MILLISECONDS.toNanos(10);
    private static final int MAX_YIELDS = 100;
    private static final long MAX_BLOCK_MS = 1000;
    private static final long MIN_RETRY_PARK_NS = TimeUnit.MICROSECONDS.toNanos(1);
    private static final long MAX_RETRY_PARK_NS = TimeUnit.MILLISECONDS.toNanos(1);

    private final BrokerConductor conductor;
    private final ConnectionTable connections;
    private final AtomicCounter errors;
    private final CommandQueue commandQueue = new CommandQueue();
    private final ManyToOneConcurrentArrayQueue<ConnectionSession> stalledQueue;
    private final ManyToOneConcurrentArrayQueue<ConnectionSession> closedQueue;
    private final ManyToOneConcurrentArrayQueue<ConnectionSession> creditRetryQueue;
    private final ArrayList<ClientSession> clients = new ArrayList<>();
    private final ArrayList<ClientSession> violators = new ArrayList<>();
    private final ArrayList<ConnectionSession> dirty = new ArrayList<>();
    private final ArrayList<ConnectionSession> stalled = new ArrayList<>();
    private final ArrayList<ConnectionSession> closing = new ArrayList<>();
    private final ArrayList<ConnectionSession> creditRetry = new ArrayList<>();
    private final Consumer<Runnable> runCommand = Runnable::run;
    private final Consumer<ConnectionSession> addStalled = stalled::add;
    private final Consumer<ConnectionSession> addClosing = closing::add;
    private final Consumer<ConnectionSession> addCreditRetry = creditRetry::add;
    private final MessageHeaderDecoder headerDecoder = new MessageHeaderDecoder();
    private final CommandHandler commandHandler = new CommandHandler();
    private final Selector selector;
    private final Doorbell doorbell;
    private final ByteBuffer controlReadBuffer = ByteBuffer.allocateDirect(64);
    private final IdleStrategy idleStrategy;
    private final DoorbellIdleStrategy doorbellIdle;
    private final ControlledFragmentHandler peekHandler = (buffer, offset, length, header) ->
    {
        peeked = true;
        return ControlledFragmentHandler.Action.ABORT;
    };
    private boolean peeked;
    private long nextControlCheckNs;

    /**
     * The sender.
     *
     * @param conductor      where control commands go.
     * @param connections    the broker's connection table.
     * @param maxConnections the most connections open at once (bounds the hand-over queues).
     * @param errors         counts protocol violations and other errors.
     * @param doorbell       the flag clients read to know whether to ring before this agent blocks.
     * @param spin           busy-spin instead of blocking (the low-latency profile).
     * @throws IOException when the selector cannot be opened.
     */
    public Sender(
        final BrokerConductor conductor,
        final ConnectionTable connections,
        final int maxConnections,
        final AtomicCounter errors,
        final Doorbell doorbell,
        final boolean spin) throws IOException
    {
        this.selector = Selector.open();
        this.doorbell = doorbell;
        this.doorbellIdle = new DoorbellIdleStrategy(
            doorbell, selector, new DoorbellHost(), MAX_YIELDS, MAX_BLOCK_MS, MIN_RETRY_PARK_NS, MAX_RETRY_PARK_NS,
            (ex) -> errors.increment());
        this.idleStrategy = spin ? new BusySpinIdleStrategy() : doorbellIdle;
        this.conductor = conductor;
        this.connections = connections;
        this.errors = errors;
        // A connection is in each queue at most once at a time, so these capacities are never exceeded.
        this.stalledQueue = new ManyToOneConcurrentArrayQueue<>(maxConnections);
        this.closedQueue = new ManyToOneConcurrentArrayQueue<>(maxConnections);
        this.creditRetryQueue = new ManyToOneConcurrentArrayQueue<>(maxConnections);
    }

    /**
     * {@inheritDoc}
     */
    public String roleName()
    {
        return "mancom-sender";
    }

    /**
     * {@inheritDoc}
     */
    public int doWork()
    {
        int work = commandQueue.drain(runCommand);
        work += stalledQueue.drain(addStalled);
        work += closedQueue.drain(addClosing);
        // Not work: a credit report that failed again comes back through this queue, and counting it would keep the
        // sender spinning on a full stream, taking the CPU from the conductor, which is the thread that makes room.
        creditRetryQueue.drain(addCreditRetry);

        final ArrayList<ClientSession> clients = this.clients;
        for (int i = 0, size = clients.size(); i < size; i++)
        {
            final ClientSession client = clients.get(i);
            commandHandler.client = client;
            commandHandler.violated = false;
            work += client.commandSubscription().poll(commandHandler, FRAGMENT_LIMIT);
            if (commandHandler.violated)
            {
                violators.add(client);
            }
        }
        commandHandler.client = null;
        if (!violators.isEmpty())
        {
            clients.removeAll(violators);
            violators.clear();
        }

        work += flushDirty();
        work += serviceStalled();
        work += serviceClosing();
        work += serviceCreditRetry();

        final long nowNs = System.nanoTime();
        if (nowNs - nextControlCheckNs >= 0)
        {
            // While busy the sender does not block on the control sockets: look at them now and then for ends.
            nextControlCheckNs = nowNs + CONTROL_CHECK_INTERVAL_NS;
            work += checkControlSockets(false);
        }

        if (work > 0)
        {
            conductor.wake();
        }
        return work;
    }

    /**
     * Conductor: start polling an attached client's command stream.
     *
     * @param client the client.
     */
    public void addClient(final ClientSession client)
    {
        commandQueue.offer(() ->
        {
            clients.add(client);
            try
            {
                // From now on the sender reads the client's control socket: doorbell bytes, and its end.
                client.controlChannel().register(selector, SelectionKey.OP_READ, client);
            }
            catch (final IOException | RuntimeException ex)
            {
                conductor.post(() -> conductor.onControlSocketClosed(client, "control socket failed: " + ex));
            }
        });
        wake();
    }

    /**
     * Conductor: stop polling a client's command stream; the conductor is told when it may close the stream.
     *
     * @param client the client.
     */
    public void removeClient(final ClientSession client)
    {
        commandQueue.offer(
            () ->
            {
                drainGone(client);
                clients.remove(client);
                final SelectionKey key = client.controlChannel().keyFor(selector);
                if (null != key)
                {
                    key.cancel();
                }
                conductor.post(() -> conductor.onClientReleasedBySender(client));
            });
        wake();
    }

    /**
     * Read what a gone client published before it died, for its held connections: its last Sends are written to the
     * peers, its last Credits count, so that the conductor hands the next owner exactly the bytes it had not
     * consumed. A dead process publishes nothing more, so the stream ends where its last complete message does.
     */
    private void drainGone(final ClientSession client)
    {
        if (!client.hasOrphans())
        {
            return;
        }
        commandHandler.client = client;
        commandHandler.drainingGone = true;
        try
        {
            int fragments;
            do
            {
                fragments = client.commandSubscription().poll(commandHandler, FRAGMENT_LIMIT);
            }
            while (fragments > 0 && !commandHandler.violated);
        }
        finally
        {
            commandHandler.drainingGone = false;
            commandHandler.violated = false;
            commandHandler.client = null;
        }
        flushDirty();
    }

    /**
     * The idle strategy the sender's runner must use: it blocks on the control sockets behind the doorbell.
     *
     * @return the idle strategy.
     */
    public IdleStrategy idleStrategy()
    {
        return idleStrategy;
    }

    /**
     * Close the selector. Sender thread, last.
     */
    public void onClose()
    {
        CloseHelper.quietClose(selector);
    }

    /**
     * Wake the sender if it blocks. Any thread.
     */
    void wake()
    {
        doorbellIdle.wake();
    }

    void onStalled(final ConnectionSession session)
    {
        stalledQueue.offer(session);
        wake();
        conductor.wake();
    }

    void onConnectionClosed(final ConnectionSession session)
    {
        closedQueue.offer(session);
        wake();
    }

    /**
     * A client's stream was found full: have the conductor move its limit now. Any thread.
     */
    void onStreamFull()
    {
        conductor.wakeForFullStream();
    }

    void onCreditRetry(final ConnectionSession session)
    {
        creditRetryQueue.offer(session);
        wake();
    }

    private int checkControlSockets(final boolean selected)
    {
        try
        {
            if (!selected)
            {
                selector.selectNow();
            }
        }
        catch (final IOException ex)
        {
            errors.increment();
            return 0;
        }
        final Set<SelectionKey> keys = selector.selectedKeys();
        if (keys.isEmpty())
        {
            return 0;
        }
        int work = 0;
        for (final SelectionKey key : keys)
        {
            final ClientSession client = (ClientSession)key.attachment();
            if (!key.isValid())
            {
                continue;
            }
            int read;
            try
            {
                do
                {
                    controlReadBuffer.clear();
                    read = client.controlChannel().read(controlReadBuffer);
                }
                while (read > 0);
            }
            catch (final IOException ex)
            {
                read = -1;
            }
            if (read < 0)
            {
                key.cancel();
                conductor.post(() -> conductor.onControlSocketClosed(
                    client, "control socket closed (process exited or closed ManCom)"));
            }
            work++;
        }
        keys.clear();
        return work;
    }

    /**
     * Idles the sender behind its doorbell: it blocks on the attached clients' control sockets.
     */
    private final class DoorbellHost implements DoorbellIdleStrategy.Host
    {
        public boolean hasRetries()
        {
            if (!closing.isEmpty() || !creditRetry.isEmpty() || !creditRetryQueue.isEmpty())
            {
                return true;
            }
            // A connection waiting for its client's credit needs no retry: the Credit command rings the doorbell.
            // Parking instead would leave it waiting for the park to end, up to a millisecond per window.
            final ArrayList<ConnectionSession> stalled = Sender.this.stalled;
            for (int i = 0, size = stalled.size(); i < size; i++)
            {
                if (!stalled.get(i).waitsForCredit())
                {
                    return true;
                }
            }
            return false;
        }

        public int peek()
        {
            if (!commandQueue.isEmpty() || !stalledQueue.isEmpty() || !closedQueue.isEmpty() ||
                !creditRetryQueue.isEmpty())
            {
                return DoorbellIdleStrategy.PEEK_WORK;
            }
            peeked = false;
            final ArrayList<ClientSession> clients = Sender.this.clients;
            for (int i = 0, size = clients.size(); i < size && !peeked; i++)
            {
                clients.get(i).commandSubscription().controlledPoll(peekHandler, 1);
            }
            return peeked ? DoorbellIdleStrategy.PEEK_WORK : DoorbellIdleStrategy.PEEK_NONE;
        }

        public void onWake()
        {
            checkControlSockets(true);
        }
    }

    void markDirty(final ConnectionSession session)
    {
        dirty.add(session);
    }

    private int flushDirty()
    {
        final ArrayList<ConnectionSession> dirty = this.dirty;
        final int size = dirty.size();
        for (int i = 0; i < size; i++)
        {
            dirty.get(i).flush();
        }
        dirty.clear();
        return size;
    }

    private int serviceStalled()
    {
        int work = 0;
        final ArrayList<ConnectionSession> stalled = this.stalled;
        for (int i = stalled.size() - 1; i >= 0; i--)
        {
            if (stalled.get(i).drainStalled())
            {
                fastRemove(stalled, i);
                work++;
            }
        }
        return work;
    }

    private int serviceClosing()
    {
        int work = 0;
        final ArrayList<ConnectionSession> closing = this.closing;
        for (int i = closing.size() - 1; i >= 0; i--)
        {
            final ConnectionSession session = closing.get(i);
            final int result = session.tryPublishClosed();
            if (ConnectionSession.CLOSE_PENDING != result)
            {
                fastRemove(closing, i);
                stalled.remove(session);
                // A parked close (a held connection the peer closed) waits, with its bytes, for the adopter.
                if (ConnectionSession.CLOSE_DONE == result)
                {
                    conductor.post(() -> conductor.onConnectionReleased(session));
                }
                work++;
            }
        }
        return work;
    }

    private int serviceCreditRetry()
    {
        final ArrayList<ConnectionSession> creditRetry = this.creditRetry;
        int work = 0;
        for (int i = 0, size = creditRetry.size(); i < size; i++)
        {
            // A retry that fails again comes back through the queue; only progress counts as work.
            work += creditRetry.get(i).retryCredit() ? 1 : 0;
        }
        creditRetry.clear();
        return work;
    }

    private static <T> void fastRemove(final ArrayList<T> list, final int index)
    {
        final int last = list.size() - 1;
        if (index != last)
        {
            list.set(index, list.get(last));
        }
        list.remove(last);
    }

    private void violation(final ClientSession client, final long correlationId, final String reason)
    {
        errors.increment();
        commandHandler.violated = true;
        EventEncoders.current().offerError(
            client.eventPublication(), correlationId, ErrorCode.MALFORMED_COMMAND, reason);
        client.ring();
        conductor.post(() -> conductor.onProtocolViolation(client, reason));
    }

    private final class CommandHandler implements FragmentHandler
    {
        private final CreditDecoder creditDecoder = new CreditDecoder();
        private final CloseDecoder closeDecoder = new CloseDecoder();
        private final RegisterAcceptorDecoder registerAcceptorDecoder = new RegisterAcceptorDecoder();
        private final UnregisterAcceptorDecoder unregisterAcceptorDecoder = new UnregisterAcceptorDecoder();
        private final ConnectDecoder connectDecoder = new ConnectDecoder();
        private final QueryServiceDecoder queryServiceDecoder = new QueryServiceDecoder();
        private ClientSession client;
        private boolean violated;
        private boolean drainingGone;

        public void onFragment(final DirectBuffer buffer, final int offset, final int length, final Header header)
        {
            final ClientSession client = this.client;
            if (violated || (client.isGone() && !drainingGone))
            {
                return;
            }
            if ((header.flags() & FrameDescriptor.UNFRAGMENTED) != FrameDescriptor.UNFRAGMENTED)
            {
                violation(client, 0, "fragmented command: commands must fit one message");
                return;
            }
            if (length < MessageHeaderDecoder.ENCODED_LENGTH)
            {
                violation(client, 0, "command of " + length + " bytes is shorter than a message header");
                return;
            }
            headerDecoder.wrap(buffer, offset);
            if (headerDecoder.schemaId() != MessageHeaderDecoder.SCHEMA_ID)
            {
                violation(client, 0, "command of unknown schema " + headerDecoder.schemaId());
                return;
            }

            final int templateId = headerDecoder.templateId();
            if (drainingGone && SendDecoder.TEMPLATE_ID != templateId && CreditDecoder.TEMPLATE_ID != templateId)
            {
                return; // a gone client's other commands have no one to answer
            }
            final int blockLength = headerDecoder.blockLength();
            final int version = headerDecoder.version();
            final int bodyOffset = offset + MessageHeaderDecoder.ENCODED_LENGTH;
            final int bodyLength = length - MessageHeaderDecoder.ENCODED_LENGTH;

            switch (templateId)
            {
                case SendDecoder.TEMPLATE_ID:
                    onSend(client, buffer, offset, length, blockLength);
                    break;

                case CreditDecoder.TEMPLATE_ID:
                    if (blockLength != CreditDecoder.BLOCK_LENGTH || bodyLength != blockLength)
                    {
                        violation(client, 0, "malformed Credit command");
                        return;
                    }
                    creditDecoder.wrap(buffer, bodyOffset, blockLength, version);
                    onCredit(client, creditDecoder.connectionId(), creditDecoder.length());
                    break;

                case CloseDecoder.TEMPLATE_ID:
                    if (blockLength != CloseDecoder.BLOCK_LENGTH || bodyLength != blockLength)
                    {
                        violation(client, 0, "malformed Close command");
                        return;
                    }
                    closeDecoder.wrap(buffer, bodyOffset, blockLength, version);
                    onClose(client, closeDecoder.correlationId(), closeDecoder.connectionId());
                    break;

                case RegisterAcceptorDecoder.TEMPLATE_ID:
                {
                    if (!validVarData(buffer, bodyOffset, bodyLength, RegisterAcceptorDecoder.BLOCK_LENGTH,
                        blockLength))
                    {
                        violation(client, 0, "malformed RegisterAcceptor command");
                        return;
                    }
                    registerAcceptorDecoder.wrap(buffer, bodyOffset, blockLength, version);
                    final long correlationId = registerAcceptorDecoder.correlationId();
                    final String service = registerAcceptorDecoder.service();
                    conductor.post(() -> conductor.onRegisterAcceptor(client, correlationId, service));
                    break;
                }

                case UnregisterAcceptorDecoder.TEMPLATE_ID:
                {
                    if (blockLength != UnregisterAcceptorDecoder.BLOCK_LENGTH || bodyLength != blockLength)
                    {
                        violation(client, 0, "malformed UnregisterAcceptor command");
                        return;
                    }
                    unregisterAcceptorDecoder.wrap(buffer, bodyOffset, blockLength, version);
                    final long correlationId = unregisterAcceptorDecoder.correlationId();
                    final long acceptorId = unregisterAcceptorDecoder.acceptorId();
                    conductor.post(() -> conductor.onUnregisterAcceptor(client, correlationId, acceptorId));
                    break;
                }

                case ConnectDecoder.TEMPLATE_ID:
                {
                    if (!validVarData(buffer, bodyOffset, bodyLength, ConnectDecoder.BLOCK_LENGTH, blockLength))
                    {
                        violation(client, 0, "malformed Connect command");
                        return;
                    }
                    connectDecoder.wrap(buffer, bodyOffset, blockLength, version);
                    final long correlationId = connectDecoder.correlationId();
                    final String target = connectDecoder.target();
                    conductor.post(() -> conductor.onConnect(client, correlationId, target));
                    break;
                }

                case QueryServiceDecoder.TEMPLATE_ID:
                {
                    if (!validVarData(buffer, bodyOffset, bodyLength, QueryServiceDecoder.BLOCK_LENGTH, blockLength))
                    {
                        violation(client, 0, "malformed QueryService command");
                        return;
                    }
                    queryServiceDecoder.wrap(buffer, bodyOffset, blockLength, version);
                    final long correlationId = queryServiceDecoder.correlationId();
                    final String service = queryServiceDecoder.service();
                    conductor.post(() -> conductor.onQueryService(client, correlationId, service));
                    break;
                }

                default:
                    violation(client, 0, "unknown command template " + templateId);
                    break;
            }
        }

        private boolean validVarData(
            final DirectBuffer buffer,
            final int bodyOffset,
            final int bodyLength,
            final int expectedBlockLength,
            final int blockLength)
        {
            if (blockLength != expectedBlockLength || bodyLength < blockLength + 4)
            {
                return false;
            }
            final long varLength = buffer.getInt(bodyOffset + blockLength, LITTLE_ENDIAN) & 0xFFFF_FFFFL;
            return blockLength + 4 + varLength == bodyLength;
        }

        private void onSend(
            final ClientSession client,
            final DirectBuffer buffer,
            final int offset,
            final int length,
            final int blockLength)
        {
            if (blockLength != SendDecoder.BLOCK_LENGTH || length < Frames.DATA_HEADER_LENGTH)
            {
                violation(client, 0, "malformed Send command");
                return;
            }
            final int payloadLength = buffer.getInt(offset + Frames.DATA_LENGTH_OFFSET, LITTLE_ENDIAN);
            if (payloadLength < 0 || Frames.DATA_HEADER_LENGTH + payloadLength != length)
            {
                violation(client, 0, "malformed Send command: payload length " + payloadLength);
                return;
            }
            final long connectionId = buffer.getLong(offset + MessageHeaderDecoder.ENCODED_LENGTH, LITTLE_ENDIAN);
            final ConnectionSession session = connections.get(connectionId);
            if (null == session)
            {
                return; // closed meanwhile: the client learns it from the ConnectionClosed event
            }
            if (session.owner() != client)
            {
                violation(client, 0, "Send for connection " + connectionId + " which is not the client's");
                return;
            }
            if (!session.onClientSend(buffer, offset + Frames.DATA_HEADER_LENGTH, payloadLength))
            {
                violation(client, 0, "Send past the credit window of connection " + connectionId);
            }
        }

        private void onCredit(final ClientSession client, final long connectionId, final int length)
        {
            final ConnectionSession session = connections.get(connectionId);
            if (null == session)
            {
                return;
            }
            if (session.owner() != client || length <= 0 || length > session.windowLength())
            {
                violation(client, 0, "bad Credit of " + length + " for connection " + connectionId);
                return;
            }
            session.onClientCredit(length);
        }

        private void onClose(final ClientSession client, final long correlationId, final long connectionId)
        {
            final ConnectionSession session = connections.get(connectionId);
            if (null == session)
            {
                // Closed meanwhile, or an app-to-app connection, which the conductor keeps.
                conductor.post(() -> conductor.onLocalClose(client, connectionId));
                return;
            }
            if (session.owner() != client)
            {
                violation(client, correlationId, "Close of connection " + connectionId + " not the client's");
                return;
            }
            session.onClientClose();
        }
    }
}
