package dev.mancom.client;

import dev.mancom.protocol.BrokerDirectory;
import dev.mancom.protocol.Doorbell;
import dev.mancom.protocol.EmbeddedBrokerFactory;
import dev.mancom.protocol.DoorbellIdleStrategy;
import dev.mancom.protocol.Endpoint;
import dev.mancom.protocol.Frames;
import dev.mancom.protocol.ManComException;
import dev.mancom.protocol.ProtocolVersion;
import dev.mancom.protocol.codecs.AcceptorRegisteredDecoder;
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
import dev.mancom.protocol.codecs.Handover;
import dev.mancom.protocol.codecs.MessageHeaderDecoder;
import dev.mancom.protocol.codecs.MessageHeaderEncoder;
import dev.mancom.protocol.codecs.QueryServiceEncoder;
import dev.mancom.protocol.codecs.RegisterAcceptorEncoder;
import dev.mancom.protocol.codecs.SendCreditDecoder;
import dev.mancom.protocol.codecs.SendCreditEncoder;
import dev.mancom.protocol.codecs.SendEncoder;
import dev.mancom.protocol.codecs.ServiceReadiness;
import dev.mancom.protocol.codecs.ServiceStatusDecoder;
import dev.mancom.protocol.codecs.UnregisterAcceptorEncoder;
import io.aeron.ExclusivePublication;
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
import org.agrona.concurrent.AgentRunner;
import org.agrona.concurrent.BackoffIdleStrategy;
import org.agrona.concurrent.BusySpinIdleStrategy;
import org.agrona.concurrent.IdleStrategy;
import org.agrona.concurrent.ManyToOneConcurrentLinkedQueue;
import org.agrona.concurrent.UnsafeBuffer;

import java.io.IOException;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.ServiceLoader;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
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
    private static final long AWAIT_SERVICE_INTERVAL_MS = 50;
    private static final int AWAIT_SERVICE_PROTOCOL_MINOR = 2;
    private static final ThreadLocal<Encoders> ENCODERS = ThreadLocal.withInitial(Encoders::new);
    private static final ThreadLocal<IdleStrategy> WAIT_IDLE = ThreadLocal.withInitial(
        () -> new BackoffIdleStrategy(100, 100, TimeUnit.MICROSECONDS.toNanos(1), TimeUnit.MILLISECONDS.toNanos(1)));

    private static final long RECONNECT_MIN_INTERVAL_NS = TimeUnit.MILLISECONDS.toNanos(10);
    private static final long RECONNECT_MAX_INTERVAL_NS = TimeUnit.MILLISECONDS.toNanos(500);
    private static final long OUTAGE_PARK_MIN_NS = TimeUnit.MILLISECONDS.toNanos(1);
    private static final long OUTAGE_PARK_MAX_NS = TimeUnit.MILLISECONDS.toNanos(100);

    private final Context ctx;
    private final Long2ObjectHashMap<PeerLink> links = new Long2ObjectHashMap<>();
    private final ArrayList<PeerLink> pendingLinks = new ArrayList<>();
    private final ArrayDeque<DeferredClose> peerExits = new ArrayDeque<>();
    private final PeerHandler peerHandler = new PeerHandler();
    private final ThreadLocal<IdleStrategy> waitIdle;
    private final ReentrantLock pollLock = new ReentrantLock();
    private final Object signal = new Object();
    private volatile int waiters;
    private final IdleStrategy pollIdle;
    private final Long2ObjectHashMap<Connection> connections = new Long2ObjectHashMap<>();
    private final Map<Long, Acceptor> acceptors = new ConcurrentHashMap<>();
    /** The acceptors this application keeps registered: registered again, by themselves, after a reconnection. */
    private final List<Acceptor> registered = new CopyOnWriteArrayList<>();
    private final Map<Long, Pending> pending = new ConcurrentHashMap<>();
    private final List<Connection> redelivery = new ArrayList<>();
    // Whether redelivery holds connections: set under its monitor with every addition and cleared when it is drained,
    // read without it by each poll and by hasRetries: no lock while none is kept.
    private volatile boolean redeliveryQueued;
    private final List<Connection> redeliveryScratch = new ArrayList<>();
    private final ManyToOneConcurrentLinkedQueue<Connection> creditRetry = new ManyToOneConcurrentLinkedQueue<>();
    private final ManyToOneConcurrentLinkedQueue<Connection> closeRetry = new ManyToOneConcurrentLinkedQueue<>();
    private final AtomicLong nextCorrelationId = new AtomicLong(1);
    private final AtomicBoolean closed = new AtomicBoolean();
    private final EventHandler eventHandler = new EventHandler();
    private final AgentRunner dispatcher;
    /** Lost sessions still mapped, closed once their linger has passed (polling thread). */
    private final ArrayList<BrokerSession> retired = new ArrayList<>();
    private final ControlledFragmentHandler peekHandler = (buffer, offset, length, header) ->
    {
        peeked = true;
        return ControlledFragmentHandler.Action.ABORT;
    };
    private boolean peeked;
    /** The current session: live while attached, else the lost one until a reconnection replaces it. */
    private volatile BrokerSession session;
    private volatile boolean gaveUp;
    private volatile long backPressuredNs = System.nanoTime() - TimeUnit.SECONDS.toNanos(1);
    private long nextControlCheckNs;
    private long nextInvokeNs;
    private long nextReconnectNs;
    private long reconnectIntervalNs = RECONNECT_MIN_INTERVAL_NS;
    private volatile String lastReconnectFailure;

    private final AutoCloseable embeddedBroker;

    private ManCom(final Context ctx, final AutoCloseable embeddedBroker)
    {
        this.ctx = ctx;
        this.embeddedBroker = embeddedBroker;
        this.session = BrokerSession.attach(ctx, 1);
        this.session.restored = true;
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
        // Blocks in a futex wait on the current session's doorbell, which the broker and the peers ring.
        return new SessionIdleStrategy();
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
        if (ctx.embeddedBroker())
        {
            return connectEmbedded(ctx);
        }
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
        return new ManCom(ctx, null);
    }

    /**
     * The process scope: start a broker in this process, on a directory of its own, and attach to it.
     */
    private static ManCom connectEmbedded(final Context ctx)
    {
        final EmbeddedBrokerFactory factory = ServiceLoader.load(EmbeddedBrokerFactory.class,
            ManCom.class.getClassLoader()).findFirst().orElseThrow(() -> new ManComException(
                ErrorCode.INVALID_ARGUMENT, "an embedded broker was asked for (" + Context.SCOPE_ENV_NAME +
                "=process, -D" + Context.SCOPE_PROP_NAME + "=process or Context.embeddedBroker(true)) but the " +
                "broker is not on the class path: add the mancom-broker jar and the jars of the transports the " +
                "configuration uses"));
        Path dir = ctx.dir();
        Path created = null;
        AutoCloseable broker = null;
        try
        {
            if (null == dir)
            {
                final Path shm = Path.of("/dev/shm");
                final Path base = Files.isDirectory(shm) && Files.isWritable(shm) ? shm :
                    Path.of(System.getProperty("java.io.tmpdir"));
                dir = Files.createTempDirectory(base, "mancom-process-" + ProcessHandle.current().pid() + "-");
                created = dir;
                ctx.dir(dir);
            }
            broker = factory.launch(dir, ctx.embeddedBrokerConfig());
            return new ManCom(ctx, broker);
        }
        catch (final IOException ex)
        {
            throw new ManComException(ErrorCode.RESOURCE_LIMIT, "cannot create a directory for the embedded " +
                "broker: " + ex.getMessage(), ex);
        }
        catch (final RuntimeException ex)
        {
            if (null != broker)
            {
                CloseHelper.quietClose(broker);
            }
            if (null != created)
            {
                try
                {
                    Files.deleteIfExists(created);
                }
                catch (final IOException ignore)
                {
                    // not empty: left for the operator, the error says what failed
                }
            }
            throw ex;
        }
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
     * This client's id in the broker; a reconnection to a new broker gives it a new id.
     *
     * @return the id.
     */
    public long clientId()
    {
        return session.clientId;
    }

    /**
     * Whether this client runs its own broker, in this process (the process scope): see
     * {@link Context#embeddedBroker(boolean)}.
     *
     * @return true when the broker is embedded.
     */
    public boolean hasEmbeddedBroker()
    {
        return null != embeddedBroker;
    }

    /**
     * Whether this client is attached to a live broker now.
     * <p>
     * False while the broker is gone (stopped or crashed) and until a new broker in the same directory has taken
     * this client back (see {@link Context#reconnect(boolean)}); the {@code ManCom} and its acceptors stay usable
     * meanwhile. To run until the application itself closes the client, loop on {@link #isClosed()}.
     *
     * @return true while attached and not closed.
     */
    public boolean isConnected()
    {
        return session.live && !closed.get();
    }

    /**
     * Whether this client is closed: by {@link #close()}, or, with {@link Context#reconnect(boolean)} off, by the
     * loss of its broker. A client that reconnects is not closed while it waits for a broker.
     *
     * @return true once closed for good.
     */
    public boolean isClosed()
    {
        return closed.get() || gaveUp;
    }

    /**
     * How many times this client has attached to a broker again after losing one: 0 until the first broker is
     * lost and a new one has taken the client back.
     *
     * @return the number of reconnections.
     */
    public long reconnections()
    {
        return session.epoch - 1;
    }

    /**
     * Wait until this client is attached to a live broker and its acceptors are registered with it (at once when
     * they are): after a broker restart, the moment its services reach this application again. Polls meanwhile
     * when no other thread does.
     *
     * @param timeout how long to wait.
     * @return true when attached in time, false after the time-out or once the client is closed.
     * @throws IllegalStateException on the polling thread (inside a callback) while not attached.
     */
    public boolean awaitConnected(final Duration timeout)
    {
        final long deadlineNs = System.nanoTime() + timeout.toNanos();
        return await(() -> isClosed() || isConnected() && session.restored, deadlineNs) && !isClosed();
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
        sendCommand((encoders, commands) -> encoders.registerAcceptor(commands, request.correlationId, service),
            request);
        awaitReply(request, "register acceptor of '" + service + "'");
        return acceptor;
    }

    void unregister(final Acceptor acceptor)
    {
        acceptors.remove(acceptor.id());
        registered.remove(acceptor);
        if (!isConnected())
        {
            return;
        }
        final Pending request = newPending();
        sendCommand((encoders, commands) -> encoders.unregisterAcceptor(commands, request.correlationId, acceptor.id()),
            request);
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
        sendCommand((encoders, commands) -> encoders.connect(commands, request.correlationId, target), request);
        awaitReply(request, "connect to '" + target + "'");
        return request.connection;
    }

    /**
     * Wait until a service is ready: each of its listeners bound and, for a serial port or USB device, the device
     * present; for a service of applications only (no {@code listen}, no {@code connect}), an application has
     * registered it; an outbound service ({@code connect}) is ready at once. The broker is asked again every
     * {@value #AWAIT_SERVICE_INTERVAL_MS} ms while the service is not ready; the calling thread drives this client
     * meanwhile, as other blocking calls do (not from a callback).
     *
     * @param service the service's name.
     * @param timeout how long to wait at most.
     * @throws ManComException {@code UNKNOWN_SERVICE} when the broker has no such service; {@code TIMEOUT} when it is
     *                         not ready in time (the message says what it waits for); {@code NOT_SUPPORTED} when
     *                         the broker is older than protocol 1.2; {@code NOT_CONNECTED} when the broker is gone.
     */
    public void awaitService(final String service, final Duration timeout)
    {
        Objects.requireNonNull(service, "service");
        Objects.requireNonNull(timeout, "timeout");
        if (session.protocolMinor < AWAIT_SERVICE_PROTOCOL_MINOR)
        {
            throw new ManComException(ErrorCode.NOT_SUPPORTED, "await service '" + service + "': the broker speaks " +
                "protocol " + ProtocolVersion.toString(ProtocolVersion.MAJOR, session.protocolMinor) + ", which " +
                "cannot answer it (" + ProtocolVersion.toString(ProtocolVersion.MAJOR, AWAIT_SERVICE_PROTOCOL_MINOR) +
                " or later can): upgrade the broker");
        }
        final long deadlineNs = System.nanoTime() + timeout.toNanos();
        final String what = "await service '" + service + "'";
        while (true)
        {
            final Pending request = newPending();
            sendCommand(
                (encoders, commands) -> encoders.queryService(commands, request.correlationId, service), request);
            awaitReply(request, what);
            if (request.ready)
            {
                return;
            }
            final long nowNs = System.nanoTime();
            if (nowNs - deadlineNs >= 0)
            {
                throw new ManComException(ErrorCode.TIMEOUT, what + ": not ready within " + timeout.toMillis() +
                    " ms: " + request.detail);
            }
            final long retryNs = Math.min(deadlineNs, nowNs + TimeUnit.MILLISECONDS.toNanos(AWAIT_SERVICE_INTERVAL_MS));
            await(() -> !isConnected(), retryNs);
        }
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
        if (isAttached() && !isPollingThread())
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
        final BrokerSession current = session;
        runLocked(() ->
        {
            current.markLost();
            failEverything(CloseReason.LOCAL_CLOSED, "the application closed its client", true);
        });
        wakeWaiters();
        final long deadlineNs = System.nanoTime() + BrokerSession.LINGER_NS;
        while (current.doorbellWaiters.get() > 0 && System.nanoTime() - deadlineNs < 0)
        {
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
        }
        runLocked(() ->
        {
            current.close();
            for (final BrokerSession lost : retired)
            {
                lost.close();
            }
            retired.clear();
        });
        if (null != embeddedBroker)
        {
            CloseHelper.quietClose(embeddedBroker);
        }
    }

    /**
     * Wake the threads waiting in a blocking call of this client: what they wait for may have happened.
     */
    private void wakeWaiters()
    {
        synchronized (signal)
        {
            signal.notifyAll();
        }
    }

    private boolean isAttached()
    {
        return session.live;
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
            if (System.nanoTime() - deadlineNs >= 0 || closed.get() && !isAttached())
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
        final long nowNs = System.nanoTime();
        int work = retired.isEmpty() ? 0 : closeRetired(nowNs);
        final BrokerSession session = this.session;
        if (!session.live)
        {
            return work + serviceOutage(nowNs);
        }
        if (nowNs - nextInvokeNs >= 0 || !pendingLinks.isEmpty() || !peerExits.isEmpty())
        {
            // The Aeron client's duty cycle (keep-alive, new images and publications) needs no faster pace than
            // this; every round would add its cost to each message's latency. Not counted as work: counting its
            // keep-alive would make every wake-up of an idle client yield a hundred times before it blocks again.
            nextInvokeNs = nowNs + AERON_INVOKE_INTERVAL_NS;
            try
            {
                session.aeronInvoker.invoke();
            }
            catch (final RuntimeException ex)
            {
                onError(ex);
            }
        }
        work += session.events.poll(eventHandler, FRAGMENT_LIMIT);
        work += pollPeers(session);
        work += servicePendingLinks(session);
        work += servicePeerExits(session);
        work += serviceRedelivery();
        work += serviceCreditRetry();
        work += serviceCloseRetry();

        if (nowNs - nextControlCheckNs >= 0)
        {
            nextControlCheckNs = nowNs + CONTROL_CHECK_INTERVAL_NS;
            work += checkControl(session);
        }
        if (session.driverTimedOut)
        {
            onBrokerLost(session, "its media driver stopped answering (the broker is frozen or gone)");
            work++;
        }

        if (work > 0 && waiters > 0)
        {
            wakeWaiters();
        }
        return work;
    }

    private int checkControl(final BrokerSession session)
    {
        try
        {
            session.controlReadBuffer.clear();
            final int read = session.control.read(session.controlReadBuffer);
            if (read >= 0)
            {
                return read;
            }
        }
        catch (final IOException ex)
        {
            onBrokerLost(session, "its control socket failed: " + ex.getMessage());
            return 1;
        }
        onBrokerLost(session, "it closed its control socket (stopped or died)");
        return 1;
    }

    /**
     * Polling thread: the broker of this session is gone. Its connections close (their remote peers are lost with
     * the broker), commands waiting for an answer fail, the acceptors are kept for the next broker, and the session
     * lingers (mapped) until no thread can be using it any more.
     */
    private void onBrokerLost(final BrokerSession session, final String how)
    {
        if (!session.markLost())
        {
            return;
        }
        session.lostAtNs = System.nanoTime();
        retired.add(session);
        final String reason = "the broker in " + ctx.dir() + " is gone: " + how;
        final boolean reconnect = ctx.reconnect();
        failEverything(CloseReason.BROKER_GONE, reason, !reconnect);
        nextReconnectNs = session.lostAtNs;
        reconnectIntervalNs = RECONNECT_MIN_INTERVAL_NS;
        lastReconnectFailure = null;
        if (!reconnect)
        {
            gaveUp = true;
        }
        wakeWaiters();
        try
        {
            ctx.brokerListener().onBrokerLost(reconnect ? reason + "; waiting for a broker to come back" : reason);
        }
        catch (final RuntimeException ex)
        {
            onError(ex);
        }
    }

    /**
     * Polling thread, while no broker is attached: look for a ready broker in the directory, with a back-off (from
     * 10 ms to 500 ms between looks: reading the mark file costs microseconds), and attach to it.
     */
    private int serviceOutage(final long nowNs)
    {
        if (gaveUp || closed.get() || nowNs - nextReconnectNs < 0)
        {
            return 0;
        }
        final BrokerSession lost = session;
        final BrokerSession next;
        try
        {
            if (!BrokerDirectory.isReady(ctx.dir()))
            {
                backOffReconnect(nowNs);
                return 0;
            }
            next = BrokerSession.attach(ctx, lost.epoch + 1);
        }
        catch (final RuntimeException ex)
        {
            // A broker still starting, or one that refuses: try again later; the last reason is kept for the log.
            lastReconnectFailure = ex.getMessage();
            backOffReconnect(nowNs);
            return 0;
        }
        session = next;
        nextControlCheckNs = nowNs;
        reregisterAcceptors(next);
        wakeWaiters();
        return 1;
    }

    private void backOffReconnect(final long nowNs)
    {
        nextReconnectNs = nowNs + reconnectIntervalNs;
        reconnectIntervalNs = Math.min(reconnectIntervalNs * 2, RECONNECT_MAX_INTERVAL_NS);
    }

    /**
     * Polling thread, just attached to a new broker: register every acceptor the application keeps, without
     * waiting; the broker's answers come as events, and once all are in the application is told it is back.
     */
    private void reregisterAcceptors(final BrokerSession next)
    {
        int sent = 0;
        for (final Acceptor acceptor : registered)
        {
            if (acceptor.isClosed())
            {
                registered.remove(acceptor);
                continue;
            }
            final Pending request = newPending();
            request.acceptor = acceptor;
            request.reregistration = true;
            final long result = ENCODERS.get().registerAcceptor(
                next.commands, request.correlationId, acceptor.service());
            if (result > 0)
            {
                sent++;
            }
            else
            {
                pending.remove(request.correlationId);
                onError(new ManComException(ErrorCode.NOT_CONNECTED, "cannot register the acceptor of '" +
                    acceptor.service() + "' with the new broker: " + Publication.errorString(result)));
            }
        }
        next.reregistrationsPending = sent;
        if (sent > 0)
        {
            ringBroker(next);
        }
        else
        {
            onRestored(next);
        }
    }

    private void onReregistered(final BrokerSession current)
    {
        if (--current.reregistrationsPending == 0)
        {
            onRestored(current);
        }
    }

    private void onRestored(final BrokerSession current)
    {
        current.restored = true;
        wakeWaiters();
        try
        {
            ctx.brokerListener().onBrokerReconnected(current.epoch - 1);
        }
        catch (final RuntimeException ex)
        {
            onError(ex);
        }
    }

    /**
     * Polling thread: close the lost sessions that no thread can be using any more, releasing their mappings.
     */
    private int closeRetired(final long nowNs)
    {
        int work = 0;
        for (int i = retired.size() - 1; i >= 0; i--)
        {
            final BrokerSession lost = retired.get(i);
            if (lost.canClose(nowNs))
            {
                retired.remove(i);
                lost.close();
                work++;
            }
        }
        return work;
    }

    /**
     * Polling thread: close every connection with the reason, fail every command waiting for an answer, and drop
     * the app-to-app links; the acceptors too when {@code closeAcceptors}, else they are kept for the next broker.
     */
    private void failEverything(final CloseReason reason, final String detail, final boolean closeAcceptors)
    {
        final List<Connection> open = new ArrayList<>(connections.values());
        connections.clear();
        peerExits.clear();
        pendingLinks.clear();
        for (final PeerLink link : links.values())
        {
            // Not closed one by one: that would ask a driver that may be gone; closing the session's Aeron client
            // releases them all.
            link.failed = true;
        }
        links.clear();
        for (final Connection connection : open)
        {
            if (!connection.isClosed())
            {
                connection.onClosed(reason, detail);
            }
        }
        if (closeAcceptors)
        {
            acceptors.values().forEach(Acceptor::markClosed);
            registered.forEach(Acceptor::markClosed);
            registered.clear();
        }
        acceptors.clear();
        for (final Pending request : pending.values())
        {
            request.fail(new ManComException(ErrorCode.NOT_CONNECTED, detail));
        }
        pending.clear();
    }

    private int serviceRedelivery()
    {
        if (!redeliveryQueued)
        {
            return 0;
        }
        synchronized (redelivery)
        {
            redeliveryQueued = false;
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
                redeliveryQueued = true;
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
                work += !connection.session().live || closeAppToApp(connection) ? 1 : 0;
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
        final BrokerSession session = connection.session();
        if (!session.live)
        {
            return Publication.NOT_CONNECTED;
        }
        final PeerLink link = connection.link();
        if (null == link)
        {
            return ENCODERS.get().offerSend(session.commands, connection.id(), buffer, offset, length);
        }
        final Publication publication = link.publication;
        if (null == publication)
        {
            return link.failed ? Publication.CLOSED : Publication.BACK_PRESSURED;
        }
        return ENCODERS.get().offerData(link, publication, connection.id(), buffer, offset, length);
    }

    /**
     * After publishing a command: wake the broker's sender if it blocks. Any thread; a volatile read unless the
     * sender is parked, then one byte on the control socket from the one writer that wins the swap.
     */
    void ringBroker(final BrokerSession session)
    {
        if (session.live && session.brokerDoorbell.shouldRing())
        {
            try
            {
                synchronized (session.ringByte)
                {
                    session.ringByte.clear();
                    session.control.write(session.ringByte);
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
        final BrokerSession session = connection.session();
        if (!session.live)
        {
            return Publication.NOT_CONNECTED;
        }
        final PeerLink link = connection.link();
        if (null == link)
        {
            final long result = session.commands.tryClaim(Frames.DATA_HEADER_LENGTH + length, claim.bufferClaim);
            if (result > 0)
            {
                ENCODERS.get().encodeSendHeader(claim.bufferClaim.buffer(), claim.bufferClaim.offset(),
                    connection.id(), length);
            }
            return result;
        }
        final ExclusivePublication publication = link.publication;
        if (null == publication)
        {
            return link.failed ? Publication.CLOSED : Publication.BACK_PRESSURED;
        }
        final long result = link.tryClaim(publication, Frames.DATA_HEADER_LENGTH + length, claim.bufferClaim);
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
        final BrokerSession session = connection.session();
        if (connection.isClosed() || !session.live)
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
            result = ENCODERS.get().offerCredit(session.commands, connection.id(), credit);
        }
        else
        {
            final Publication publication = link.publication;
            if (null == publication)
            {
                result = link.failed ? Publication.CLOSED : Publication.BACK_PRESSURED;
            }
            else
            {
                result = ENCODERS.get().offerSendCredit(link, publication, connection.id(), credit);
            }
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
        final BrokerSession session = connection.session();
        if (!session.live || connection.isClosed())
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
            if (pollIdle instanceof SessionIdleStrategy)
            {
                ((SessionIdleStrategy)pollIdle).wake();
            }
            return false;
        }
        final long result = ENCODERS.get().offerClose(
            session.commands, nextCorrelationId.getAndIncrement(), connection.id());
        if (result > 0)
        {
            ringBroker(session);
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
                    final long result = ENCODERS.get().offerClosed(link, publication, connection.id(),
                        CloseReason.REMOTE_CLOSED, "closed by the other application");
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
                final BrokerSession session = connection.session();
                final long result = session.live ? ENCODERS.get().offerClose(
                    session.commands, nextCorrelationId.getAndIncrement(), connection.id()) : Publication.NOT_CONNECTED;
                if (result > 0)
                {
                    ringBroker(session);
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

    private PeerLink linkTo(
        final BrokerSession session, final long peerClientId, final int peerStreamId, final int peerDoorbellCounterId)
    {
        PeerLink link = links.get(peerClientId);
        if (null == link)
        {
            final long registrationId =
                session.aeron.asyncAddExclusivePublication(session.linkChannel, peerStreamId);
            link = new PeerLink(peerClientId, peerStreamId, registrationId,
                new Doorbell(session.aeron.countersReader().valuesBuffer(), peerDoorbellCounterId));
            links.put(peerClientId, link);
            pendingLinks.add(link);
        }
        return link;
    }

    private int servicePendingLinks(final BrokerSession session)
    {
        int work = 0;
        for (int i = pendingLinks.size() - 1; i >= 0; i--)
        {
            final PeerLink link = pendingLinks.get(i);
            try
            {
                final ExclusivePublication publication = session.aeron.getExclusivePublication(link.registrationId);
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
                failLink(link, ex);
            }
            pendingLinks.remove(i);
            work++;
        }
        return work;
    }

    private void failLink(final PeerLink link, final RuntimeException ex)
    {
        link.failed = true;
        onError(new ManComException(ErrorCode.RESOURCE_LIMIT, "cannot open the link to client " +
            link.peerClientId + ": " + ex.getMessage(), ex));
    }

    private int pollPeers(final BrokerSession session)
    {
        final Subscription peers = session.peers;
        peerHandler.heldBack = false;
        int work = peers.controlledPoll(peerHandler, FRAGMENT_LIMIT);
        if (peerHandler.heldBack)
        {
            // A frame of a connection whose ConnectionOpened is still in the event stream: read that first.
            int events;
            while ((events = session.events.poll(eventHandler, FRAGMENT_LIMIT)) > 0)
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
    private int servicePeerExits(final BrokerSession session)
    {
        if (peerExits.isEmpty())
        {
            return 0;
        }
        try
        {
            session.aeronInvoker.invoke(); // learn of links announced meanwhile
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
            final Image image = session.peers.imageBySessionId((int)peerClientId);
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
        long offer(Encoders encoders, Publication commands);
    }

    private void sendCommand(final CommandEncoder encoder, final Pending request)
    {
        final BrokerSession session = this.session;
        if (isClosed())
        {
            pending.remove(request.correlationId);
            throw new ManComException(ErrorCode.NOT_CONNECTED, "this client is closed");
        }
        if (!session.live)
        {
            pending.remove(request.correlationId);
            throw new ManComException(ErrorCode.NOT_CONNECTED, "no broker in " + ctx.dir() + " now: it is gone, " +
                "and this client attaches again when one is back" +
                (null == lastReconnectFailure ? "" : " (last attempt: " + lastReconnectFailure + ")"));
        }
        final long deadlineNs = System.nanoTime() + ctx.timeout().toNanos();
        final IdleStrategy idle = WAIT_IDLE.get();
        idle.reset();
        while (true)
        {
            final long result = encoder.offer(ENCODERS.get(), session.commands);
            if (result > 0)
            {
                ringBroker(session);
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

    // ------------------------------------------------------------------ inner types

    private static final class Pending
    {
        final long correlationId;
        volatile boolean done;
        ManComException error;
        Acceptor acceptor;
        boolean reregistration;
        Connection connection;
        boolean ready;
        String detail;

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
     * Idles the poller behind the doorbell of one session: a futex wait on it, which the broker and the peers ring.
     */
    private final class DoorbellHost implements DoorbellIdleStrategy.Host
    {
        private final BrokerSession session;

        DoorbellHost(final BrokerSession session)
        {
            this.session = session;
        }

        public boolean hasRetries()
        {
            return !session.live || ManCom.this.hasRetries();
        }

        public int peek()
        {
            if (!pollLock.tryLock())
            {
                return DoorbellIdleStrategy.PEEK_BUSY;
            }
            try
            {
                if (!session.live)
                {
                    return DoorbellIdleStrategy.PEEK_WORK;
                }
                peeked = false;
                session.events.controlledPoll(peekHandler, 1);
                if (!peeked)
                {
                    session.peers.controlledPoll(peekHandler, 1);
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
            // Read the control socket on the next round: its end says the broker is gone.
            nextControlCheckNs = System.nanoTime();
        }
    }

    /**
     * The library's default idle strategy: while a broker is attached, the doorbell strategy of its session (blocks
     * in a futex wait until rung, at most 1 s); while none is, a park that backs off from 1 ms to 100 ms, so that a
     * client waiting for its broker to come back costs next to no CPU. One per polling or waiting thread.
     */
    final class SessionIdleStrategy implements IdleStrategy
    {
        private BrokerSession current;
        private volatile DoorbellIdleStrategy doorbellIdle;
        private long limitNs = Long.MAX_VALUE;
        private long outageParkNs = OUTAGE_PARK_MIN_NS;

        /**
         * Bound the next block (a poll with a time-out).
         *
         * @param limitNs the longest block.
         */
        void blockLimitNs(final long limitNs)
        {
            this.limitNs = limitNs;
        }

        /**
         * Wake the idling thread if it blocks on a doorbell. Any thread.
         */
        void wake()
        {
            final DoorbellIdleStrategy strategy = doorbellIdle;
            if (null != strategy)
            {
                strategy.wake();
            }
        }

        public void idle(final int workCount)
        {
            if (workCount > 0)
            {
                reset();
            }
            else
            {
                idle();
            }
        }

        public void idle()
        {
            final BrokerSession session = ManCom.this.session;
            if (!session.live)
            {
                final long parkNs = Math.min(outageParkNs, Math.max(1_000, limitNs));
                limitNs = Long.MAX_VALUE;
                outageParkNs = Math.min(outageParkNs * 2, OUTAGE_PARK_MAX_NS);
                LockSupport.parkNanos(parkNs);
                return;
            }
            DoorbellIdleStrategy strategy = doorbellIdle;
            if (session != current)
            {
                current = session;
                strategy = new DoorbellIdleStrategy(session.clientDoorbell, null, new DoorbellHost(session), 100,
                    1000, TimeUnit.MICROSECONDS.toNanos(1), TimeUnit.MILLISECONDS.toNanos(1), ManCom.this::onError);
                doorbellIdle = strategy;
            }
            if (Long.MAX_VALUE != limitNs)
            {
                strategy.blockLimitNs(limitNs);
                limitNs = Long.MAX_VALUE;
            }
            // Counted, so that the session is not unmapped while this thread blocks on its doorbell.
            session.doorbellWaiters.incrementAndGet();
            try
            {
                if (session.live)
                {
                    strategy.idle();
                }
            }
            finally
            {
                session.doorbellWaiters.decrementAndGet();
            }
        }

        public void reset()
        {
            outageParkNs = OUTAGE_PARK_MIN_NS;
            final DoorbellIdleStrategy strategy = doorbellIdle;
            if (null != strategy)
            {
                strategy.reset();
            }
        }

        public String alias()
        {
            return "mancom-session";
        }
    }

    private boolean hasRetries()
    {
        if (!creditRetry.isEmpty() || !closeRetry.isEmpty() || !pendingLinks.isEmpty() || !peerExits.isEmpty() ||
            !retired.isEmpty())
        {
            return true;
        }
        if (System.nanoTime() - backPressuredNs < BACK_PRESSURE_RETRY_NS)
        {
            return true; // a send met a full log: no doorbell announces room, so do not block for long
        }
        return redeliveryQueued;
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
        private final ServiceStatusDecoder serviceStatusDecoder = new ServiceStatusDecoder();
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
                        onAcceptorRegistered(request, acceptorRegisteredDecoder.acceptorId());
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

                case ServiceStatusDecoder.TEMPLATE_ID:
                {
                    serviceStatusDecoder.wrap(buffer, bodyOffset, blockLength, version);
                    final Pending request = pending.remove(serviceStatusDecoder.correlationId());
                    final boolean ready = ServiceReadiness.READY == serviceStatusDecoder.readiness();
                    final String detail = serviceStatusDecoder.detail();
                    if (null != request)
                    {
                        request.ready = ready;
                        request.detail = detail;
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
                    if (null != request && request.reregistration)
                    {
                        onReregistrationRefused(request.acceptor, error);
                    }
                    else if (null != request)
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

        private void onAcceptorRegistered(final Pending request, final long acceptorId)
        {
            final Acceptor acceptor = request.acceptor;
            acceptor.id(acceptorId);
            acceptors.put(acceptorId, acceptor);
            if (!request.reregistration)
            {
                registered.add(acceptor);
                request.done = true;
                return;
            }
            final BrokerSession current = session;
            if (acceptor.isClosed())
            {
                // Closed by the application while its registration with the new broker was under way.
                acceptors.remove(acceptorId);
                registered.remove(acceptor);
                final long correlationId = nextCorrelationId.getAndIncrement();
                if (ENCODERS.get().unregisterAcceptor(current.commands, correlationId, acceptorId) > 0)
                {
                    ringBroker(current);
                }
            }
            onReregistered(current);
        }

        private void onReregistrationRefused(final Acceptor acceptor, final ManComException error)
        {
            // The new broker does not take this acceptor (its configuration lost the service, or denies it): the
            // acceptor closes, and the application hears why.
            registered.remove(acceptor);
            acceptor.markClosed();
            onError(new ManComException(error.code(), "the broker that came back in " + ctx.dir() +
                " refused the acceptor of '" + acceptor.service() + "': " + error.getMessage(), error));
            onReregistered(session);
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
            final Handover handover = decoder.handover();
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
            final BrokerSession current = session;
            final PeerLink link = 0 == peerClientId ? null :
                linkTo(current, peerClientId, peerStreamId, peerDoorbellCounterId);
            final Connection connection = new Connection(ManCom.this, current, connectionId, service, local, remote,
                sendWindowLength, current.windowLength, link, handover);
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
        private final QueryServiceEncoder queryServiceEncoder = new QueryServiceEncoder();

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

        // On a link (an exclusive publication, single writer): each offer holds the link's monitor.

        long offerData(
            final PeerLink link,
            final Publication publication,
            final long connectionId,
            final DirectBuffer payload,
            final int offset,
            final int length)
        {
            encodeDataHeader(sendHeader, 0, connectionId, length);
            synchronized (link)
            {
                return linkResult(
                    offer(publication, sendHeader, 0, Frames.DATA_HEADER_LENGTH, payload, offset, length));
            }
        }

        void encodeDataHeader(
            final org.agrona.MutableDirectBuffer target, final int offset, final long connectionId, final int length)
        {
            dataEncoder.wrapAndApplyHeader(target, offset, headerEncoder).connectionId(connectionId);
            target.putInt(offset + Frames.DATA_LENGTH_OFFSET, length, ByteOrder.LITTLE_ENDIAN);
        }

        long offerSendCredit(
            final PeerLink link, final Publication publication, final long connectionId, final int length)
        {
            sendCreditEncoder.wrapAndApplyHeader(buffer, 0, headerEncoder).connectionId(connectionId).length(length);
            synchronized (link)
            {
                return linkResult(offer(
                    publication, buffer, 0, MessageHeaderEncoder.ENCODED_LENGTH + sendCreditEncoder.encodedLength()));
            }
        }

        long offerClosed(
            final PeerLink link,
            final Publication publication,
            final long connectionId,
            final CloseReason reason,
            final String detail)
        {
            closedEncoder.wrapAndApplyHeader(buffer, 0, headerEncoder)
                .connectionId(connectionId)
                .reason(reason)
                .detail(detail);
            synchronized (link)
            {
                return linkResult(offer(
                    publication, buffer, 0, MessageHeaderEncoder.ENCODED_LENGTH + closedEncoder.encodedLength()));
            }
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

        long queryService(final Publication publication, final long correlationId, final String service)
        {
            queryServiceEncoder.wrapAndApplyHeader(buffer, 0, headerEncoder)
                .correlationId(correlationId)
                .service(service);
            return offer(
                publication, buffer, 0, MessageHeaderEncoder.ENCODED_LENGTH + queryServiceEncoder.encodedLength());
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

        /**
         * System property: {@code "false"} makes a client close for good when its broker is gone, instead of waiting
         * for a broker to come back in its directory and attaching to it (the default).
         */
        public static final String RECONNECT_PROP_NAME = "mancom.reconnect";

        /**
         * System property of the scope: {@code "process"} runs a broker inside the application's process (see
         * {@link #embeddedBroker(boolean)}); {@code "system"}, the default, uses the broker of the directory.
         */
        public static final String SCOPE_PROP_NAME = "mancom.scope";

        /** Environment variable read when {@link #SCOPE_PROP_NAME} is not set. */
        public static final String SCOPE_ENV_NAME = "MANCOM_SCOPE";

        /**
         * System property naming the configuration file of an embedded broker (default: the broker's usual lookup).
         */
        public static final String EMBEDDED_CONFIG_PROP_NAME = "mancom.embedded.config";

        /** Environment variable read when {@link #EMBEDDED_CONFIG_PROP_NAME} is not set. */
        public static final String EMBEDDED_CONFIG_ENV_NAME = "MANCOM_EMBEDDED_CONFIG";

        private boolean concluded;
        private Path dir;
        private String clientName;
        private boolean dispatchThread;
        private IdleStrategy idleStrategy;
        private Boolean busySpin;
        private Duration timeout = TIMEOUT_DEFAULT;
        private Duration awaitReadyTimeout = Duration.ZERO;
        private ErrorHandler errorHandler;
        private BrokerListener brokerListener;
        private Boolean reconnect;
        private Boolean embeddedBroker;
        private Path embeddedBrokerConfig;

        private static String propertyOrEnvironment(final String property, final String environment)
        {
            final String value = System.getProperty(property);
            return null != value ? value : System.getenv(environment);
        }

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
            if (null == embeddedBroker)
            {
                final String scope = propertyOrEnvironment(SCOPE_PROP_NAME, SCOPE_ENV_NAME);
                final String name = null != System.getProperty(SCOPE_PROP_NAME) ? SCOPE_PROP_NAME : SCOPE_ENV_NAME;
                if (null != scope && !scope.isEmpty() && !"system".equals(scope) && !"process".equals(scope))
                {
                    throw new IllegalArgumentException(name + " must be \"system\" or \"process\", not \"" + scope +
                        "\"");
                }
                embeddedBroker = "process".equals(scope);
            }
            if (embeddedBroker && null == embeddedBrokerConfig)
            {
                final String config = propertyOrEnvironment(EMBEDDED_CONFIG_PROP_NAME, EMBEDDED_CONFIG_ENV_NAME);
                if (null != config && !config.isEmpty())
                {
                    embeddedBrokerConfig = Path.of(config);
                }
            }
            if (null == dir && !embeddedBroker)
            {
                dir = BrokerDirectory.defaultDirectory();
            }
            if (null != dir)
            {
                dir = dir.toAbsolutePath();
            }
            if (null == busySpin)
            {
                busySpin = "spin".equals(propertyOrEnvironment(IDLE_PROP_NAME, IDLE_ENV_NAME));
            }
            if (null == clientName)
            {
                clientName = "pid " + ProcessHandle.current().pid();
            }
            if (null == errorHandler)
            {
                errorHandler = (ex) -> System.err.println("mancom: " + ex);
            }
            if (null == reconnect)
            {
                reconnect = !"false".equals(System.getProperty(RECONNECT_PROP_NAME));
            }
            if (null == brokerListener)
            {
                final ErrorHandler handler = errorHandler;
                brokerListener = new BrokerListener()
                {
                    public void onBrokerLost(final String reason)
                    {
                        handler.onError(new ManComException(ErrorCode.NOT_CONNECTED, reason));
                    }

                    public void onBrokerReconnected(final long reconnections)
                    {
                    }
                };
            }
            if (timeout.isNegative() || timeout.isZero())
            {
                throw new IllegalArgumentException("timeout must be positive: " + timeout);
            }
            concluded = true;
            return this;
        }

        /**
         * Set the broker directory; default {@code mancom.dir}, {@code MANCOM_DIR}, then the system default; with an
         * embedded broker ({@link #embeddedBroker(boolean)}), a new directory of this process's own.
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
         * Set what happens when the broker is gone: true (the default, or the {@value #RECONNECT_PROP_NAME} system
         * property) keeps this client, its acceptors and listeners, waits for a broker to be ready in the same
         * directory again (looking with a back-off, at most every 500 ms, at next to no CPU), attaches to it and
         * registers the acceptors again; false closes the client for good ({@link ManCom#isClosed()}).
         *
         * @param reconnect whether to reconnect.
         * @return this.
         */
        public Context reconnect(final boolean reconnect)
        {
            this.reconnect = reconnect;
            return this;
        }

        /**
         * Whether the client reconnects when its broker is gone.
         *
         * @return true to reconnect.
         */
        public boolean reconnect()
        {
            return !Boolean.FALSE.equals(reconnect);
        }

        /**
         * Choose the scope of this client's services: false (the default, or {@value #SCOPE_ENV_NAME} unset or
         * {@code "system"}) attaches to the broker of the directory, shared by every application of the machine;
         * true ({@value #SCOPE_ENV_NAME}{@code =process} or the {@value #SCOPE_PROP_NAME} system property) starts a
         * broker inside this process, on a directory of its own (a new one under {@code /dev/shm} unless
         * {@link #dir(Path)} names one), with {@link #embeddedBrokerConfig(Path)}, and stops it when the client
         * closes. The API is the same either way. The process scope needs the broker's jar (and the transports'
         * jars) on the class path; without them {@link ManCom#connect(Context)} says so.
         *
         * @param embeddedBroker true for a broker in this process.
         * @return this.
         */
        public Context embeddedBroker(final boolean embeddedBroker)
        {
            this.embeddedBroker = embeddedBroker;
            return this;
        }

        /**
         * Whether the client runs its own broker in this process.
         *
         * @return true for the process scope.
         */
        public boolean embeddedBroker()
        {
            return Boolean.TRUE.equals(embeddedBroker);
        }

        /**
         * Set the configuration file of the embedded broker; default the {@value #EMBEDDED_CONFIG_PROP_NAME} system
         * property, the {@value #EMBEDDED_CONFIG_ENV_NAME} environment variable, else the broker's usual lookup
         * ({@code MANCOM_CONFIG}, {@code /etc/mancom/mancom.toml}, the built-in default).
         *
         * @param file the TOML file.
         * @return this.
         */
        public Context embeddedBrokerConfig(final Path file)
        {
            this.embeddedBrokerConfig = file;
            return this;
        }

        /**
         * The configuration file of the embedded broker, or null for the broker's usual lookup.
         *
         * @return the file.
         */
        public Path embeddedBrokerConfig()
        {
            return embeddedBrokerConfig;
        }

        /**
         * Set who is told of the broker's loss and return; default: the loss goes to the error handler as a
         * {@code NOT_CONNECTED} error, the return to nobody.
         *
         * @param listener the listener, called on the polling thread.
         * @return this.
         */
        public Context brokerListener(final BrokerListener listener)
        {
            this.brokerListener = listener;
            return this;
        }

        /**
         * Who is told of the broker's loss and return.
         *
         * @return the listener.
         */
        public BrokerListener brokerListener()
        {
            return brokerListener;
        }

        /**
         * Every setting.
         *
         * @return printable form.
         */
        public String toString()
        {
            return "ManCom.Context{dir=" + dir + ", clientName='" + clientName + "', dispatchThread=" +
                dispatchThread + ", timeout=" + timeout + ", awaitReadyTimeout=" + awaitReadyTimeout + ", reconnect=" +
                reconnect() + ", embeddedBroker=" + embeddedBroker() + ", embeddedBrokerConfig=" +
                embeddedBrokerConfig + '}';
        }
    }
}
