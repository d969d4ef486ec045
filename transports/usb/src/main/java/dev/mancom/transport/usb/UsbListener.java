package dev.mancom.transport.usb;

import dev.mancom.protocol.Endpoint;
import dev.mancom.transport.AcceptHandler;
import dev.mancom.transport.TransportException;
import dev.mancom.transport.TransportListener;
import dev.mancom.transport.TransportUri;

import java.util.HashSet;
import java.util.Set;

/**
 * Listens for devices matching a URI: each one present when listening starts and each one that arrives later is
 * opened once, its interface claimed, and handed over as a connection. A device whose connection closes while it
 * stays attached is not opened again until it leaves and comes back (whether arrivals are seen through hotplug or
 * polling).
 */
final class UsbListener implements TransportListener
{
    private final UsbTransport transport;
    private final TransportUri uri;
    private final UsbOptions options;
    private final AcceptHandler acceptHandler;
    private volatile boolean closed;

    // Event thread: devices already considered, by key.
    private final Set<String> seen = new HashSet<>();

    UsbListener(
        final UsbTransport transport, final TransportUri uri, final UsbOptions options, final AcceptHandler handler)
    {
        this.transport = transport;
        this.uri = uri;
        this.options = options;
        this.acceptHandler = handler;
    }

    /**
     * {@inheritDoc}
     */
    public Endpoint localEndpoint()
    {
        return options.endpoint();
    }

    /**
     * {@inheritDoc}
     */
    public void close()
    {
        if (!closed)
        {
            closed = true;
            transport.execute(this::closeNow);
        }
    }

    UsbOptions options()
    {
        return options;
    }

    /**
     * Stop listening. Event thread.
     */
    void closeNow()
    {
        closed = true;
        transport.removeListener(this);
    }

    /**
     * A device is attached: open it if it matches and is new to this listener. Event thread.
     *
     * @param device the device.
     */
    void offer(final UsbBackend.DeviceInfo device)
    {
        if (closed || !options.matchesIds(device) || !seen.add(device.key()) || transport.isOpen(device.key()))
        {
            return;
        }
        final UsbConnection connection;
        try
        {
            connection = transport.open(device, options);
        }
        catch (final UsbBackend.UsbException ex)
        {
            transport.reportError(new TransportException(null, "usb listener '" + uri + "': cannot open device " +
                device.portPath() + ": " + ex.getMessage(), ex));
            return;
        }
        if (null != connection)
        {
            acceptHandler.onAccept(connection);
        }
    }

    /**
     * A device left. Event thread.
     *
     * @param key its key.
     */
    void forget(final String key)
    {
        seen.remove(key);
    }

    /**
     * {@inheritDoc}
     */
    public String toString()
    {
        return uri.toString();
    }
}
