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
    private volatile int presentDevices;

    // Event thread: devices already considered, by key.
    private final Set<String> seen = new HashSet<>();
    // Event thread: devices present that match the URI, serial number included; their count is read by any thread.
    private final Set<String> matching = new HashSet<>();

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

    /**
     * {@inheritDoc} Ready while at least one device matching the URI (serial number included) is attached.
     */
    public boolean isReady()
    {
        return !closed && presentDevices > 0;
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
        if (closed || !options.matchesIds(device))
        {
            return;
        }
        if (!seen.add(device.key()))
        {
            return;
        }
        if (transport.isOpen(device.key()))
        {
            // Opened through another listener of the same device: it is there.
            matching.add(device.key());
            presentDevices = matching.size();
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
            // Open, so its serial number is the one asked for (a device with another one is not counted).
            matching.add(device.key());
            presentDevices = matching.size();
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
        matching.remove(key);
        presentDevices = matching.size();
    }

    /**
     * {@inheritDoc}
     */
    public String toString()
    {
        return uri.toString();
    }
}
