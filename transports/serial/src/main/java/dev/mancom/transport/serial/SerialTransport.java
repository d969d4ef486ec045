package dev.mancom.transport.serial;

import com.fazecast.jSerialComm.SerialPort;
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

import java.io.IOException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Serial ports through jSerialComm. Threads: each open port has a reader and a writer thread of its own
 * ({@code PREFIX-serial-DEVICE-N-read}, {@code -write}), since serial ports are few and jSerialComm reads and writes
 * by blocking calls; one watcher thread ({@code PREFIX-serial-watch}, started on first use) opens ports for
 * outbound connects and looks every {@value #WATCH_INTERVAL_MS} ms for the devices that listeners wait for, and
 * sleeps when no listener waits. {@link TransportContext#ioThreads()} does not apply.
 */
final class SerialTransport implements Transport
{
    /**
     * How often the watcher looks for a device that a listener waits for.
     */
    static final long WATCH_INTERVAL_MS = 250;

    private static final Logger LOG = LoggerFactory.getLogger(SerialTransport.class);
    private static final long CLOSE_WAIT_MS = 5_000;

    private final TransportContext context;
    private final String namePrefix;
    private final AtomicInteger connectionCount = new AtomicInteger();

    // Guarded by this.
    private final Set<SerialConnection> connections = new LinkedHashSet<>();
    private final Set<SerialListener> listeners = new LinkedHashSet<>();
    private final Set<SerialListener> waiting = new LinkedHashSet<>();
    private final Queue<PendingConnect> connects = new ArrayDeque<>();
    private Thread watcher;
    private boolean closed;

    /**
     * A transport; it starts no thread until it is used.
     *
     * @param context the broker's context.
     */
    SerialTransport(final TransportContext context)
    {
        this.context = context;
        final String prefix = context.threadNamePrefix();
        this.namePrefix = (prefix.isEmpty() || prefix.endsWith("-") ? prefix : prefix + "-") + "serial-";
    }

    /**
     * {@inheritDoc}
     */
    public void validate(final TransportUri uri)
    {
        SerialOptions.parse(uri);
    }

    /**
     * Open the device now if it is there, or wait for it to appear; each time the device is open it is one
     * connection, handed to the accept handler on the connection's reader thread.
     *
     * @param uri           the device and its settings.
     * @param acceptHandler receives each connection.
     * @return the listener.
     * @throws TransportException when the URI is wrong, the transport is closed, or the device is there but cannot
     *                            be opened (permission, in use, not a serial port).
     */
    public TransportListener listen(final TransportUri uri, final AcceptHandler acceptHandler)
    {
        final SerialOptions options = SerialOptions.parse(uri);
        final SerialListener listener = new SerialListener(this, uri, options, acceptHandler);
        synchronized (this)
        {
            ensureOpen();
            listeners.add(listener);
        }
        try
        {
            listener.start();
        }
        catch (final IOException ex)
        {
            listener.close();
            throw new TransportException("path", ex.getMessage() + ", for '" + uri + "'", ex);
        }
        return listener;
    }

    /**
     * Open the device on the watcher thread and report the connection, or why it cannot be opened (such as
     * {@code no such device /dev/ttyUSB0}), to the handler once.
     *
     * @param uri            the device and its settings.
     * @param connectHandler receives the connection or the failure.
     */
    public void connect(final TransportUri uri, final ConnectHandler connectHandler)
    {
        final SerialOptions options = SerialOptions.parse(uri);
        final boolean queued;
        synchronized (this)
        {
            queued = !closed;
            if (queued)
            {
                connects.add(new PendingConnect(options, connectHandler));
                startWatcher();
                notifyAll();
            }
        }
        if (!queued)
        {
            connectHandler.onConnectFailed(closedError());
        }
    }

    private void openForConnect(final SerialOptions options, final ConnectHandler connectHandler)
    {
        final SerialPort port;
        try
        {
            port = SerialPorts.open(options);
        }
        catch (final IOException ex)
        {
            connectHandler.onConnectFailed(ex);
            return;
        }
        LOG.info("serial device {} open for an outbound connection ({})", options.path, options.settings());
        newConnection(port, options, (connection, reason, detail) -> { }, connectHandler::onConnected)
            .start();
    }

    /**
     * {@inheritDoc}
     */
    public void close()
    {
        final List<SerialListener> listenersToClose;
        final List<SerialConnection> connectionsToClose;
        final Thread watcherToJoin;
        synchronized (this)
        {
            if (closed)
            {
                return;
            }
            closed = true;
            listenersToClose = new ArrayList<>(listeners);
            connectionsToClose = new ArrayList<>(connections);
            watcherToJoin = watcher;
            waiting.clear();
            notifyAll();
        }
        for (final SerialListener listener : listenersToClose)
        {
            listener.close();
        }
        for (final SerialConnection connection : connectionsToClose)
        {
            connection.abort(CloseReason.BROKER_SHUTDOWN);
        }
        try
        {
            for (final SerialConnection connection : connectionsToClose)
            {
                connection.join(CLOSE_WAIT_MS);
            }
            if (null != watcherToJoin)
            {
                watcherToJoin.join(CLOSE_WAIT_MS);
            }
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Make a connection on an open port, known to the transport until it finishes; the caller starts it.
     */
    SerialConnection newConnection(
        final SerialPort port,
        final SerialOptions options,
        final SerialConnection.Finished finished,
        final SerialConnection.Opened opened)
    {
        final String path = options.path;
        final String device = path.substring(path.lastIndexOf('/') + 1);
        final SerialConnection.Owner owner = new SerialConnection.Owner()
        {
            public void onFinished(final SerialConnection connection, final CloseReason reason, final String detail)
            {
                synchronized (SerialTransport.this)
                {
                    connections.remove(connection);
                }
                finished.onFinished(connection, reason, detail);
            }

            public void onError(final Throwable error)
            {
                context.errorHandler().accept(error);
            }
        };
        final SerialConnection connection = new SerialConnection(
            port, options.baud, path, namePrefix + device + "-" + connectionCount.incrementAndGet() + "-", owner,
            opened);
        final boolean shutDown;
        synchronized (this)
        {
            shutDown = closed;
            if (!shutDown)
            {
                connections.add(connection);
            }
        }
        if (shutDown)
        {
            // Closed while the port was being opened: the connection ends as soon as it starts.
            connection.abort(CloseReason.BROKER_SHUTDOWN);
        }
        return connection;
    }

    /**
     * Look for a listener's device on every tick until it is open.
     */
    synchronized void watch(final SerialListener listener)
    {
        if (!closed && listeners.contains(listener))
        {
            waiting.add(listener);
            startWatcher();
            notifyAll();
        }
    }

    synchronized void onListenerClosed(final SerialListener listener)
    {
        listeners.remove(listener);
        waiting.remove(listener);
    }

    private void ensureOpen()
    {
        if (closed)
        {
            throw closedError();
        }
    }

    private static TransportException closedError()
    {
        return new TransportException(null, "the serial transport is closed");
    }

    private void startWatcher()
    {
        if (null == watcher)
        {
            watcher = new Thread(this::runWatcher, namePrefix + "watch");
            watcher.setDaemon(true);
            watcher.start();
        }
    }

    private void runWatcher()
    {
        try
        {
            while (true)
            {
                final List<PendingConnect> toOpen;
                final List<SerialListener> toCheck;
                synchronized (this)
                {
                    while (!closed && connects.isEmpty() && waiting.isEmpty())
                    {
                        wait();
                    }
                    if (closed)
                    {
                        return;
                    }
                    toOpen = new ArrayList<>(connects);
                    connects.clear();
                    // Taken off the list before trying: a listener whose connection ends at once is put back.
                    toCheck = new ArrayList<>(waiting);
                    waiting.clear();
                }
                for (final PendingConnect connect : toOpen)
                {
                    runSafely(() -> openForConnect(connect.options, connect.handler));
                }
                for (final SerialListener listener : toCheck)
                {
                    if (!listener.tryOpen())
                    {
                        watch(listener);
                    }
                }
                synchronized (this)
                {
                    if (!closed && connects.isEmpty() && !waiting.isEmpty())
                    {
                        wait(WATCH_INTERVAL_MS);
                    }
                }
            }
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
        }
        finally
        {
            failQueuedConnects();
        }
    }

    private void failQueuedConnects()
    {
        final List<PendingConnect> left;
        synchronized (this)
        {
            left = new ArrayList<>(connects);
            connects.clear();
        }
        // Connects queued when the transport closed: each still hears its result, once.
        for (final PendingConnect connect : left)
        {
            runSafely(() -> connect.handler.onConnectFailed(closedError()));
        }
    }

    private void runSafely(final Runnable task)
    {
        try
        {
            task.run();
        }
        catch (final Throwable ex)
        {
            context.errorHandler().accept(ex);
        }
    }

    /**
     * An outbound connect waiting for the watcher thread to open its port.
     */
    private static final class PendingConnect
    {
        final SerialOptions options;
        final ConnectHandler handler;

        PendingConnect(final SerialOptions options, final ConnectHandler handler)
        {
            this.options = options;
            this.handler = handler;
        }
    }
}
