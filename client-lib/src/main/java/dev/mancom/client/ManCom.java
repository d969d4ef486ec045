package dev.mancom.client;

import dev.mancom.protocol.BrokerDirectory;
import dev.mancom.protocol.Doorbell;
import dev.mancom.protocol.DoorbellIdleStrategy;
import dev.mancom.protocol.Endpoint;
import dev.mancom.protocol.Frames;
import dev.mancom.protocol.ManComException;
import dev.mancom.protocol.MarkFileDescriptor;
import dev.mancom.protocol.ProtocolVersion;
import dev.mancom.protocol.codecs.AcceptorRegisteredDecoder;
import dev.mancom.protocol.codecs.AttachEncoder;
import dev.mancom.protocol.codecs.CloseEncoder;
import dev.mancom.protocol.codecs.CloseReason;
import dev.mancom.protocol.codecs.CommandOkDecoder;
import dev.mancom.protocol.codecs.ConnectEncoder;
import dev.mancom.protocol.codecs.ConnectionClosedDecoder;
import dev.mancom.protocol.codecs.ConnectionClosedEncoder;
import dev.mancom.protocol.codecs.ConnectionOpenedDecoder;
import dev.mancom.protocol.codecs.CreditEncoder;
import dev.mancom.protocol.codecs.DataDecoder;
import dev.mancom.protocol.codecs.DataEncoder;
import dev.mancom.protocol.codecs.EndpointRole;
import dev.mancom.protocol.codecs.ErrorCode;
import dev.mancom.protocol.codecs.ErrorDecoder;
import dev.mancom.protocol.codecs.HelloEncoder;
import dev.mancom.protocol.codecs.MessageHeaderDecoder;
import dev.mancom.protocol.codecs.MessageHeaderEncoder;
import dev.mancom.protocol.codecs.RefusedDecoder;
import dev.mancom.protocol.codecs.RegisterAcceptorEncoder;
import dev.mancom.protocol.codecs.SendCreditDecoder;
import dev.mancom.protocol.codecs.SendCreditEncoder;
import dev.mancom.protocol.codecs.SendEncoder;
import dev.mancom.protocol.codecs.UnregisterAcceptorEncoder;
import dev.mancom.protocol.codecs.WelcomeDecoder;
import io.aeron.Aeron;
import io.aeron.Image;
import io.aeron.Publication;
import io.aeron.Subscription;
import io.aeron.logbuffer.ControlledFragmentHandler;
import io.aeron.logbuffer.FragmentHandler;
import io.aeron.logbuffer.Header;
import org.agrona.CloseHelper;
import org.agrona.DirectBuffer;
import org.agrona.ErrorHandler;
import org.agrona.ExpandableArrayBuffer;
import org.agrona.collections.Long2ObjectHashMap;
import org.agrona.concurrent.Agent;
import org.agrona.concurrent.AgentInvoker;
import org.agrona.concurrent.AgentRunner;
import org.agrona.concurrent.BackoffIdleStrategy;
import org.agrona.concurrent.BusySpinIdleStrategy;
import org.agrona.concurrent.IdleStrategy;
import org.agrona.concurrent.ManyToOneConcurrentLinkedQueue;
import org.agrona.concurrent.UnsafeBuffer;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.BooleanSupplier;

/**
 * An application's attachment to a ManCom broker: accept connections of services and open connections, over any
 * transport the broker serves, through shared memory.
 * <p>
 * Threading: by default the library runs no thread of its own; the application calls {@link #poll()} from its
 * own loop (callbacks run there), or makes blocking calls, which poll while they wait. With
 * {@link Context#dispatchThread(boolean)} the library runs exactly one dispatch thread that polls and runs every
 * callback; blocking calls then wait for it. Sending is thread safe.
 * <pre>{@code
 * try (ManCom mancom = ManCom.connect(new ManCom.Context()))
 * {
 *     mancom.registerAcceptor("echo", connection ->
 *         connection.dataHandler((c, buffer, offset, length) -> Math.max(0, c.offer(buffer, offset, length))));
 *     while (true)
 *     {
 *         mancom.idle(mancom.poll());
 *     }
 * }
 * }</pre>
 */
public final class ManCom implements AutoCloseable
{
    private static final int FRAGMENT_LIMIT = 64;
    private static final long AERON_INVOKE_INTERVAL_NS = TimeUnit.MICROSECONDS.toNanos(100);
    private static final long BACK_PRESSURE_RETRY_NS = TimeUnit.MILLISECONDS.toNanos(10);
    private static final long CONTROL_CHECK_INTERVAL_NS = TimeUnit.MILLISECONDS.toNanos(10);
    private static final ThreadLocal<Encoders> ENCODERS = ThreadLocal.withInitial(Encoders::new);
    private static final ThreadLocal<IdleStrategy> WAIT_IDLE = ThreadLocal.withInitial(
        () -> new BackoffIdleStrategy(100, 100, TimeUnit.MICROSECONDS.toNanos(1), TimeUnit.MILLISECONDS.toNanos(1)));

    private final Context ctx;
    private final SocketChannel control;
    private final ByteBuffer controlReadBuffer = ByteBuffer.allocate(256);
    private final Aeron aeron;
    private final AgentInvoker aeronInvoker;
    private final Publication commands;
    private final Subscription events;
    private final Subscription peers;
    private final String linkChannel;
    private final Long2ObjectHashMap<PeerLink> links = new Long2ObjectHashMap<>();
    private final ArrayList<PeerLink> pendingLinks = new ArrayList<>();
    private final ArrayDeque<DeferredClose> peerExits = new ArrayDeque<>();
    private final PeerHandler peerHandler = new PeerHandler();
    private final ThreadLocal<IdleStrategy> waitIdle;
    private final long clientId;
    private final int windowLength;
    private final int maxPayloadLength;
    private final ReentrantLock pollLock = new ReentrantLock();
    private final Object signal = new Object();
    private volatile int waiters;
    private final IdleStrategy pollIdle;
    private final Long2ObjectHashMap<Connection> connections = new Long2ObjectHashMap<>();
    private final Map<Long, Acceptor> acceptors = new ConcurrentHashMap<>();
    private final Map<Long, Pending> pending = new ConcurrentHashMap<>();
    private final List<Connection> redelivery = new ArrayList<>();
    private final List<Connection> redeliveryScratch = new ArrayList<>();
    private final ManyToOneConcurrentLinkedQueue<Connection> creditRetry = new ManyToOneConcurrentLinkedQueue<>();
    private final ManyToOneConcurrentLinkedQueue<Connection> closeRetry = new ManyToOneConcurrentLinkedQueue<>();
    private final AtomicLong nextCorrelationId = new AtomicLong(1);
    private final AtomicBoolean closed = new AtomicBoolean();
    private final EventHandler eventHandler = new EventHandler();
    private final AgentRunner dispatcher;
    private final Doorbell brokerDoorbell;
    private final Doorbell clientDoorbell;
    private final ByteBuffer ringByte = ByteBuffer.allocateDirect(1);
    private final Selector controlSelector;
    private final ControlledFragmentHandler peekHandler = (buffer, offset, length, header) ->
    {
        peeked = true;
        return ControlledFragmentHandler.Action.ABORT;
    };
    private boolean peeked;
    private volatile boolean connected = true;
    private volatile long backPressuredNs = System.nanoTime() - TimeUnit.SECONDS.toNanos(1);
    private long nextControlCheckNs;
    private long nextInvokeNs;

    private ManCom(final Context ctx)
    {
        this.ctx = ctx;
        SocketChannel control = null;
        Aeron aeron = null;
        Selector selector = null;
        try
        {
            control = openControl(ctx);
            final Welcome welcome = handshake(control, ctx);
            this.clientId = welcome.clientId;
            this.windowLength = welcome.windowLength;
            this.maxPayloadLength = maxPayloadLength(welcome.channel);
            aeron = Aeron.connect(new Aeron.Context()
                .aeronDirectoryName(welcome.aeronDirectory)
                .clientName(ctx.clientName())
                .useConductorAgentInvoker(true)
                .errorHandler(ctx.errorHandler()));
            this.aeron = aeron;
            this.aeronInvoker = aeron.conductorAgentInvoker();
            this.commands = aeron.addPublication(welcome.channel, welcome.commandStreamId);
            this.events = aeron.addSubscription(welcome.channel, welcome.eventStreamId);
            this.peers = aeron.addSubscription(welcome.channel, welcome.peerStreamId);
            // Each link this client publishes has its client id as session id: a peer finds its image by it.
            this.linkChannel = welcome.channel + "|session-id=" + (int)welcome.clientId;
            final long deadlineNs = System.nanoTime() + ctx.timeout().toNanos();
            while (!commands.isConnected() || !events.isConnected())
            {
                if (System.nanoTime() - deadlineNs >= 0)
                {
                    throw new ManComException(ErrorCode.TIMEOUT, "the broker's streams did not connect within " +
                        ctx.timeout());
                }
                aeronInvoker.invoke();
                Thread.onSpinWait();
            }
            this.brokerDoorbell = new Doorbell(aeron.countersReader().valuesBuffer(), welcome.brokerDoorbellCounterId);
            this.clientDoorbell = new Doorbell(aeron.countersReader().valuesBuffer(), welcome.clientDoorbellCounterId);
            sendAttach(control, aeron.clientId());
            control.configureBlocking(false);
            selector = Selector.open();
            control.register(selector, SelectionKey.OP_READ);
            this.control = control;
            this.controlSelector = selector;
        }
        catch (final IOException ex)
        {
            CloseHelper.quietCloseAll(selector, aeron, control);
            throw new ManComException(ErrorCode.NOT_CONNECTED, "cannot attach to the broker in " + ctx.dir() + ": " +
                ex.getMessage(), ex);
        }
        catch (final RuntimeException ex)
        {
            CloseHelper.quietCloseAll(selector, aeron, control);
            throw ex;
        }

        this.pollIdle = newIdleStrategy();
        this.waitIdle = ThreadLocal.withInitial(this::newIdleStrategy);
        if (ctx.dispatchThread())
        {
            dispatcher = new AgentRunner(pollIdle, ctx.errorHandler(), null, new Dispatcher());
            AgentRunner.startOnThread(dispatcher);
        }
        else
        {
            dispatcher = null;
        }
    }

    private IdleStrategy newIdleStrategy()
    {
        if (null != ctx.idleStrategy())
        {
            return ctx.idleStrategy();
        }
        if (ctx.busySpin())
        {
            return new BusySpinIdleStrategy();
        }
        // Blocks in a futex wait on this client's doorbell, which the broker and the peers ring.
        return new DoorbellIdleStrategy(clientDoorbell, null, new DoorbellHost(), 100, 1000,
            TimeUnit.MICROSECONDS.toNanos(1), TimeUnit.MILLISECONDS.toNanos(1), this::onError);
    }

    /**
     * Attach to the broker that serves the context's directory.
     *
     * @param ctx the configuration.
     * @return the attached client.
     * @throws ManComException {@code NOT_CONNECTED} when no broker runs there, {@code PROTOCOL_VERSION_MISMATCH} when
     * the broker speaks another major protocol version, {@code TIMEOUT} when the broker does not answer,
     * {@code ACCESS_DENIED} when this user may not enter the broker directory.
     */
    public static ManCom connect(final Context ctx)
    {
        ctx.conclude();
        return new ManCom(ctx);
    }

    /**
     * Wait until a broker is ready in a directory.
     *
     * @param dir     the broker directory.
     * @param timeout how long to wait.
     * @return true when ready in time.
     */
    public static boolean awaitReady(final Path dir, final Duration timeout)
    {
        try
        {
            return BrokerDirectory.awaitReady(dir, timeout.toMillis());
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /**
     * This client's id in the broker.
     *
     * @return the id.
     */
    public long clientId()
    {
        return clientId;
    }

    /**
     * Whether the broker is still there.
     *
     * @return false once the broker is gone or this client is closed.
     */
    public boolean isConnected()
    {
        return connected && !closed.get();
    }

    /**
     * The configuration.
     *
     * @return the context.
     */
    public Context context()
    {
        return ctx;
    }

    int maxPayloadLength()
    {
        return maxPayloadLength;
    }

    // ------------------------------------------------------------------ public API

    /**
     * Register to accept a service's connections with a handler, and wait for the broker's answer.
     *
     * @param service the service's name.
     * @param handler receives each connection, on the polling thread.
     * @return the acceptor.
     * @throws ManComException {@code UNKNOWN_SERVICE}, {@code ACCESS_DENIED}, {@code TIMEOUT}, ...
     */
    public Acceptor registerAcceptor(final String service, final AcceptHandler handler)
    {
        return register(service, handler);
    }

    /**
     * Register to accept a service's connections with {@link Acceptor#accept(Duration)}, and wait for the broker's
     * answer.
     *
     * @param service the service's name.
     * @return the acceptor.
     * @throws ManComException {@code UNKNOWN_SERVICE}, {@code ACCESS_DENIED}, {@code TIMEOUT}, ...
     */
    public Acceptor registerAcceptor(final String service)
    {
        return register(service, null);
    }

    private Acceptor register(final String service, final AcceptHandler handler)
    {
        final Acceptor acceptor = new Acceptor(this, service, handler);
        final Pending request = newPending();
        request.acceptor = acceptor;
        sendCommand((encoders) -> encoders.registerAcceptor(commands, request.correlationId, service), request);
        awaitReply(request, "register acceptor of '" + service + "'");
        return acceptor;
    }

    void unregister(final Acceptor acceptor)
    {
        acceptors.remove(acceptor.id());
        if (!isConnected())
        {
            return;
        }
        final Pending request = newPending();
        sendCommand((encoders) -> encoders.unregisterAcceptor(commands, request.correlationId, acceptor.id()), request);
        if (!isPollingThread())
        {
            awaitReply(request, "unregister acceptor of '" + acceptor.service() + "'");
        }
    }

    /**
     * Open a connection to a service (by name, configured with {@code connect = "..."}) or to a URI such as
     * {@code tcp://127.0.0.1:9000}, and wait until it is open.
     *
     * @param target a service's name or a transport URI.
     * @return the open connection.
     * @throws ManComException {@code UNKNOWN_SERVICE}, {@code ACCESS_DENIED}, {@code CONNECT_FAILED},
     *                         {@code TIMEOUT}, ...
     */
    public Connection connect(final String target)
    {
        final Pending request = newPending();
        sendCommand((encoders) -> encoders.connect(commands, request.correlationId, target), request);
        awaitReply(request, "connect to '" + target + "'");
        return request.connection;
    }

    /**
     * A new poller over this client's connections and acceptors of the blocking API; see {@link Poller}.
     *
     * @return the poller, for one thread.
     */
    public Poller poller()
    {
        return new Poller(this, newIdleStrategy());
    }

    boolean hasDispatcher()
    {
        return null != dispatcher;
    }

    /**
     * Do one round of work: deliver events and bytes to their handlers. Call it from the application's own loop
     * when there is no dispatch thread.
     *
     * @return the amount of work done; 0 when there was none.
     * @throws IllegalStateException when a dispatch thread runs.
     */
    public int poll()
    {
        if (null != dispatcher)
        {
            throw new IllegalStateException("a dispatch thread polls this client");
        }
        if (!pollLock.tryLock())
        {
            return 0;
        }
        try
        {
            return doWorkLocked();
        }
        finally
        {
            pollLock.unlock();
        }
    }

    /**
     * Idle politely after a {@link #poll()} that found no work, with the context's idle strategy.
     *
     * @param workCount what {@link #poll()} returned.
     */
    public void idle(final int workCount)
    {
        pollIdle.idle(workCount);
    }

    /**
     * Close every connection gracefully (bytes already sent are written first, waiting up to the context's
     * time-out), then detach from the broker. Idempotent.
     */
    public void close()
    {
        if (!closed.compareAndSet(false, true))
        {
            return;
        }
        if (connected && !isPollingThread())
        {
            final List<Connection> open = new ArrayList<>();
            runLocked(() -> open.addAll(connections.values()));
            for (final Connection connection : open)
            {
                connection.close();
            }
            final long deadlineNs = System.nanoTime() + ctx.timeout().toNanos();
            awaitInternal(() -> allClosed(open), deadlineNs);
        }
        if (null != dispatcher)
        {
            CloseHelper.quietClose(dispatcher);
        }
        connected = false;
        CloseHelper.quietCloseAll(controlSelector, control);
        runLocked(this::failEverything);
        CloseHelper.quietCloseAll(aeron);
    }

    private static boolean allClosed(final List<Connection> list)
    {
        for (final Connection connection : list)
        {
            if (!connection.isClosed())
            {
                return false;
            }
        }
        return true;
    }

    private void runLocked(final Runnable action)
    {
        pollLock.lock();
        try
        {
            action.run();
        }
        finally
        {
            pollLock.unlock();
        }
    }

    // ------------------------------------------------------------------ waiting

    private boolean isPollingThread()
    {
        return pollLock.isHeldByCurrentThread();
    }

    /**
     * Wait until the condition holds or the deadline passes, polling meanwhile when no other thread does.
     *
     * @return true when the condition holds.
     */
    boolean await(final BooleanSupplier condition, final long deadlineNs)
    {
        if (isPollingThread() && !condition.getAsBoolean())
        {
            throw new IllegalStateException(
                "a blocking call on the polling thread (inside a callback) would wait for itself");
        }
        return awaitInternal(condition, deadlineNs);
    }

    private boolean awaitInternal(final BooleanSupplier condition, final long deadlineNs)
    {
        final IdleStrategy idle = null != ctx.idleStrategy() ? WAIT_IDLE.get() : waitIdle.get();
        idle.reset();
        while (true)
        {
            if (condition.getAsBoolean())
            {
                return true;
            }
            if (System.nanoTime() - deadlineNs >= 0 || closed.get() && !connected)
            {
                return condition.getAsBoolean();
            }
            if (null == dispatcher && pollLock.tryLock())
            {
                final int work;
                try
                {
                    work = doWorkLocked();
                }
                finally
                {
                    pollLock.unlock();
                }
                idle.idle(work);
            }
            else
            {
                synchronized (signal)
                {
                    waiters++;
                    try
                    {
                        if (!condition.getAsBoolean())
                        {
                            signal.wait(1);
                        }
                    }
                    catch (final InterruptedException ex)
                    {
                        Thread.currentThread().interrupt();
                        return condition.getAsBoolean();
                    }
                    finally
                    {
                        waiters--;
                    }
                }
            }
        }
    }

    private void awaitReply(final Pending request, final String what)
    {
        final long deadlineNs = System.nanoTime() + ctx.timeout().toNanos();
        if (!await(() -> request.done, deadlineNs))
        {
            pending.remove(request.correlationId);
            throw new ManComException(ErrorCode.TIMEOUT, what + ": no answer from the broker within " +
                ctx.timeout());
        }
        if (null != request.error)
        {
            throw new ManComException(request.error.code(), what + ": " + request.error.getMessage());
        }
    }

    // ------------------------------------------------------------------ the duty cycle

    private int doWorkLocked()
    {
        if (!connected)
        {
            return 0;
        }
        int work = 0;
        final long nowNs = System.nanoTime();
        if (nowNs - nextInvokeNs >= 0 || !pendingLinks.isEmpty() || !peerExits.isEmpty())
        {
            // The Aeron client's duty cycle (keep-alive, new images and publications) needs no faster pace than
            // this; every round would add its cost to each message's latency. Not counted as work: counting its
            // keep-alive would make every wake-up of an idle client yield a hundred times before it blocks again.
            nextInvokeNs = nowNs + AERON_INVOKE_INTERVAL_NS;
            try
            {
                aeronInvoker.invoke();
            }
            catch (final RuntimeException ex)
            {
                onError(ex);
            }
        }
        work += events.poll(eventHandler, FRAGMENT_LIMIT);
        work += pollPeers();
        work += servicePendingLinks();
        work += servicePeerExits();
        work += serviceRedelivery();
        work += serviceCreditRetry();
        work += serviceCloseRetry();

        if (nowNs - nextControlCheckNs >= 0)
        {
            nextControlCheckNs = nowNs + CONTROL_CHECK_INTERVAL_NS;
            work += checkControl();
        }

        if (work > 0 && waiters > 0)
        {
            synchronized (signal)
            {
                signal.notifyAll();
            }
        }
        return work;
    }

    private int checkControl()
    {
        try
        {
            controlReadBuffer.clear();
            final int read = control.read(controlReadBuffer);
            if (read >= 0)
            {
                return read;
            }
        }
        catch (final IOException ex)
        {
            onError(ex);
        }
        onBrokerLost();
        return 1;
    }

    private void onBrokerLost()
    {
        if (!connected)
        {
            return;
        }
        connected = false;
        onError(new ManComException(ErrorCode.NOT_CONNECTED, "the broker in " + ctx.dir() + " is gone"));
        failEverything();
        synchronized (signal)
        {
            signal.notifyAll();
        }
    }

    private void failEverything()
    {
        final List<Connection> open = new ArrayList<>(connections.values());
        connections.clear();
        peerExits.clear();
        pendingLinks.clear();
        for (final PeerLink link : links.values())
        {
            link.failed = true;
            CloseHelper.quietClose(link.publication);
        }
        links.clear();
        for (final Connection connection : open)
        {
            if (!connection.isClosed())
            {
                connection.onClosed(CloseReason.BROKER_SHUTDOWN, "the broker is gone");
            }
        }
        for (final Acceptor acceptor : acceptors.values())
        {
            acceptor.markClosed();
        }
        acceptors.clear();
        for (final Pending request : pending.values())
        {
            request.fail(new ManComException(ErrorCode.NOT_CONNECTED, "the broker is gone"));
        }
        pending.clear();
    }

    private int serviceRedelivery()
    {
        synchronized (redelivery)
        {
            if (redelivery.isEmpty())
            {
                return 0;
            }
            redeliveryScratch.addAll(redelivery);
            redelivery.clear();
        }
        int work = 0;
        for (int i = 0; i < redeliveryScratch.size(); i++)
        {
            final Connection connection = redeliveryScratch.get(i);
            connection.inRedeliveryList(false);
            if (connection.redeliver())
            {
                work++;
            }
            else
            {
                redeliverLater(connection);
            }
        }
        redeliveryScratch.clear();
        return work;
    }

    void redeliverLater(final Connection connection)
    {
        synchronized (redelivery)
        {
            if (!connection.inRedeliveryList())
            {
                connection.inRedeliveryList(true);
                redelivery.add(connection);
            }
        }
    }

    private int serviceCreditRetry()
    {
        // Bounded by the size at the start: a grant that fails again goes back on the queue for the next round.
        int work = 0;
        for (int i = 0, size = creditRetry.size(); i < size; i++)
        {
            final Connection connection = creditRetry.poll();
            if (null == connection)
            {
                break;
            }
            work += grantCredit(connection, true) ? 1 : 0;
        }
        return work;
    }

    private int serviceCloseRetry()
    {
        int work = 0;
        for (int i = 0, size = closeRetry.size(); i < size; i++)
        {
            final Connection connection = closeRetry.poll();
            if (null == connection)
            {
                break;
            }
            if (null != connection.link())
            {
                work += !connected || closeAppToApp(connection) ? 1 : 0;
            }
            else
            {
                work += sendClose(connection) ? 1 : 0;
            }
        }
        return work;
    }

    // ------------------------------------------------------------------ sending

    long offerSend(final Connection connection, final DirectBuffer buffer, final int offset, final int length)
    {
        final PeerLink link = connection.link();
        if (null == link)
        {
            return ENCODERS.get().offerSend(commands, connection.id(), buffer, offset, length);
        }
        final Publication publication = link.publication;
        if (null == publication)
        {
            return link.failed ? Publication.CLOSED : Publication.BACK_PRESSURED;
        }
        return ENCODERS.get().offerData(publication, connection.id(), buffer, offset, length);
    }

    /**
     * After publishing a command: wake the broker's sender if it blocks. Any thread; a volatile read unless the
     * sender is parked, then one byte on the control socket from the one writer that wins the swap.
     */
    void ringBroker()
    {
        if (brokerDoorbell.shouldRing())
        {
            try
            {
                synchronized (ringByte)
                {
                    ringByte.clear();
                    control.write(ringByte);
                }
            }
            catch (final IOException ignore)
            {
                // The broker is gone: the control socket's end tells the poller.
            }
        }
    }

    long claimSend(final Connection connection, final int length, final SendClaim claim)
    {
        final PeerLink link = connection.link();
        if (null == link)
        {
            final long result = commands.tryClaim(Frames.DATA_HEADER_LENGTH + length, claim.bufferClaim);
            if (result > 0)
            {
                ENCODERS.get().encodeSendHeader(claim.bufferClaim.buffer(), claim.bufferClaim.offset(),
                    connection.id(), length);
            }
            return result;
        }
        final Publication publication = link.publication;
        if (null == publication)
        {
            return link.failed ? Publication.CLOSED : Publication.BACK_PRESSURED;
        }
        final long result = publication.tryClaim(Frames.DATA_HEADER_LENGTH + length, claim.bufferClaim);
        if (result > 0)
        {
            ENCODERS.get().encodeDataHeader(claim.bufferClaim.buffer(), claim.bufferClaim.offset(),
                connection.id(), length);
        }
        return result;
    }

    /**
     * A send met a full log (not a lack of credit): for a while the idle strategy parks briefly instead of
     * blocking, so that the application's loop retries soon.
     */
    void onPublicationBackPressured()
    {
        backPressuredNs = System.nanoTime();
    }

    void onConsumed(final Connection connection)
    {
        grantCredit(connection, false);
    }

    private boolean grantCredit(final Connection connection, final boolean force)
    {
        if (connection.isClosed() || !connected)
        {
            return true;
        }
        final int credit = connection.takeCreditToGrant(force);
        if (credit <= 0)
        {
            return true;
        }
        final PeerLink link = connection.link();
        final long result;
        if (null == link)
        {
            result = ENCODERS.get().offerCredit(commands, connection.id(), credit);
        }
        else
        {
            final Publication publication = link.publication;
            result = null == publication ? (link.failed ? Publication.CLOSED : Publication.BACK_PRESSURED) :
                ENCODERS.get().offerSendCredit(publication, connection.id(), credit);
        }
        if (result > 0)
        {
            connection.ringPeer();
        }
        else
        {
            connection.returnCreditToGrant(credit);
            if (result != Publication.NOT_CONNECTED && result != Publication.CLOSED)
            {
                creditRetry.offer(connection);
                return false;
            }
        }
        return true;
    }

    boolean sendClose(final Connection connection)
    {
        if (!connected || connection.isClosed())
        {
            return true;
        }
        if (null != connection.link())
        {
            if (isPollingThread())
            {
                return closeAppToApp(connection);
            }
            // The close goes out now; this end's close handler runs on the polling thread.
            sendAppToAppCloses(connection);
            closeRetry.offer(connection);
            if (pollIdle instanceof DoorbellIdleStrategy)
            {
                ((DoorbellIdleStrategy)pollIdle).wake();
            }
            return false;
        }
        final long result = ENCODERS.get().offerClose(commands, nextCorrelationId.getAndIncrement(), connection.id());
        if (result > 0)
        {
            ringBroker();
        }
        if (result < 0 && result != Publication.NOT_CONNECTED && result != Publication.CLOSED)
        {
            closeRetry.offer(connection);
            return false;
        }
        return true;
    }

    // ------------------------------------------------------------------ app-to-app connections

    /**
     * Polling thread: close this end of an app-to-app connection, or finish answering the other's close. The close
     * goes to the other application (in order after this end's bytes) and to the broker; then the connection is
     * closed here.
     *
     * @return true when done, false when queued to retry.
     */
    private boolean closeAppToApp(final Connection connection)
    {
        if (!sendAppToAppCloses(connection))
        {
            closeRetry.offer(connection);
            return false;
        }
        if (!connection.isClosed())
        {
            if (connection.peerClosed)
            {
                connections.remove(connection.id());
            }
            else
            {
                // Kept until the other application's close arrives: its frames in flight are dropped meanwhile.
                connection.lingering = true;
            }
            connection.onClosed(CloseReason.LOCAL_CLOSED, "closed by this application");
        }
        return true;
    }

    /**
     * Any thread: send what is still unsent of this end's close: to the other application, then to the broker.
     *
     * @return true when both are sent (or cannot be: the link failed, the broker is gone).
     */
    private boolean sendAppToAppCloses(final Connection connection)
    {
        synchronized (connection)
        {
            final PeerLink link = connection.link();
            if (!connection.linkCloseSent)
            {
                final Publication publication = link.publication;
                if (null == publication && !link.failed)
                {
                    return false;
                }
                if (null != publication)
                {
                    final long result = ENCODERS.get().offerClosed(
                        publication, connection.id(), CloseReason.REMOTE_CLOSED, "closed by the other application");
                    if (result > 0)
                    {
                        link.ring();
                    }
                    else if (result == Publication.BACK_PRESSURED || result == Publication.ADMIN_ACTION)
                    {
                        return false;
                    }
                }
                connection.linkCloseSent = true;
            }
            if (!connection.brokerCloseSent)
            {
                final long result = ENCODERS.get().offerClose(commands, nextCorrelationId.getAndIncrement(),
                    connection.id());
                if (result > 0)
                {
                    ringBroker();
                }
                else if (result == Publication.BACK_PRESSURED || result == Publication.ADMIN_ACTION)
                {
                    return false;
                }
                connection.brokerCloseSent = true;
            }
            return true;
        }
    }

    private PeerLink linkTo(final long peerClientId, final int peerStreamId, final int peerDoorbellCounterId)
    {
        PeerLink link = links.get(peerClientId);
        if (null == link)
        {
            final long registrationId = aeron.asyncAddPublication(linkChannel, peerStreamId);
            link = new PeerLink(peerClientId, peerStreamId, registrationId,
                new Doorbell(aeron.countersReader().valuesBuffer(), peerDoorbellCounterId));
            links.put(peerClientId, link);
            pendingLinks.add(link);
        }
        return link;
    }

    private int servicePendingLinks()
    {
        int work = 0;
        for (int i = pendingLinks.size() - 1; i >= 0; i--)
        {
            final PeerLink link = pendingLinks.get(i);
            try
            {
                final Publication publication = aeron.getPublication(link.registrationId);
                if (null == publication)
                {
                    continue;
                }
                link.publication = publication;
                for (final Connection connection : connections.values())
                {
                    if (connection.link() == link)
                    {
                        connection.signalPoller(); // may be writable now
                    }
                }
            }
            catch (final RuntimeException ex)
            {
                link.failed = true;
                onError(new ManComException(ErrorCode.RESOURCE_LIMIT, "cannot open the link to client " +
                    link.peerClientId + ": " + ex.getMessage(), ex));
            }
            pendingLinks.remove(i);
            work++;
        }
        return work;
    }

    private int pollPeers()
    {
        peerHandler.heldBack = false;
        int work = peers.controlledPoll(peerHandler, FRAGMENT_LIMIT);
        if (peerHandler.heldBack)
        {
            // A frame of a connection whose ConnectionOpened is still in the event stream: read that first.
            int events;
            while ((events = this.events.poll(eventHandler, FRAGMENT_LIMIT)) > 0)
            {
                work += events;
            }
            peerHandler.heldBack = false;
            work += peers.controlledPoll(peerHandler, FRAGMENT_LIMIT);
        }
        return work;
    }

    /**
     * The broker says the other application of app-to-app connections exited. Everything it published before it
     * died is in its link already: deliver that first, then the close.
     */
    private int servicePeerExits()
    {
        if (peerExits.isEmpty())
        {
            return 0;
        }
        try
        {
            aeronInvoker.invoke(); // learn of links announced meanwhile
        }
        catch (final RuntimeException ex)
        {
            onError(ex);
        }
        int work = 0;
        DeferredClose exit;
        while (null != (exit = peerExits.poll()))
        {
            work++;
            final Connection connection = connections.get(exit.connectionId);
            if (null == connection)
            {
                continue;
            }
            final long peerClientId = connection.link().peerClientId;
            final Image image = peers.imageBySessionId((int)peerClientId);
            if (null != image)
            {
                for (int i = 0; i < 10_000 && image.controlledPoll(peerHandler, FRAGMENT_LIMIT) > 0; i++)
                {
                    work++;
                }
            }
            if (null != connections.remove(exit.connectionId) && !connection.isClosed())
            {
                connection.onClosed(exit.reason, exit.detail);
            }
            final PeerLink link = links.remove(peerClientId);
            if (null != link)
            {
                link.failed = true;
                pendingLinks.remove(link);
                CloseHelper.quietClose(link.publication);
            }
        }
        return work;
    }

    private interface CommandEncoder
    {
        long offer(Encoders encoders);
    }

    private void sendCommand(final CommandEncoder encoder, final Pending request)
    {
        if (!isConnected())
        {
            pending.remove(request.correlationId);
            throw new ManComException(ErrorCode.NOT_CONNECTED, "not connected to a broker");
        }
        final long deadlineNs = System.nanoTime() + ctx.timeout().toNanos();
        final IdleStrategy idle = WAIT_IDLE.get();
        idle.reset();
        while (true)
        {
            final long result = encoder.offer(ENCODERS.get());
            if (result > 0)
            {
                ringBroker();
                return;
            }
            if (result == Publication.NOT_CONNECTED || result == Publication.CLOSED ||
                System.nanoTime() - deadlineNs >= 0)
            {
                pending.remove(request.correlationId);
                throw new ManComException(ErrorCode.NOT_CONNECTED, "cannot send a command to the broker: " +
                    Publication.errorString(result));
            }
            idle.idle();
        }
    }

    private Pending newPending()
    {
        final Pending request = new Pending(nextCorrelationId.getAndIncrement());
        pending.put(request.correlationId, request);
        return request;
    }

    void onError(final Throwable error)
    {
        ctx.errorHandler().onError(error);
    }

    // ------------------------------------------------------------------ handshake

    private static SocketChannel openControl(final Context ctx) throws IOException
    {
        final Path socketPath = ctx.dir().resolve(MarkFileDescriptor.CONTROL_SOCKET_NAME);
        if (Files.isDirectory(ctx.dir()) && !Files.isExecutable(ctx.dir()))
        {
            // Said at once rather than after waiting for a mark file this user can never read.
            throw new ManComException(ErrorCode.ACCESS_DENIED, "cannot enter the broker directory " + ctx.dir() +
                ": permission denied (it is open to the broker's user and its [broker] group only)");
        }
        if (!ctx.awaitReadyTimeout().isZero())
        {
            awaitReady(ctx.dir(), ctx.awaitReadyTimeout());
        }
        final SocketChannel channel = SocketChannel.open(StandardProtocolFamily.UNIX);
        try
        {
            channel.connect(UnixDomainSocketAddress.of(socketPath));
            return channel;
        }
        catch (final IOException ex)
        {
            channel.close();
            throw new ManComException(ErrorCode.NOT_CONNECTED, "no broker is running in " + ctx.dir() +
                " (start one with: mancom broker --dir " + ctx.dir() + ")", ex);
        }
    }

    private static final class Welcome
    {
        long clientId;
        int commandStreamId;
        int eventStreamId;
        int windowLength;
        int brokerDoorbellCounterId;
        int clientDoorbellCounterId;
        int peerStreamId;
        String channel;
        String aeronDirectory;
    }

    private static Welcome handshake(final SocketChannel control, final Context ctx) throws IOException
    {
        final UnsafeBuffer frame = new UnsafeBuffer(new byte[Frames.MAX_CONTROL_FRAME_LENGTH]);
        final MessageHeaderEncoder headerEncoder = new MessageHeaderEncoder();
        final HelloEncoder hello = new HelloEncoder().wrapAndApplyHeader(frame, 4, headerEncoder)
            .protocolMajor(ProtocolVersion.MAJOR)
            .protocolMinor(ProtocolVersion.MINOR)
            .pid(ProcessHandle.current().pid())
            .clientName(ctx.clientName());
        writeFrame(control, frame, MessageHeaderEncoder.ENCODED_LENGTH + hello.encodedLength());

        final UnsafeBuffer reply = readFrame(control, ctx.timeout());
        final MessageHeaderDecoder header = new MessageHeaderDecoder().wrap(reply, 0);
        if (header.schemaId() != MessageHeaderDecoder.SCHEMA_ID)
        {
            throw new ManComException(ErrorCode.PROTOCOL_VERSION_MISMATCH, "the broker answered with schema " +
                header.schemaId());
        }
        if (header.templateId() == RefusedDecoder.TEMPLATE_ID)
        {
            final RefusedDecoder refused = new RefusedDecoder().wrap(
                reply, MessageHeaderDecoder.ENCODED_LENGTH, header.blockLength(), header.version());
            final ErrorCode code = refused.code();
            throw new ManComException(code, "the broker refused this client: " + refused.message());
        }
        if (header.templateId() != WelcomeDecoder.TEMPLATE_ID)
        {
            throw new ManComException(ErrorCode.PROTOCOL_VERSION_MISMATCH, "unexpected answer " +
                header.templateId() + " from the broker");
        }
        final WelcomeDecoder decoder = new WelcomeDecoder().wrap(
            reply, MessageHeaderDecoder.ENCODED_LENGTH, header.blockLength(), header.version());
        final Welcome welcome = new Welcome();
        welcome.clientId = decoder.clientId();
        welcome.commandStreamId = decoder.commandStreamId();
        welcome.eventStreamId = decoder.eventStreamId();
        welcome.windowLength = decoder.creditWindowLength();
        welcome.brokerDoorbellCounterId = decoder.brokerDoorbellCounterId();
        welcome.clientDoorbellCounterId = decoder.clientDoorbellCounterId();
        welcome.peerStreamId = decoder.peerStreamId();
        welcome.channel = decoder.channel();
        welcome.aeronDirectory = decoder.aeronDirectory();
        return welcome;
    }

    private static void sendAttach(final SocketChannel control, final long aeronClientId) throws IOException
    {
        final UnsafeBuffer frame = new UnsafeBuffer(new byte[64]);
        final AttachEncoder attach = new AttachEncoder()
            .wrapAndApplyHeader(frame, 4, new MessageHeaderEncoder())
            .aeronClientId(aeronClientId);
        writeFrame(control, frame, MessageHeaderEncoder.ENCODED_LENGTH + attach.encodedLength());
    }

    private static void writeFrame(final SocketChannel channel, final UnsafeBuffer frame, final int length)
        throws IOException
    {
        frame.putInt(0, length, ByteOrder.LITTLE_ENDIAN);
        final ByteBuffer out = ByteBuffer.wrap(frame.byteArray(), 0, 4 + length);
        while (out.hasRemaining())
        {
            channel.write(out);
        }
    }

    private static UnsafeBuffer readFrame(final SocketChannel channel, final Duration timeout) throws IOException
    {
        channel.configureBlocking(false);
        try (Selector selector = Selector.open())
        {
            channel.register(selector, SelectionKey.OP_READ);
            final ByteBuffer lengthBuffer = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
            readFully(channel, selector, lengthBuffer, timeout);
            final int length = lengthBuffer.getInt(0);
            if (length < MessageHeaderDecoder.ENCODED_LENGTH || length > Frames.MAX_CONTROL_FRAME_LENGTH)
            {
                throw new ManComException(ErrorCode.MALFORMED_COMMAND, "bad frame length " + length +
                    " from the broker");
            }
            final ByteBuffer body = ByteBuffer.allocate(length);
            readFully(channel, selector, body, timeout);
            return new UnsafeBuffer(body.array());
        }
        finally
        {
            channel.configureBlocking(true);
        }
    }

    private static void readFully(
        final SocketChannel channel, final Selector selector, final ByteBuffer buffer, final Duration timeout)
        throws IOException
    {
        final long deadlineNs = System.nanoTime() + timeout.toNanos();
        while (buffer.hasRemaining())
        {
            final long remainingMs = TimeUnit.NANOSECONDS.toMillis(deadlineNs - System.nanoTime());
            if (remainingMs <= 0)
            {
                throw new ManComException(ErrorCode.TIMEOUT, "the broker did not answer within " + timeout);
            }
            selector.select(remainingMs);
            selector.selectedKeys().clear();
            final int read = channel.read(buffer);
            if (read < 0)
            {
                throw new ManComException(ErrorCode.NOT_CONNECTED, "the broker closed the control socket");
            }
        }
    }

    private static int maxPayloadLength(final String channel)
    {
        int mtu = 1408;
        for (final String param : channel.substring(channel.indexOf('?') + 1).split("\\|"))
        {
            if (param.startsWith("mtu="))
            {
                mtu = Integer.parseInt(param.substring(4));
            }
        }
        return mtu - io.aeron.protocol.DataHeaderFlyweight.HEADER_LENGTH - Frames.DATA_HEADER_LENGTH;
    }

    // ------------------------------------------------------------------ inner types

    private static final class Pending
    {
        final long correlationId;
        volatile boolean done;
        ManComException error;
        Acceptor acceptor;
        Connection connection;

        Pending(final long correlationId)
        {
            this.correlationId = correlationId;
        }

        void fail(final ManComException error)
        {
            this.error = error;
            done = true;
        }
    }

    /**
     * Idles the poller behind its doorbell: it blocks on the control socket, which the broker rings.
     */
    private final class DoorbellHost implements DoorbellIdleStrategy.Host
    {
        public boolean hasRetries()
        {
            return !connected || ManCom.this.hasRetries();
        }

        public int peek()
        {
            if (!pollLock.tryLock())
            {
                return DoorbellIdleStrategy.PEEK_BUSY;
            }
            try
            {
                peeked = false;
                events.controlledPoll(peekHandler, 1);
                if (!peeked)
                {
                    peers.controlledPoll(peekHandler, 1);
                }
                return peeked ? DoorbellIdleStrategy.PEEK_WORK : DoorbellIdleStrategy.PEEK_NONE;
            }
            finally
            {
                // Blocked without the lock, so that another thread's blocking call can still poll.
                pollLock.unlock();
            }
        }

        public void onWake()
        {
            controlSelector.selectedKeys().clear();
            // Read the control socket on the next round: it holds the doorbell byte, or its end.
            nextControlCheckNs = System.nanoTime();
        }
    }

    private boolean hasRetries()
    {
        if (!creditRetry.isEmpty() || !closeRetry.isEmpty() || !pendingLinks.isEmpty() || !peerExits.isEmpty())
        {
            return true;
        }
        if (System.nanoTime() - backPressuredNs < BACK_PRESSURE_RETRY_NS)
        {
            return true; // a send met a full log: no doorbell announces room, so do not block for long
        }
        synchronized (redelivery)
        {
            return !redelivery.isEmpty();
        }
    }

    private final class Dispatcher implements Agent
    {
        public int doWork()
        {
            pollLock.lock();
            try
            {
                return doWorkLocked();
            }
            finally
            {
                pollLock.unlock();
            }
        }

        public String roleName()
        {
            return "mancom-dispatch";
        }
    }

    private final class EventHandler implements FragmentHandler
    {
        private final MessageHeaderDecoder headerDecoder = new MessageHeaderDecoder();
        private final ConnectionOpenedDecoder openedDecoder = new ConnectionOpenedDecoder();
        private final ConnectionClosedDecoder closedDecoder = new ConnectionClosedDecoder();
        private final SendCreditDecoder sendCreditDecoder = new SendCreditDecoder();
        private final AcceptorRegisteredDecoder acceptorRegisteredDecoder = new AcceptorRegisteredDecoder();
        private final CommandOkDecoder commandOkDecoder = new CommandOkDecoder();
        private final ErrorDecoder errorDecoder = new ErrorDecoder();

        public void onFragment(final DirectBuffer buffer, final int offset, final int length, final Header header)
        {
            headerDecoder.wrap(buffer, offset);
            final int bodyOffset = offset + MessageHeaderDecoder.ENCODED_LENGTH;
            final int blockLength = headerDecoder.blockLength();
            final int version = headerDecoder.version();
            switch (headerDecoder.templateId())
            {
                case DataDecoder.TEMPLATE_ID:
                {
                    final long connectionId = buffer.getLong(bodyOffset, ByteOrder.LITTLE_ENDIAN);
                    final int payloadLength =
                        buffer.getInt(offset + Frames.DATA_LENGTH_OFFSET, ByteOrder.LITTLE_ENDIAN);
                    final Connection connection = connections.get(connectionId);
                    if (null != connection)
                    {
                        connection.onData(buffer, offset + Frames.DATA_HEADER_LENGTH, payloadLength);
                    }
                    break;
                }

                case SendCreditDecoder.TEMPLATE_ID:
                {
                    sendCreditDecoder.wrap(buffer, bodyOffset, blockLength, version);
                    final Connection connection = connections.get(sendCreditDecoder.connectionId());
                    if (null != connection)
                    {
                        connection.onSendCredit(sendCreditDecoder.length());
                    }
                    break;
                }

                case ConnectionOpenedDecoder.TEMPLATE_ID:
                    onOpened(buffer, bodyOffset, blockLength, version);
                    break;

                case ConnectionClosedDecoder.TEMPLATE_ID:
                {
                    closedDecoder.wrap(buffer, bodyOffset, blockLength, version);
                    final long connectionId = closedDecoder.connectionId();
                    final CloseReason reason = closedDecoder.reason();
                    final String detail = closedDecoder.detail();
                    final Connection known = connections.get(connectionId);
                    if (null != known && null != known.link())
                    {
                        peerExits.add(new DeferredClose(connectionId, reason, detail));
                        break;
                    }
                    final Connection connection = connections.remove(connectionId);
                    if (null != connection)
                    {
                        connection.onClosed(reason, detail);
                    }
                    break;
                }

                case AcceptorRegisteredDecoder.TEMPLATE_ID:
                {
                    acceptorRegisteredDecoder.wrap(buffer, bodyOffset, blockLength, version);
                    final Pending request = pending.remove(acceptorRegisteredDecoder.correlationId());
                    if (null != request)
                    {
                        final long acceptorId = acceptorRegisteredDecoder.acceptorId();
                        request.acceptor.id(acceptorId);
                        acceptors.put(acceptorId, request.acceptor);
                        request.done = true;
                    }
                    break;
                }

                case CommandOkDecoder.TEMPLATE_ID:
                {
                    commandOkDecoder.wrap(buffer, bodyOffset, blockLength, version);
                    final Pending request = pending.remove(commandOkDecoder.correlationId());
                    if (null != request)
                    {
                        request.done = true;
                    }
                    break;
                }

                case ErrorDecoder.TEMPLATE_ID:
                {
                    errorDecoder.wrap(buffer, bodyOffset, blockLength, version);
                    final long correlationId = errorDecoder.correlationId();
                    final ErrorCode code = errorDecoder.code();
                    final String message = errorDecoder.message();
                    final Pending request = pending.remove(correlationId);
                    final ManComException error = new ManComException(code, message);
                    if (null != request)
                    {
                        request.fail(error);
                    }
                    else
                    {
                        onError(error);
                    }
                    break;
                }

                default:
                    onError(new ManComException(ErrorCode.MALFORMED_COMMAND, "unknown event template " +
                        headerDecoder.templateId()));
                    break;
            }
        }

        private void onOpened(final DirectBuffer buffer, final int bodyOffset, final int blockLength, final int version)
        {
            final ConnectionOpenedDecoder decoder = openedDecoder.wrap(buffer, bodyOffset, blockLength, version);
            final long correlationId = decoder.correlationId();
            final long acceptorId = decoder.acceptorId();
            final long connectionId = decoder.connectionId();
            final int sendWindowLength = decoder.sendWindowLength();
            final long peerClientId = decoder.peerClientId();
            final int peerStreamId = decoder.peerStreamId();
            final int peerDoorbellCounterId = decoder.peerDoorbellCounterId();
            Endpoint local = null;
            Endpoint remote = null;
            for (final ConnectionOpenedDecoder.EndpointsDecoder endpoint : decoder.endpoints())
            {
                final EndpointRole role = endpoint.role();
                final Endpoint decoded = decodeEndpoint(endpoint);
                if (EndpointRole.LOCAL == role)
                {
                    local = decoded;
                }
                else
                {
                    remote = decoded;
                }
            }
            final String service = decoder.service();
            final PeerLink link = 0 == peerClientId ? null :
                linkTo(peerClientId, peerStreamId, peerDoorbellCounterId);
            final Connection connection = new Connection(
                ManCom.this, connectionId, service, local, remote, sendWindowLength, windowLength, link);
            connections.put(connectionId, connection);

            if (0 != correlationId)
            {
                final Pending request = pending.remove(correlationId);
                if (null == request)
                {
                    connection.close(); // the caller gave up waiting
                    return;
                }
                request.connection = connection;
                request.done = true;
                return;
            }
            final Acceptor acceptor = acceptors.get(acceptorId);
            if (null == acceptor)
            {
                connection.close();
                return;
            }
            try
            {
                acceptor.onAccept(connection);
            }
            catch (final RuntimeException ex)
            {
                onError(ex);
            }
        }

        private Endpoint decodeEndpoint(final ConnectionOpenedDecoder.EndpointsDecoder endpoint)
        {
            final dev.mancom.protocol.codecs.TransportType type = endpoint.transportType();
            final int port = endpoint.port();
            final long pid = endpoint.pid();
            final int uid = endpoint.uid();
            final int gid = endpoint.gid();
            final int usbBus = endpoint.usbBus();
            final int vendorId = endpoint.vendorId();
            final int productId = endpoint.productId();
            final String scheme = endpoint.scheme();
            final int addressLength = endpoint.addressLength();
            final byte[] address = new byte[addressLength];
            endpoint.getAddress(address, 0, addressLength);
            final String path = endpoint.path();
            final String serialNumber = endpoint.serialNumber();
            return Endpoint.of(type, scheme, addressLength == 0 ? null : address, port,
                path.isEmpty() ? null : path, serialNumber.isEmpty() ? null : serialNumber,
                pid, uid, gid, usbBus, vendorId, productId);
        }
    }

    private static final class DeferredClose
    {
        final long connectionId;
        final CloseReason reason;
        final String detail;

        DeferredClose(final long connectionId, final CloseReason reason, final String detail)
        {
            this.connectionId = connectionId;
            this.reason = reason;
            this.detail = detail;
        }
    }

    /**
     * Reads the peer stream: bytes, credit and closes of app-to-app connections, straight from the other
     * applications' links.
     */
    private final class PeerHandler implements ControlledFragmentHandler
    {
        private final MessageHeaderDecoder headerDecoder = new MessageHeaderDecoder();
        private final SendCreditDecoder sendCreditDecoder = new SendCreditDecoder();
        private final ConnectionClosedDecoder closedDecoder = new ConnectionClosedDecoder();
        boolean heldBack;
        private long heldSinceNs;

        public Action onFragment(final DirectBuffer buffer, final int offset, final int length, final Header header)
        {
            headerDecoder.wrap(buffer, offset);
            final int templateId = headerDecoder.templateId();
            final int bodyOffset = offset + MessageHeaderDecoder.ENCODED_LENGTH;
            if (length < MessageHeaderDecoder.ENCODED_LENGTH + 8 ||
                headerDecoder.schemaId() != MessageHeaderDecoder.SCHEMA_ID)
            {
                onError(new ManComException(ErrorCode.MALFORMED_COMMAND, "malformed frame from client " +
                    header.sessionId() + ": dropped"));
                return Action.CONTINUE;
            }
            final long connectionId = buffer.getLong(bodyOffset, ByteOrder.LITTLE_ENDIAN);
            final Connection connection = connections.get(connectionId);
            if (null == connection)
            {
                // Its ConnectionOpened is on the way in the event stream: hold the frame back until then.
                final long nowNs = System.nanoTime();
                if (0 == heldSinceNs)
                {
                    heldSinceNs = nowNs;
                }
                if (nowNs - heldSinceNs < ctx.timeout().toNanos())
                {
                    heldBack = true;
                    return Action.ABORT;
                }
                heldSinceNs = 0;
                onError(new ManComException(ErrorCode.UNKNOWN_CONNECTION, "client " + header.sessionId() +
                    " sent a frame of connection " + connectionId + ", which the broker never opened: dropped"));
                return Action.CONTINUE;
            }
            heldSinceNs = 0;
            final PeerLink link = connection.link();
            if (null == link || (int)link.peerClientId != header.sessionId())
            {
                onError(new ManComException(ErrorCode.UNKNOWN_CONNECTION, "client " + header.sessionId() +
                    " sent a frame of connection " + connectionId + ", which is not its own: dropped"));
                return Action.CONTINUE;
            }
            final boolean open = !connection.isClosed() && !connection.lingering;
            switch (templateId)
            {
                case DataDecoder.TEMPLATE_ID:
                    if (open)
                    {
                        final int payloadLength =
                            buffer.getInt(offset + Frames.DATA_LENGTH_OFFSET, ByteOrder.LITTLE_ENDIAN);
                        connection.onData(buffer, offset + Frames.DATA_HEADER_LENGTH, payloadLength);
                    }
                    break;

                case SendCreditDecoder.TEMPLATE_ID:
                    if (open)
                    {
                        sendCreditDecoder.wrap(
                            buffer, bodyOffset, headerDecoder.blockLength(), headerDecoder.version());
                        connection.onSendCredit(sendCreditDecoder.length());
                    }
                    break;

                case ConnectionClosedDecoder.TEMPLATE_ID:
                {
                    connection.peerClosed = true;
                    if (open && connection.isCloseRequested())
                    {
                        break; // this end's close is under way: it completes as LOCAL_CLOSED
                    }
                    connections.remove(connectionId);
                    if (open)
                    {
                        closedDecoder.wrap(buffer, bodyOffset, headerDecoder.blockLength(), headerDecoder.version());
                        final CloseReason reason = closedDecoder.reason();
                        final String detail = closedDecoder.detail();
                        connection.onClosed(reason, detail);
                        closeAppToApp(connection); // answer with this end's close
                    }
                    break;
                }

                default:
                    onError(new ManComException(ErrorCode.MALFORMED_COMMAND, "unexpected frame " + templateId +
                        " from client " + header.sessionId() + ": dropped"));
                    break;
            }
            return Action.CONTINUE;
        }
    }

    private static final class Encoders
    {
        /**
         * An offer that meets a term rotation is tried again at once, this many times in all.
         */
        private static final int MAX_OFFER_ATTEMPTS = 3;

        private final MessageHeaderEncoder headerEncoder = new MessageHeaderEncoder();
        private final UnsafeBuffer sendHeader = new UnsafeBuffer(new byte[Frames.DATA_HEADER_LENGTH]);
        private final ExpandableArrayBuffer buffer = new ExpandableArrayBuffer(256);
        private final SendEncoder sendEncoder = new SendEncoder();
        private final DataEncoder dataEncoder = new DataEncoder();
        private final SendCreditEncoder sendCreditEncoder = new SendCreditEncoder();
        private final ConnectionClosedEncoder closedEncoder = new ConnectionClosedEncoder();
        private final CreditEncoder creditEncoder = new CreditEncoder();
        private final CloseEncoder closeEncoder = new CloseEncoder();
        private final RegisterAcceptorEncoder registerAcceptorEncoder = new RegisterAcceptorEncoder();
        private final UnregisterAcceptorEncoder unregisterAcceptorEncoder = new UnregisterAcceptorEncoder();
        private final ConnectEncoder connectEncoder = new ConnectEncoder();

        long offerSend(
            final Publication publication,
            final long connectionId,
            final DirectBuffer payload,
            final int offset,
            final int length)
        {
            encodeSendHeader(sendHeader, 0, connectionId, length);
            return offer(publication, sendHeader, 0, Frames.DATA_HEADER_LENGTH, payload, offset, length);
        }

        void encodeSendHeader(
            final org.agrona.MutableDirectBuffer target, final int offset, final long connectionId, final int length)
        {
            sendEncoder.wrapAndApplyHeader(target, offset, headerEncoder).connectionId(connectionId);
            target.putInt(offset + Frames.DATA_LENGTH_OFFSET, length, ByteOrder.LITTLE_ENDIAN);
        }

        long offerData(
            final Publication publication,
            final long connectionId,
            final DirectBuffer payload,
            final int offset,
            final int length)
        {
            encodeDataHeader(sendHeader, 0, connectionId, length);
            return linkResult(offer(publication, sendHeader, 0, Frames.DATA_HEADER_LENGTH, payload, offset, length));
        }

        void encodeDataHeader(
            final org.agrona.MutableDirectBuffer target, final int offset, final long connectionId, final int length)
        {
            dataEncoder.wrapAndApplyHeader(target, offset, headerEncoder).connectionId(connectionId);
            target.putInt(offset + Frames.DATA_LENGTH_OFFSET, length, ByteOrder.LITTLE_ENDIAN);
        }

        long offerSendCredit(final Publication publication, final long connectionId, final int length)
        {
            sendCreditEncoder.wrapAndApplyHeader(buffer, 0, headerEncoder).connectionId(connectionId).length(length);
            return linkResult(offer(
                publication, buffer, 0, MessageHeaderEncoder.ENCODED_LENGTH + sendCreditEncoder.encodedLength()));
        }

        long offerClosed(
            final Publication publication, final long connectionId, final CloseReason reason, final String detail)
        {
            closedEncoder.wrapAndApplyHeader(buffer, 0, headerEncoder)
                .connectionId(connectionId)
                .reason(reason)
                .detail(detail);
            return linkResult(offer(
                publication, buffer, 0, MessageHeaderEncoder.ENCODED_LENGTH + closedEncoder.encodedLength()));
        }

        /**
         * Offer, retrying at once when the offer met a term rotation ({@link Publication#ADMIN_ACTION}): that is no
         * back pressure, and taking it for back pressure would stall the stream's writer once per term for nothing.
         */
        private static long offer(
            final Publication publication, final DirectBuffer buffer, final int offset, final int length)
        {
            long result = publication.offer(buffer, offset, length);
            for (int i = 1; Publication.ADMIN_ACTION == result && i < MAX_OFFER_ATTEMPTS; i++)
            {
                result = publication.offer(buffer, offset, length);
            }
            return result;
        }

        private static long offer(
            final Publication publication,
            final DirectBuffer bufferOne,
            final int offsetOne,
            final int lengthOne,
            final DirectBuffer bufferTwo,
            final int offsetTwo,
            final int lengthTwo)
        {
            long result = publication.offer(bufferOne, offsetOne, lengthOne, bufferTwo, offsetTwo, lengthTwo);
            for (int i = 1; Publication.ADMIN_ACTION == result && i < MAX_OFFER_ATTEMPTS; i++)
            {
                result = publication.offer(bufferOne, offsetOne, lengthOne, bufferTwo, offsetTwo, lengthTwo);
            }
            return result;
        }

        /**
         * A link's publication is not connected only for a moment after it is added, or once the peer has exited,
         * which its connections learn from the broker: either way, the caller should wait and retry.
         */
        private static long linkResult(final long result)
        {
            return result == Publication.NOT_CONNECTED ? Publication.BACK_PRESSURED : result;
        }

        long offerCredit(final Publication publication, final long connectionId, final int length)
        {
            creditEncoder.wrapAndApplyHeader(buffer, 0, headerEncoder).connectionId(connectionId).length(length);
            return offer(publication, buffer, 0, MessageHeaderEncoder.ENCODED_LENGTH + creditEncoder.encodedLength());
        }

        long offerClose(final Publication publication, final long correlationId, final long connectionId)
        {
            closeEncoder.wrapAndApplyHeader(buffer, 0, headerEncoder)
                .correlationId(correlationId)
                .connectionId(connectionId);
            return offer(publication, buffer, 0, MessageHeaderEncoder.ENCODED_LENGTH + closeEncoder.encodedLength());
        }

        long registerAcceptor(final Publication publication, final long correlationId, final String service)
        {
            registerAcceptorEncoder.wrapAndApplyHeader(buffer, 0, headerEncoder)
                .correlationId(correlationId)
                .service(service);
            return offer(
                publication, buffer, 0, MessageHeaderEncoder.ENCODED_LENGTH + registerAcceptorEncoder.encodedLength());
        }

        long unregisterAcceptor(final Publication publication, final long correlationId, final long acceptorId)
        {
            unregisterAcceptorEncoder.wrapAndApplyHeader(buffer, 0, headerEncoder)
                .correlationId(correlationId)
                .acceptorId(acceptorId);
            return offer(
                publication,
                buffer,
                0,
                MessageHeaderEncoder.ENCODED_LENGTH + unregisterAcceptorEncoder.encodedLength());
        }

        long connect(final Publication publication, final long correlationId, final String target)
        {
            connectEncoder.wrapAndApplyHeader(buffer, 0, headerEncoder)
                .correlationId(correlationId)
                .target(target);
            return offer(publication, buffer, 0, MessageHeaderEncoder.ENCODED_LENGTH + connectEncoder.encodedLength());
        }
    }

    /**
     * The client's configuration: fluent setters, defaults from system properties and the environment,
     * {@link #conclude()} validates.
     */
    public static final class Context
    {
        /** Default time-out of handshakes and commands. */
        public static final Duration TIMEOUT_DEFAULT = Duration.ofSeconds(10);

        /**
         * System property of the idle profile: {@code "spin"} makes every thread that polls or waits in this
         * library busy-spin (the low-latency profile: one core per such thread); anything else, or unset, is the
         * default polite profile.
         */
        public static final String IDLE_PROP_NAME = "mancom.idle";

        /** Environment variable read when {@link #IDLE_PROP_NAME} is not set. */
        public static final String IDLE_ENV_NAME = "MANCOM_IDLE";

        private boolean concluded;
        private Path dir;
        private String clientName;
        private boolean dispatchThread;
        private IdleStrategy idleStrategy;
        private Boolean busySpin;
        private Duration timeout = TIMEOUT_DEFAULT;
        private Duration awaitReadyTimeout = Duration.ZERO;
        private ErrorHandler errorHandler;

        /**
         * Fill unset settings and validate. Called by {@link ManCom#connect(Context)}.
         *
         * @return this.
         */
        public Context conclude()
        {
            if (concluded)
            {
                return this;
            }
            if (null == dir)
            {
                dir = BrokerDirectory.defaultDirectory();
            }
            dir = dir.toAbsolutePath();
            if (null == busySpin)
            {
                String profile = System.getProperty(IDLE_PROP_NAME);
                if (null == profile)
                {
                    profile = System.getenv(IDLE_ENV_NAME);
                }
                busySpin = "spin".equals(profile);
            }
            if (null == clientName)
            {
                clientName = "pid " + ProcessHandle.current().pid();
            }
            if (null == errorHandler)
            {
                errorHandler = (ex) -> System.err.println("mancom: " + ex);
            }
            if (timeout.isNegative() || timeout.isZero())
            {
                throw new IllegalArgumentException("timeout must be positive: " + timeout);
            }
            concluded = true;
            return this;
        }

        /**
         * Set the broker directory; default {@code mancom.dir}, {@code MANCOM_DIR}, then the system default.
         *
         * @param dir the directory.
         * @return this.
         */
        public Context dir(final Path dir)
        {
            this.dir = dir;
            return this;
        }

        /**
         * The broker directory.
         *
         * @return the directory.
         */
        public Path dir()
        {
            return dir;
        }

        /**
         * Set a name that the broker shows for this client in logs and monitoring.
         *
         * @param name the name.
         * @return this.
         */
        public Context clientName(final String name)
        {
            this.clientName = name;
            return this;
        }

        /**
         * The client's name.
         *
         * @return the name.
         */
        public String clientName()
        {
            return clientName;
        }

        /**
         * Run one dispatch thread of the library's that polls and runs every callback (default false: the
         * application polls).
         *
         * @param dispatchThread true for a dispatch thread.
         * @return this.
         */
        public Context dispatchThread(final boolean dispatchThread)
        {
            this.dispatchThread = dispatchThread;
            return this;
        }

        /**
         * Whether the library runs a dispatch thread.
         *
         * @return true when it does.
         */
        public boolean dispatchThread()
        {
            return dispatchThread;
        }

        /**
         * Set the idle strategy of the dispatch thread and of {@link ManCom#idle(int)}.
         *
         * @param idleStrategy the strategy; by default (null) the library yields for a while, then blocks on its
         *                     control socket until the broker rings it (no CPU while idle, tens of microseconds to
         *                     wake). A {@code BusySpinIdleStrategy} gives the lowest latency for a whole core.
         * @return this.
         */
        public Context idleStrategy(final IdleStrategy idleStrategy)
        {
            this.idleStrategy = idleStrategy;
            return this;
        }

        /**
         * Choose the low-latency profile: the dispatch thread, {@link ManCom#idle(int)} and blocking calls
         * busy-spin instead of blocking on the doorbell. Default: the {@value #IDLE_PROP_NAME} system property or
         * the {@value #IDLE_ENV_NAME} environment variable is {@code "spin"}. An explicit
         * {@link #idleStrategy(IdleStrategy)} wins over both.
         *
         * @param busySpin true for the low-latency profile.
         * @return this.
         */
        public Context busySpin(final boolean busySpin)
        {
            this.busySpin = busySpin;
            return this;
        }

        /**
         * Whether the low-latency (busy-spin) profile is chosen.
         *
         * @return true for busy spin.
         */
        public boolean busySpin()
        {
            return Boolean.TRUE.equals(busySpin);
        }

        /**
         * The idle strategy given, or null for the library's doorbell strategy.
         *
         * @return the strategy.
         */
        public IdleStrategy idleStrategy()
        {
            return idleStrategy;
        }

        /**
         * Set how long to wait for the broker's answer to a handshake or a command.
         *
         * @param timeout the time-out; default 10 s.
         * @return this.
         */
        public Context timeout(final Duration timeout)
        {
            this.timeout = timeout;
            return this;
        }

        /**
         * How long to wait for the broker's answer.
         *
         * @return the time-out.
         */
        public Duration timeout()
        {
            return timeout;
        }

        /**
         * Set how long {@link ManCom#connect(Context)} waits for a broker to become ready before giving up;
         * default zero: fail at once when none runs.
         *
         * @param timeout the time-out.
         * @return this.
         */
        public Context awaitReadyTimeout(final Duration timeout)
        {
            this.awaitReadyTimeout = timeout;
            return this;
        }

        /**
         * How long to wait for a broker to become ready.
         *
         * @return the time-out.
         */
        public Duration awaitReadyTimeout()
        {
            return awaitReadyTimeout;
        }

        /**
         * Set where errors go that no caller can receive (a callback that threw, the broker gone).
         *
         * @param errorHandler the handler; default prints to standard error.
         * @return this.
         */
        public Context errorHandler(final ErrorHandler errorHandler)
        {
            this.errorHandler = errorHandler;
            return this;
        }

        /**
         * Where errors go.
         *
         * @return the handler.
         */
        public ErrorHandler errorHandler()
        {
            return errorHandler;
        }

        /**
         * Every setting.
         *
         * @return printable form.
         */
        public String toString()
        {
            return "ManCom.Context{dir=" + dir + ", clientName='" + clientName + "', dispatchThread=" +
                dispatchThread + ", timeout=" + timeout + ", awaitReadyTimeout=" + awaitReadyTimeout + '}';
        }
    }
}
