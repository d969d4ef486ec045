package dev.mancom.transport.usb;

import dev.mancom.transport.testkit.RawPeer;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * An in-memory USB stack for tests, because there is no USB bus here and umockdev replays scripted transfers
 * rather than echoing live data. Each {@link FakeDevice} has one interface (0) with bulk endpoints 0x81 (IN) and
 * 0x02 (OUT) backed by bounded FIFOs ({@link #FIFO_BYTES} each), so a device whose host does not read fills up and
 * holds its writer back, as a real device NAKs. The test plays the device through {@link FakeDevice#peer()}.
 * Transfers complete on the transport's event thread, inside {@link #handleEvents(long)}, as libusb's do.
 */
final class FakeUsbBackend implements UsbBackend
{
    static final int FIFO_BYTES = 64 * 1024;
    private static final Runnable WAKEUP = () -> { };
    private static final AtomicInteger ADDRESSES = new AtomicInteger(1);

    private final boolean hotplug;
    private final BlockingQueue<Runnable> events = new LinkedBlockingQueue<>();
    private final List<FakeDevice> devices = new ArrayList<>();
    private final AtomicInteger opened = new AtomicInteger();
    private final AtomicInteger claimed = new AtomicInteger();
    private volatile HotplugListener listener;
    private volatile boolean closed;

    /**
     * A stack.
     *
     * @param hotplug whether it reports arrivals and departures (otherwise the transport polls).
     */
    FakeUsbBackend(final boolean hotplug)
    {
        this.hotplug = hotplug;
    }

    /**
     * Attach a device.
     *
     * @param vendorId  its vendor id.
     * @param productId its product id.
     * @param serial    its serial number, may be null.
     * @return the device.
     */
    FakeDevice plug(final int vendorId, final int productId, final String serial)
    {
        final int address = ADDRESSES.incrementAndGet() % 127 + 1;
        final FakeDevice device = new FakeDevice(new DeviceInfo(
            "1-" + address + "@" + address, 1, "1-" + address, address, vendorId, productId, null), serial);
        synchronized (devices)
        {
            devices.add(device);
        }
        final HotplugListener hotplugListener = listener;
        if (null != hotplugListener)
        {
            events.add(() -> hotplugListener.onArrived(device.info));
        }
        return device;
    }

    /**
     * How many devices are open now.
     *
     * @return the count.
     */
    int openDevices()
    {
        return opened.get();
    }

    /**
     * How many interfaces are claimed now.
     *
     * @return the count.
     */
    int claimedInterfaces()
    {
        return claimed.get();
    }

    boolean closed()
    {
        return closed;
    }

    public boolean hasHotplug()
    {
        return hotplug;
    }

    public boolean startHotplug(final HotplugListener listener)
    {
        if (!hotplug)
        {
            return false;
        }
        this.listener = listener;
        return true;
    }

    public List<DeviceInfo> devices()
    {
        final List<DeviceInfo> list = new ArrayList<>();
        synchronized (devices)
        {
            for (final FakeDevice device : devices)
            {
                list.add(device.info);
            }
        }
        return list;
    }

    public OpenDevice open(final DeviceInfo info)
    {
        synchronized (devices)
        {
            for (final FakeDevice device : devices)
            {
                if (device.info.key().equals(info.key()))
                {
                    opened.incrementAndGet();
                    return device.new Handle();
                }
            }
        }
        throw new UsbException("USB device " + info.portPath() + " is gone", true);
    }

    public void handleEvents(final long timeoutMs)
    {
        try
        {
            Runnable event = events.poll(timeoutMs, TimeUnit.MILLISECONDS);
            while (null != event)
            {
                event.run();
                event = events.poll();
            }
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
        }
    }

    public void wakeup()
    {
        events.add(WAKEUP);
    }

    public void close()
    {
        closed = true;
    }

    /**
     * A transfer waiting for the device.
     */
    private static final class Pending
    {
        final ByteBuffer buffer;
        final int length;
        final TransferHandler handler;
        int done;

        Pending(final ByteBuffer buffer, final int length, final TransferHandler handler)
        {
            this.buffer = buffer;
            this.length = length;
            this.handler = handler;
        }
    }

    /**
     * One emulated device with a bulk IN and a bulk OUT FIFO.
     */
    final class FakeDevice
    {
        final DeviceInfo info;
        final String serial;
        private final byte[] toHost = new byte[FIFO_BYTES];
        private final byte[] fromHost = new byte[FIFO_BYTES];
        private int toHostStart;
        private int toHostCount;
        private int fromHostStart;
        private int fromHostCount;
        private Pending pendingIn;
        private Pending pendingOut;
        private boolean gone;
        private final Peer peer = new Peer();

        FakeDevice(final DeviceInfo info, final String serial)
        {
            this.info = info;
            this.serial = serial;
        }

        /**
         * The device's side, as a test drives it: writing sends to the host's IN endpoint, reading takes what the
         * host sent to the OUT endpoint, closing unplugs the device.
         *
         * @return the peer.
         */
        RawPeer peer()
        {
            return peer;
        }

        /**
         * Detach the device: pending transfers end with {@link UsbBackend#NO_DEVICE} and the stack reports it left.
         */
        void unplug()
        {
            synchronized (devices)
            {
                devices.remove(this);
            }
            synchronized (this)
            {
                if (gone)
                {
                    return;
                }
                gone = true;
                complete(pendingIn, NO_DEVICE);
                complete(pendingOut, NO_DEVICE);
                pendingIn = null;
                pendingOut = null;
                notifyAll();
            }
            final HotplugListener hotplugListener = listener;
            if (null != hotplugListener)
            {
                events.add(() -> hotplugListener.onLeft(info.key()));
            }
        }

        private void complete(final Pending transfer, final int status)
        {
            if (null != transfer)
            {
                final int done = transfer.done;
                events.add(() -> transfer.handler.onTransferDone(status, done, COMPLETED == status ? "" :
                    NO_DEVICE == status ? "the device is gone" : "cancelled"));
            }
        }

        /** Move bytes the device has into a waiting IN transfer. Holds the lock. */
        private void serviceIn()
        {
            if (null != pendingIn && toHostCount > 0)
            {
                final int n = Math.min(toHostCount, pendingIn.length);
                final int first = Math.min(n, FIFO_BYTES - toHostStart);
                pendingIn.buffer.put(0, toHost, toHostStart, first);
                pendingIn.buffer.put(first, toHost, 0, n - first);
                toHostStart = (toHostStart + n) % FIFO_BYTES;
                toHostCount -= n;
                pendingIn.done = n;
                complete(pendingIn, COMPLETED);
                pendingIn = null;
                notifyAll();
            }
        }

        /** Take bytes of a waiting OUT transfer as far as the device has room. Holds the lock. */
        private void serviceOut()
        {
            if (null == pendingOut)
            {
                return;
            }
            while (pendingOut.done < pendingOut.length && fromHostCount < FIFO_BYTES)
            {
                final int end = (fromHostStart + fromHostCount) % FIFO_BYTES;
                final int room = Math.min(FIFO_BYTES - fromHostCount, FIFO_BYTES - end);
                final int n = Math.min(room, pendingOut.length - pendingOut.done);
                pendingOut.buffer.get(pendingOut.done, fromHost, end, n);
                fromHostCount += n;
                pendingOut.done += n;
            }
            if (pendingOut.done == pendingOut.length)
            {
                complete(pendingOut, COMPLETED);
                pendingOut = null;
            }
            notifyAll();
        }

        /**
         * An open handle on the device.
         */
        final class Handle implements OpenDevice
        {
            private boolean claimedInterface;
            private boolean open = true;

            public String serialNumber()
            {
                return serial;
            }

            public int[] claim(final int interfaceNumber, final int inEndpoint, final int outEndpoint)
            {
                if (0 != interfaceNumber)
                {
                    throw new UsbException("the device has no interface " + interfaceNumber);
                }
                if (inEndpoint != UsbOptions.ANY_ENDPOINT && inEndpoint != 0x81)
                {
                    throw new UsbException("interface 0 has no bulk IN endpoint 0x" + Integer.toHexString(inEndpoint));
                }
                if (outEndpoint != UsbOptions.ANY_ENDPOINT && outEndpoint != 0x02)
                {
                    throw new UsbException("interface 0 has no bulk OUT endpoint 0x" +
                        Integer.toHexString(outEndpoint));
                }
                claimedInterface = true;
                claimed.incrementAndGet();
                return new int[] { 0x81, 0x02 };
            }

            public Object submitIn(final ByteBuffer buffer, final TransferHandler handler)
            {
                synchronized (FakeDevice.this)
                {
                    if (gone)
                    {
                        throw new UsbException("the device is gone", true);
                    }
                    pendingIn = new Pending(buffer, buffer.capacity(), handler);
                    final Pending transfer = pendingIn;
                    serviceIn();
                    return transfer;
                }
            }

            public Object submitOut(final ByteBuffer buffer, final int length, final TransferHandler handler)
            {
                synchronized (FakeDevice.this)
                {
                    if (gone)
                    {
                        throw new UsbException("the device is gone", true);
                    }
                    pendingOut = new Pending(buffer, length, handler);
                    final Pending transfer = pendingOut;
                    serviceOut();
                    return transfer;
                }
            }

            public void cancel(final Object transfer)
            {
                synchronized (FakeDevice.this)
                {
                    if (transfer == pendingIn)
                    {
                        complete(pendingIn, CANCELLED);
                        pendingIn = null;
                    }
                    else if (transfer == pendingOut)
                    {
                        complete(pendingOut, CANCELLED);
                        pendingOut = null;
                    }
                }
            }

            public void close()
            {
                if (open)
                {
                    open = false;
                    if (claimedInterface)
                    {
                        claimed.decrementAndGet();
                    }
                    opened.decrementAndGet();
                }
            }
        }

        /**
         * The device's side of the byte stream.
         */
        private final class Peer implements RawPeer
        {
            public void write(final byte[] bytes, final int offset, final int length) throws IOException
            {
                synchronized (FakeDevice.this)
                {
                    int position = 0;
                    while (position < length)
                    {
                        if (gone)
                        {
                            throw new IOException("the device is unplugged");
                        }
                        if (toHostCount == FIFO_BYTES)
                        {
                            waitForChange();
                            continue;
                        }
                        final int end = (toHostStart + toHostCount) % FIFO_BYTES;
                        final int n = Math.min(
                            Math.min(FIFO_BYTES - toHostCount, FIFO_BYTES - end), length - position);
                        System.arraycopy(bytes, offset + position, toHost, end, n);
                        toHostCount += n;
                        position += n;
                        if (toHostCount == FIFO_BYTES || position == length)
                        {
                            serviceIn();
                        }
                    }
                }
            }

            public int read(final byte[] bytes, final int offset, final int length) throws IOException
            {
                synchronized (FakeDevice.this)
                {
                    while (0 == fromHostCount)
                    {
                        if (gone)
                        {
                            throw new IOException("the device is unplugged");
                        }
                        waitForChange();
                    }
                    final int n = Math.min(Math.min(length, fromHostCount), FIFO_BYTES - fromHostStart);
                    System.arraycopy(fromHost, fromHostStart, bytes, offset, n);
                    fromHostStart = (fromHostStart + n) % FIFO_BYTES;
                    fromHostCount -= n;
                    serviceOut();
                    return n;
                }
            }

            public void close()
            {
                unplug();
            }

            private void waitForChange() throws IOException
            {
                try
                {
                    FakeDevice.this.wait();
                }
                catch (final InterruptedException ex)
                {
                    Thread.currentThread().interrupt();
                    throw new IOException("interrupted", ex);
                }
            }
        }
    }
}
