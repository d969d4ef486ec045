package dev.mancom.transport.serial;

import dev.mancom.protocol.Endpoint;
import dev.mancom.protocol.codecs.CloseReason;
import dev.mancom.transport.AcceptHandler;
import dev.mancom.transport.TransportListener;
import dev.mancom.transport.TransportUri;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * A service's serial port: one connection while the device is there and open. When the device is not there (yet),
 * or once the connection has closed, the transport's watcher opens it again as soon as it is there. Closing the
 * listener stops that; a connection already open goes on until it is closed.
 */
final class SerialListener implements TransportListener
{
    private static final Logger LOG = LoggerFactory.getLogger(SerialListener.class);
    private static final long MAX_REFUSED_BACK_OFF_MS = 2_000;

    private final SerialTransport transport;
    private final TransportUri uri;
    private final SerialOptions options;
    private final AcceptHandler acceptHandler;
    private final Endpoint endpoint;

    // Guarded by this.
    private boolean closed;
    private SerialConnection current;
    private String lastFailure;
    private int refusedInARow;
    private long notBeforeNs;

    SerialListener(
        final SerialTransport transport,
        final TransportUri uri,
        final SerialOptions options,
        final AcceptHandler acceptHandler)
    {
        this.transport = transport;
        this.uri = uri;
        this.options = options;
        this.acceptHandler = acceptHandler;
        this.endpoint = Endpoint.serial(options.path);
    }

    /**
     * The URI the listener serves.
     *
     * @return the URI.
     */
    TransportUri uri()
    {
        return uri;
    }

    /**
     * Open the device if it is there, or start waiting for it.
     *
     * @throws IOException when the device is there but cannot be opened.
     */
    void start() throws IOException
    {
        if (Files.exists(Path.of(options.path)))
        {
            open();
        }
        else
        {
            LOG.info("serial device {} is not there; its connection opens when it appears ({})",
                options.path, options.settings());
            transport.watch(this);
        }
    }

    /**
     * Called by the transport's watcher: open the device if it has appeared.
     *
     * @return true when the listener waits no more (the device is open, or the listener closed).
     */
    boolean tryOpen()
    {
        synchronized (this)
        {
            if (closed || null != current)
            {
                return true;
            }
            if (System.nanoTime() - notBeforeNs < 0)
            {
                return false;
            }
        }
        if (!Files.exists(Path.of(options.path)))
        {
            return false;
        }
        try
        {
            open();
            return true;
        }
        catch (final IOException ex)
        {
            final String failure = ex.getMessage();
            synchronized (this)
            {
                if (!failure.equals(lastFailure))
                {
                    // Once per kind of failure: the watcher tries again on every tick.
                    LOG.warn("{} (will try again while it is there)", failure);
                    lastFailure = failure;
                }
            }
            return false;
        }
    }

    private void open() throws IOException
    {
        final com.fazecast.jSerialComm.SerialPort port = SerialPorts.open(options);
        final SerialConnection connection;
        final boolean quiet;
        synchronized (this)
        {
            if (closed)
            {
                port.closePort();
                return;
            }
            connection = transport.newConnection(port, options, this::onFinished, acceptHandler::onAccept);
            current = connection;
            lastFailure = null;
            quiet = refusedInARow > 1;
        }
        if (quiet)
        {
            LOG.debug("serial device {} open again ({})", options.path, options.settings());
        }
        else
        {
            LOG.info("serial device {} open ({})", options.path, options.settings());
        }
        connection.start();
    }

    private void onFinished(final SerialConnection connection, final CloseReason reason, final String detail)
    {
        final boolean reopen;
        synchronized (this)
        {
            if (current == connection)
            {
                current = null;
            }
            reopen = !closed;
            if (CloseReason.DEVICE_GONE != reason && !connection.everResumed())
            {
                // Refused by the broker (no application accepts the service): open again later and later, up to a
                // bound, rather than on every tick, so that an idle service does not churn its port.
                refusedInARow = Math.min(refusedInARow + 1, 16);
                final long backOffMs = Math.min(
                    MAX_REFUSED_BACK_OFF_MS, SerialTransport.WATCH_INTERVAL_MS << Math.min(refusedInARow, 4));
                notBeforeNs = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(backOffMs);
            }
            else
            {
                refusedInARow = 0;
                notBeforeNs = System.nanoTime();
            }
        }
        if (reopen)
        {
            if (CloseReason.DEVICE_GONE == reason)
            {
                LOG.info("{}; its connection opens again when it is back", detail);
            }
            transport.watch(this);
        }
    }

    /**
     * {@inheritDoc} Ready while the device is open, or present and not failing to open; not ready while the
     * listener waits for its device to appear.
     */
    public boolean isReady()
    {
        synchronized (this)
        {
            if (closed)
            {
                return false;
            }
            if (null != current)
            {
                return true;
            }
            if (null != lastFailure)
            {
                return false;
            }
        }
        return Files.exists(Path.of(options.path));
    }

    /**
     * {@inheritDoc}
     */
    public Endpoint localEndpoint()
    {
        return endpoint;
    }

    /**
     * {@inheritDoc}
     */
    public void close()
    {
        synchronized (this)
        {
            if (closed)
            {
                return;
            }
            closed = true;
        }
        transport.onListenerClosed(this);
    }

    /**
     * The listener as its URI.
     *
     * @return a description.
     */
    public String toString()
    {
        return "SerialListener{" + uri + "}";
    }
}
