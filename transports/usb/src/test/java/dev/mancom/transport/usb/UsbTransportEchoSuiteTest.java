package dev.mancom.transport.usb;

import dev.mancom.protocol.codecs.TransportType;
import dev.mancom.transport.Transport;
import dev.mancom.transport.TransportContext;
import dev.mancom.transport.TransportListener;
import dev.mancom.transport.TransportUri;
import dev.mancom.transport.testkit.RawPeer;
import dev.mancom.transport.testkit.TransportEchoSuite;
import org.junit.jupiter.api.Nested;

import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The shared transport suite on the USB transport, with the USB stack FAKED: {@link FakeUsbBackend} is an in-memory
 * device whose bulk endpoints are bounded FIFOs (so back pressure is real: a paused connection stops submitting IN
 * transfers and the device's writer blocks; a device that does not read holds OUT transfers back). It runs the whole
 * transport (event thread, transfer bookkeeping, pause and resume, flush, close, abort, listener, hotplug) but not
 * libusb: there is no USB bus on the build machines, and umockdev, which does drive the real libusb code path (see
 * {@link UsbUmockdevTest}), replays scripted transfers and cannot echo random data live. Polling for devices is
 * covered by {@link UsbTransportTest} and {@link UsbUmockdevTest}.
 * <p>
 * A peer is a device plugged in while the listener runs; the peer's close is the device's unplugging, which the
 * transport reports as {@code DEVICE_GONE}, not {@code REMOTE_CLOSED}: so the suite's peer-close tests are skipped.
 * {@code connect} opens a present device rather than reaching a listener, so the suite's connect tests are skipped
 * too; {@link UsbTransportTest} covers both.
 */
class UsbTransportEchoSuiteTest
{
    private static final AtomicInteger SERIALS = new AtomicInteger();

    @Nested
    class Hotplug extends UsbSuite
    {
        Hotplug()
        {
            super(true);
        }
    }

    /**
     * The suite with the fake stack reporting arrivals (hotplug) or not (the transport polls).
     */
    abstract static class UsbSuite extends TransportEchoSuite
    {
        private final boolean hotplug;
        private FakeUsbBackend backend;

        UsbSuite(final boolean hotplug)
        {
            this.hotplug = hotplug;
        }

        protected String scheme()
        {
            return "usb";
        }

        protected TransportType transportType()
        {
            return TransportType.USB;
        }

        protected Set<Feature> features()
        {
            return EnumSet.of(Feature.BACK_PRESSURE, Feature.MANY_CONNECTIONS);
        }

        protected Transport createTransport(final TransportContext context)
        {
            backend = new FakeUsbBackend(hotplug);
            return new UsbTransport(context, () -> backend);
        }

        protected TransportUri listenUri()
        {
            // Each listener its own serial number, so that devices plugged for one are not taken by another.
            return TransportUri.parse("usb://1234:5678?poll_ms=10&serial=s" + SERIALS.incrementAndGet());
        }

        protected TransportUri connectUri(final TransportListener listener)
        {
            return TransportUri.parse("usb://1234:5678?serial=" + listener.localEndpoint().serialNumber());
        }

        protected RawPeer connectPeer(final TransportListener listener)
        {
            return backend.plug(0x1234, 0x5678, listener.localEndpoint().serialNumber()).peer();
        }

        protected TransportUri unreachableUri()
        {
            return TransportUri.parse("usb://dead:beef");
        }

        protected List<BadUri> badUris()
        {
            return List.of(
                new BadUri("usb://12345:5678", "vid"),
                new BadUri("usb://zz:5678", "vid"),
                new BadUri("usb://1234:56789", "pid"),
                new BadUri("usb://1234", "pid"),
                new BadUri("usb:///x", "vid"),
                new BadUri("tcp://1234:5678", "scheme"),
                new BadUri("usb://1234:5678/path", "path"),
                new BadUri("usb://1234:5678?colour=blue", "colour"),
                new BadUri("usb://1234:5678?interface=x", "interface"),
                new BadUri("usb://1234:5678?interface=256", "interface"),
                new BadUri("usb://1234:5678?in=0x02", "in"),
                new BadUri("usb://1234:5678?out=0x81", "out"),
                new BadUri("usb://1234:5678?serial=", "serial"),
                new BadUri("usb://1234:5678?hotplug=maybe", "hotplug"),
                new BadUri("usb://1234:5678?poll_ms=0", "poll_ms"));
        }
    }
}
