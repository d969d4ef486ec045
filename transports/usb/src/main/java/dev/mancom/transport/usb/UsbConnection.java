package dev.mancom.transport.usb;

import dev.mancom.protocol.Endpoint;
import dev.mancom.protocol.codecs.CloseReason;
import dev.mancom.transport.ConnectionHandler;
import dev.mancom.transport.TransportConnection;
import org.agrona.DirectBuffer;
import org.agrona.ExpandableDirectByteBuffer;
import org.agrona.concurrent.UnsafeBuffer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.ByteBuffer;
import java.util.Locale;
import java.util.Objects;

/**
 * One open USB device: its interface claimed, bytes read with bulk IN transfers and written with bulk OUT
 * transfers, at most one of each in flight.
 * <p>
 * Reading: while reading is not paused, one IN transfer of {@link #READ_SIZE} bytes is always submitted. A paused
 * connection submits none, so the device's IN endpoint NAKs and the device holds its data: that is the back
 * pressure. The bytes of a transfer that completes after a pause are kept (one transfer's worth) and delivered on
 * resume. Writing: written bytes are copied into a buffer; each flush lets the event thread send them as OUT
 * transfers of up to {@link #WRITE_SIZE} bytes, reporting each with {@code onWritten} once the device took it.
 * <p>
 * Closing: {@link #close()} sends what was written, then cancels the IN transfer; {@link #abort(CloseReason)} cancels
 * both. Once no transfer is in flight the interface is released, the device closed, and {@code onClosed} called,
 * once, last. An IN or OUT transfer that reports the device gone, or the device leaving the device list, ends the
 * connection with {@code DEVICE_GONE}.
 */
final class UsbConnection implements TransportConnection
{
    static final int READ_SIZE = 16 * 1024;
    static final int WRITE_SIZE = 64 * 1024;

    /**
     * How long to wait for cancelled transfers to come back before closing anyway. A real stack always returns them
     * (the kernel kills the URBs, also when the device is gone); an emulated one may not.
     */
    static final long CANCEL_TIMEOUT_MS = 2_000;

    private static final Logger LOG = LoggerFactory.getLogger(UsbConnection.class);

    private final UsbTransport transport;
    private final String key;
    private final UsbBackend.OpenDevice device;
    private final Endpoint endpoint;
    private final String name;
    private final ByteBuffer inBuffer = ByteBuffer.allocateDirect(READ_SIZE);
    private final UnsafeBuffer inView = new UnsafeBuffer(inBuffer);
    private final ByteBuffer outBuffer = ByteBuffer.allocateDirect(WRITE_SIZE);
    private volatile ConnectionHandler handler;
    private volatile boolean paused = true;

    // Guarded by writeLock: bytes written, of which the first 'flushed' may be sent.
    private final Object writeLock = new Object();
    private final ExpandableDirectByteBuffer pending = new ExpandableDirectByteBuffer(WRITE_SIZE);
    private int written;
    private int flushed;
    private boolean discarding;

    // Event thread.
    private Object inTransfer;
    private Object outTransfer;
    private int held = -1;
    private boolean closing;
    private boolean finishing;
    private boolean completed;
    private boolean deviceClosed;
    private boolean reported;
    private CloseReason reason;
    private String detail = "";

    UsbConnection(
        final UsbTransport transport,
        final String key,
        final UsbBackend.OpenDevice device,
        final Endpoint endpoint,
        final int interfaceNumber,
        final int inEndpoint,
        final int outEndpoint)
    {
        this.transport = transport;
        this.key = key;
        this.device = device;
        this.endpoint = endpoint;
        this.name = endpoint + " interface " + interfaceNumber +
            String.format(Locale.ROOT, " (IN 0x%02x, OUT 0x%02x)", inEndpoint, outEndpoint);
    }

    String key()
    {
        return key;
    }

    /**
     * The host's side has no address of its own: both ends name the device.
     *
     * @return the device.
     */
    public Endpoint localEndpoint()
    {
        return endpoint;
    }

    /**
     * {@inheritDoc}
     */
    public Endpoint remoteEndpoint()
    {
        return endpoint;
    }

    /**
     * {@inheritDoc}
     */
    public void handler(final ConnectionHandler handler)
    {
        this.handler = Objects.requireNonNull(handler, "handler");
        // A device may have left before the broker took the connection.
        transport.execute(this::reportClosed);
    }

    /**
     * {@inheritDoc}
     */
    public void pauseReading()
    {
        paused = true;
    }

    /**
     * {@inheritDoc}
     */
    public void resumeReading()
    {
        paused = false;
        transport.execute(this::pumpReads);
    }

    /**
     * {@inheritDoc}
     */
    public void write(final DirectBuffer buffer, final int offset, final int length)
    {
        synchronized (writeLock)
        {
            if (!discarding)
            {
                pending.putBytes(written, buffer, offset, length);
                written += length;
            }
        }
    }

    /**
     * {@inheritDoc}
     */
    public void flush()
    {
        synchronized (writeLock)
        {
            flushed = written;
        }
        transport.execute(this::pumpWrites);
    }

    /**
     * {@inheritDoc}
     */
    public void close()
    {
        transport.execute(() ->
        {
            if (closing || finishing)
            {
                return;
            }
            closing = true;
            synchronized (writeLock)
            {
                flushed = written;
            }
            pumpWrites();
        });
    }

    /**
     * {@inheritDoc}
     */
    public void abort(final CloseReason reason)
    {
        transport.execute(() -> finish(reason, ""));
    }

    /**
     * End the connection: drop unsent bytes, cancel transfers, and complete once none is in flight. Event thread.
     *
     * @param reason why.
     * @param detail for a person.
     */
    void finish(final CloseReason reason, final String detail)
    {
        if (finishing)
        {
            return;
        }
        finishing = true;
        this.reason = reason;
        this.detail = detail;
        synchronized (writeLock)
        {
            discarding = true;
            written = 0;
            flushed = 0;
        }
        if (CloseReason.LOCAL_CLOSED != reason)
        {
            LOG.info("USB connection {} closing: {} {}", name, reason, detail);
        }
        cancel(inTransfer);
        cancel(outTransfer);
        tryComplete();
        if (!completed)
        {
            transport.schedule(CANCEL_TIMEOUT_MS, () -> forceComplete(
                "cancelled transfers did not end within " + CANCEL_TIMEOUT_MS + " ms; the device handle is left open"));
        }
    }

    /**
     * Complete although transfers are still in flight (they did not end after cancelling). The stack may still write
     * into their buffers, so the device is not closed: its handle and the transfers are left to the stack (and freed
     * with it when the transport closes). Event thread.
     *
     * @param why for the log.
     */
    void forceComplete(final String why)
    {
        if (!completed)
        {
            LOG.warn("USB connection {}: {}", name, why);
            completed = true;
            transport.removeConnection(this);
            reportClosed();
        }
    }

    private void cancel(final Object transfer)
    {
        if (null != transfer)
        {
            try
            {
                device.cancel(transfer);
            }
            catch (final UsbBackend.UsbException ex)
            {
                LOG.debug("USB connection {}: {}", name, ex.getMessage());
            }
        }
    }

    private void tryComplete()
    {
        if (!finishing || null != inTransfer || null != outTransfer)
        {
            return;
        }
        if (!deviceClosed)
        {
            deviceClosed = true;
            try
            {
                device.close();
            }
            catch (final RuntimeException ex)
            {
                LOG.debug("USB connection {}: closing the device: {}", name, ex.getMessage());
            }
        }
        if (!completed)
        {
            completed = true;
            transport.removeConnection(this);
            reportClosed();
        }
    }

    private void reportClosed()
    {
        final ConnectionHandler handler = this.handler;
        if (completed && !reported && null != handler)
        {
            reported = true;
            handler.onClosed(reason, detail);
        }
    }

    private void pumpReads()
    {
        if (finishing)
        {
            return;
        }
        if (held >= 0 && !paused)
        {
            final int length = held;
            held = -1;
            handler.onData(inView, 0, length);
        }
        if (paused || finishing || held >= 0 || null != inTransfer)
        {
            return;
        }
        try
        {
            inTransfer = device.submitIn(inBuffer, this::onReadDone);
        }
        catch (final UsbBackend.UsbException ex)
        {
            finish(ex.deviceGone() ? CloseReason.DEVICE_GONE : CloseReason.TRANSPORT_ERROR, ex.getMessage());
        }
    }

    private void onReadDone(final int status, final int length, final String why)
    {
        inTransfer = null;
        if (finishing)
        {
            tryComplete();
            return;
        }
        switch (status)
        {
            case UsbBackend.COMPLETED:
                if (length > 0)
                {
                    held = length;
                }
                pumpReads();
                break;

            case UsbBackend.NO_DEVICE:
                finish(CloseReason.DEVICE_GONE, why);
                break;

            case UsbBackend.CANCELLED:
                // Not cancelled by us: the stack gave up on it.
                finish(CloseReason.TRANSPORT_ERROR, "bulk IN transfer cancelled");
                break;

            default:
                finish(CloseReason.TRANSPORT_ERROR, "bulk IN: " + why);
                break;
        }
    }

    private void pumpWrites()
    {
        if (finishing || null != outTransfer)
        {
            return;
        }
        final int length;
        synchronized (writeLock)
        {
            length = Math.min(flushed, WRITE_SIZE);
            if (length > 0)
            {
                pending.getBytes(0, outBuffer, 0, length);
                pending.putBytes(0, pending, length, written - length);
                written -= length;
                flushed -= length;
            }
        }
        if (0 == length)
        {
            if (closing)
            {
                finish(CloseReason.LOCAL_CLOSED, "");
            }
            return;
        }
        try
        {
            outTransfer = device.submitOut(
                outBuffer, length, (status, actual, why) -> onWriteDone(length, status, actual, why));
        }
        catch (final UsbBackend.UsbException ex)
        {
            finish(ex.deviceGone() ? CloseReason.DEVICE_GONE : CloseReason.TRANSPORT_ERROR, ex.getMessage());
        }
    }

    private void onWriteDone(final int length, final int status, final int actual, final String why)
    {
        outTransfer = null;
        if (finishing)
        {
            // The device took these bytes before the connection ended (the device may have left since): say so.
            if (UsbBackend.COMPLETED == status && actual > 0)
            {
                handler.onWritten(actual);
            }
            tryComplete();
            return;
        }
        switch (status)
        {
            case UsbBackend.COMPLETED:
                if (actual != length)
                {
                    finish(CloseReason.TRANSPORT_ERROR,
                        "bulk OUT sent " + actual + " of " + length + " bytes");
                    return;
                }
                handler.onWritten(actual);
                pumpWrites();
                break;

            case UsbBackend.NO_DEVICE:
                finish(CloseReason.DEVICE_GONE, why);
                break;

            case UsbBackend.CANCELLED:
                finish(CloseReason.TRANSPORT_ERROR, "bulk OUT transfer cancelled");
                break;

            default:
                finish(CloseReason.TRANSPORT_ERROR, "bulk OUT: " + why);
                break;
        }
    }

    /**
     * {@inheritDoc}
     */
    public String toString()
    {
        return name;
    }
}
