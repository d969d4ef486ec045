package dev.mancom.broker;

import dev.mancom.broker.config.BrokerConfig;
import dev.mancom.broker.config.ConfigException;
import dev.mancom.broker.config.ConfigLoader;
import dev.mancom.broker.config.IdleProfile;
import dev.mancom.broker.internal.BrokerConductor;
import dev.mancom.broker.internal.Accounts;
import dev.mancom.broker.internal.ConnectionTable;
import dev.mancom.broker.internal.FileModes;
import dev.mancom.broker.internal.Sender;
import dev.mancom.protocol.Endpoint;
import dev.mancom.protocol.BrokerDirectory;
import dev.mancom.protocol.Doorbell;
import dev.mancom.protocol.Frames;
import dev.mancom.protocol.MarkFileDescriptor;
import dev.mancom.protocol.ProtocolVersion;
import dev.mancom.transport.Transport;
import dev.mancom.transport.TransportContext;
import io.aeron.Aeron;
import io.aeron.CncFileDescriptor;
import io.aeron.driver.MediaDriver;
import io.aeron.driver.ThreadingMode;
import io.aeron.logbuffer.FrameDescriptor;
import org.agrona.CloseHelper;
import org.agrona.IoUtil;
import org.agrona.concurrent.AgentRunner;
import org.agrona.concurrent.EpochClock;
import org.agrona.concurrent.SystemEpochClock;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.errors.DistinctErrorLog;
import org.agrona.concurrent.status.AtomicCounter;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.File;
import java.io.IOException;
import java.net.URLClassLoader;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BiConsumer;

/**
 * The ManCom broker: owns every transport and hands connections and their bytes to applications over shared
 * memory. Start it with {@link #launch(Context)}, in its own process (the {@code mancom broker} command) or
 * embedded in an application's JVM; the client API is the same.
 * <p>
 * Threads: a conductor (control socket, registries, the embedded media driver's duty cycle), a sender (the
 * clients' command streams and the outbound data path) and the transports' I/O threads. Their number does not grow
 * with applications or connections.
 */
public final class Broker implements AutoCloseable
{
    private static final Logger LOG = LoggerFactory.getLogger(Broker.class);

    /** Length of the distinct error log file. */
    static final int ERROR_LOG_LENGTH = 1024 * 1024;

    /** File name of the distinct error log in the broker directory. */
    public static final String ERROR_LOG_FILE_NAME = "errors.dat";

    /**
     * Directories locked by brokers of this JVM. POSIX record locks belong to the process and are dropped when any
     * descriptor of the file closes, so this JVM must never open another broker's lock file to test it.
     */
    static final Set<Path> LOCKED_IN_THIS_JVM = ConcurrentHashMap.newKeySet();

    /** No {@code [broker] group}: the directory is the broker's user's alone. */
    static final int NO_GROUP = -1;

    private final Context ctx;
    private final AtomicBoolean closed = new AtomicBoolean();
    private final Map<String, Transport> transports = new LinkedHashMap<>();
    private final List<URLClassLoader> pluginClassLoaders = new ArrayList<>();
    private boolean lockedInThisJvm;
    private FileChannel lockChannel;
    private FileLock lock;
    private MappedByteBuffer markFileMapping;
    private MappedByteBuffer errorLogMapping;
    private MediaDriver driver;
    private Aeron aeron;
    private BrokerConductor conductor;
    private AgentRunner conductorRunner;
    private AgentRunner senderRunner;
    private volatile Map<String, List<Endpoint>> endpoints = Collections.emptyMap();
    private volatile BrokerConfig runningConfig;
    private volatile BiConsumer<ReloadReport, RuntimeException> reloadListener;

    private Broker(final Context ctx)
    {
        this.ctx = ctx;
    }

    /**
     * Start a broker: lock the directory, map the mark file, start the media driver, bind every service, start
     * the agents and raise the ready flag. Returns once the broker serves.
     *
     * @param ctx the configuration; concluded here.
     * @return the running broker.
     * @throws BrokerAlreadyRunningException when a live broker holds the directory.
     * @throws dev.mancom.broker.config.ConfigException when the configuration is wrong, or a URI of a service has
     *                                                  no transport, is refused by it or cannot be bound: naming the
     *                                                  file, line and key.
     */
    public static Broker launch(final Context ctx)
    {
        ctx.conclude();
        final Broker broker = new Broker(ctx);
        try
        {
            broker.start();
            return broker;
        }
        catch (final Throwable ex)
        {
            broker.close();
            throw ex;
        }
    }

    private void start()
    {
        final Path dir = ctx.brokerDir();
        final EpochClock clock = SystemEpochClock.INSTANCE;
        if (!LOCKED_IN_THIS_JVM.add(dir))
        {
            throw new BrokerAlreadyRunningException(dir, ProcessHandle.current().pid());
        }
        lockedInThisJvm = true;
        try
        {
            createPrivateDirectory(dir);
            refuseSharedDirectory(dir);
            // The lock file stays the broker's own: whoever can open it for writing can hold the next broker out.
            lockChannel = FileChannel.open(dir.resolve(MarkFileDescriptor.LOCK_FILE_NAME),
                Set.of(StandardOpenOption.CREATE, StandardOpenOption.WRITE),
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
            lock = lockChannel.tryLock();
        }
        catch (final IOException ex)
        {
            throw new IllegalStateException("cannot use broker directory " + dir + ": " + ex, ex);
        }
        if (null == lock)
        {
            CloseHelper.quietClose(lockChannel);
            lockChannel = null;
            final BrokerDirectory.Mark mark = BrokerDirectory.read(dir);
            throw new BrokerAlreadyRunningException(dir, null == mark ? -1 : mark.pid());
        }

        // The lock is ours: whatever a dead broker left here is stale.
        final Path markPath = dir.resolve(MarkFileDescriptor.MARK_FILE_NAME);
        deleteQuietly(markPath);
        deleteQuietly(dir.resolve(MarkFileDescriptor.CONTROL_SOCKET_NAME));
        deleteQuietly(dir.resolve(ERROR_LOG_FILE_NAME));
        // Only now that the lock is ours: a broker already running here keeps the modes it set.
        final int groupId = ctx.groupId();
        final int sharedFileMode = NO_GROUP == groupId ? 0600 : 0640;
        secureDirectory(dir, groupId);
        setMode(dir.resolve(MarkFileDescriptor.LOCK_FILE_NAME), 0600);

        markFileMapping = IoUtil.mapNewFile(markPath.toFile(), MarkFileDescriptor.FILE_LENGTH);
        setMode(markPath, sharedFileMode);
        final UnsafeBuffer markFile = new UnsafeBuffer(markFileMapping);
        final long nowMs = clock.time();
        markFile.putLong(MarkFileDescriptor.PID_OFFSET, ProcessHandle.current().pid());
        markFile.putLong(MarkFileDescriptor.START_TIMESTAMP_OFFSET, nowMs);
        markFile.putLong(MarkFileDescriptor.HEARTBEAT_OFFSET, nowMs);
        markFile.putInt(MarkFileDescriptor.PROTOCOL_MAJOR_OFFSET, ProtocolVersion.MAJOR);
        markFile.putInt(MarkFileDescriptor.PROTOCOL_MINOR_OFFSET, ProtocolVersion.MINOR);
        final byte[] source = ctx.config().source().getBytes(StandardCharsets.UTF_8);
        final int sourceLength = Math.min(source.length, MarkFileDescriptor.CONFIG_PATH_MAX_LENGTH);
        markFile.putInt(MarkFileDescriptor.CONFIG_PATH_OFFSET, sourceLength);
        markFile.putBytes(MarkFileDescriptor.CONFIG_PATH_OFFSET + 4, source, 0, sourceLength);
        markFile.putIntRelease(MarkFileDescriptor.VERSION_OFFSET, MarkFileDescriptor.LAYOUT_VERSION);

        errorLogMapping = IoUtil.mapNewFile(dir.resolve(ERROR_LOG_FILE_NAME).toFile(), ERROR_LOG_LENGTH);
        setMode(dir.resolve(ERROR_LOG_FILE_NAME), sharedFileMode);
        final DistinctErrorLog errorLog = new DistinctErrorLog(new UnsafeBuffer(errorLogMapping), clock);

        final Path aeronPath = dir.resolve(MarkFileDescriptor.AERON_DIR_NAME);
        final String aeronDir = aeronPath.toString();
        final MediaDriver.Context driverCtx = new MediaDriver.Context()
            .aeronDirectoryName(aeronDir)
            .threadingMode(ThreadingMode.INVOKER)
            .dirDeleteOnStart(true)
            .dirDeleteOnShutdown(true)
            .warnIfDirectoryExists(false)
            .asyncExecutorEnabled(false)
            .ipcTermBufferLength(ctx.termLength())
            .ipcMtuLength(ctx.mtuLength())
            .counterValuesBufferLength(1024 * 1024)
            .conductorBufferLength(1024 * 1024 + 768)
            .toClientsBufferLength(1024 * 1024 + 128)
            // Liveness of applications comes from their control socket, which the kernel closes when they die;
            // the broker then frees their Aeron resources at once. Aeron's own keep-alive time-outs would close an
            // application that did not poll for a while (a paused JVM, a blocked thread), so they are made long.
            .clientLivenessTimeoutNs(ctx.aeronLivenessTimeoutNs())
            .publicationUnblockTimeoutNs(ctx.aeronLivenessTimeoutNs() + TimeUnit.SECONDS.toNanos(1))
            .spiesSimulateConnection(false);
        driver = MediaDriver.launch(driverCtx);
        if (NO_GROUP != groupId)
        {
            // The umask made them so already; said again in case the directory's set-group-id bit was lost.
            setMode(aeronPath, 02770);
            setMode(aeronPath.resolve(CncFileDescriptor.CNC_FILE), 0660);
        }

        aeron = Aeron.connect(new Aeron.Context()
            .aeronDirectoryName(aeronDir)
            .clientName("mancom-broker")
            .useConductorAgentInvoker(true)
            .driverAgentInvoker(driver.sharedAgentInvoker())
            .errorHandler((ex) -> LOG.warn("aeron: {}", ex.toString())));
        final AtomicCounter errorCounter = aeron.addCounter(ManComCounters.ERRORS_TYPE_ID, "mancom broker errors");

        final TransportContext transportContext = new TransportContext(
            ctx.ioThreads(), "mancom-io", (ex) -> LOG.warn("transport error: {}", ex.toString()));
        final TransportLoader loaded =
            TransportLoader.load(ctx.classLoader(), ctx.pluginsDir(), ctx.config(), transportContext);
        transports.putAll(loaded.transports());
        pluginClassLoaders.addAll(loaded.classLoaders());
        LOG.info("transports: {}", loaded.origins());

        final ConnectionTable connections = new ConnectionTable(ctx.maxConnections());
        final BrokerConductor.Settings settings = new BrokerConductor.Settings(
            dir,
            ctx.creditWindowLength(),
            ctx.termLength(),
            ctx.maxPayloadLength(),
            ctx.channel(),
            ctx.config().services());
        try
        {
            conductor = new BrokerConductor(
                settings, aeron, driver.sharedAgentInvoker(), transports, connections, markFile, errorLog,
                errorCounter, clock);
        }
        catch (final IOException ex)
        {
            throw new IllegalStateException("cannot bind the control socket in " + dir + ": " + ex, ex);
        }
        final boolean spin = IdleProfile.SPIN == ctx.idleProfile();
        final AtomicCounter senderDoorbellCounter = aeron.addCounter(
            ManComCounters.DOORBELL_TYPE_ID, "mancom sender doorbell");
        final Sender sender;
        try
        {
            sender = new Sender(conductor, connections, ctx.maxConnections(), errorCounter,
                new Doorbell(aeron.countersReader().valuesBuffer(), senderDoorbellCounter.id()), spin);
        }
        catch (final IOException ex)
        {
            throw new IllegalStateException("cannot open the sender's selector: " + ex, ex);
        }
        conductor.sender(sender);
        conductor.senderDoorbellCounterId(senderDoorbellCounter.id());
        runningConfig = ctx.config();
        conductor.bindServices();
        endpoints = conductor.listenEndpoints();
        conductor.reloadHandler(() ->
        {
            try
            {
                return reloadOnConductor().describe();
            }
            catch (final ConfigException ex)
            {
                // Every problem, not only the first: the requester fixes them all at once.
                throw new IllegalStateException(String.join("\n", ex.errors()), ex);
            }
        });

        conductorRunner = new AgentRunner(conductor.idleStrategy(), this::onAgentError, errorCounter, conductor);
        senderRunner = new AgentRunner(sender.idleStrategy(), this::onAgentError, errorCounter, sender);
        AgentRunner.startOnThread(conductorRunner);
        AgentRunner.startOnThread(senderRunner);

        markFile.putIntRelease(MarkFileDescriptor.READY_OFFSET, 1);
        LOG.info("ManCom broker ready: pid {}, directory {}, configuration {}, services {}",
            ProcessHandle.current().pid(), dir, ctx.config().source(), endpoints);
    }

    /**
     * A new broker directory is made with mode 0700 at once, so that nobody else can open what is made in it
     * before {@link #secureDirectory} sets its final mode.
     */
    private static void createPrivateDirectory(final Path dir) throws IOException
    {
        if (Files.isDirectory(dir))
        {
            return;
        }
        if (null != dir.getParent())
        {
            Files.createDirectories(dir.getParent());
        }
        try
        {
            Files.createDirectory(
                dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        }
        catch (final FileAlreadyExistsException ignore)
        {
            // made meanwhile by another process; its mode is checked and set as for any existing directory
        }
    }

    /**
     * The broker sets its directory's mode: never that of a directory every user shares.
     */
    private static void refuseSharedDirectory(final Path dir)
    {
        try
        {
            final int mode = (Integer)Files.getAttribute(dir, "unix:mode");
            if (0 != (mode & 01002))
            {
                // Such as /dev/shm or /tmp themselves: their modes must never be changed.
                throw new IllegalStateException("broker directory " + dir + " is shared by every user (mode " +
                    String.format("%04o", mode & 07777) + "): give the broker a directory of its own, such as " +
                    dir.resolve("mancom"));
            }
        }
        catch (final IOException | UnsupportedOperationException ex)
        {
            throw new IllegalStateException("cannot read the mode of broker directory " + dir + ": " + ex, ex);
        }
    }

    /**
     * Look {@code [broker] group} up in the system's group database, as a start does; {@link ConfigCheck} calls it
     * too, so that {@code mancom config check} refuses what a start would.
     *
     * @param config the configuration.
     * @return the gid, or {@link #NO_GROUP} when no group is configured.
     * @throws ConfigException naming the file, line and key when the name is not a known group (nor a numeric gid).
     */
    static int resolveGroup(final BrokerConfig config)
    {
        if (null == config.group())
        {
            return NO_GROUP;
        }
        final int groupId = Accounts.groupId(config.group());
        if (Accounts.UNKNOWN == groupId)
        {
            throw config.error("group", Accounts.unknownName(config.group(), false));
        }
        return groupId;
    }

    /**
     * Who can open the broker directory, and with it the shared memory of every application: without
     * {@code [broker] group}, only the broker's user (mode 0700); with it, the group too (mode 02770: files made
     * here belong to the group, and the process's umask becomes 0007, so that the files the media driver creates
     * for each stream are readable and writable by the group and by nobody else). Done before any file is made
     * here, so that nobody else can open one in between.
     */
    private void secureDirectory(final Path dir, final int groupId)
    {
        if (NO_GROUP == groupId)
        {
            setMode(dir, 0700);
        }
        else
        {
            final int previous = FileModes.umask(0007);
            if (0007 != previous)
            {
                LOG.info("file mode creation mask set from {} to 0007 for the group of {}",
                    String.format("%04o", previous), dir);
            }
            try
            {
                FileModes.chgrp(dir, groupId);
            }
            catch (final IOException ex)
            {
                throw ctx.config().error("group", "cannot give the broker directory to group " +
                    ctx.config().group() + ": " + ex.getMessage());
            }
            setMode(dir, 02770);
        }
    }

    private static void setMode(final Path path, final int mode)
    {
        try
        {
            FileModes.chmod(path, mode);
        }
        catch (final IOException ex)
        {
            throw new IllegalStateException("cannot secure the broker directory: " + ex.getMessage(), ex);
        }
    }

    private void onAgentError(final Throwable error)
    {
        LOG.warn("agent error: {}", error.toString(), error);
    }

    /**
     * The broker's configuration, concluded.
     *
     * @return the context.
     */
    public Context context()
    {
        return ctx;
    }

    /**
     * The configuration in force: the one the broker started with, or the last one a {@link #reload()} applied.
     *
     * @return the configuration.
     */
    public BrokerConfig config()
    {
        return runningConfig;
    }

    /**
     * Re-read the configuration the broker was started with and apply it live, all or nothing, as
     * {@code mancom reload} and SIGHUP do. Services' listeners are bound and closed to match the file, services
     * are added and removed, and their settings change; connections are never closed by a reload, and
     * applications notice nothing. The {@code [broker]} settings take effect only on restart: a file that changes
     * one is refused. Any thread; the work runs on the conductor, one reload at a time.
     *
     * @return what changed.
     * @throws ConfigException when the reload is refused (the file is wrong, a {@code [broker]} setting changed, a
     *                         URI cannot be bound, there is no file to re-read), naming the file, line and key; the
     *                         running configuration is kept.
     * @throws IllegalStateException when the broker is not running.
     */
    public ReloadReport reload()
    {
        if (closed.get() || null == conductorRunner)
        {
            throw new IllegalStateException("the broker is not running");
        }
        final CompletableFuture<ReloadReport> result = new CompletableFuture<>();
        conductor.post(() ->
        {
            try
            {
                result.complete(reloadOnConductor());
            }
            catch (final RuntimeException ex)
            {
                result.completeExceptionally(ex);
            }
        });
        while (true)
        {
            try
            {
                return result.get(100, TimeUnit.MILLISECONDS);
            }
            catch (final TimeoutException ex)
            {
                if (closed.get())
                {
                    throw new IllegalStateException("the broker stopped before the reload ran");
                }
            }
            catch (final ExecutionException ex)
            {
                if (ex.getCause() instanceof RuntimeException cause)
                {
                    throw cause;
                }
                throw new IllegalStateException(ex.getCause());
            }
            catch (final InterruptedException ex)
            {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while waiting for the reload", ex);
            }
        }
    }

    /**
     * Be told of every reload, however it was asked for ({@link #reload()}, SIGHUP, {@code mancom reload}): with its
     * report when applied, or with why it was refused. Called on the conductor thread: it must not block.
     *
     * @param listener gets (report, null) or (null, failure); null to stop.
     */
    public void reloadListener(final BiConsumer<ReloadReport, RuntimeException> listener)
    {
        reloadListener = listener;
    }

    private void tellReloadListener(final ReloadReport report, final RuntimeException failure)
    {
        final BiConsumer<ReloadReport, RuntimeException> listener = reloadListener;
        if (null != listener)
        {
            try
            {
                listener.accept(report, failure);
            }
            catch (final RuntimeException ex)
            {
                LOG.warn("reload listener failed: {}", ex.toString());
            }
        }
    }

    /**
     * Read, check and apply the configuration. Conductor thread: the conductor is the single writer of services,
     * so reloads never overlap with each other nor with the registrations of applications.
     */
    private ReloadReport reloadOnConductor()
    {
        final BrokerConfig running = runningConfig;
        final BrokerConfig fresh;
        final List<String> changes;
        try
        {
            fresh = ctx.reread();
            if (!fresh.source().equals(running.source()))
            {
                throw new ConfigException(running.source(), 0, null, "the broker was started with this file but " +
                    "its configuration is now found in " + fresh.source() + "; restart the broker to change where " +
                    "its configuration comes from");
            }
            final List<ConfigException> problems = new ArrayList<>();
            final ConfigException restartOnly = fresh.restartOnlyChanges(running);
            if (null != restartOnly)
            {
                problems.add(restartOnly);
            }
            try
            {
                SupportedFeatures.check(fresh);
                conductor.validate(fresh.services());
            }
            catch (final ConfigException ex)
            {
                problems.add(ex);
            }
            if (!problems.isEmpty())
            {
                throw ConfigException.combine(problems);
            }
            changes = conductor.applyServices(fresh.services(), true);
        }
        catch (final ConfigException ex)
        {
            LOG.warn("reload refused, the running configuration is kept: {}", String.join("; ", ex.errors()));
            tellReloadListener(null, ex);
            throw ex;
        }
        catch (final RuntimeException ex)
        {
            LOG.warn("reload refused, the running configuration is kept: {}", ex.toString());
            tellReloadListener(null, ex);
            throw ex;
        }
        for (final String warning : fresh.warnings())
        {
            LOG.warn("{}", warning);
        }
        runningConfig = fresh;
        endpoints = conductor.listenEndpoints();
        for (final String change : changes)
        {
            LOG.info("reload: {}", change);
        }
        final ReloadReport report = new ReloadReport(fresh.source(), changes);
        LOG.info("{}", report.summary());
        tellReloadListener(report, null);
        return report;
    }

    /**
     * The conductor's last heartbeat in the mark file: it is beaten every
     * {@value MarkFileDescriptor#HEARTBEAT_INTERVAL_MS} ms while the conductor's duty cycle runs, so an old one means
     * the conductor is stuck. Any thread, but not while {@link #close()} runs (it unmaps the mark file).
     *
     * @return epoch milliseconds, or 0 when the broker is not running.
     */
    public long heartbeatMs()
    {
        final MappedByteBuffer mapping = markFileMapping;
        if (null == mapping || closed.get())
        {
            return 0;
        }
        return new UnsafeBuffer(mapping).getLongVolatile(MarkFileDescriptor.HEARTBEAT_OFFSET);
    }

    /**
     * Where every service listens, with the ports the system chose for port 0.
     *
     * @return endpoints by service name.
     */
    public Map<String, List<Endpoint>> listenEndpoints()
    {
        return endpoints;
    }

    /**
     * The first endpoint a service listens on.
     *
     * @param service the service's name.
     * @return the endpoint.
     * @throws IllegalArgumentException when the service does not listen.
     */
    public Endpoint listenEndpoint(final String service)
    {
        final List<Endpoint> list = endpoints.get(service);
        if (null == list || list.isEmpty())
        {
            throw new IllegalArgumentException("service '" + service + "' does not listen");
        }
        return list.get(0);
    }

    /**
     * Stop: close every connection and listener, stop the agents and the media driver, and remove what the broker
     * mapped in its directory. Idempotent.
     */
    public void close()
    {
        if (!closed.compareAndSet(false, true))
        {
            return;
        }
        final Path dir = ctx.brokerDir();
        if (null != markFileMapping)
        {
            new UnsafeBuffer(markFileMapping).putIntRelease(MarkFileDescriptor.READY_OFFSET, 0);
        }
        if (null != conductor)
        {
            // While the agents still run, so that the programs close their connections and detach cleanly.
            conductor.stopPrograms();
        }
        CloseHelper.quietCloseAll(conductorRunner, senderRunner);
        if (null == conductorRunner && null != conductor)
        {
            conductor.onClose();
        }
        TransportLoader.closeTransports(transports);
        TransportLoader.closeClassLoaders(pluginClassLoaders);
        CloseHelper.quietCloseAll(aeron, driver);
        if (null != errorLogMapping)
        {
            IoUtil.unmap(errorLogMapping);
            deleteQuietly(dir.resolve(ERROR_LOG_FILE_NAME));
        }
        if (null != markFileMapping)
        {
            IoUtil.unmap(markFileMapping);
            deleteQuietly(dir.resolve(MarkFileDescriptor.MARK_FILE_NAME));
        }
        if (null != lock)
        {
            deleteQuietly(dir.resolve(MarkFileDescriptor.CONTROL_SOCKET_NAME));
            deleteQuietly(dir.resolve(MarkFileDescriptor.LOCK_FILE_NAME));
            CloseHelper.quietClose(lock::release);
            CloseHelper.quietClose(lockChannel);
            final File aeronDir = dir.resolve(MarkFileDescriptor.AERON_DIR_NAME).toFile();
            if (aeronDir.exists())
            {
                IoUtil.delete(aeronDir, true);
            }
            if (ctx.deleteDirOnClose())
            {
                try
                {
                    Files.deleteIfExists(dir);
                }
                catch (final IOException ex)
                {
                    LOG.info("broker directory {} kept: {}", dir, ex.toString());
                }
            }
            LOG.info("ManCom broker stopped");
        }
        if (lockedInThisJvm)
        {
            LOCKED_IN_THIS_JVM.remove(dir);
        }
    }

    private static void deleteQuietly(final Path path)
    {
        try
        {
            Files.deleteIfExists(path);
        }
        catch (final IOException ex)
        {
            LOG.warn("could not delete {}: {}", path, ex.toString());
        }
    }

    /**
     * The default broker directory; see {@link BrokerDirectory#defaultDirectory()}.
     *
     * @return the directory.
     */
    public static Path defaultDirectory()
    {
        return BrokerDirectory.defaultDirectory();
    }

    /**
     * The broker's configuration. Settings left unset come from the configuration file's {@code [broker]} table,
     * then from the defaults. {@link #conclude()} validates and freezes it.
     */
    public static final class Context
    {
        /** System property naming the broker directory. */
        public static final String DIR_PROP_NAME = BrokerDirectory.DIR_PROP_NAME;
        /** System property naming the configuration file. */
        public static final String CONFIG_PROP_NAME = "mancom.config";
        /** Default Aeron liveness time-out; see {@link #aeronLivenessTimeoutNs()}. */
        public static final long AERON_LIVENESS_TIMEOUT_DEFAULT_NS = TimeUnit.HOURS.toNanos(24);
        /** Aeron IPC MTU: the largest message written to a client stream in one piece. */
        public static final int MTU_LENGTH_DEFAULT = 64 * 1024 - 32;

        private boolean concluded;
        private boolean configGivenInCode;
        private Path brokerDir;
        private int groupId = NO_GROUP;
        private Path configFile;
        private BrokerConfig config;
        private Integer ioThreads;
        private Integer creditWindowLength;
        private Integer termLength;
        private Integer maxConnections;
        private IdleProfile idleProfile;
        private int mtuLength = MTU_LENGTH_DEFAULT;
        private long aeronLivenessTimeoutNs = AERON_LIVENESS_TIMEOUT_DEFAULT_NS;
        private boolean deleteDirOnClose = false;
        private ClassLoader classLoader = Broker.class.getClassLoader();
        private Path pluginsDir;

        /**
         * Validate every setting and fill the unset ones. Called by {@link Broker#launch(Context)}.
         *
         * @return this.
         */
        public Context conclude()
        {
            if (concluded)
            {
                return this;
            }
            configGivenInCode = null != config;
            if (null == config)
            {
                if (null == configFile)
                {
                    final String prop = System.getProperty(CONFIG_PROP_NAME);
                    if (null != prop && !prop.isEmpty())
                    {
                        configFile = Paths.get(prop);
                    }
                }
                config = null != configFile ? ConfigLoader.load(configFile) : ConfigLoader.resolve(System.getenv());
            }
            for (final String warning : config.warnings())
            {
                LOG.warn("{}", warning);
            }
            SupportedFeatures.check(config);
            groupId = resolveGroup(config);
            if (null == brokerDir)
            {
                brokerDir = null != config.dir() ? Paths.get(config.dir()) : defaultDirectory();
            }
            brokerDir = brokerDir.toAbsolutePath();
            if (null == pluginsDir && null != config.plugins())
            {
                pluginsDir = Paths.get(config.plugins());
            }
            if (null != pluginsDir)
            {
                pluginsDir = pluginsDir.toAbsolutePath();
            }
            if (null == ioThreads)
            {
                ioThreads = config.ioThreads();
            }
            if (null == creditWindowLength)
            {
                creditWindowLength = config.creditWindowLength();
            }
            if (null == termLength)
            {
                termLength = config.termLength();
            }
            if (null == maxConnections)
            {
                maxConnections = config.maxConnections();
            }
            if (null == idleProfile)
            {
                idleProfile = config.idle();
            }
            if (ioThreads < 1)
            {
                throw new IllegalArgumentException("ioThreads must be at least 1: " + ioThreads);
            }
            if (Integer.bitCount(termLength) != 1 || termLength < 64 * 1024)
            {
                throw new IllegalArgumentException("termLength must be a power of two of at least 64 KiB: " +
                    termLength);
            }
            // An unfragmented message must fit in a term, and the writer's window is half a term.
            mtuLength = Math.min(mtuLength, termLength / 8);
            if (mtuLength % FrameDescriptor.FRAME_ALIGNMENT != 0)
            {
                throw new IllegalArgumentException("mtuLength must be a multiple of 32: " + mtuLength);
            }
            concluded = true;
            return this;
        }

        /**
         * The id of {@code [broker] group}, once concluded.
         *
         * @return the gid, or -1 when no group is configured.
         */
        int groupId()
        {
            return groupId;
        }

        /**
         * The broker directory.
         *
         * @return the directory.
         */
        public Path brokerDir()
        {
            return brokerDir;
        }

        /**
         * Set the broker directory; default: the configuration's {@code [broker] dir}, else
         * {@link Broker#defaultDirectory()}.
         *
         * @param dir the directory.
         * @return this.
         */
        public Context brokerDir(final Path dir)
        {
            this.brokerDir = dir;
            return this;
        }

        /**
         * Set the configuration file to read; default: {@code MANCOM_CONFIG}, {@code /etc/mancom}, else the
         * built-in default.
         *
         * @param file the file.
         * @return this.
         */
        public Context configFile(final Path file)
        {
            this.configFile = file;
            return this;
        }

        /**
         * The configuration file given, or null.
         *
         * @return the file.
         */
        public Path configFile()
        {
            return configFile;
        }

        /**
         * Set the configuration itself (instead of a file).
         *
         * @param config the configuration.
         * @return this.
         */
        public Context config(final BrokerConfig config)
        {
            this.config = config;
            return this;
        }

        /**
         * The configuration in force.
         *
         * @return the configuration.
         */
        public BrokerConfig config()
        {
            return config;
        }

        /**
         * Set the number of each transport's I/O threads.
         *
         * @param ioThreads at least 1.
         * @return this.
         */
        public Context ioThreads(final int ioThreads)
        {
            this.ioThreads = ioThreads;
            return this;
        }

        /**
         * The number of each transport's I/O threads.
         *
         * @return the count.
         */
        public int ioThreads()
        {
            return ioThreads;
        }

        /**
         * Set the per-connection credit window, each way.
         *
         * @param length bytes.
         * @return this.
         */
        public Context creditWindowLength(final int length)
        {
            this.creditWindowLength = length;
            return this;
        }

        /**
         * The per-connection credit window, each way.
         *
         * @return bytes.
         */
        public int creditWindowLength()
        {
            return creditWindowLength;
        }

        /**
         * Set the Aeron term length of each client stream: each client maps two streams of three terms.
         *
         * @param length a power of two, at least 64 KiB.
         * @return this.
         */
        public Context termLength(final int length)
        {
            this.termLength = length;
            return this;
        }

        /**
         * The Aeron term length of each client stream.
         *
         * @return bytes.
         */
        public int termLength()
        {
            return termLength;
        }

        /**
         * The Aeron IPC MTU: the largest single message of a client stream.
         *
         * @return bytes.
         */
        public int mtuLength()
        {
            return mtuLength;
        }

        /**
         * Set the Aeron IPC MTU.
         *
         * @param length bytes, a multiple of 32.
         * @return this.
         */
        public Context mtuLength(final int length)
        {
            this.mtuLength = length;
            return this;
        }

        /**
         * The largest payload of one Data or Send message.
         *
         * @return bytes.
         */
        public int maxPayloadLength()
        {
            return mtuLength - io.aeron.protocol.DataHeaderFlyweight.HEADER_LENGTH - Frames.DATA_HEADER_LENGTH;
        }

        /**
         * The Aeron channel of client streams.
         *
         * @return the channel URI.
         */
        public String channel()
        {
            return "aeron:ipc?term-length=" + termLength + "|mtu=" + mtuLength;
        }

        /**
         * Set the most connections open at once.
         *
         * @param maxConnections the count.
         * @return this.
         */
        public Context maxConnections(final int maxConnections)
        {
            this.maxConnections = maxConnections;
            return this;
        }

        /**
         * The most connections open at once.
         *
         * @return the count.
         */
        public int maxConnections()
        {
            return maxConnections;
        }

        /**
         * Set the idle profile of the broker's agents.
         *
         * @param profile polite (default) or spin.
         * @return this.
         */
        public Context idleProfile(final IdleProfile profile)
        {
            this.idleProfile = profile;
            return this;
        }

        /**
         * The idle profile of the broker's agents.
         *
         * @return the profile.
         */
        public IdleProfile idleProfile()
        {
            return idleProfile;
        }

        /**
         * Aeron's client liveness time-out in the embedded driver. Application death is detected through the
         * control socket, not this; it only bounds how long an application may go without polling.
         *
         * @return nanoseconds.
         */
        public long aeronLivenessTimeoutNs()
        {
            return aeronLivenessTimeoutNs;
        }

        /**
         * Set Aeron's client liveness time-out.
         *
         * @param timeoutNs nanoseconds.
         * @return this.
         */
        public Context aeronLivenessTimeoutNs(final long timeoutNs)
        {
            this.aeronLivenessTimeoutNs = timeoutNs;
            return this;
        }

        /**
         * Whether {@link Broker#close()} removes the broker directory itself when it is empty.
         *
         * @return true to remove it.
         */
        public boolean deleteDirOnClose()
        {
            return deleteDirOnClose;
        }

        /**
         * Set whether {@link Broker#close()} removes the broker directory when it is empty.
         *
         * @param delete true to remove it.
         * @return this.
         */
        public Context deleteDirOnClose(final boolean delete)
        {
            this.deleteDirOnClose = delete;
            return this;
        }

        /**
         * The class loader that finds the built-in transports, and the parent of the plug-ins' class loaders.
         *
         * @return the class loader.
         */
        public ClassLoader classLoader()
        {
            return classLoader;
        }

        /**
         * Set the class loader that finds the built-in transports, and the parent of the plug-ins' class loaders.
         *
         * @param classLoader the class loader.
         * @return this.
         */
        public Context classLoader(final ClassLoader classLoader)
        {
            this.classLoader = classLoader;
            return this;
        }

        /**
         * The directory transport plug-ins are loaded from, or null for none.
         *
         * @return the directory, absolute once concluded.
         */
        public Path pluginsDir()
        {
            return pluginsDir;
        }

        /**
         * Set the directory transport plug-ins are loaded from; default: the configuration's
         * {@code [broker] plugins} (relative to the working directory), else none. Each plug-in is a jar, or a
         * directory of jars, in it, loaded by a class loader of its own whose parent is {@link #classLoader()}.
         *
         * @param dir the directory, or null for none.
         * @return this.
         */
        public Context pluginsDir(final Path dir)
        {
            this.pluginsDir = dir;
            return this;
        }

        /**
         * Read the configuration again from where {@link #conclude()} found it: the configuration file, else
         * {@code MANCOM_CONFIG} or {@code /etc/mancom} as they are now.
         *
         * @return the configuration, parsed and validated.
         * @throws ConfigException when it is wrong, or when there is no file to re-read (the built-in default, or a
         *                         configuration given in code).
         */
        BrokerConfig reread()
        {
            if (null != configFile)
            {
                return ConfigLoader.load(configFile);
            }
            if (configGivenInCode)
            {
                throw new ConfigException(config.source(), 0, null, "the configuration was given in code, not " +
                    "read from a file: there is nothing to re-read");
            }
            if (ConfigLoader.BUILT_IN_SOURCE.equals(config.source()))
            {
                throw new ConfigException(config.source(), 0, null, "the broker runs the built-in default " +
                    "configuration (it found no --config, no $" + ConfigLoader.CONFIG_ENV + " and no " +
                    ConfigLoader.DEFAULT_ETC_DIR.resolve(ConfigLoader.MAIN_FILE_NAME) + " when it started): " +
                    "there is no file to re-read; restart it with --config FILE");
            }
            return ConfigLoader.resolve(System.getenv());
        }

        /**
         * Every setting.
         *
         * @return printable form.
         */
        public String toString()
        {
            return "Broker.Context{" +
                "brokerDir=" + brokerDir +
                ", config=" + (null == config ? configFile : config.source()) +
                ", ioThreads=" + ioThreads +
                ", creditWindowLength=" + creditWindowLength +
                ", termLength=" + termLength +
                ", mtuLength=" + mtuLength +
                ", maxConnections=" + maxConnections +
                ", idleProfile=" + idleProfile +
                ", aeronLivenessTimeoutNs=" + aeronLivenessTimeoutNs +
                ", deleteDirOnClose=" + deleteDirOnClose +
                ", pluginsDir=" + pluginsDir +
                '}';
        }
    }
}
