package dev.mancom.broker.internal;

import dev.mancom.broker.config.ConfigException;
import dev.mancom.broker.config.OwnerExitPolicy;
import dev.mancom.broker.config.RestartPolicy;
import dev.mancom.broker.config.ServiceConfig;
import dev.mancom.protocol.Doorbell;
import dev.mancom.protocol.Endpoint;
import dev.mancom.protocol.Frames;
import dev.mancom.protocol.MarkFileDescriptor;
import dev.mancom.protocol.ProtocolVersion;
import dev.mancom.protocol.codecs.AttachDecoder;
import dev.mancom.protocol.codecs.CloseReason;
import dev.mancom.protocol.codecs.ErrorCode;
import dev.mancom.protocol.codecs.Handover;
import dev.mancom.protocol.codecs.HelloDecoder;
import dev.mancom.protocol.codecs.MessageHeaderDecoder;
import dev.mancom.protocol.codecs.MessageHeaderEncoder;
import dev.mancom.protocol.codecs.RefusedEncoder;
import dev.mancom.protocol.codecs.ReloadDecoder;
import dev.mancom.protocol.codecs.ReloadResultEncoder;
import dev.mancom.protocol.codecs.ReloadStatus;
import dev.mancom.protocol.codecs.WelcomeEncoder;
import dev.mancom.transport.AcceptHandler;
import dev.mancom.transport.ConnectHandler;
import dev.mancom.transport.ConnectionHandler;
import dev.mancom.transport.Transport;
import dev.mancom.transport.TransportConnection;
import dev.mancom.transport.TransportException;
import dev.mancom.transport.TransportListener;
import dev.mancom.transport.TransportUri;
import io.aeron.Aeron;
import io.aeron.CncFileDescriptor;
import io.aeron.DriverProxy;
import io.aeron.Publication;
import io.aeron.Subscription;
import org.agrona.CloseHelper;
import org.agrona.DirectBuffer;
import org.agrona.IoUtil;
import org.agrona.collections.Long2ObjectHashMap;
import org.agrona.collections.LongHashSet;
import org.agrona.concurrent.Agent;
import org.agrona.concurrent.AgentInvoker;
import org.agrona.concurrent.EpochClock;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.errors.DistinctErrorLog;
import org.agrona.concurrent.ringbuffer.ManyToOneRingBuffer;
import org.agrona.concurrent.status.AtomicCounter;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeSet;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;

/**
 * The broker's single writer of every registry: it accepts clients on the control socket and shakes hands with
 * them, owns services, acceptors and the connection table, opens and releases connections, runs the embedded
 * media driver's and the Aeron client's duty cycles, and beats the mark file's heartbeat.
 * <p>
 * Other threads reach it only through {@link #post(Runnable)}. It never touches the bytes of a connection.
 */
public final class BrokerConductor implements Agent
{
    private static final Logger LOG = LoggerFactory.getLogger(BrokerConductor.class);
    private static final int STREAM_ID_BASE = 0x1000;
    private static final int CONTROL_READ_BUFFER_LENGTH = 4096;
    /** Longest block of an idle conductor: bounds how late timers and the heartbeat run. */
    private static final long CONDUCTOR_MAX_WAIT_MS = 100;
    /** Longest reload answer in characters: three bytes each in UTF-8 must fit a control frame. */
    private static final int MAX_RELOAD_MESSAGE_LENGTH = 16 * 1024;
    /**
     * Most connections one service holds while no acceptor is registered ({@code queue_when_unowned},
     * activation); beyond it new ones are refused at once. Each holds a socket and the kernel's buffers.
     */
    public static final int MAX_HELD_CONNECTIONS_PER_SERVICE = 128;
    /** How long connections wait for a service's {@code exec} program to register when queue_when_unowned is unset. */
    public static final long DEFAULT_ACTIVATION_HOLD_MS = 30_000;
    /** Clients of this protocol minor version or later return exact credit on held connections. */
    static final int HOLD_PROTOCOL_MINOR = 2;

    private final Settings settings;
    private final Aeron aeron;
    private final AgentInvoker driverInvoker;
    private final AgentInvoker aeronInvoker;
    private final Map<String, Transport> transports;
    private final ConnectionTable connections;
    private final UnsafeBuffer markFile;
    private final DistinctErrorLog errorLog;
    private final AtomicCounter errorCounter;
    private final EpochClock clock;
    private final CommandQueue commandQueue = new CommandQueue();
    private final Consumer<Runnable> runCommand = this::runCommand;
    private final Map<String, ServiceState> services = new LinkedHashMap<>();
    /** Services a reload removed whose acceptors are still registered, by name. */
    private final Map<String, ServiceState> detached = new HashMap<>();
    private final Long2ObjectHashMap<ClientSession> clients = new Long2ObjectHashMap<>();
    private final Long2ObjectHashMap<LocalLink> localLinks = new Long2ObjectHashMap<>();
    private final ArrayList<ConnectionSession> opening = new ArrayList<>();
    private final Long2ObjectHashMap<ArrayDeque<BooleanSupplier>> pendingEvents = new Long2ObjectHashMap<>();
    private final ServerSocketChannel controlServer;
    private final Selector selector;
    private final SelectorIdleStrategy idleStrategy;
    private final Path controlSocketPath;
    private final ManyToOneRingBuffer toDriverBuffer;
    private final MappedByteBuffer cncMapping;
    private final UnsafeBuffer controlFrame = new UnsafeBuffer(ByteBuffer.allocate(Frames.MAX_CONTROL_FRAME_LENGTH));
    private final MessageHeaderEncoder headerEncoder = new MessageHeaderEncoder();
    private final MessageHeaderDecoder headerDecoder = new MessageHeaderDecoder();
    private final HelloDecoder helloDecoder = new HelloDecoder();
    private final AttachDecoder attachDecoder = new AttachDecoder();
    private final WelcomeEncoder welcomeEncoder = new WelcomeEncoder();
    private final RefusedEncoder refusedEncoder = new RefusedEncoder();
    private final ReloadDecoder reloadDecoder = new ReloadDecoder();
    private final ReloadResultEncoder reloadResultEncoder = new ReloadResultEncoder();
    private final int brokerUid = PeerCredentials.processUid();
    private final ProgramSupervisor programs;

    private Sender sender;
    private ReloadHandler reloadHandler;
    private int senderDoorbellCounterId;
    private long nextClientId = 1;
    private long nextAcceptorId = 1;
    private long nextHeartbeatMs;
    /** The earliest deadline of a held connection or a program restart; Long.MAX_VALUE when there is none. */
    private long nextTimerMs = Long.MAX_VALUE;
    private boolean closed;

    /**
     * What the conductor needs to know of the broker's configuration.
     *
     * @param brokerDir         the broker directory.
     * @param creditWindowLength per-connection credit window.
     * @param termLength        Aeron term length of each client stream.
     * @param maxPayloadLength  largest payload of one Data or Send message (one unfragmented Aeron message).
     * @param channel           the Aeron channel URI of client streams.
     * @param services          configured services in file order.
     */
    public record Settings(
        Path brokerDir,
        int creditWindowLength,
        int termLength,
        int maxPayloadLength,
        String channel,
        Map<String, ServiceConfig> services)
    {
    }

    /**
     * Carries out a reload request that came on the control socket. Runs on the conductor thread.
     */
    @FunctionalInterface
    public interface ReloadHandler
    {
        /**
         * Re-read the configuration and apply it.
         *
         * @return what changed, for the requester.
         * @throws RuntimeException when the reload is refused, with the reason as its message; the running
         *                          configuration is kept.
         */
        String reload();
    }

    /**
     * A conductor. Binds the control socket; services are bound by {@link #bindServices()}.
     *
     * @param settings      the configuration.
     * @param aeron         the broker's Aeron client, in invoker mode.
     * @param driverInvoker the embedded media driver's invoker.
     * @param transports    transports by scheme.
     * @param connections   the connection table.
     * @param markFile      the mapped mark file.
     * @param errorLog      the distinct error log.
     * @param errorCounter  counts errors.
     * @param clock         epoch clock.
     * @throws IOException when the control socket cannot be bound.
     */
    public BrokerConductor(
        final Settings settings,
        final Aeron aeron,
        final AgentInvoker driverInvoker,
        final Map<String, Transport> transports,
        final ConnectionTable connections,
        final UnsafeBuffer markFile,
        final DistinctErrorLog errorLog,
        final AtomicCounter errorCounter,
        final EpochClock clock) throws IOException
    {
        this.settings = settings;
        this.aeron = aeron;
        this.driverInvoker = driverInvoker;
        this.aeronInvoker = aeron.conductorAgentInvoker();
        this.transports = transports;
        this.connections = connections;
        this.markFile = markFile;
        this.errorLog = errorLog;
        this.errorCounter = errorCounter;
        this.clock = clock;
        this.programs = new ProgramSupervisor(settings.brokerDir(), this::post);

        final MappedByteBuffer cnc = aeron.context().mapExistingCncFile(null);
        this.cncMapping = cnc;
        final DirectBuffer cncMetaData = CncFileDescriptor.createMetaDataBuffer(cnc);
        this.toDriverBuffer = new ManyToOneRingBuffer(CncFileDescriptor.createToDriverBuffer(cnc, cncMetaData));

        controlSocketPath = settings.brokerDir().resolve(MarkFileDescriptor.CONTROL_SOCKET_NAME);
        Files.deleteIfExists(controlSocketPath);
        ServerSocketChannel server = null;
        Selector selector = null;
        try
        {
            server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
            server.bind(UnixDomainSocketAddress.of(controlSocketPath));
            server.configureBlocking(false);
            selector = Selector.open();
            server.register(selector, SelectionKey.OP_ACCEPT);
        }
        catch (final IOException | RuntimeException ex)
        {
            CloseHelper.quietCloseAll(selector, server);
            throw ex;
        }
        this.controlServer = server;
        this.selector = selector;
        this.idleStrategy = new SelectorIdleStrategy(
            selector, CONDUCTOR_MAX_WAIT_MS, new PublisherLimitRate(aeron.countersReader(), settings.termLength() / 2));
    }

    /**
     * Set the sender, once, before the agents start.
     *
     * @param sender the sender.
     */
    public void sender(final Sender sender)
    {
        this.sender = sender;
    }

    /**
     * Set what carries out reload requests from the control socket, once, before the agents start.
     *
     * @param handler the handler.
     */
    public void reloadHandler(final ReloadHandler handler)
    {
        this.reloadHandler = handler;
    }

    /**
     * Set the id of the sender's doorbell counter, told to every client in its Welcome. Once, before the agents
     * start.
     *
     * @param counterId the counter's id.
     */
    public void senderDoorbellCounterId(final int counterId)
    {
        this.senderDoorbellCounterId = counterId;
    }

    /**
     * Bind the listeners of every configured service. Called on the launching thread before the agents start.
     *
     * @throws ConfigException naming the file, line, service and URI that cannot be served or bound.
     */
    public void bindServices()
    {
        for (final String change : applyServices(settings.services(), false))
        {
            LOG.info("{}", change);
        }
    }

    /**
     * Check every URI of a configuration against the transports, without binding anything: its scheme has a
     * transport and the transport accepts it; and look the names of {@code allow_users} and {@code allow_groups}
     * up. (Two services may well list the same URI: {@code tcp://host:0} is a
     * new port each time; where it names one address, binding the second fails.) Any thread.
     *
     * @param configs the services.
     * @return each service's access lists, resolved to uids and gids.
     * @throws ConfigException listing every problem, each naming the file, line and key.
     */
    public Map<String, ServiceAccess> validate(final Map<String, ServiceConfig> configs)
    {
        return validate(configs, transports);
    }

    /**
     * Check every URI of a configuration against the given transports, without binding anything, as
     * {@link #validate(Map)} does for the running broker's transports; {@code mancom config check} uses it. Any
     * thread.
     *
     * @param configs    the services.
     * @param transports the transports by scheme.
     * @return each service's access lists ({@code allow_users}, {@code allow_groups}), resolved to uids and gids.
     * @throws ConfigException listing every problem, each naming the file, line and key.
     */
    public static Map<String, ServiceAccess> validate(
        final Map<String, ServiceConfig> configs, final Map<String, Transport> transports)
    {
        final List<ConfigException> errors = new ArrayList<>();
        final Map<String, ServiceAccess> accesses = new HashMap<>();
        for (final ServiceConfig config : configs.values())
        {
            for (int i = 0; i < config.listen().size(); i++)
            {
                final String uriText = config.listen().get(i);
                final int line = listenLine(config, i);
                final String problem = uriProblem(uriText, transports);
                if (null != problem)
                {
                    errors.add(new ConfigException(config.source(), line, config.key("listen"),
                        "'" + uriText + "': " + problem));
                }
            }
            if (null != config.connect())
            {
                final String problem = uriProblem(config.connect(), transports);
                if (null != problem)
                {
                    errors.add(config.error("connect", "'" + config.connect() + "': " + problem));
                }
            }
            try
            {
                accesses.put(config.name(), ServiceAccess.of(config));
            }
            catch (final ConfigException ex)
            {
                errors.add(ex);
            }
        }
        if (!errors.isEmpty())
        {
            throw ConfigException.combine(errors);
        }
        return accesses;
    }

    private static int listenLine(final ServiceConfig config, final int index)
    {
        final int line = config.listenLine(index);
        return line > 0 ? line : config.line("listen");
    }

    private static String uriProblem(final String uriText, final Map<String, Transport> transports)
    {
        try
        {
            final TransportUri uri = TransportUri.parse(uriText);
            final Transport transport = transports.get(uri.scheme());
            if (null == transport)
            {
                return "no transport serves '" + uri.scheme() + "://' (available: " +
                    String.join(", ", new TreeSet<>(transports.keySet())) + ")";
            }
            transport.validate(uri);
            return null;
        }
        catch (final TransportException ex)
        {
            return ex.getMessage();
        }
    }

    /**
     * Make the running services those of a configuration, all or nothing: validate every URI, bind the listeners
     * of URIs not listened on yet, and only once all are bound, close the listeners of URIs no longer configured,
     * hand a URI that moved to another service to it, add and remove services and take their new settings. If a
     * URI cannot be bound, the listeners bound so far are closed and nothing else changes.
     * <p>
     * Connections are never closed: those accepted through a closed listener, or of a removed service, go on.
     * The acceptors of a removed service stay registered (the application changes nothing) and serve it again if
     * a later configuration has it again; they are forgotten when they unregister or their application exits.
     * <p>
     * Conductor thread once the agents run; the launching thread before.
     *
     * @param configs the services, in file order.
     * @param reload  whether this is a reload (rather than the start-up), for the wording of the changes.
     * @return one line per change, for the log.
     * @throws ConfigException naming the file, line, key and URI at fault; nothing has changed then.
     */
    public List<String> applyServices(final Map<String, ServiceConfig> configs, final boolean reload)
    {
        final Map<String, ServiceAccess> accesses = validate(configs);

        // A service keeps the listener of each URI it still lists. A URI that another service no longer lists is
        // handed over to the service that lists it now, without closing it. Anything else is bound anew.
        final Map<String, ArrayDeque<BoundListener>> freed = new HashMap<>();
        for (final ServiceState service : services.values())
        {
            final ServiceConfig config = configs.get(service.name());
            for (final BoundListener bound : service.listeners())
            {
                if (null == config || !config.listen().contains(bound.uri()))
                {
                    freed.computeIfAbsent(bound.uri(), (uri) -> new ArrayDeque<>()).add(bound);
                }
            }
        }

        final Map<String, List<BoundListener>> planned = new HashMap<>();
        final List<BoundListener> added = new ArrayList<>();
        for (final ServiceConfig config : configs.values())
        {
            final ServiceState existing = services.get(config.name());
            final List<BoundListener> listeners = new ArrayList<>();
            for (int i = 0; i < config.listen().size(); i++)
            {
                final String uriText = config.listen().get(i);
                BoundListener bound = null == existing ? null : existing.listenerOf(uriText);
                if (null == bound)
                {
                    final ArrayDeque<BoundListener> candidates = freed.get(uriText);
                    bound = null == candidates ? null : candidates.poll();
                }
                if (null == bound)
                {
                    bound = new BoundListener(uriText, null);
                    try
                    {
                        final TransportUri uri = TransportUri.parse(uriText);
                        bound.listener(transports.get(uri.scheme()).listen(uri, acceptHandler(bound)));
                    }
                    catch (final TransportException ex)
                    {
                        for (final BoundListener undo : added)
                        {
                            CloseHelper.quietClose(undo.listener()::close);
                        }
                        throw new ConfigException(config.source(), listenLine(config, i), config.key("listen"),
                            "'" + uriText + "': " + ex.getMessage(), ex);
                    }
                    added.add(bound);
                }
                listeners.add(bound);
            }
            planned.put(config.name(), listeners);
        }

        // Every listener is bound: nothing can fail from here on.
        final List<String> changes = new ArrayList<>();
        final Map<String, ServiceState> next = new LinkedHashMap<>();
        for (final ServiceConfig config : configs.values())
        {
            final String name = config.name();
            ServiceState service = services.get(name);
            if (null == service)
            {
                service = detached.remove(name);
                if (null == service)
                {
                    service = new ServiceState(name, config, accesses.get(name));
                    if (reload)
                    {
                        changes.add("service '" + name + "' added");
                    }
                }
                else
                {
                    changes.add("service '" + name + "' configured again: its " + service.acceptors().size() +
                        " registered acceptor(s) serve it again");
                }
            }
            else if (!service.config().equals(config))
            {
                describeSettingChanges(service.config(), config, changes);
                if (!service.config().exec().equals(config.exec()) && service.program().isRunning())
                {
                    changes.add("service '" + name + "' " + config.key("exec") + " changed: its running program " +
                        "(pid " + service.program().process().pid() + ") goes on; the change applies to its next " +
                        "start");
                }
            }
            service.config(config, accesses.get(name));
            warnIfNotExecutable(config);
            if (service.program().gaveUp())
            {
                service.program().gaveUp(false);
                changes.add("service '" + name + "': the broker starts its program (" + config.key("exec") +
                    ") again on the next connection");
            }

            final List<BoundListener> listeners = planned.get(name);
            for (final BoundListener bound : listeners)
            {
                if (null == bound.service())
                {
                    changes.add("service '" + name + "' listening on " + bound);
                }
                else if (bound.service() != service)
                {
                    changes.add("service '" + name + "' now serves " + bound + " (moved from service '" +
                        bound.service().name() + "'; its connections go on)");
                }
                bound.service(service);
            }
            service.listeners().clear();
            service.listeners().addAll(listeners);
            next.put(name, service);
        }

        for (final ArrayDeque<BoundListener> unused : freed.values())
        {
            for (final BoundListener dropped : unused)
            {
                CloseHelper.quietClose(dropped.listener()::close);
                changes.add("service '" + dropped.service().name() + "' stopped listening on " + dropped +
                    " (connections accepted there go on)");
            }
        }
        for (final ServiceState service : services.values())
        {
            if (!next.containsKey(service.name()))
            {
                service.listeners().clear();
                releaseHeld(service, CloseReason.SERVICE_REMOVED, "the service was removed");
                service.program().restartAtMs(0);
                if (service.acceptors().isEmpty())
                {
                    changes.add("service '" + service.name() + "' removed (its connections go on)");
                }
                else
                {
                    detached.put(service.name(), service);
                    changes.add("service '" + service.name() + "' removed (its connections go on; its " +
                        service.acceptors().size() + " acceptor(s) stay registered and serve it again if it is " +
                        "configured again)");
                }
            }
        }
        services.clear();
        services.putAll(next);
        return changes;
    }

    /**
     * A program given by a path that is not executable now is worth a warning at start-up and reload, not a refusal:
     * it may be installed later, and starting it will say why it fails.
     */
    private static void warnIfNotExecutable(final ServiceConfig config)
    {
        if (!config.exec().isEmpty() && config.exec().get(0).contains("/"))
        {
            final Path program = Path.of(config.exec().get(0));
            if (!Files.isRegularFile(program) || !Files.isExecutable(program))
            {
                LOG.warn("{}:{}: {}: '{}' is not an executable file (yet): starting the program will fail",
                    config.source(), config.line("exec"), config.key("exec"), program);
            }
        }
    }

    private static void describeSettingChanges(
        final ServiceConfig before, final ServiceConfig after, final List<String> changes)
    {
        final String name = after.name();
        if (!Objects.equals(before.connect(), after.connect()))
        {
            changes.add("service '" + name + "' " + after.key("connect") + " changed from " +
                (null == before.connect() ? "(none)" : before.connect()) + " to " +
                (null == after.connect() ? "(none)" : after.connect()) + " (for connections opened from now on)");
        }
        if (before.onOwnerExit() != after.onOwnerExit() || before.queueWhenUnownedMs() != after.queueWhenUnownedMs() ||
            before.record() != after.record() || !before.allowUsers().equals(after.allowUsers()) ||
            !before.allowGroups().equals(after.allowGroups()) || !before.exec().equals(after.exec()) ||
            before.restart() != after.restart())
        {
            changes.add("service '" + name + "' settings changed: " + after);
        }
    }

    private void forgetIfDetached(final ServiceState service)
    {
        if (service.acceptors().isEmpty() && detached.get(service.name()) == service)
        {
            detached.remove(service.name());
        }
    }

    /**
     * The local endpoints every service listens on, for tests and tools. Conductor or launching thread.
     *
     * @return endpoints by service name.
     */
    public Map<String, List<dev.mancom.protocol.Endpoint>> listenEndpoints()
    {
        final Map<String, List<dev.mancom.protocol.Endpoint>> result = new LinkedHashMap<>();
        for (final ServiceState service : services.values())
        {
            final List<dev.mancom.protocol.Endpoint> endpoints = new ArrayList<>();
            for (final BoundListener bound : service.listeners())
            {
                endpoints.add(bound.listener().localEndpoint());
            }
            result.put(service.name(), endpoints);
        }
        return result;
    }

    /**
     * Run a command on the conductor's thread. Any thread.
     *
     * @param command the command.
     */
    public void post(final Runnable command)
    {
        commandQueue.offer(command);
        idleStrategy.wake();
    }

    /**
     * Wake the conductor if it blocks. The embedded media driver's duty cycle, which runs on the conductor, moves
     * the limits of the IPC streams as their readers advance, so whoever moves data wakes it. Any thread; a
     * volatile read when the conductor is not blocked.
     */
    public void wake()
    {
        idleStrategy.dataMoved(System.nanoTime());
    }

    /**
     * A broker thread found a client's stream full: run the driver's duty cycle now, which moves the stream's limit
     * on as far as its reader has read, rather than after the conductor's park. Any thread.
     */
    public void wakeForFullStream()
    {
        idleStrategy.wakeNow();
    }

    /**
     * The idle strategy the conductor's runner must use: it blocks on the control sockets and wakes on
     * {@link #post(Runnable)}.
     *
     * @return the idle strategy.
     */
    public org.agrona.concurrent.IdleStrategy idleStrategy()
    {
        return idleStrategy;
    }

    /**
     * {@inheritDoc}
     */
    public String roleName()
    {
        return "mancom-conductor";
    }

    /**
     * {@inheritDoc}
     */
    public int doWork()
    {
        // The driver's work is not counted: it reports work whenever an IPC publication's limit moves, which would
        // keep the conductor spinning while data flows. It does tell the idle strategy that data moves, so that the
        // duty cycle stays frequent enough to move the limits on: the broker's own streams report that themselves,
        // but app-to-app links carry data the broker never sees.
        if (driverInvoker.invoke() > 0)
        {
            idleStrategy.dataMoved(System.nanoTime());
        }
        int work = aeronInvoker.invoke();
        work += pollControlSockets();
        work += commandQueue.drain(runCommand);
        work += retryOpening();
        work += retryPendingEvents();

        final long nowMs = clock.time();
        if (nowMs >= nextTimerMs)
        {
            work += onTimers(nowMs);
        }
        if (nowMs >= nextHeartbeatMs)
        {
            nextHeartbeatMs = nowMs + MarkFileDescriptor.HEARTBEAT_INTERVAL_MS;
            markFile.putLongRelease(MarkFileDescriptor.HEARTBEAT_OFFSET, nowMs);
            work++;
        }
        return work;
    }

    /**
     * Close every listener, connection and client session. Conductor thread, last.
     */
    public void onClose()
    {
        if (closed)
        {
            return;
        }
        closed = true;
        // Normally done already (Broker.close stops the programs while the conductor still serves them).
        programs.stopAll();
        for (final ServiceState service : services.values())
        {
            for (final BoundListener bound : service.listeners())
            {
                CloseHelper.quietClose(bound.listener()::close);
            }
            releaseHeld(service, CloseReason.BROKER_SHUTDOWN, "the broker is stopping");
        }
        for (final ClientSession client : new ArrayList<>(clients.values()))
        {
            for (final ConnectionSession session : client.connections().values())
            {
                session.abort(CloseReason.BROKER_SHUTDOWN, "the broker is stopping");
            }
            CloseHelper.quietClose(client.controlChannel());
            // A parked client looks at its control socket when it wakes: it learns at once that the broker is gone.
            client.ring();
        }
        CloseHelper.quietCloseAll(selector, controlServer);
        try
        {
            Files.deleteIfExists(controlSocketPath);
        }
        catch (final IOException ex)
        {
            LOG.warn("could not delete {}: {}", controlSocketPath, ex.toString());
        }
        // Unmapped here rather than left to the garbage collector: a broker restarted in the same process (embedded)
        // would otherwise keep each stopped driver's cnc.dat mapped, 11 MiB a time, until a collection.
        IoUtil.unmap(cncMapping);
    }

    // ------------------------------------------------------------------ errors

    void recordError(final Throwable error)
    {
        errorCounter.increment();
        errorLog.record(error);
        LOG.warn("error: {}", error.toString());
    }

    private void runCommand(final Runnable command)
    {
        try
        {
            command.run();
        }
        catch (final RuntimeException ex)
        {
            recordError(ex);
        }
    }

    // ------------------------------------------------------------------ control socket

    private int pollControlSockets()
    {
        try
        {
            selector.selectNow();
        }
        catch (final IOException ex)
        {
            recordError(ex);
            return 0;
        }
        // The idle strategy's select may have filled the selected set already: selectNow then counts 0.
        final int ready = selector.selectedKeys().size();
        if (0 == ready)
        {
            return 0;
        }
        final Iterator<SelectionKey> keys = selector.selectedKeys().iterator();
        while (keys.hasNext())
        {
            final SelectionKey key = keys.next();
            keys.remove();
            if (!key.isValid())
            {
                continue;
            }
            if (key.isAcceptable())
            {
                acceptControlConnections();
            }
            else if (key.isReadable())
            {
                readControl((ClientSession)key.attachment());
            }
        }
        return ready;
    }

    private void acceptControlConnections()
    {
        while (true)
        {
            final SocketChannel channel;
            try
            {
                channel = controlServer.accept();
            }
            catch (final IOException ex)
            {
                recordError(ex);
                return;
            }
            if (null == channel)
            {
                return;
            }
            try
            {
                final PeerCredentials credentials = PeerCredentials.of(channel);
                channel.configureBlocking(false);
                final ClientSession client = new ClientSession(channel, credentials, CONTROL_READ_BUFFER_LENGTH);
                channel.register(selector, SelectionKey.OP_READ, client);
            }
            catch (final IOException | RuntimeException ex)
            {
                recordError(ex);
                CloseHelper.quietClose(channel);
            }
        }
    }

    private void readControl(final ClientSession client)
    {
        final ByteBuffer readBuffer = client.readBuffer();
        final int read;
        try
        {
            read = client.controlChannel().read(readBuffer);
        }
        catch (final IOException ex)
        {
            closeClient(client, "control socket failed: " + ex.getMessage());
            return;
        }
        if (read < 0)
        {
            closeClient(client, "control socket closed (process exited or closed ManCom)");
            return;
        }

        readBuffer.flip();
        while (!client.isGone() && readBuffer.remaining() >= Frames.CONTROL_LENGTH_PREFIX)
        {
            final int frameLength = readBuffer.getInt(readBuffer.position());
            if (frameLength < MessageHeaderDecoder.ENCODED_LENGTH || frameLength > readBuffer.capacity() - 4)
            {
                refuse(client, ErrorCode.MALFORMED_COMMAND, "bad control frame length " + frameLength);
                return;
            }
            if (readBuffer.remaining() < Frames.CONTROL_LENGTH_PREFIX + frameLength)
            {
                break;
            }
            final int frameOffset = readBuffer.position() + Frames.CONTROL_LENGTH_PREFIX;
            readBuffer.position(frameOffset + frameLength);
            onControlFrame(client, new UnsafeBuffer(readBuffer.array(), frameOffset, frameLength), frameLength);
        }
        if (!client.isGone())
        {
            readBuffer.compact();
        }
    }

    private void onControlFrame(final ClientSession client, final UnsafeBuffer frame, final int length)
    {
        headerDecoder.wrap(frame, 0);
        final int templateId = headerDecoder.templateId();
        if (headerDecoder.schemaId() != MessageHeaderDecoder.SCHEMA_ID)
        {
            refuse(client, ErrorCode.MALFORMED_COMMAND, "not a ManCom client (schema " + headerDecoder.schemaId() +
                ")");
            return;
        }

        if (ClientSession.AWAIT_HELLO == client.state() && HelloDecoder.TEMPLATE_ID == templateId)
        {
            if (headerDecoder.blockLength() < HelloDecoder.BLOCK_LENGTH ||
                length < MessageHeaderDecoder.ENCODED_LENGTH + headerDecoder.blockLength() + 4)
            {
                refuse(client, ErrorCode.MALFORMED_COMMAND, "malformed Hello");
                return;
            }
            helloDecoder.wrap(frame, MessageHeaderDecoder.ENCODED_LENGTH, headerDecoder.blockLength(),
                headerDecoder.version());
            onHello(client, helloDecoder.protocolMajor(), helloDecoder.protocolMinor(), frame, length);
        }
        else if (ClientSession.AWAIT_HELLO == client.state() && ReloadDecoder.TEMPLATE_ID == templateId)
        {
            if (length < MessageHeaderDecoder.ENCODED_LENGTH + ReloadDecoder.BLOCK_LENGTH)
            {
                refuse(client, ErrorCode.MALFORMED_COMMAND, "malformed Reload");
                return;
            }
            reloadDecoder.wrap(frame, MessageHeaderDecoder.ENCODED_LENGTH, headerDecoder.blockLength(),
                headerDecoder.version());
            onReloadRequest(client, reloadDecoder.protocolMajor(), reloadDecoder.protocolMinor());
        }
        else if (ClientSession.AWAIT_ATTACH == client.state() && AttachDecoder.TEMPLATE_ID == templateId)
        {
            if (length < MessageHeaderDecoder.ENCODED_LENGTH + AttachDecoder.BLOCK_LENGTH)
            {
                refuse(client, ErrorCode.MALFORMED_COMMAND, "malformed Attach");
                return;
            }
            attachDecoder.wrap(frame, MessageHeaderDecoder.ENCODED_LENGTH, headerDecoder.blockLength(),
                headerDecoder.version());
            client.attach(attachDecoder.aeronClientId());
            // The sender reads the control socket from now on: it blocks on it for the doorbell.
            final SelectionKey key = client.controlChannel().keyFor(selector);
            if (null != key)
            {
                key.cancel();
            }
            sender.addClient(client);
            LOG.info("{} attached", client);
        }
        else
        {
            refuse(client, ErrorCode.MALFORMED_COMMAND,
                "unexpected control message " + templateId + " in state " + client.state());
        }
    }

    private void onHello(
        final ClientSession client, final int major, final int minor, final UnsafeBuffer frame, final int length)
    {
        if (major != ProtocolVersion.MAJOR)
        {
            refuseVersion(client, major, minor);
            return;
        }

        final int nameLength = helloDecoder.clientNameLength();
        if (nameLength < 0 || nameLength > length - helloDecoder.limit())
        {
            refuse(client, ErrorCode.MALFORMED_COMMAND, "malformed Hello: name length " + nameLength);
            return;
        }
        final String name = helloDecoder.clientName();

        final long clientId = nextClientId++;
        final int commandStreamId = STREAM_ID_BASE + (int)(3 * clientId);
        final int eventStreamId = commandStreamId + 1;
        final int peerStreamId = commandStreamId + 2;
        Subscription subscription = null;
        Publication publication = null;
        try
        {
            subscription = aeron.addSubscription(settings.channel(), commandStreamId);
            publication = aeron.addPublication(settings.channel(), eventStreamId);
        }
        catch (final RuntimeException ex)
        {
            CloseHelper.quietCloseAll(subscription, publication);
            recordError(ex);
            refuse(client, ErrorCode.RESOURCE_LIMIT, "cannot create the client's streams: " + ex.getMessage());
            return;
        }
        final AtomicCounter doorbellCounter;
        try
        {
            doorbellCounter = aeron.addCounter(
                dev.mancom.broker.ManComCounters.DOORBELL_TYPE_ID, "mancom client " + clientId + " doorbell");
        }
        catch (final RuntimeException ex)
        {
            CloseHelper.quietCloseAll(subscription, publication);
            recordError(ex);
            refuse(client, ErrorCode.RESOURCE_LIMIT, "cannot create the client's doorbell: " + ex.getMessage());
            return;
        }
        client.doorbell(doorbellCounter, new Doorbell(aeron.countersReader().valuesBuffer(), doorbellCounter.id()));
        client.welcome(clientId, name, publication, subscription);
        client.protocolMinor(minor);
        client.peerStreamId(peerStreamId);
        clients.put(clientId, client);

        welcomeEncoder.wrapAndApplyHeader(controlFrame, Frames.CONTROL_LENGTH_PREFIX, headerEncoder)
            .clientId(clientId)
            .brokerPid(ProcessHandle.current().pid())
            .commandStreamId(commandStreamId)
            .eventStreamId(eventStreamId)
            .creditWindowLength(settings.creditWindowLength())
            .protocolMajor(ProtocolVersion.MAJOR)
            .protocolMinor(ProtocolVersion.MINOR)
            .brokerDoorbellCounterId(senderDoorbellCounterId)
            .clientDoorbellCounterId(doorbellCounter.id())
            .peerStreamId(peerStreamId)
            .channel(settings.channel())
            .aeronDirectory(aeron.context().aeronDirectoryName());
        final int welcomeLength = MessageHeaderEncoder.ENCODED_LENGTH + welcomeEncoder.encodedLength();
        if (writeControlFrame(client, welcomeLength))
        {
            LOG.info("{} connected", client);
        }
    }

    private void refuseVersion(final ClientSession client, final int major, final int minor)
    {
        refuse(client, ErrorCode.PROTOCOL_VERSION_MISMATCH,
            "the client speaks ManCom protocol " + ProtocolVersion.toString(major, minor) +
            " but this broker speaks " + ProtocolVersion.toString(ProtocolVersion.MAJOR, ProtocolVersion.MINOR) +
            ": use a client library and a broker of the same major version");
    }

    /**
     * A reload request (the {@code mancom reload} command): only root and the broker's own user may ask. The
     * reload runs here, on the conductor, which is the single writer of the services; the answer says what changed
     * or why nothing did, and the socket is closed after it.
     */
    private void onReloadRequest(final ClientSession client, final int major, final int minor)
    {
        if (major != ProtocolVersion.MAJOR)
        {
            refuseVersion(client, major, minor);
            return;
        }
        final PeerCredentials peer = client.credentials();
        ReloadStatus status;
        String message;
        if (0 != peer.uid() && brokerUid != peer.uid())
        {
            status = ReloadStatus.ACCESS_DENIED;
            message = "only root or the broker's own user (uid " + brokerUid + ") may reload the broker, not uid " +
                peer.uid() + " (pid " + peer.pid() + ")";
            LOG.warn("reload refused: {}", message);
        }
        else if (null == reloadHandler)
        {
            status = ReloadStatus.REFUSED;
            message = "this broker cannot reload its configuration";
        }
        else
        {
            LOG.info("reload requested on the control socket by {}", peer);
            try
            {
                message = reloadHandler.reload();
                status = ReloadStatus.APPLIED;
            }
            catch (final RuntimeException ex)
            {
                message = String.valueOf(ex.getMessage());
                status = ReloadStatus.REFUSED;
            }
        }
        if (message.length() > MAX_RELOAD_MESSAGE_LENGTH)
        {
            message = message.substring(0, MAX_RELOAD_MESSAGE_LENGTH) + "...";
        }
        reloadResultEncoder.wrapAndApplyHeader(controlFrame, Frames.CONTROL_LENGTH_PREFIX, headerEncoder)
            .status(status)
            .message(message);
        writeControlFrame(client, MessageHeaderEncoder.ENCODED_LENGTH + reloadResultEncoder.encodedLength());
        closeClient(client, "reload answered");
    }

    private void refuse(final ClientSession client, final ErrorCode code, final String message)
    {
        LOG.warn("refusing {}: {}", client, message);
        refusedEncoder.wrapAndApplyHeader(controlFrame, Frames.CONTROL_LENGTH_PREFIX, headerEncoder)
            .code(code)
            .protocolMajor(ProtocolVersion.MAJOR)
            .protocolMinor(ProtocolVersion.MINOR)
            .message(message);
        writeControlFrame(client, MessageHeaderEncoder.ENCODED_LENGTH + refusedEncoder.encodedLength());
        closeClient(client, message);
    }

    private boolean writeControlFrame(final ClientSession client, final int length)
    {
        controlFrame.putInt(0, length, ByteOrder.LITTLE_ENDIAN);
        final ByteBuffer out = ByteBuffer.wrap(
            controlFrame.byteArray(), 0, Frames.CONTROL_LENGTH_PREFIX + length);
        try
        {
            // A fresh socket has room for a few small frames; a client that lets it fill is broken.
            for (int attempts = 0; out.hasRemaining() && attempts < 100; attempts++)
            {
                client.controlChannel().write(out);
            }
        }
        catch (final IOException ex)
        {
            closeClient(client, "control socket write failed: " + ex.getMessage());
            return false;
        }
        if (out.hasRemaining())
        {
            closeClient(client, "control socket full");
            return false;
        }
        return true;
    }

    // ------------------------------------------------------------------ client lifecycle

    private void closeClient(final ClientSession client, final String reason)
    {
        if (client.isGone())
        {
            return;
        }
        final int previousState = client.state();
        // Orphaned before the client is marked gone: a thread that sees it gone then sees its orphans as such.
        for (final ConnectionSession session : client.connections().values())
        {
            if (session.holdable() && holdsOnOwnerExit(session))
            {
                session.orphan();
                client.orphans().add(session);
            }
        }
        client.hasOrphans(!client.orphans().isEmpty());
        client.markGone();
        CloseHelper.quietClose(client.controlChannel());
        if (ClientSession.AWAIT_HELLO != previousState)
        {
            LOG.info("{} gone: {}", client, reason);
        }

        for (final Acceptor acceptor : client.acceptors())
        {
            acceptor.service().acceptors().remove(acceptor);
            forgetIfDetached(acceptor.service());
        }
        client.acceptors().clear();
        pendingEvents.remove(client.clientId());

        for (final ConnectionSession session : client.connections().values())
        {
            if (!session.isOrphaned())
            {
                session.abort(CloseReason.OWNER_EXITED, "the owning application exited");
            }
        }
        closeLocalLinksOf(client);

        if (ClientSession.ACTIVE == previousState)
        {
            sender.removeClient(client);
        }
        else if (ClientSession.AWAIT_ATTACH == previousState)
        {
            onClientReleasedBySender(client);
        }
    }

    /**
     * Sender no longer polls the client's stream: close its streams and free the driver's resources of its Aeron
     * client, without waiting for Aeron's liveness time-out.
     *
     * @param client the gone client.
     */
    void onClientReleasedBySender(final ClientSession client)
    {
        clients.remove(client.clientId());
        CloseHelper.quietCloseAll(client.commandSubscription(), client.eventPublication(), client.doorbellCounter());
        if (client.aeronClientId() >= 0 && !closed)
        {
            new DriverProxy(toDriverBuffer, client.aeronClientId()).clientClose();
        }
        holdOrphans(client);
    }

    private boolean holdsOnOwnerExit(final ConnectionSession session)
    {
        final ServiceState service = services.get(session.service());
        return !closed && null != service && OwnerExitPolicy.HOLD == service.config().onOwnerExit();
    }

    /**
     * The sender has read a gone client's last commands: its orphans' consumed bytes are final. Hold each for the
     * next application that registers its service, and hand them over at once if one is registered.
     */
    private void holdOrphans(final ClientSession client)
    {
        if (client.orphans().isEmpty())
        {
            return;
        }
        final long nowMs = clock.time();
        final ArrayList<ServiceState> touched = new ArrayList<>();
        for (final ConnectionSession session : client.orphans())
        {
            if (!holdsOnOwnerExit(session))
            {
                // The service was removed or changed to "close" while the sender read the owner's last commands.
                session.abort(CloseReason.OWNER_EXITED, "the owning application exited");
                continue;
            }
            final ServiceState service = services.get(session.service());
            final long holdMs = service.config().queueWhenUnownedMs();
            final long deadlineMs = holdMs > 0 ? nowMs + holdMs : Long.MAX_VALUE;
            service.orphans().addLast(new ServiceState.Orphan(session, deadlineMs));
            nextTimerMs = Math.min(nextTimerMs, deadlineMs);
            if (!touched.contains(service))
            {
                touched.add(service);
            }
        }
        client.orphans().clear();
        for (final ServiceState service : touched)
        {
            LOG.info("service '{}': {} exited; holding {} connection(s) for the next application that registers{}",
                service.name(), client, service.orphans().size(), service.config().queueWhenUnownedMs() > 0 ?
                " (up to " + service.config().queueWhenUnownedMs() + " ms)" : "");
            handOverHeld(service);
            if (!service.orphans().isEmpty())
            {
                activate(service, nowMs); // starts the service's exec program, if it has one
            }
        }
    }

    /**
     * The sender saw an attached client's control socket end.
     *
     * @param client the client.
     * @param reason for the log.
     */
    void onControlSocketClosed(final ClientSession client, final String reason)
    {
        closeClient(client, reason);
    }

    void onProtocolViolation(final ClientSession client, final String reason)
    {
        recordError(new IllegalStateException(client + " broke the protocol: " + reason));
        closeClient(client, "protocol violation: " + reason);
    }

    // ------------------------------------------------------------------ commands

    void onRegisterAcceptor(final ClientSession client, final long correlationId, final String serviceName)
    {
        if (client.isGone())
        {
            return;
        }
        final ServiceState service = knownService(client, correlationId, serviceName);
        if (null == service)
        {
            return;
        }
        if (denied(client, correlationId, service, "register an acceptor for"))
        {
            return;
        }
        final Acceptor acceptor = new Acceptor(nextAcceptorId++, client, service);
        service.acceptors().add(acceptor);
        client.acceptors().add(acceptor);
        LOG.info("{} registered", acceptor);
        sendEvent(client, () -> EventEncoders.current().offerAcceptorRegistered(
            client.eventPublication(), correlationId, acceptor.id(), serviceName));
        // After AcceptorRegistered: ConnectionOpened waits behind events still pending for the client.
        handOverHeld(service);
    }

    /**
     * The service of that name, or null after an Error with {@code UNKNOWN_SERVICE} listing those configured.
     */
    private ServiceState knownService(final ClientSession client, final long correlationId, final String serviceName)
    {
        final ServiceState service = services.get(serviceName);
        if (null == service)
        {
            sendError(client, correlationId, ErrorCode.UNKNOWN_SERVICE, "unknown service '" + serviceName +
                "' (configured: " + String.join(", ", services.keySet()) + ")");
        }
        return service;
    }

    /**
     * Answer whether a service is ready: every listener bound and, for a device, its device present; a service of
     * applications only (no listen, no connect) once an application has registered it; an outbound service always
     * (nothing to bind). An unknown service gets an Error with {@code UNKNOWN_SERVICE}.
     */
    void onQueryService(final ClientSession client, final long correlationId, final String serviceName)
    {
        if (client.isGone())
        {
            return;
        }
        final ServiceState service = knownService(client, correlationId, serviceName);
        if (null == service)
        {
            return;
        }
        final List<BoundListener> listeners = service.listeners();
        int ready = 0;
        final StringBuilder waiting = new StringBuilder();
        for (final BoundListener bound : listeners)
        {
            final TransportListener listener = bound.listener();
            if (null != listener && listener.isReady())
            {
                ready++;
            }
            else
            {
                waiting.append(waiting.length() > 0 ? "; " : "").append('\'').append(bound.uri()).append('\'')
                    .append(null == listener ? " is not bound" : " waits for its device");
            }
        }
        final boolean isReady;
        final String detail;
        if (!listeners.isEmpty())
        {
            isReady = ready == listeners.size();
            detail = isReady ? "" : "service '" + serviceName + "': " + waiting;
        }
        else if (null == service.config().connect())
        {
            isReady = !service.acceptors().isEmpty();
            detail = isReady ? "" : "service '" + serviceName + "' has no listener and no application has " +
                "registered it yet";
        }
        else
        {
            isReady = true;
            detail = "";
        }
        final int listenerCount = listeners.size();
        final int readyCount = ready;
        sendEvent(client, () -> EventEncoders.current().offerServiceStatus(
            client.eventPublication(), correlationId, isReady, listenerCount, readyCount, detail));
    }

    void onUnregisterAcceptor(final ClientSession client, final long correlationId, final long acceptorId)
    {
        if (client.isGone())
        {
            return;
        }
        for (final Acceptor acceptor : client.acceptors())
        {
            if (acceptor.id() == acceptorId)
            {
                client.acceptors().remove(acceptor);
                acceptor.service().acceptors().remove(acceptor);
                forgetIfDetached(acceptor.service());
                LOG.info("{} unregistered", acceptor);
                sendEvent(client, () -> EventEncoders.current().offerCommandOk(
                    client.eventPublication(), correlationId));
                return;
            }
        }
        sendError(client, correlationId, ErrorCode.UNKNOWN_ACCEPTOR, "unknown acceptor " + acceptorId);
    }

    void onConnect(final ClientSession client, final long correlationId, final String target)
    {
        if (client.isGone())
        {
            return;
        }
        final String serviceName;
        final String uriText;
        final String failurePrefix;
        if (target.contains("://"))
        {
            serviceName = target;
            uriText = target;
            failurePrefix = "cannot connect to " + uriText + ": ";
        }
        else
        {
            final ServiceState service = knownService(client, correlationId, target);
            if (null == service)
            {
                return;
            }
            if (denied(client, correlationId, service, "connect to"))
            {
                return;
            }
            if (!service.acceptors().isEmpty())
            {
                openLocalLink(client, correlationId, service);
                return;
            }
            if (null == service.config().connect())
            {
                if (!closed && hold(service, null, client, correlationId))
                {
                    return;
                }
                sendError(client, correlationId, ErrorCode.CONNECT_FAILED, "no application accepts service '" +
                    target + "' and it has no connect URI (" + service.config().key("connect") + ")");
                return;
            }
            serviceName = target;
            uriText = service.config().connect();
            failurePrefix = "cannot connect service '" + target + "' to " + uriText + " (" +
                service.config().key("connect") + "): ";
        }

        try
        {
            final TransportUri uri = TransportUri.parse(uriText);
            final Transport transport = transports.get(uri.scheme());
            if (null == transport)
            {
                sendError(client, correlationId, ErrorCode.INVALID_ARGUMENT, failurePrefix + "no transport serves '" +
                    uri.scheme() + "://'");
                return;
            }
            transport.validate(uri);
            transport.connect(uri, new ConnectHandler()
            {
                public void onConnected(final TransportConnection connection)
                {
                    post(() -> onOutboundConnected(client, correlationId, serviceName, connection));
                }

                public void onConnectFailed(final Throwable cause)
                {
                    post(() -> sendError(client, correlationId, ErrorCode.CONNECT_FAILED,
                        failurePrefix + cause.getMessage()));
                }
            });
        }
        catch (final TransportException ex)
        {
            sendError(client, correlationId, ErrorCode.INVALID_ARGUMENT, failurePrefix + ex.getMessage());
        }
    }

    /**
     * Refuse a client the service's {@code allow_users} and {@code allow_groups} do not let in, with an Error event
     * that says who, which service and which keys.
     */
    private boolean denied(
        final ClientSession client, final long correlationId, final ServiceState service, final String what)
    {
        final String denial = service.access().denial(client.credentials(), brokerUid, what);
        if (null == denial)
        {
            return false;
        }
        LOG.warn("{}: access denied: {}", client, denial);
        sendError(client, correlationId, ErrorCode.ACCESS_DENIED, denial);
        return true;
    }

    private void onOutboundConnected(
        final ClientSession client, final long correlationId, final String service, final TransportConnection conn)
    {
        if (client.isGone() || closed)
        {
            rejectConnection(conn);
            return;
        }
        openConnection(client, correlationId, 0, service, conn);
    }

    private AcceptHandler acceptHandler(final BoundListener bound)
    {
        return (connection) -> post(() -> onAccepted(bound.service(), connection));
    }

    private void onAccepted(final ServiceState service, final TransportConnection connection)
    {
        final Acceptor acceptor = closed || null == service ? null : service.nextAcceptor();
        if (null == acceptor)
        {
            if (!closed && null != service && hold(service, connection, null, 0))
            {
                return;
            }
            LOG.info("service '{}' has no acceptor: closing the connection from {}",
                null == service ? "(none)" : service.name(), connection.remoteEndpoint());
            rejectConnection(connection);
            return;
        }
        openConnection(acceptor.owner(), 0, acceptor.id(), service.name(), connection);
    }

    private void openConnection(
        final ClientSession owner,
        final long correlationId,
        final long acceptorId,
        final String service,
        final TransportConnection transport)
    {
        final long id = connections.allocate();
        if (0 == id)
        {
            recordError(new IllegalStateException("connection table full: refusing " + transport.remoteEndpoint()));
            if (0 != correlationId)
            {
                sendError(owner, correlationId, ErrorCode.RESOURCE_LIMIT, "the broker's connection table is full");
            }
            rejectConnection(transport);
            return;
        }
        final ServiceState serviceState = services.get(service);
        // Held on the owner's exit: connections accepted for a service that says so, through a transport that keeps
        // no message boundaries (the kept bytes are a byte stream), owned by a client that returns exact credit.
        final boolean holdable = 0 != acceptorId && null != serviceState &&
            OwnerExitPolicy.HOLD == serviceState.config().onOwnerExit() && !transport.keepsMessageBoundaries() &&
            owner.protocolMinor() >= HOLD_PROTOCOL_MINOR;
        final ConnectionSession session = new ConnectionSession(
            id, correlationId, acceptorId, owner, service, transport, sender,
            settings.creditWindowLength(), settings.maxPayloadLength(), 2 * 64 * 1024, holdable);
        connections.put(id, session);
        owner.connections().put(id, session);
        transport.handler(session);
        if (!tryPublishOpened(session))
        {
            opening.add(session);
        }
    }

    private boolean tryPublishOpened(final ConnectionSession session)
    {
        if (session.isOrphaned())
        {
            return true; // its owner died before it was opened: adoption opens it
        }
        final ClientSession owner = session.owner();
        final boolean adopted = Handover.ADOPTED == session.handover();
        if (!owner.isGone())
        {
            if (hasPendingEvents(owner))
            {
                return false;
            }
            final long result = EventEncoders.current().offerOpened(
                owner.eventPublication(),
                session.correlationId(),
                session.acceptorId(),
                session.id(),
                session.windowLength(),
                session.service(),
                session.localEndpoint(),
                session.remoteEndpoint(),
                null,
                session.handover());
            if (result == Publication.BACK_PRESSURED || result == Publication.ADMIN_ACTION)
            {
                return false;
            }
            owner.ring();
        }
        if (adopted)
        {
            session.markAdoptedOpen();
        }
        else
        {
            session.markOpenAndRead();
        }
        return true;
    }

    private int retryOpening()
    {
        int work = 0;
        for (int i = opening.size() - 1; i >= 0; i--)
        {
            if (tryPublishOpened(opening.get(i)))
            {
                opening.remove(i);
                work++;
            }
        }
        return work;
    }

    private static void rejectConnection(final TransportConnection connection)
    {
        rejectConnection(connection, CloseReason.SERVICE_REMOVED);
    }

    private static void rejectConnection(final TransportConnection connection, final CloseReason reason)
    {
        connection.handler(RejectedConnectionHandler.INSTANCE);
        connection.abort(reason);
    }

    // ------------------------------------------------------------------ unowned connections and activation

    /**
     * A connection arrived while no acceptor is registered: hold it (reading stays paused, as a new connection's
     * is, so its bytes wait in the transport, TCP's window pushing back on the peer) if the service queues
     * ({@code queue_when_unowned}) or activates ({@code exec}), and start the program if it does not run.
     *
     * An application's connect by name to a service that nobody accepts is held the same way (its answer waits).
     *
     * @return true when held; false when it is to be refused.
     */
    private boolean hold(
        final ServiceState service,
        final TransportConnection connection,
        final ClientSession client,
        final long correlationId)
    {
        final ServiceConfig config = service.config();
        final boolean activates = !config.exec().isEmpty() && !service.program().gaveUp();
        final long holdMs = config.queueWhenUnownedMs() > 0 ? config.queueWhenUnownedMs() :
            activates ? DEFAULT_ACTIVATION_HOLD_MS : 0;
        if (0 == holdMs)
        {
            return false;
        }
        if (service.held().size() >= MAX_HELD_CONNECTIONS_PER_SERVICE)
        {
            LOG.warn("service '{}' has no acceptor and holds {} connections already, the most it holds: refusing " +
                "the connection from {}", service.name(), service.held().size(), from(connection, client));
            return false;
        }
        final long nowMs = clock.time();
        final long deadlineMs = nowMs + holdMs;
        service.held().addLast(new ServiceState.HeldConnection(connection, client, correlationId, deadlineMs));
        nextTimerMs = Math.min(nextTimerMs, deadlineMs);
        LOG.info("service '{}' has no acceptor: holding the connection from {} for up to {} ms ({} held)",
            service.name(), from(connection, client), holdMs, service.held().size());
        if (activates)
        {
            activate(service, nowMs);
        }
        return true;
    }

    /**
     * Offer the held connections, in arrival order, to the service's acceptors (round robin).
     */
    private void handOverHeld(final ServiceState service)
    {
        int adopted = 0;
        long unconsumed = 0;
        while (!service.orphans().isEmpty())
        {
            final Acceptor acceptor = service.nextAcceptor();
            if (null == acceptor)
            {
                break;
            }
            final ConnectionSession session = service.orphans().pollFirst().session();
            unconsumed += session.adopt(acceptor.owner(), acceptor.id());
            acceptor.owner().connections().put(session.id(), session);
            if (!tryPublishOpened(session) && !opening.contains(session))
            {
                opening.add(session);
            }
            adopted++;
        }
        if (adopted > 0)
        {
            LOG.info("service '{}': {} held connection(s) adopted, {} byte(s) their previous owner had not " +
                "consumed delivered again first", service.name(), adopted, unconsumed);
        }
        int count = 0;
        while (!service.held().isEmpty())
        {
            final Acceptor acceptor = service.nextAcceptor();
            if (null == acceptor)
            {
                break;
            }
            final ServiceState.HeldConnection held = service.held().pollFirst();
            if (null != held.connection())
            {
                openConnection(acceptor.owner(), 0, acceptor.id(), service.name(), held.connection());
            }
            else if (!held.client().isGone())
            {
                openLocalLink(held.client(), held.correlationId(), service);
            }
            count++;
        }
        if (count > 0)
        {
            LOG.info("service '{}': {} held connection(s) handed to its acceptor(s)", service.name(), count);
        }
    }

    private void releaseHeld(final ServiceState service, final CloseReason reason, final String why)
    {
        if (!service.orphans().isEmpty())
        {
            LOG.info("service '{}': closing {} connection(s) held since their owner exited: {}", service.name(),
                service.orphans().size(), why);
            for (final ServiceState.Orphan orphan : service.orphans())
            {
                orphan.session().abort(reason, why);
            }
            service.orphans().clear();
        }
        if (!service.held().isEmpty())
        {
            LOG.info("service '{}': closing {} held connection(s): {}", service.name(), service.held().size(), why);
            for (final ServiceState.HeldConnection held : service.held())
            {
                refuseHeld(service, held, reason, why);
            }
            service.held().clear();
        }
    }

    private void refuseHeld(
        final ServiceState service, final ServiceState.HeldConnection held, final CloseReason reason, final String why)
    {
        if (null != held.connection())
        {
            rejectConnection(held.connection(), reason);
        }
        else
        {
            sendError(held.client(), held.correlationId(), ErrorCode.CONNECT_FAILED,
                "no application accepts service '" + service.name() + "': " + why);
        }
    }

    private static String from(final TransportConnection connection, final ClientSession client)
    {
        return null != connection ? String.valueOf(connection.remoteEndpoint()) : String.valueOf(client);
    }

    /**
     * Deadlines: close held connections whose time ran out, start programs whose restart back-off passed.
     */
    private int onTimers(final long nowMs)
    {
        int work = 0;
        long next = Long.MAX_VALUE;
        for (final ServiceState service : services.values())
        {
            final ArrayDeque<ServiceState.Orphan> orphans = service.orphans();
            if (!orphans.isEmpty())
            {
                final Iterator<ServiceState.Orphan> it = orphans.iterator();
                while (it.hasNext())
                {
                    final ServiceState.Orphan orphan = it.next();
                    if (orphan.deadlineMs() <= nowMs)
                    {
                        it.remove();
                        LOG.info("service '{}': no application adopted {} in time ({}): closing it", service.name(),
                            orphan.session(), service.config().key("queue_when_unowned"));
                        orphan.session().abort(CloseReason.TIMEOUT, "no application adopted it in time");
                        work++;
                    }
                    else
                    {
                        next = Math.min(next, orphan.deadlineMs());
                    }
                }
            }
            final ArrayDeque<ServiceState.HeldConnection> held = service.held();
            if (!held.isEmpty())
            {
                int expired = 0;
                final Iterator<ServiceState.HeldConnection> it = held.iterator();
                while (it.hasNext())
                {
                    final ServiceState.HeldConnection connection = it.next();
                    if (connection.deadlineMs() <= nowMs)
                    {
                        it.remove();
                        refuseHeld(service, connection, CloseReason.TIMEOUT, "no application registered it in time");
                        expired++;
                    }
                    else
                    {
                        next = Math.min(next, connection.deadlineMs());
                    }
                }
                if (expired > 0)
                {
                    LOG.info("service '{}': no acceptor registered in time ({}): closed {} held connection(s)",
                        service.name(), service.config().queueWhenUnownedMs() > 0 ?
                        service.config().key("queue_when_unowned") + " = " + service.config().queueWhenUnownedMs() +
                        " ms" : "activation hold " + DEFAULT_ACTIVATION_HOLD_MS + " ms", expired);
                    work += expired;
                }
            }
            final ServiceProgram program = service.program();
            if (program.restartAtMs() > 0)
            {
                if (program.restartAtMs() <= nowMs)
                {
                    program.restartAtMs(0);
                    startProgram(service, nowMs, "restart");
                    work++;
                }
                if (program.restartAtMs() > 0)
                {
                    next = Math.min(next, program.restartAtMs());
                }
            }
        }
        nextTimerMs = Math.min(next, nextTimerMs > nowMs ? nextTimerMs : Long.MAX_VALUE);
        return work;
    }

    /**
     * A connection waits for a service with {@code exec}: start its program unless it runs, waits for a restart or
     * the broker gave up.
     */
    private void activate(final ServiceState service, final long nowMs)
    {
        final ServiceProgram program = service.program();
        if (!program.isRunning() && 0 == program.restartAtMs() && !program.gaveUp())
        {
            startProgram(service, nowMs, "a connection arrived and no application accepts the service");
        }
    }

    private void startProgram(final ServiceState service, final long nowMs, final String why)
    {
        final ServiceConfig config = service.config();
        final ServiceProgram program = service.program();
        if (closed || programs.isStopping() || config.exec().isEmpty() || program.isRunning() ||
            services.get(service.name()) != service)
        {
            return;
        }
        if (startLimitReached(service, nowMs))
        {
            return;
        }
        program.recordStart(nowMs);
        try
        {
            final Process process = programs.start(config, (p, status) -> onProgramExited(service, p, status));
            program.process(process);
            LOG.info("service '{}': started its program {} (pid {}): {}", service.name(), describe(config.exec()),
                process.pid(), why);
        }
        catch (final IOException | RuntimeException ex)
        {
            LOG.error("service '{}': cannot start its program {} ({}): {}", service.name(),
                describe(config.exec()), config.key("exec"), ex.getMessage());
            afterProgramEnded(service, false, nowMs);
        }
    }

    /**
     * The start limit: when the program started {@link ProgramSupervisor#MAX_STARTS} times within the interval, give
     * up (until a reload), and close the connections that waited for it unless the service queues them anyway.
     */
    private boolean startLimitReached(final ServiceState service, final long nowMs)
    {
        final ServiceConfig config = service.config();
        final ServiceProgram program = service.program();
        if (program.recentStarts(nowMs, ProgramSupervisor.START_INTERVAL_MS) < ProgramSupervisor.MAX_STARTS)
        {
            return false;
        }
        program.gaveUp(true);
        program.restartAtMs(0);
        LOG.error("service '{}': its program ({}) started {} times within {} s: giving up ({} = \"{}\"); the " +
            "broker starts it again after a reload", service.name(), config.key("exec"),
            ProgramSupervisor.MAX_STARTS, ProgramSupervisor.START_INTERVAL_MS / 1000, config.key("restart"),
            config.restart().configName());
        if (config.queueWhenUnownedMs() <= 0)
        {
            releaseHeld(service, CloseReason.TIMEOUT, "its program will not be started");
        }
        return true;
    }

    /**
     * A command line for the log, shortened: a Java program's class path alone can be kilobytes long.
     */
    private static String describe(final List<String> command)
    {
        final String text = String.join(" ", command);
        return text.length() <= 200 ? text : text.substring(0, 150) + " ... " + text.substring(text.length() - 45);
    }

    private void onProgramExited(final ServiceState service, final Process process, final int status)
    {
        final ServiceProgram program = service.program();
        if (program.process() == process)
        {
            program.process(null);
        }
        LOG.info("service '{}': its program (pid {}) exited with status {}{}", service.name(), process.pid(), status,
            status > 128 ? " (signal " + (status - 128) + ")" : "");
        afterProgramEnded(service, 0 == status, clock.time());
    }

    /**
     * Restart a program that ended (or failed to start) if its restart policy says so, or if connections wait for
     * it, after a back-off; the start limit applies.
     */
    private void afterProgramEnded(final ServiceState service, final boolean succeeded, final long nowMs)
    {
        final ServiceConfig config = service.config();
        final ServiceProgram program = service.program();
        if (closed || programs.isStopping() || config.exec().isEmpty() || services.get(service.name()) != service ||
            program.gaveUp())
        {
            return;
        }
        final RestartPolicy policy = config.restart();
        final boolean byPolicy = RestartPolicy.ALWAYS == policy || (RestartPolicy.ON_FAILURE == policy && !succeeded);
        if ((byPolicy || !service.held().isEmpty()) && !startLimitReached(service, nowMs))
        {
            final long delayMs = ProgramSupervisor.restartDelayMs(
                program.recentStarts(nowMs, ProgramSupervisor.START_INTERVAL_MS));
            program.restartAtMs(nowMs + delayMs);
            nextTimerMs = Math.min(nextTimerMs, nowMs + delayMs);
            LOG.info("service '{}': restarting its program in {} ms ({})", service.name(), delayMs,
                byPolicy ? config.key("restart") + " = \"" + policy.configName() + "\"" : "connections wait for it");
        }
    }

    /**
     * Stop the programs the broker started (SIGTERM, then SIGKILL after a grace time), while the conductor still
     * serves them, so that they can close their connections. Called by the broker's stop before the agents stop; no
     * program starts after it. Any thread; blocks up to the grace time.
     */
    public void stopPrograms()
    {
        programs.stopAll();
    }

    /**
     * The sender published the connection's ConnectionClosed event: release its id.
     *
     * @param session the connection.
     */
    void onConnectionReleased(final ConnectionSession session)
    {
        connections.free(session.id());
        session.owner().connections().remove(session.id());
        opening.remove(session);
    }

    // ------------------------------------------------------------------ app-to-app connections

    private void openLocalLink(final ClientSession client, final long correlationId, final ServiceState service)
    {
        Acceptor acceptor = null;
        for (int i = 0, size = service.acceptors().size(); i < size; i++)
        {
            final Acceptor candidate = service.nextAcceptor();
            if (candidate.owner() != client && !candidate.owner().isGone())
            {
                acceptor = candidate;
                break;
            }
        }
        if (null == acceptor)
        {
            sendError(client, correlationId, ErrorCode.CONNECT_FAILED, "the only application that accepts '" +
                service.name() + "' is this one: an application cannot connect to itself");
            return;
        }
        final long id = connections.allocate();
        if (0 == id)
        {
            sendError(client, correlationId, ErrorCode.RESOURCE_LIMIT, "the broker's connection table is full");
            return;
        }
        final ClientSession server = acceptor.owner();
        final LocalLink link = new LocalLink(id, service.name(), server, client);
        localLinks.put(id, link);
        server.localLinks().add(id);
        client.localLinks().add(id);
        LOG.debug("{} opened", link);

        final int window = settings.creditWindowLength();
        final Endpoint serverEndpoint = localEndpointOf(server);
        final Endpoint clientEndpoint = localEndpointOf(client);
        final long acceptorId = acceptor.id();
        // The acceptor's event first, the connector's only once it is published: the connector may send at once,
        // and the acceptor must know the connection by then (it holds back link frames of unknown connections
        // until its event stream has caught up).
        sendEvent(server, () ->
        {
            final long result = EventEncoders.current().offerOpened(server.eventPublication(), 0, acceptorId, id,
                window, service.name(), serverEndpoint, clientEndpoint, client, Handover.CLOSE);
            if (result > 0)
            {
                post(() -> sendEvent(client, () -> EventEncoders.current().offerOpened(client.eventPublication(),
                    correlationId, 0, id, window, service.name(), clientEndpoint, serverEndpoint, server,
                    Handover.CLOSE)));
            }
            return result;
        });
    }

    private static Endpoint localEndpointOf(final ClientSession client)
    {
        final PeerCredentials credentials = client.credentials();
        return Endpoint.local(credentials.pid(), credentials.uid(), credentials.gid());
    }

    /**
     * Sender: a client closed a connection the sender does not know; it may be an app-to-app connection.
     *
     * @param client       the client.
     * @param connectionId the connection.
     */
    void onLocalClose(final ClientSession client, final long connectionId)
    {
        final LocalLink link = localLinks.get(connectionId);
        if (null == link || !link.isSide(client))
        {
            return;
        }
        if (link.onClosedBy(client))
        {
            releaseLocalLink(link);
        }
    }

    private void closeLocalLinksOf(final ClientSession client)
    {
        final LongHashSet.LongIterator ids = client.localLinks().iterator();
        while (ids.hasNext())
        {
            final LocalLink link = localLinks.get(ids.nextValue());
            if (null == link)
            {
                continue;
            }
            final ClientSession peer = link.peerOf(client);
            if (!link.isClosedBy(peer) && !peer.isGone())
            {
                final long id = link.id();
                final String detail = "the other application (pid " + client.credentials().pid() + ") exited";
                sendEvent(peer, () -> EventEncoders.current().offerClosed(
                    peer.eventPublication(), id, CloseReason.OWNER_EXITED, detail));
            }
            localLinks.remove(link.id());
            connections.free(link.id());
            peer.localLinks().remove(link.id());
        }
        client.localLinks().clear();
    }

    private void releaseLocalLink(final LocalLink link)
    {
        LOG.debug("{} closed", link);
        localLinks.remove(link.id());
        connections.free(link.id());
        link.acceptorSide().localLinks().remove(link.id());
        link.connectorSide().localLinks().remove(link.id());
    }

    // ------------------------------------------------------------------ events with retry

    private void sendError(final ClientSession client, final long correlationId, final ErrorCode code, final String msg)
    {
        LOG.info("{}: command {} failed: {}: {}", client, correlationId, code, msg);
        sendEvent(client, () -> EventEncoders.current().offerError(
            client.eventPublication(), correlationId, code, msg));
    }

    private interface Offer
    {
        long offer();
    }

    private void sendEvent(final ClientSession client, final Offer offer)
    {
        if (client.isGone())
        {
            return;
        }
        final BooleanSupplier attempt = () ->
        {
            final long result = offer.offer();
            if (result > 0)
            {
                client.ring();
            }
            return result != Publication.BACK_PRESSURED && result != Publication.ADMIN_ACTION;
        };
        final ArrayDeque<BooleanSupplier> queue = pendingEvents.get(client.clientId());
        if (null == queue && attempt.getAsBoolean())
        {
            return;
        }
        pendingEvents.computeIfAbsent(client.clientId(), (id) -> new ArrayDeque<>()).add(attempt);
    }

    private boolean hasPendingEvents(final ClientSession client)
    {
        return pendingEvents.containsKey(client.clientId());
    }

    private int retryPendingEvents()
    {
        if (pendingEvents.isEmpty())
        {
            return 0;
        }
        int work = 0;
        final Iterator<ArrayDeque<BooleanSupplier>> queues = pendingEvents.values().iterator();
        while (queues.hasNext())
        {
            final ArrayDeque<BooleanSupplier> queue = queues.next();
            while (!queue.isEmpty() && queue.peek().getAsBoolean())
            {
                queue.poll();
                work++;
            }
            if (queue.isEmpty())
            {
                queues.remove();
            }
        }
        return work;
    }

    private static final class RejectedConnectionHandler implements ConnectionHandler
    {
        static final RejectedConnectionHandler INSTANCE = new RejectedConnectionHandler();

        public void onData(final DirectBuffer buffer, final int offset, final int length)
        {
        }

        public void onWritten(final int length)
        {
        }

        public void onClosed(final CloseReason reason, final String detail)
        {
        }
    }
}
