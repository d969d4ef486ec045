package dev.mancom.transport.serial;

import dev.mancom.protocol.codecs.CloseReason;
import dev.mancom.protocol.codecs.TransportType;
import dev.mancom.transport.ConnectHandler;
import dev.mancom.transport.TransportConnection;
import dev.mancom.transport.TransportContext;
import dev.mancom.transport.TransportException;
import dev.mancom.transport.TransportListener;
import dev.mancom.transport.TransportUri;
import dev.mancom.transport.testkit.PtyPair;
import dev.mancom.transport.testkit.RawPeer;
import dev.mancom.transport.testkit.RecordingHandler;
import dev.mancom.transport.testkit.TransportTestSupport;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Queue;
import java.util.Random;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import static dev.mancom.transport.testkit.TransportTestSupport.DEADLINE;
import static dev.mancom.transport.testkit.TransportTestSupport.DEADLINE_SECONDS;
import static dev.mancom.transport.testkit.TransportTestSupport.readFully;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What only a serial port does: a device that appears after the listener, one that goes away and comes back, a
 * device that is not a serial port, a connect to a device that is not there, and a close that sends what was
 * written. Devices are socat pseudo-terminal pairs.
 */
class SerialTransportTest
{
    @TempDir
    Path dir;

    private final Queue<Throwable> errors = new ConcurrentLinkedQueue<>();
    private final BlockingQueue<RecordingHandler> accepted = new LinkedBlockingQueue<>();
    private String prefix;
    private SerialTransport transport;
    private PtyPair pair;
    private RawPeer peer;

    @BeforeEach
    void start()
    {
        prefix = TransportTestSupport.uniquePrefix("serial-test");
        transport = new SerialTransport(new TransportContext(1, prefix, errors::add));
        pair = new PtyPair(dir, "pty");
    }

    @AfterEach
    void stop() throws Exception
    {
        if (null != peer)
        {
            peer.close();
        }
        transport.close();
        pair.close();
    }

    @Test
    void shouldOpenTheDeviceWhenItAppearsAfterTheListenerStarted() throws Exception
    {
        final TransportListener listener = listen("?baud=9600");
        assertEquals(TransportType.SERIAL, listener.localEndpoint().type());
        assertEquals(pair.a().toString(), listener.localEndpoint().path());
        assertNull(accepted.poll(300, TimeUnit.MILLISECONDS));

        pair.start();
        final RecordingHandler handler = accepted.poll(DEADLINE_SECONDS, TimeUnit.SECONDS);
        assertNotNull(handler, "no connection once the device appeared");
        assertEquals(pair.a().toString(), handler.connection.localEndpoint().path());
        assertEchoes(handler);
        assertTrue(errors.isEmpty(), errors::toString);
    }

    @Test
    void shouldCloseWithDeviceGoneWhenTheDeviceGoesAndOpenAgainWhenItIsBack() throws Exception
    {
        pair.start();
        listen("");
        final RecordingHandler first = accepted.poll(DEADLINE_SECONDS, TimeUnit.SECONDS);
        assertNotNull(first);
        assertEchoes(first);
        peer.close();
        peer = null;

        pair.stop();
        assertTrue(first.awaitClosed(DEADLINE_SECONDS));
        assertEquals(CloseReason.DEVICE_GONE, first.closeReason);
        assertTrue(first.closeDetail.contains(pair.a().toString()), first.closeDetail);
        assertTrue(first.violations.isEmpty(), first.violations::toString);
        assertEquals(1, first.closeCount.get());
        await().atMost(DEADLINE).until(() -> !Files.exists(pair.a()));

        pair.start();
        final RecordingHandler second = accepted.poll(DEADLINE_SECONDS, TimeUnit.SECONDS);
        assertNotNull(second, "no new connection once the device was back");
        assertEchoes(second);
        assertTrue(errors.isEmpty(), errors::toString);
    }

    @Test
    void shouldSendWhatWasWrittenBeforeClosing() throws Exception
    {
        pair.start();
        listen("");
        final RecordingHandler handler = accepted.poll(DEADLINE_SECONDS, TimeUnit.SECONDS);
        assertNotNull(handler);
        peer = pair.peer();
        final byte[] data = new byte[1024 * 1024 + 7];
        new Random().nextBytes(data);
        final CompletableFuture<byte[]> read = CompletableFuture.supplyAsync(() ->
        {
            final byte[] bytes = new byte[data.length];
            try
            {
                assertEquals(data.length, readFully(peer, bytes));
            }
            catch (final Exception ex)
            {
                throw new IllegalStateException(ex);
            }
            return bytes;
        });
        // Written and never flushed: the close sends it.
        handler.connection.write(new UnsafeBuffer(data), 0, data.length);
        handler.connection.close();

        assertArrayEquals(data, read.get(DEADLINE_SECONDS, TimeUnit.SECONDS));
        assertTrue(handler.awaitClosed(DEADLINE_SECONDS));
        assertEquals(CloseReason.LOCAL_CLOSED, handler.closeReason);
        assertEquals(data.length, handler.writtenAtClose);
        assertTrue(handler.violations.isEmpty(), handler.violations::toString);
    }

    @Test
    void shouldAbortAndStopItsThreadsWhileAWriteIsBlockedOnADeviceThatDoesNotRead() throws Exception
    {
        pair.start();
        listen("");
        final RecordingHandler handler = accepted.poll(DEADLINE_SECONDS, TimeUnit.SECONDS);
        assertNotNull(handler);
        final byte[] data = new byte[4 * 1024 * 1024];
        handler.connection.write(new UnsafeBuffer(data), 0, data.length);
        handler.connection.flush();
        // The device end is never read: the pseudo-terminals and socat fill up and the writer blocks.
        awaitSteadyWritten(handler);

        handler.connection.abort(CloseReason.TIMEOUT);
        assertTrue(handler.awaitClosed(DEADLINE_SECONDS));
        assertEquals(CloseReason.TIMEOUT, handler.closeReason);
        assertTrue(handler.written.get() < data.length);
        transport.close();
        await().atMost(DEADLINE).until(() -> Thread.getAllStackTraces().keySet().stream()
            .noneMatch((thread) -> thread.getName().startsWith(prefix)));
        assertTrue(handler.violations.isEmpty(), handler.violations::toString);
    }

    private static void awaitSteadyWritten(final RecordingHandler handler)
    {
        final long[] last = { -1 };
        final int[] unchanged = { 0 };
        await().atMost(DEADLINE).pollInterval(java.time.Duration.ofMillis(100)).until(() ->
        {
            final long now = handler.written.get();
            unchanged[0] = now == last[0] ? unchanged[0] + 1 : 0;
            last[0] = now;
            return unchanged[0] >= 5;
        });
    }

    @Test
    void shouldRefuseToListenOnAFileThatIsNotASerialPort() throws Exception
    {
        final Path file = Files.writeString(dir.resolve("not-a-port"), "hello");
        final TransportUri uri = TransportUri.parse("serial://" + file);
        final TransportException error = assertThrows(TransportException.class, () ->
            transport.listen(uri, (connection) -> { }));
        assertEquals("path", error.key());
        assertTrue(error.getMessage().contains(file.toString()), error::getMessage);
        assertTrue(error.getMessage().contains("not a serial port"), error::getMessage);
    }

    @Test
    void shouldReportNoSuchDeviceWhenConnectingToADeviceThatIsNotThere() throws Exception
    {
        final Path missing = dir.resolve("ttyUSB9");
        final CompletableFuture<Throwable> failed = new CompletableFuture<>();
        transport.connect(TransportUri.parse("serial://" + missing + "?baud=9600"), new ConnectHandler()
        {
            public void onConnected(final TransportConnection connection)
            {
                failed.completeExceptionally(new AssertionError("connected to a device that is not there"));
            }

            public void onConnectFailed(final Throwable cause)
            {
                failed.complete(cause);
            }
        });
        final Throwable cause = failed.get(DEADLINE_SECONDS, TimeUnit.SECONDS);
        assertEquals("no such device " + missing, cause.getMessage());
    }

    @Test
    void shouldApplyTheLineSettingsOfTheUri() throws Exception
    {
        pair.start();
        listen("?baud=9600&data_bits=7&parity=even&stop_bits=2");
        final RecordingHandler handler = accepted.poll(DEADLINE_SECONDS, TimeUnit.SECONDS);
        assertNotNull(handler);
        final Process stty = new ProcessBuilder("stty", "-F", pair.a().toRealPath().toString(), "-a")
            .redirectErrorStream(true).start();
        final String settings = new String(stty.getInputStream().readAllBytes());
        assertTrue(stty.waitFor(DEADLINE_SECONDS, TimeUnit.SECONDS));
        assertTrue(settings.contains("speed 9600 baud"), settings);
        assertTrue(settings.contains(" cstopb "), settings);
        // A pseudo-terminal keeps 8 bits and no parity whatever is asked (Linux forces CS8 and clears PARENB), but
        // the input flags that go with 7 bits and parity show they were asked for.
        assertTrue(settings.contains(" istrip ") && settings.contains(" inpck "), settings);
    }

    private TransportListener listen(final String query)
    {
        return transport.listen(TransportUri.parse("serial://" + pair.a() + query), (connection) ->
            accepted.add(new RecordingHandler(prefix, true, false).attach(connection)));
    }

    private void assertEchoes(final RecordingHandler handler) throws Exception
    {
        if (null == peer)
        {
            peer = pair.peer();
        }
        final byte[] data = new byte[4096];
        new Random().nextBytes(data);
        final long before = handler.received.get();
        peer.write(data, 0, data.length);
        await().atMost(DEADLINE).until(() -> handler.received.get() == before + data.length);
        handler.connection.write(new UnsafeBuffer(data), 0, data.length);
        handler.connection.flush();
        final byte[] echoed = new byte[data.length];
        assertEquals(data.length, readFully(peer, echoed));
        assertArrayEquals(data, echoed);
    }
}
