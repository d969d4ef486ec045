package dev.mancom.transport.usb;

import dev.mancom.protocol.Endpoint;
import dev.mancom.protocol.codecs.CloseReason;
import dev.mancom.transport.AcceptHandler;
import dev.mancom.transport.ConnectHandler;
import dev.mancom.transport.Transport;
import dev.mancom.transport.TransportContext;
import dev.mancom.transport.TransportException;
import dev.mancom.transport.TransportListener;
import dev.mancom.transport.TransportUri;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.PriorityQueue;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;

/**
 * The USB transport: {@code usb://VID:PID?serial=S&interface=N}. A listener opens a connection for each matching
 * device present when it starts and for each one that arrives later; {@link #connect} opens a matching device that
 * is present now. A connection's byte stream is the interface's bulk IN and bulk OUT endpoints.
 * <p>
 * Threads: one event thread per transport (named after the context's prefix, started by the first listen or
 * connect), which runs libusb's event handling, every transfer completion and every handler call. It sleeps in
 * libusb until a transfer completes, a device arrives or leaves, another thread hands it work, or (when polling)
 * the next look at the device list is due. The libusb context is created with that thread, so a broker with no USB
 * service never touches libusb.
 */
final class UsbTransport implements Transport
{
    private static final Logger LOG = LoggerFactory.getLogger(UsbTransport.class);
    private static final long IDLE_WAIT_MS = 1_000;
    private static final long START_TIMEOUT_MS = 10_000;
    private static final long SHUTDOWN_TIMEOUT_MS = 5_000;

    private final TransportContext context;
    private final Supplier<UsbBackend> backendFactory;
    private final Object lifecycle = new Object();
    private final Queue<Runnable> tasks = new ConcurrentLinkedQueue<>();
    private volatile boolean closed;
    private volatile UsbBackend backend;
    private Thread thread;

    // Owned by the event thread.
    private final Map<String, UsbConnection> connections = new HashMap<>();
    private final List<UsbListener> listeners = new ArrayList<>();
    private final Map<String, UsbBackend.DeviceInfo> present = new HashMap<>();
    private final PriorityQueue<Timer> timers = new PriorityQueue<>();
    private boolean hotplug;
    private long nextPollNs;
    private String lastScanError;

    /**
     * A transport on libusb.
     *
     * @param context what the broker gives it.
     */
    UsbTransport(final TransportContext context)
    {
        this(context, LibUsbBackend::new);
    }

    /**
     * A transport on a USB stack of the caller's choice.
     *
     * @param context        what the broker gives it.
     * @param backendFactory makes the stack, once, at the first listen or connect.
     */
    UsbTransport(final TransportContext context, final Supplier<UsbBackend> backendFactory)
    {
        this.context = Objects.requireNonNull(context, "context");
        this.backendFactory = Objects.requireNonNull(backendFactory, "backendFactory");
    }

    /**
     * {@inheritDoc}
     */
    public void validate(final TransportUri uri)
    {
        UsbOptions.parse(uri);
    }

    /**
     * {@inheritDoc}
     */
    public TransportListener listen(final TransportUri uri, final AcceptHandler acceptHandler)
    {
        final UsbOptions options = UsbOptions.parse(uri);
        Objects.requireNonNull(acceptHandler, "acceptHandler");
        start(uri);
        final UsbListener listener = new UsbListener(this, uri, options, acceptHandler);
        final CompletableFuture<Void> registered = new CompletableFuture<>();
        execute(() ->
        {
            listeners.add(listener);
            registered.complete(null);
            // Devices attached now: a fresh look, which also starts the polling clock.
            scan();
            for (final UsbBackend.DeviceInfo device : new ArrayList<>(present.values()))
            {
                listener.offer(device);
            }
        });
        await(registered, uri);
        return listener;
    }

    /**
     * {@inheritDoc}
     */
    public void connect(final TransportUri uri, final ConnectHandler connectHandler)
    {
        final UsbOptions options = UsbOptions.parse(uri);
        Objects.requireNonNull(connectHandler, "connectHandler");
        try
        {
            start(uri);
        }
        catch (final TransportException ex)
        {
            connectHandler.onConnectFailed(ex);
            return;
        }
        execute(() -> connectNow(uri, options, connectHandler));
    }

    /**
     * {@inheritDoc}
     */
    public void close()
    {
        final Thread eventThread;
        synchronized (lifecycle)
        {
            if (closed)
            {
                return;
            }
            closed = true;
            eventThread = thread;
        }
        if (null == eventThread)
        {
            return;
        }
        backend.wakeup();
        if (Thread.currentThread() != eventThread)
        {
            try
            {
                eventThread.join(SHUTDOWN_TIMEOUT_MS * 2);
            }
            catch (final InterruptedException ex)
            {
                Thread.currentThread().interrupt();
            }
        }
    }

    /**
     * The context's error handler.
     *
     * @param error what went wrong.
     */
    void reportError(final Throwable error)
    {
        context.errorHandler().accept(error);
    }

    /**
     * Run on the event thread soon. Any thread.
     *
     * @param task what to run.
     */
    void execute(final Runnable task)
    {
        tasks.add(task);
        final UsbBackend usb = backend;
        if (null != usb)
        {
            usb.wakeup();
        }
    }

    /**
     * Run on the event thread after a delay. Event thread.
     *
     * @param delayMs the delay.
     * @param task    what to run.
     */
    void schedule(final long delayMs, final Runnable task)
    {
        timers.add(new Timer(System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(delayMs), task));
    }

    /**
     * Remove a listener. Event thread.
     *
     * @param listener the listener.
     */
    void removeListener(final UsbListener listener)
    {
        listeners.remove(listener);
    }

    /**
     * A connection finished. Event thread.
     *
     * @param connection the connection.
     */
    void removeConnection(final UsbConnection connection)
    {
        connections.remove(connection.key(), connection);
    }

    /**
     * Whether a device is open by a connection of this transport. Event thread.
     *
     * @param key the device's key.
     * @return true when open.
     */
    boolean isOpen(final String key)
    {
        return connections.containsKey(key);
    }

    /**
     * Open a device as a connection, if its serial number matches. Event thread.
     *
     * @param device  the device.
     * @param options what the URI asks for.
     * @return the connection with its interface claimed, or null when the serial number does not match.
     * @throws UsbBackend.UsbException when it cannot be opened or claimed.
     */
    UsbConnection open(final UsbBackend.DeviceInfo device, final UsbOptions options)
    {
        final UsbBackend.OpenDevice open = backend.open(device);
        final int[] endpoints;
        try
        {
            if (!options.matchesSerial(open.serialNumber()))
            {
                open.close();
                return null;
            }
            endpoints = open.claim(options.interfaceNumber, options.inEndpoint, options.outEndpoint);
        }
        catch (final RuntimeException ex)
        {
            open.close();
            throw ex;
        }
        final Endpoint endpoint = Endpoint.usb(
            device.bus(), device.portPath(), device.vendorId(), device.productId(), open.serialNumber());
        final UsbConnection connection = new UsbConnection(
            this, device.key(), open, endpoint, options.interfaceNumber, endpoints[0], endpoints[1]);
        connections.put(device.key(), connection);
        LOG.info("opened USB device {}", connection);
        return connection;
    }

    private void connectNow(final TransportUri uri, final UsbOptions options, final ConnectHandler connectHandler)
    {
        if (closed)
        {
            connectHandler.onConnectFailed(new TransportException(null, "the usb transport is closed: " + uri));
            return;
        }
        final StringBuilder failures = new StringBuilder();
        try
        {
            for (final UsbBackend.DeviceInfo device : backend.devices())
            {
                if (!options.matchesIds(device) || connections.containsKey(device.key()))
                {
                    continue;
                }
                try
                {
                    final UsbConnection connection = open(device, options);
                    if (null != connection)
                    {
                        connectHandler.onConnected(connection);
                        return;
                    }
                }
                catch (final UsbBackend.UsbException ex)
                {
                    failures.append("; device ").append(device.portPath()).append(": ").append(ex.getMessage());
                }
            }
        }
        catch (final UsbBackend.UsbException ex)
        {
            failures.append("; ").append(ex.getMessage());
        }
        connectHandler.onConnectFailed(new TransportException(
            null, "no USB device " + options.describe() + " to open for '" + uri + "'" + failures));
    }

    private void start(final TransportUri uri)
    {
        synchronized (lifecycle)
        {
            if (closed)
            {
                throw new TransportException(null, "the usb transport is closed: " + uri);
            }
            if (null != thread)
            {
                return;
            }
            final UsbBackend usb;
            try
            {
                usb = backendFactory.get();
            }
            catch (final UsbBackend.UsbException ex)
            {
                throw new TransportException(null, "cannot use USB for '" + uri + "': " + ex.getMessage(), ex);
            }
            backend = usb;
            hotplug = usb.startHotplug(new HotplugEvents());
            thread = new Thread(this::run, context.threadNamePrefix() + "-usb-events");
            thread.setDaemon(true);
            thread.start();
            LOG.debug("USB event thread started; {}", hotplug ? "libusb hotplug" : "polling the device list");
        }
    }

    private void await(final CompletableFuture<Void> done, final TransportUri uri)
    {
        try
        {
            done.get(START_TIMEOUT_MS, TimeUnit.MILLISECONDS);
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            throw new TransportException(null, "interrupted while starting '" + uri + "'", ex);
        }
        catch (final ExecutionException | TimeoutException ex)
        {
            throw new TransportException(null, "the usb transport did not start '" + uri + "': " + ex, ex);
        }
        if (closed)
        {
            throw new TransportException(null, "the usb transport is closed: " + uri);
        }
    }

    private void run()
    {
        final UsbBackend usb = backend;
        try
        {
            while (!closed)
            {
                runTasks();
                long waitMs = IDLE_WAIT_MS;
                final int pollMs = pollMs();
                if (pollMs > 0)
                {
                    final long now = System.nanoTime();
                    if (now - nextPollNs >= 0)
                    {
                        scan();
                    }
                    waitMs = Math.max(0, TimeUnit.NANOSECONDS.toMillis(nextPollNs - System.nanoTime()));
                }
                waitMs = Math.min(waitMs, runTimers());
                if (!tasks.isEmpty() || closed)
                {
                    waitMs = 0;
                }
                usb.handleEvents(waitMs);
            }
        }
        catch (final RuntimeException | Error ex)
        {
            reportError(new TransportException(null, "the usb transport's event thread failed: " + ex, ex));
        }
        finally
        {
            shutdown(usb);
        }
    }

    private void runTasks()
    {
        Runnable task;
        while (null != (task = tasks.poll()))
        {
            try
            {
                task.run();
            }
            catch (final RuntimeException ex)
            {
                reportError(ex);
            }
        }
    }

    /**
     * Run the timers that are due.
     *
     * @return milliseconds until the next one, at most {@link #IDLE_WAIT_MS}.
     */
    private long runTimers()
    {
        Timer timer;
        while (null != (timer = timers.peek()) && System.nanoTime() - timer.deadlineNs >= 0)
        {
            timers.poll();
            try
            {
                timer.task.run();
            }
            catch (final RuntimeException ex)
            {
                reportError(ex);
            }
        }
        return null == timer ? IDLE_WAIT_MS :
            Math.min(IDLE_WAIT_MS, Math.max(0, TimeUnit.NANOSECONDS.toMillis(timer.deadlineNs - System.nanoTime())));
    }

    private void shutdown(final UsbBackend usb)
    {
        for (final UsbListener listener : new ArrayList<>(listeners))
        {
            listener.closeNow();
        }
        for (final UsbConnection connection : new ArrayList<>(connections.values()))
        {
            connection.finish(CloseReason.BROKER_SHUTDOWN, "the broker is stopping");
        }
        final long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(SHUTDOWN_TIMEOUT_MS);
        while (!connections.isEmpty() && System.nanoTime() - deadline < 0)
        {
            runTasks();
            runTimers();
            try
            {
                usb.handleEvents(100);
            }
            catch (final RuntimeException ex)
            {
                reportError(ex);
                break;
            }
        }
        for (final UsbConnection connection : new ArrayList<>(connections.values()))
        {
            connection.forceComplete("transfers did not end within " + SHUTDOWN_TIMEOUT_MS + " ms of closing");
        }
        runTasks();
        tasks.clear();
        timers.clear();
        try
        {
            usb.close();
        }
        catch (final RuntimeException ex)
        {
            reportError(ex);
        }
    }

    /**
     * How often to look at the device list: never while libusb reports arrivals and departures (unless a URI asks
     * for polling with {@code hotplug=false}); otherwise the shortest {@code poll_ms} of the listeners and open
     * connections (a connection polls to see its device leave).
     */
    private int pollMs()
    {
        int pollMs = 0;
        for (final UsbListener listener : listeners)
        {
            if (!hotplug || !listener.options().hotplug)
            {
                pollMs = 0 == pollMs ? listener.options().pollMs : Math.min(pollMs, listener.options().pollMs);
            }
        }
        if (!hotplug && !connections.isEmpty())
        {
            pollMs = 0 == pollMs ? UsbOptions.DEFAULT_POLL_MS : Math.min(pollMs, UsbOptions.DEFAULT_POLL_MS);
        }
        return pollMs;
    }

    /**
     * Look at the device list and act on the difference from the last look: devices gone close their connections,
     * new ones are offered to the listeners.
     */
    private void scan()
    {
        final int pollMs = pollMs();
        nextPollNs = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(pollMs > 0 ? pollMs : IDLE_WAIT_MS);
        final List<UsbBackend.DeviceInfo> devices;
        try
        {
            devices = backend.devices();
            lastScanError = null;
        }
        catch (final UsbBackend.UsbException ex)
        {
            if (!ex.getMessage().equals(lastScanError))
            {
                lastScanError = ex.getMessage();
                reportError(new TransportException(null, "usb: " + ex.getMessage(), ex));
            }
            return;
        }
        final Map<String, UsbBackend.DeviceInfo> now = new HashMap<>();
        for (final UsbBackend.DeviceInfo device : devices)
        {
            now.put(device.key(), device);
        }
        for (final String key : new ArrayList<>(present.keySet()))
        {
            if (!now.containsKey(key))
            {
                deviceLeft(key);
            }
        }
        for (final UsbBackend.DeviceInfo device : devices)
        {
            if (!present.containsKey(device.key()))
            {
                deviceArrived(device);
            }
        }
    }

    private void deviceArrived(final UsbBackend.DeviceInfo device)
    {
        present.put(device.key(), device);
        LOG.debug("USB device {} {}:{} arrived", device.portPath(),
            Integer.toHexString(device.vendorId()), Integer.toHexString(device.productId()));
        for (final UsbListener listener : new ArrayList<>(listeners))
        {
            listener.offer(device);
        }
    }

    private void deviceLeft(final String key)
    {
        present.remove(key);
        LOG.debug("USB device {} left", key);
        for (final UsbListener listener : listeners)
        {
            listener.forget(key);
        }
        final UsbConnection connection = connections.get(key);
        if (null != connection)
        {
            connection.finish(CloseReason.DEVICE_GONE, "the device was unplugged");
        }
    }

    /**
     * libusb's hotplug callbacks come inside event handling, where opening a device is not allowed: queue them.
     */
    private final class HotplugEvents implements UsbBackend.HotplugListener
    {
        public void onArrived(final UsbBackend.DeviceInfo device)
        {
            tasks.add(() ->
            {
                if (!present.containsKey(device.key()))
                {
                    deviceArrived(device);
                }
            });
        }

        public void onLeft(final String key)
        {
            tasks.add(() ->
            {
                if (present.containsKey(key) || connections.containsKey(key))
                {
                    deviceLeft(key);
                }
            });
        }
    }

    /**
     * A task to run at a time.
     */
    private static final class Timer implements Comparable<Timer>
    {
        final long deadlineNs;
        final Runnable task;

        Timer(final long deadlineNs, final Runnable task)
        {
            this.deadlineNs = deadlineNs;
            this.task = task;
        }

        public int compareTo(final Timer other)
        {
            return Long.compare(deadlineNs - other.deadlineNs, 0);
        }
    }
}
