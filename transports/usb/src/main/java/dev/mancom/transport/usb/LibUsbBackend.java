package dev.mancom.transport.usb;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.usb4java.ConfigDescriptor;
import org.usb4java.Context;
import org.usb4java.Device;
import org.usb4java.DeviceDescriptor;
import org.usb4java.DeviceHandle;
import org.usb4java.DeviceList;
import org.usb4java.EndpointDescriptor;
import org.usb4java.HotplugCallbackHandle;
import org.usb4java.Interface;
import org.usb4java.InterfaceDescriptor;
import org.usb4java.LibUsb;
import org.usb4java.LibUsbException;
import org.usb4java.Transfer;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The USB stack as libusb 1.0 sees it, through usb4java (which bundles libusb and its native glue: nothing needs
 * installing). One libusb context per transport; transfers are libusb's asynchronous ones, completed inside
 * {@link #handleEvents(long)}; {@link #wakeup()} is {@code libusb_interrupt_event_handler}. Hotplug is libusb's,
 * where {@code LIBUSB_CAP_HAS_HOTPLUG} says it works.
 */
final class LibUsbBackend implements UsbBackend
{
    private static final Logger LOG = LoggerFactory.getLogger(LibUsbBackend.class);
    private static final int MAX_PORT_DEPTH = 7;
    private static final String GONE = "the device is gone";

    private final Context context = new Context();
    private final Map<Transfer, TransferHandler> inFlight = new IdentityHashMap<>();
    private final List<LibUsbDevice> openDevices = new ArrayList<>();
    private HotplugCallbackHandle hotplugHandle;
    private volatile boolean closed;

    /**
     * Start libusb.
     *
     * @throws UsbException when libusb cannot start (no USB file system, no native library for the platform).
     */
    LibUsbBackend()
    {
        final int result;
        try
        {
            result = LibUsb.init(context);
        }
        catch (final LibUsbException | UnsatisfiedLinkError ex)
        {
            throw new UsbException("libusb could not be loaded: " + ex.getMessage());
        }
        check(result, "libusb_init");
    }

    /**
     * {@inheritDoc}
     */
    public boolean hasHotplug()
    {
        return LibUsb.hasCapability(LibUsb.CAP_HAS_HOTPLUG);
    }

    /**
     * {@inheritDoc}
     */
    public boolean startHotplug(final HotplugListener listener)
    {
        if (!hasHotplug())
        {
            return false;
        }
        final HotplugCallbackHandle handle = new HotplugCallbackHandle();
        final int result = LibUsb.hotplugRegisterCallback(
            context,
            LibUsb.HOTPLUG_EVENT_DEVICE_ARRIVED | LibUsb.HOTPLUG_EVENT_DEVICE_LEFT,
            LibUsb.HOTPLUG_NO_FLAGS,
            LibUsb.HOTPLUG_MATCH_ANY,
            LibUsb.HOTPLUG_MATCH_ANY,
            LibUsb.HOTPLUG_MATCH_ANY,
            (ctx, device, event, userData) ->
            {
                if (event == LibUsb.HOTPLUG_EVENT_DEVICE_ARRIVED)
                {
                    final DeviceInfo info = describe(device);
                    if (null != info)
                    {
                        listener.onArrived(info);
                    }
                }
                else
                {
                    listener.onLeft(keyOf(device));
                }
                return 0;
            },
            null,
            handle);
        if (result != LibUsb.SUCCESS)
        {
            return false;
        }
        hotplugHandle = handle;
        return true;
    }

    /**
     * {@inheritDoc}
     */
    public List<DeviceInfo> devices()
    {
        final DeviceList list = new DeviceList();
        final int count = LibUsb.getDeviceList(context, list);
        if (count < 0)
        {
            throw new UsbException("cannot list USB devices: " + LibUsb.strError(count));
        }
        try
        {
            final List<DeviceInfo> devices = new ArrayList<>(count);
            for (final Device device : list)
            {
                final DeviceInfo info = describe(device);
                if (null != info)
                {
                    devices.add(info);
                }
            }
            return devices;
        }
        finally
        {
            LibUsb.freeDeviceList(list, true);
        }
    }

    /**
     * {@inheritDoc}
     */
    public OpenDevice open(final DeviceInfo info)
    {
        final DeviceList list = new DeviceList();
        final int count = LibUsb.getDeviceList(context, list);
        if (count < 0)
        {
            throw new UsbException("cannot list USB devices: " + LibUsb.strError(count));
        }
        try
        {
            for (final Device device : list)
            {
                if (info.key().equals(keyOf(device)))
                {
                    final DeviceHandle handle = new DeviceHandle();
                    check(LibUsb.open(device, handle), "cannot open USB device " + info.portPath());
                    final LibUsbDevice open = new LibUsbDevice(device, handle, readSerial(device, handle));
                    openDevices.add(open);
                    return open;
                }
            }
        }
        finally
        {
            LibUsb.freeDeviceList(list, true);
        }
        throw new UsbException("USB device " + info.portPath() + " is gone", true);
    }

    /**
     * {@inheritDoc}
     */
    public void handleEvents(final long timeoutMs)
    {
        final int result = LibUsb.handleEventsTimeout(context, timeoutMs * 1000L);
        if (result != LibUsb.SUCCESS && result != LibUsb.ERROR_INTERRUPTED && result != LibUsb.ERROR_TIMEOUT)
        {
            throw new UsbException("libusb_handle_events failed: " + LibUsb.strError(result));
        }
    }

    /**
     * {@inheritDoc}
     */
    public void wakeup()
    {
        synchronized (context)
        {
            if (!closed)
            {
                LibUsb.interruptEventHandler(context);
            }
        }
    }

    /**
     * {@inheritDoc}
     */
    public void close()
    {
        if (closed)
        {
            return;
        }
        for (final LibUsbDevice device : new ArrayList<>(openDevices))
        {
            device.close();
        }
        if (null != hotplugHandle)
        {
            LibUsb.hotplugDeregisterCallback(context, hotplugHandle);
            hotplugHandle = null;
        }
        synchronized (context)
        {
            closed = true;
            LibUsb.exit(context);
        }
    }

    private static DeviceInfo describe(final Device device)
    {
        final DeviceDescriptor descriptor = new DeviceDescriptor();
        if (LibUsb.getDeviceDescriptor(device, descriptor) != LibUsb.SUCCESS)
        {
            return null;
        }
        return new DeviceInfo(
            keyOf(device),
            LibUsb.getBusNumber(device),
            portPath(device),
            LibUsb.getDeviceAddress(device),
            descriptor.idVendor() & 0xffff,
            descriptor.idProduct() & 0xffff,
            null);
    }

    private static String keyOf(final Device device)
    {
        return portPath(device) + "@" + LibUsb.getDeviceAddress(device);
    }

    /**
     * The port path as the kernel writes it: bus, then the port numbers from the root hub, {@code 1-2.3}; a root
     * hub is its bus number alone.
     */
    private static String portPath(final Device device)
    {
        final ByteBuffer ports = ByteBuffer.allocateDirect(MAX_PORT_DEPTH);
        final int depth = LibUsb.getPortNumbers(device, ports);
        final StringBuilder path = new StringBuilder().append(LibUsb.getBusNumber(device));
        for (int i = 0; i < depth; i++)
        {
            path.append(0 == i ? '-' : '.').append(ports.get(i) & 0xff);
        }
        return path.toString();
    }

    private static String readSerial(final Device device, final DeviceHandle handle)
    {
        final DeviceDescriptor descriptor = new DeviceDescriptor();
        if (LibUsb.getDeviceDescriptor(device, descriptor) != LibUsb.SUCCESS || 0 == descriptor.iSerialNumber())
        {
            return null;
        }
        final StringBuffer serial = new StringBuffer();
        final int result = LibUsb.getStringDescriptorAscii(handle, descriptor.iSerialNumber(), serial);
        return result < 0 ? null : serial.toString();
    }

    private static void check(final int result, final String what)
    {
        if (result < 0)
        {
            throw new UsbException(what + ": " + LibUsb.strError(result));
        }
    }

    private void onTransfer(final Transfer transfer)
    {
        final TransferHandler handler = inFlight.remove(transfer);
        final int status = transfer.status();
        final int actual = transfer.actualLength();
        LibUsb.freeTransfer(transfer);
        if (null == handler)
        {
            return;
        }
        if (status == LibUsb.TRANSFER_COMPLETED)
        {
            handler.onTransferDone(COMPLETED, actual, "");
        }
        else if (status == LibUsb.TRANSFER_NO_DEVICE)
        {
            handler.onTransferDone(NO_DEVICE, actual, "the device is gone");
        }
        else if (status == LibUsb.TRANSFER_CANCELLED)
        {
            handler.onTransferDone(CANCELLED, actual, "cancelled");
        }
        else
        {
            handler.onTransferDone(ERROR, actual, transferStatus(status));
        }
    }

    private static String transferStatus(final int status)
    {
        if (status == LibUsb.TRANSFER_STALL)
        {
            return "endpoint stalled";
        }
        if (status == LibUsb.TRANSFER_OVERFLOW)
        {
            return "the device sent more than asked (overflow)";
        }
        if (status == LibUsb.TRANSFER_TIMED_OUT)
        {
            return "transfer timed out";
        }
        return "transfer failed (libusb status " + status + ")";
    }

    /**
     * An open libusb device handle.
     */
    private final class LibUsbDevice implements OpenDevice
    {
        private final Device device;
        private final DeviceHandle handle;
        private final String serial;
        private int claimed = -1;
        private boolean reattach;
        private int inAddress;
        private int outAddress;
        private boolean open = true;

        LibUsbDevice(final Device device, final DeviceHandle handle, final String serial)
        {
            this.device = LibUsb.refDevice(device);
            this.handle = handle;
            this.serial = serial;
        }

        public String serialNumber()
        {
            return serial;
        }

        public int[] claim(final int interfaceNumber, final int inEndpoint, final int outEndpoint)
        {
            final ConfigDescriptor config = new ConfigDescriptor();
            int read = LibUsb.getActiveConfigDescriptor(device, config);
            if (read == LibUsb.ERROR_NOT_FOUND)
            {
                // libusb did not learn the active configuration (seen with a device that arrived through hotplug
                // under emulation): take the first one, which is the active one of nearly every device.
                read = LibUsb.getConfigDescriptor(device, (byte)0, config);
            }
            check(read, "cannot read the configuration descriptor");
            int in = -1;
            int out = -1;
            boolean found = false;
            try
            {
                for (final Interface iface : config.iface())
                {
                    for (final InterfaceDescriptor alt : iface.altsetting())
                    {
                        if ((alt.bInterfaceNumber() & 0xff) != interfaceNumber || 0 != alt.bAlternateSetting())
                        {
                            continue;
                        }
                        found = true;
                        for (final EndpointDescriptor endpoint : alt.endpoint())
                        {
                            if ((endpoint.bmAttributes() & LibUsb.TRANSFER_TYPE_MASK) != LibUsb.TRANSFER_TYPE_BULK)
                            {
                                continue;
                            }
                            final int address = endpoint.bEndpointAddress() & 0xff;
                            if (0 != (address & 0x80))
                            {
                                if ((inEndpoint == UsbOptions.ANY_ENDPOINT && in < 0) || inEndpoint == address)
                                {
                                    in = address;
                                }
                            }
                            else if ((outEndpoint == UsbOptions.ANY_ENDPOINT && out < 0) || outEndpoint == address)
                            {
                                out = address;
                            }
                        }
                    }
                }
            }
            finally
            {
                LibUsb.freeConfigDescriptor(config);
            }
            if (!found)
            {
                throw new UsbException("the device has no interface " + interfaceNumber);
            }
            if (in < 0)
            {
                throw new UsbException("interface " + interfaceNumber + " has no bulk IN endpoint" +
                    (inEndpoint == UsbOptions.ANY_ENDPOINT ? "" : String.format(Locale.ROOT, " 0x%02x", inEndpoint)));
            }
            if (out < 0)
            {
                throw new UsbException("interface " + interfaceNumber + " has no bulk OUT endpoint" +
                    (outEndpoint == UsbOptions.ANY_ENDPOINT ? "" : String.format(Locale.ROOT, " 0x%02x", outEndpoint)));
            }
            int result = LibUsb.claimInterface(handle, interfaceNumber);
            if (result == LibUsb.ERROR_BUSY && 1 == LibUsb.kernelDriverActive(handle, interfaceNumber))
            {
                // A kernel driver has it: take it over, and give it back on close.
                check(LibUsb.detachKernelDriver(handle, interfaceNumber),
                    "cannot detach the kernel driver from interface " + interfaceNumber);
                reattach = true;
                result = LibUsb.claimInterface(handle, interfaceNumber);
            }
            check(result, "cannot claim interface " + interfaceNumber);
            claimed = interfaceNumber;
            inAddress = in;
            outAddress = out;
            return new int[] { in, out };
        }

        public Object submitIn(final ByteBuffer buffer, final TransferHandler handler)
        {
            return submit(inAddress, buffer.duplicate().clear().slice(), handler);
        }

        public Object submitOut(final ByteBuffer buffer, final int length, final TransferHandler handler)
        {
            return submit(outAddress, buffer.duplicate().clear().limit(length).slice(), handler);
        }

        private Object submit(final int endpoint, final ByteBuffer buffer, final TransferHandler handler)
        {
            if (claimed < 0)
            {
                throw new UsbException("no interface is claimed");
            }
            final Transfer transfer = LibUsb.allocTransfer();
            // No time-out: a device that does not read or has nothing to say holds the transfer (back pressure);
            // closing cancels it.
            LibUsb.fillBulkTransfer(transfer, handle, (byte)endpoint, buffer, LibUsbBackend.this::onTransfer, null, 0);
            inFlight.put(transfer, handler);
            final int result = LibUsb.submitTransfer(transfer);
            if (result < 0)
            {
                inFlight.remove(transfer);
                LibUsb.freeTransfer(transfer);
                if (result == LibUsb.ERROR_NO_DEVICE)
                {
                    throw new UsbException(GONE, true);
                }
                throw new UsbException("cannot submit a bulk transfer: " + LibUsb.strError(result));
            }
            return transfer;
        }

        public void cancel(final Object transfer)
        {
            final int result = LibUsb.cancelTransfer((Transfer)transfer);
            if (result < 0 && result != LibUsb.ERROR_NOT_FOUND && result != LibUsb.ERROR_NO_DEVICE)
            {
                throw new UsbException("cannot cancel a transfer: " + LibUsb.strError(result));
            }
        }

        public void close()
        {
            if (!open)
            {
                return;
            }
            open = false;
            openDevices.remove(this);
            if (claimed >= 0)
            {
                // Fails harmlessly when the device is gone.
                final int released = LibUsb.releaseInterface(handle, claimed);
                LOG.debug("released interface {} of USB device {}: {}", claimed, keyOf(device),
                    LibUsb.strError(released));
                if (reattach)
                {
                    LibUsb.attachKernelDriver(handle, claimed);
                }
                claimed = -1;
            }
            LibUsb.close(handle);
            LibUsb.unrefDevice(device);
        }
    }
}
