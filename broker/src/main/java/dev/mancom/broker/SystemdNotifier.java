package dev.mancom.broker;

import com.sun.jna.LastErrorException;
import com.sun.jna.Native;
import com.sun.jna.NativeLong;
import com.sun.jna.Platform;
import dev.mancom.protocol.MarkFileDescriptor;
import org.agrona.concurrent.EpochClock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.LongSupplier;

/**
 * Tells systemd how the broker is doing, as {@code sd_notify(3)} does: {@code READY=1}, {@code STATUS=...},
 * {@code STOPPING=1}, and {@code WATCHDOG=1} from a thread of its own. The messages are datagrams sent to the
 * {@code AF_UNIX} socket named by {@code $NOTIFY_SOCKET} (a path, or an abstract name written with a leading
 * {@code @}). Java's {@code DatagramChannel} cannot send {@code AF_UNIX} datagrams, so this calls the C library's
 * {@code socket} and {@code sendto} through JNA.
 * <p>
 * <b>Watchdog.</b> When {@code $WATCHDOG_USEC} is set (and {@code $WATCHDOG_PID}, if set, is this process), the
 * watchdog thread sends {@code WATCHDOG=1} every half of that period, but only while the conductor is making progress:
 * its heartbeat in the mark file, beaten every {@value MarkFileDescriptor#HEARTBEAT_INTERVAL_MS} ms, is at most
 * {@link #MAX_HEARTBEAT_AGE_MS} ms old. A conductor that is stuck thus stops the pings and systemd restarts the broker
 * ({@code Restart=} in the unit); a live one that merely has nothing to do keeps them going.
 * <p>
 * Thread safe; a send never blocks (a full socket drops the notification). A failure to send is logged once and never
 * stops the broker.
 */
public final class SystemdNotifier implements AutoCloseable
{
    /** Environment variable naming the notification socket. */
    public static final String NOTIFY_SOCKET_ENV = "NOTIFY_SOCKET";

    /** Environment variable with the watchdog period in microseconds. */
    public static final String WATCHDOG_USEC_ENV = "WATCHDOG_USEC";

    /** Environment variable with the pid the watchdog is meant for. */
    public static final String WATCHDOG_PID_ENV = "WATCHDOG_PID";

    /** Oldest conductor heartbeat for which the watchdog is still fed. */
    public static final long MAX_HEARTBEAT_AGE_MS = 3 * MarkFileDescriptor.HEARTBEAT_INTERVAL_MS;

    private static final Logger LOG = LoggerFactory.getLogger(SystemdNotifier.class);
    private static final int AF_UNIX = 1;
    private static final int SOCK_DGRAM = 2;
    private static final int SOCK_CLOEXEC = 0x80000;
    private static final int MSG_NOSIGNAL = 0x4000;
    private static final int MSG_DONTWAIT = 0x40;
    private static final int SUN_PATH_LENGTH = 108;
    private static final boolean NATIVE;

    static
    {
        boolean loaded = false;
        if (Platform.isLinux())
        {
            try
            {
                Native.register(SystemdNotifier.class, "c");
                loaded = true;
            }
            catch (final LinkageError | RuntimeException ex)
            {
                loaded = false;
            }
        }
        NATIVE = loaded;
    }

    private final String socketName;
    private final byte[] address;
    private final long watchdogIntervalMs;
    private final AtomicBoolean closed = new AtomicBoolean();
    private final AtomicBoolean failureLogged = new AtomicBoolean();
    private final CountDownLatch stop = new CountDownLatch(1);
    private final Object fdLock = new Object();
    private final int fd;
    private Thread watchdog;

    private static native int socket(int domain, int type, int protocol) throws LastErrorException;

    private static native NativeLong sendto(
        int fd, byte[] buffer, NativeLong length, int flags, byte[] address, int addressLength)
        throws LastErrorException;

    private static native int close(int fd) throws LastErrorException;

    private SystemdNotifier(final String socketName, final byte[] address, final long watchdogIntervalMs)
    {
        this.socketName = socketName;
        this.address = address;
        this.watchdogIntervalMs = watchdogIntervalMs;
        this.fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    }

    /**
     * A notifier for the socket the environment names.
     *
     * @param env the environment, such as {@link System#getenv()}.
     * @return the notifier, or null when not run by systemd ({@value #NOTIFY_SOCKET_ENV} unset or empty), or when
     *         the socket cannot be used (logged once, naming why).
     */
    public static SystemdNotifier fromEnvironment(final Map<String, String> env)
    {
        final String socketName = env.get(NOTIFY_SOCKET_ENV);
        if (null == socketName || socketName.isEmpty())
        {
            return null;
        }
        if (!NATIVE)
        {
            LOG.warn("${} is set but this platform has no native socket access: systemd is not notified",
                NOTIFY_SOCKET_ENV);
            return null;
        }
        final byte[] address = socketAddress(socketName);
        if (null == address)
        {
            LOG.warn("${}={} is not an AF_UNIX socket path (/path or @abstract, at most {} bytes): systemd is " +
                "not notified", NOTIFY_SOCKET_ENV, socketName, SUN_PATH_LENGTH - 1);
            return null;
        }

        long intervalMs = 0;
        final String usec = env.get(WATCHDOG_USEC_ENV);
        final String pid = env.get(WATCHDOG_PID_ENV);
        if (null != usec && !usec.isEmpty() &&
            (null == pid || pid.isEmpty() || pid.equals(Long.toString(ProcessHandle.current().pid()))))
        {
            try
            {
                final long periodUs = Long.parseLong(usec);
                if (periodUs > 0)
                {
                    intervalMs = Math.max(1, periodUs / 2000);
                }
            }
            catch (final NumberFormatException ex)
            {
                LOG.warn("${}={} is not a number of microseconds: the watchdog is not fed", WATCHDOG_USEC_ENV, usec);
            }
        }

        try
        {
            return new SystemdNotifier(socketName, address, intervalMs);
        }
        catch (final LastErrorException ex)
        {
            LOG.warn("cannot open a socket to notify systemd at {}: errno {}", socketName, ex.getErrorCode());
            return null;
        }
    }

    /**
     * The {@code struct sockaddr_un} of a socket name: a path, or {@code @name} for an abstract name (a leading NUL
     * byte and no terminating one).
     *
     * @param socketName the name as in {@value #NOTIFY_SOCKET_ENV}.
     * @return the address bytes, as long as the address length to pass, or null when not a usable name.
     */
    static byte[] socketAddress(final String socketName)
    {
        final boolean isAbstract = socketName.startsWith("@");
        if (!isAbstract && !socketName.startsWith("/"))
        {
            return null;
        }
        final byte[] name = socketName.getBytes(StandardCharsets.UTF_8);
        // A path needs room for its terminating NUL; an abstract name's leading '@' becomes its leading NUL.
        if (name.length > SUN_PATH_LENGTH - (isAbstract ? 0 : 1) || name.length < 2)
        {
            return null;
        }
        final int length = 2 + name.length + (isAbstract ? 0 : 1);
        final ByteBuffer address = ByteBuffer.allocate(length).order(ByteOrder.nativeOrder());
        address.putShort((short)AF_UNIX);
        address.put(name);
        if (isAbstract)
        {
            address.put(2, (byte)0);
        }
        return address.array();
    }

    /**
     * Whether the environment asked for watchdog pings.
     *
     * @return the interval between pings in milliseconds (half of {@value #WATCHDOG_USEC_ENV}), or 0 for none.
     */
    public long watchdogIntervalMs()
    {
        return watchdogIntervalMs;
    }

    /**
     * Send one notification, such as {@code "READY=1\nSTATUS=serving"}: {@code KEY=VALUE} lines.
     *
     * @param state the notification.
     * @return true when sent; false when closed or it failed (logged once).
     */
    public boolean notify(final String state)
    {
        final byte[] message = state.getBytes(StandardCharsets.UTF_8);
        try
        {
            synchronized (fdLock)
            {
                // Under the lock: close() must not close the descriptor (which could then be reused) meanwhile.
                if (closed.get())
                {
                    return false;
                }
                final long sent = sendto(fd, message, new NativeLong(message.length), MSG_NOSIGNAL | MSG_DONTWAIT,
                    address, address.length).longValue();
                return sent == message.length;
            }
        }
        catch (final LastErrorException ex)
        {
            if (failureLogged.compareAndSet(false, true))
            {
                LOG.warn("cannot notify systemd at {}: errno {} (further failures are not logged)",
                    socketName, ex.getErrorCode());
            }
            return false;
        }
    }

    /**
     * Start feeding the watchdog, if the environment asked for it: {@code WATCHDOG=1} every
     * {@link #watchdogIntervalMs()} while the heartbeat is fresh. Once only.
     *
     * @param heartbeatMs the conductor's last heartbeat, epoch milliseconds.
     * @param clock       the clock of the heartbeat.
     */
    public synchronized void startWatchdog(final LongSupplier heartbeatMs, final EpochClock clock)
    {
        if (0 == watchdogIntervalMs || null != watchdog || closed.get())
        {
            return;
        }
        watchdog = new Thread(() -> feed(heartbeatMs, clock), "mancom-watchdog");
        watchdog.setDaemon(true);
        watchdog.start();
        LOG.info("feeding the systemd watchdog every {} ms while the conductor makes progress", watchdogIntervalMs);
    }

    private void feed(final LongSupplier heartbeatMs, final EpochClock clock)
    {
        boolean stale = false;
        try
        {
            while (!stop.await(watchdogIntervalMs, TimeUnit.MILLISECONDS))
            {
                final long ageMs = clock.time() - heartbeatMs.getAsLong();
                if (ageMs <= MAX_HEARTBEAT_AGE_MS)
                {
                    if (stale)
                    {
                        LOG.info("the conductor makes progress again: feeding the systemd watchdog");
                        stale = false;
                    }
                    notify("WATCHDOG=1");
                }
                else if (!stale)
                {
                    LOG.warn("the conductor has made no progress for {} ms: the systemd watchdog is not fed", ageMs);
                    stale = true;
                }
            }
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Stop the watchdog thread and close the socket. Idempotent.
     */
    public void close()
    {
        if (!closed.compareAndSet(false, true))
        {
            return;
        }
        stop.countDown();
        final Thread thread;
        synchronized (this)
        {
            thread = watchdog;
        }
        if (null != thread)
        {
            try
            {
                thread.join(TimeUnit.SECONDS.toMillis(5));
            }
            catch (final InterruptedException ex)
            {
                Thread.currentThread().interrupt();
            }
        }
        synchronized (fdLock)
        {
            try
            {
                close(fd);
            }
            catch (final LastErrorException ex)
            {
                LOG.debug("closing the systemd notification socket: errno {}", ex.getErrorCode());
            }
        }
    }
}
