package dev.mancom.transport.usb;

import java.nio.ByteBuffer;
import java.util.List;

/**
 * What the transport needs of a USB stack: list devices, open and claim one, move bytes with asynchronous bulk
 * transfers, and hear of devices that arrive and leave. {@link LibUsbBackend} is libusb (through usb4java); the
 * tests also run the transport on an in-memory device.
 * <p>
 * Threading: {@link #handleEvents(long)} is called by the transport's one event thread, and every callback
 * (transfer completions, hotplug) runs inside it, on that thread. {@link #wakeup()} may be called from any thread.
 * Everything else is called on the event thread only.
 */
interface UsbBackend extends AutoCloseable
{
    /** A transfer moved its bytes (for IN, possibly fewer than asked: a short packet ends it). */
    int COMPLETED = 0;
    /** A transfer failed: see the detail. */
    int ERROR = 1;
    /** The device is gone. */
    int NO_DEVICE = 2;
    /** The transfer was cancelled. */
    int CANCELLED = 3;

    /**
     * Whether devices arriving and leaving are reported by {@link #startHotplug(HotplugListener)}.
     *
     * @return true when the stack can.
     */
    boolean hasHotplug();

    /**
     * Report devices that arrive and leave, from inside {@link #handleEvents(long)}. Called at most once.
     *
     * @param listener where to report.
     * @return true when registered; false when the stack cannot (the transport then polls {@link #devices()}).
     */
    boolean startHotplug(HotplugListener listener);

    /**
     * The devices attached now.
     *
     * @return the devices.
     * @throws UsbException when the list cannot be read.
     */
    List<DeviceInfo> devices();

    /**
     * Open a device and read its serial number; nothing is claimed yet.
     *
     * @param device the device.
     * @return the open device.
     * @throws UsbException when it cannot be opened (gone, no permission).
     */
    OpenDevice open(DeviceInfo device);

    /**
     * Handle completed transfers and hotplug events, waiting at most this long for one, or until {@link #wakeup()}.
     *
     * @param timeoutMs longest wait, in milliseconds.
     */
    void handleEvents(long timeoutMs);

    /**
     * Make a {@link #handleEvents(long)} in progress, or the next one, return soon. Any thread.
     */
    void wakeup();

    /**
     * Release the stack. Every open device is closed first.
     */
    void close();

    /**
     * A device as listed: where it is and what it says it is.
     *
     * @param key          stable while the device stays attached, different for a device attached again.
     * @param bus          bus number.
     * @param portPath     port path such as {@code 1-2.3}.
     * @param address      device address on the bus.
     * @param vendorId     vendor id.
     * @param productId    product id.
     * @param nativeDevice the stack's own handle on the listed device, opaque to the transport.
     */
    record DeviceInfo(
        String key, int bus, String portPath, int address, int vendorId, int productId, Object nativeDevice)
    {
    }

    /**
     * Devices arriving and leaving, reported on the event thread.
     */
    interface HotplugListener
    {
        /**
         * A device arrived.
         *
         * @param device the device.
         */
        void onArrived(DeviceInfo device);

        /**
         * A device left.
         *
         * @param key the {@link DeviceInfo#key()} it had.
         */
        void onLeft(String key);
    }

    /**
     * The end of a transfer, on the event thread.
     */
    @FunctionalInterface
    interface TransferHandler
    {
        /**
         * A transfer ended.
         *
         * @param status       {@link #COMPLETED}, {@link #ERROR}, {@link #NO_DEVICE} or {@link #CANCELLED}.
         * @param actualLength bytes moved.
         * @param detail       what went wrong, for a person; empty when completed.
         */
        void onTransferDone(int status, int actualLength, String detail);
    }

    /**
     * An open device.
     */
    interface OpenDevice
    {
        /**
         * The device's serial number string.
         *
         * @return the serial number, or null when it has none or it cannot be read.
         */
        String serialNumber();

        /**
         * Claim an interface (detaching a kernel driver if one has it) and pick its bulk endpoints.
         *
         * @param interfaceNumber the interface.
         * @param inEndpoint      the bulk IN endpoint address, or {@link UsbOptions#ANY_ENDPOINT} for the first.
         * @param outEndpoint     the bulk OUT endpoint address, or {@link UsbOptions#ANY_ENDPOINT} for the first.
         * @return the IN and OUT endpoint addresses used.
         * @throws UsbException naming the interface or endpoint when there is no such one or it cannot be claimed.
         */
        int[] claim(int interfaceNumber, int inEndpoint, int outEndpoint);

        /**
         * Start a bulk IN transfer into {@code buffer} (from 0 to its capacity).
         *
         * @param buffer  a direct buffer, untouched until the transfer ends.
         * @param handler told when it ends.
         * @return a transfer to {@link #cancel(Object)}.
         * @throws UsbException when it cannot be submitted.
         */
        Object submitIn(ByteBuffer buffer, TransferHandler handler);

        /**
         * Start a bulk OUT transfer of {@code buffer} from 0 to {@code length}.
         *
         * @param buffer  a direct buffer, untouched until the transfer ends.
         * @param length  bytes to send.
         * @param handler told when it ends.
         * @return a transfer to {@link #cancel(Object)}.
         * @throws UsbException when it cannot be submitted.
         */
        Object submitOut(ByteBuffer buffer, int length, TransferHandler handler);

        /**
         * Ask for a transfer to end; its handler is still told, with {@link #CANCELLED} or how it ended.
         *
         * @param transfer what {@link #submitIn} or {@link #submitOut} returned.
         */
        void cancel(Object transfer);

        /**
         * Release the claimed interface (if any) and close the device. No transfer may be in flight.
         */
        void close();
    }

    /**
     * A USB stack call failed.
     */
    final class UsbException extends RuntimeException
    {
        private static final long serialVersionUID = 1L;

        private final boolean deviceGone;

        /**
         * A failure.
         *
         * @param message what failed and why.
         */
        UsbException(final String message)
        {
            this(message, false);
        }

        /**
         * A failure that may be the device's leaving.
         *
         * @param message    what failed and why.
         * @param deviceGone true when it failed because the device is gone.
         */
        UsbException(final String message, final boolean deviceGone)
        {
            super(message);
            this.deviceGone = deviceGone;
        }

        /**
         * Whether it failed because the device is gone.
         *
         * @return true when the device is gone.
         */
        boolean deviceGone()
        {
            return deviceGone;
        }
    }
}
