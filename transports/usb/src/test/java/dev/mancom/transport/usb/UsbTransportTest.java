package dev.mancom.transport.usb;

import dev.mancom.protocol.Endpoint;
import dev.mancom.protocol.codecs.CloseReason;
import dev.mancom.protocol.codecs.TransportType;
import dev.mancom.transport.ConnectHandler;
import dev.mancom.transport.TransportConnection;
import dev.mancom.transport.TransportContext;
import dev.mancom.transport.TransportException;
import dev.mancom.transport.TransportListener;
import dev.mancom.transport.TransportUri;
import dev.mancom.transport.testkit.RecordingHandler;
import dev.mancom.transport.testkit.TransportTestSupport;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import static dev.mancom.transport.testkit.TransportTestSupport.DEADLINE;
import static dev.mancom.transport.testkit.TransportTestSupport.DEADLINE_SECONDS;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What the shared suite does not cover, on the FAKE in-memory USB stack ({@link FakeUsbBackend}; there is no USB bus
 * here): unplugging closes with {@code DEVICE_GONE}, the interface is claimed while open and released after, the
 * serial number filters, a device that comes back is opened again, {@code connect} opens a present device or fails
 * naming the ids, and the endpoint carries the device's identity.
 */
class UsbTransportTest
{
    private final Queue<Throwable> errors = new ConcurrentLinkedQueue<>();
    private final String prefix = TransportTestSupport.uniquePrefix("usb-test");
    private final FakeUsbBackend backend = new FakeUsbBackend(false);
    private final UsbTransport transport =
        new UsbTransport(new TransportContext(1, prefix, errors::add), () -> backend);

    @AfterEach
    void close()
    {
        transport.close();
        assertTrue(backend.closed());
        assertEquals(0, backend.openDevices());
    }

    @Test
    void shouldBeReadyOnlyWhileAMatchingDeviceIsAttached() throws Exception
    {
        final LinkedBlockingQueue<RecordingHandler> accepted = new LinkedBlockingQueue<>();
        final TransportListener listener = transport.listen(
            TransportUri.parse("usb://1234:5678?serial=A&poll_ms=10"),
            (connection) -> accepted.add(new RecordingHandler(prefix, true, false).attach(connection)));
        assertFalse(listener.isReady(), "no device attached");

        // Other ids, and the right ids with another serial number: still not ready.
        backend.plug(0x1234, 0x9999, "A");
        backend.plug(0x1234, 0x5678, "B");
        final FakeUsbBackend.FakeDevice device = backend.plug(0x1234, 0x5678, "A");
        final RecordingHandler handler = accepted.poll(DEADLINE_SECONDS, TimeUnit.SECONDS);
        assertTrue(listener.isReady());

        // Its connection closed but the device still there: still ready.
        handler.connection.close();
        assertTrue(handler.awaitClosed(DEADLINE_SECONDS));
        assertTrue(listener.isReady());

        device.unplug();
        await().atMost(DEADLINE).until(() -> !listener.isReady());
        backend.plug(0x1234, 0x5678, "A");
        await().atMost(DEADLINE).until(listener::isReady);
        listener.close();
        assertFalse(listener.isReady());
    }

    @Test
    void shouldOpenArrivingMatchingDevicesAndCloseWithDeviceGoneWhenUnplugged() throws Exception
    {
        final LinkedBlockingQueue<RecordingHandler> accepted = new LinkedBlockingQueue<>();
        transport.listen(TransportUri.parse("usb://1234:5678?serial=A&poll_ms=10"), (connection) ->
            accepted.add(new RecordingHandler(prefix, true, false).attach(connection)));

        backend.plug(0x1234, 0x5678, "B");
        backend.plug(0x1234, 0x9999, "A");
        final FakeUsbBackend.FakeDevice device = backend.plug(0x1234, 0x5678, "A");
        final RecordingHandler handler = accepted.poll(DEADLINE_SECONDS, TimeUnit.SECONDS);
        final Endpoint endpoint = handler.connection.remoteEndpoint();
        assertEquals(TransportType.USB, endpoint.type());
        assertEquals(1, endpoint.usbBus());
        assertEquals(device.info.portPath(), endpoint.path());
        assertEquals(0x1234, endpoint.vendorId());
        assertEquals(0x5678, endpoint.productId());
        assertEquals("A", endpoint.serialNumber());
        assertEquals(1, backend.claimedInterfaces());

        final byte[] hello = { 1, 2, 3 };
        device.peer().write(hello, 0, hello.length);
        await().atMost(DEADLINE).until(() -> handler.received.get() == hello.length);
        assertArrayEquals(hello, handler.bytes());

        device.unplug();
        assertTrue(handler.awaitClosed(DEADLINE_SECONDS));
        assertEquals(CloseReason.DEVICE_GONE, handler.closeReason);
        assertEquals(0, backend.claimedInterfaces());
        assertEquals(0, backend.openDevices());

        // Back again: a new connection.
        backend.plug(0x1234, 0x5678, "A");
        final RecordingHandler again = accepted.poll(DEADLINE_SECONDS, TimeUnit.SECONDS);
        assertEquals(1, backend.claimedInterfaces());
        again.connection.close();
        assertTrue(again.awaitClosed(DEADLINE_SECONDS));
        assertEquals(CloseReason.LOCAL_CLOSED, again.closeReason);
        assertEquals(0, backend.claimedInterfaces());
        assertTrue(accepted.isEmpty());
        assertTrue(handler.violations.isEmpty(), handler.violations::toString);
        assertTrue(errors.isEmpty(), errors::toString);
    }

    @Test
    void shouldConnectToAPresentDeviceAndFailNamingTheIdsWhenNoneIs() throws Exception
    {
        final FakeUsbBackend.FakeDevice device = backend.plug(0xabcd, 0xef01, null);
        final Connect connect = new Connect();
        transport.connect(TransportUri.parse("usb://ABCD:EF01"), connect);
        final TransportConnection connection = connect.connected.get(DEADLINE_SECONDS, TimeUnit.SECONDS);
        assertEquals(0xabcd, connection.remoteEndpoint().vendorId());
        assertEquals(null, connection.remoteEndpoint().serialNumber());
        final RecordingHandler handler = new RecordingHandler(prefix, false, false).attach(connection);

        final byte[] data = { 9, 8, 7, 6 };
        connection.write(new UnsafeBuffer(data), 0, data.length);
        connection.close();
        final byte[] read = new byte[4];
        assertEquals(4, device.peer().read(read, 0, 4));
        assertArrayEquals(data, read);
        assertTrue(handler.awaitClosed(DEADLINE_SECONDS));
        assertEquals(CloseReason.LOCAL_CLOSED, handler.closeReason);
        assertEquals(4, handler.writtenAtClose);

        final Connect missing = new Connect();
        transport.connect(TransportUri.parse("usb://abcd:0001?serial=X"), missing);
        final Throwable cause = missing.failed.get(DEADLINE_SECONDS, TimeUnit.SECONDS);
        assertTrue(cause.getMessage().contains("abcd:0001 with serial 'X'"), cause::getMessage);
    }

    @Test
    void shouldReportADeviceWithoutTheInterfaceAndNotClaimIt() throws Exception
    {
        backend.plug(0x1234, 0x5678, null);
        final Connect connect = new Connect();
        transport.connect(TransportUri.parse("usb://1234:5678?interface=3"), connect);
        final Throwable cause = connect.failed.get(DEADLINE_SECONDS, TimeUnit.SECONDS);
        assertTrue(cause instanceof TransportException);
        assertTrue(cause.getMessage().contains("no interface 3"), cause::getMessage);
        assertEquals(0, backend.openDevices());
    }

    /**
     * Records the outcome of a connect.
     */
    private static final class Connect implements ConnectHandler
    {
        final CompletableFuture<TransportConnection> connected = new CompletableFuture<>();
        final CompletableFuture<Throwable> failed = new CompletableFuture<>();

        public void onConnected(final TransportConnection connection)
        {
            connected.complete(connection);
        }

        public void onConnectFailed(final Throwable cause)
        {
            failed.complete(cause);
        }
    }
}
