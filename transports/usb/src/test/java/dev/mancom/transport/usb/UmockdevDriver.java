package dev.mancom.transport.usb;

import dev.mancom.protocol.Endpoint;
import dev.mancom.protocol.codecs.CloseReason;
import dev.mancom.transport.ConnectHandler;
import dev.mancom.transport.ConnectionHandler;
import dev.mancom.transport.TransportConnection;
import dev.mancom.transport.TransportContext;
import dev.mancom.transport.TransportListener;
import dev.mancom.transport.TransportUri;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The program {@link UsbUmockdevTest} runs in a child JVM under umockdev, so that the real usb4java and libusb code
 * path meets an emulated device. Arguments: a mode, a URI, and the mode's own:
 * <ul>
 *     <li>{@code exchange URI OUT_HEX IN_HEX}: connect, write OUT_HEX (one bulk OUT transfer), wait until it is
 *     reported written, start reading and wait for IN_HEX, close; prints the endpoint and the close reason.</li>
 *     <li>{@code listen URI}: listen; prints each accepted connection's endpoint, starts reading, prints its close
 *     reason; ends after the first close, or when standard input closes.</li>
 * </ul>
 * Every line it prints starts with a keyword the test reads: {@code ENDPOINT}, {@code WRITTEN}, {@code READ},
 * {@code CLOSED}, {@code LISTENING}, {@code FAILED}. It exits 0 when its mode completed.
 */
public final class UmockdevDriver
{
    private static final long WAIT_SECONDS = 30;

    private UmockdevDriver()
    {
    }

    /**
     * Run.
     *
     * @param args mode, URI, and the mode's arguments.
     * @throws Exception on failure.
     */
    public static void main(final String[] args) throws Exception
    {
        final PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        final LinkedBlockingQueue<Throwable> errors = new LinkedBlockingQueue<>();
        final TransportUri uri = TransportUri.parse(args[1]);
        final UsbTransport transport = new UsbTransport(new TransportContext(1, "umockdev-", (error) ->
        {
            out.println("FAILED reported: " + error);
            errors.add(error);
        }));
        int status = 1;
        try
        {
            if ("exchange".equals(args[0]))
            {
                exchange(out, transport, uri, HexFormat.of().parseHex(args[2]), HexFormat.of().parseHex(args[3]));
            }
            else
            {
                listen(out, transport, uri, args.length > 2 ? HexFormat.of().parseHex(args[2]) : new byte[0]);
            }
            status = 0;
        }
        catch (final Throwable ex)
        {
            out.println("FAILED " + ex);
            ex.printStackTrace(out);
        }
        finally
        {
            transport.close();
        }
        out.flush();
        System.exit(errors.isEmpty() ? status : 1);
    }

    private static void exchange(
        final PrintStream out, final UsbTransport transport, final TransportUri uri, final byte[] send,
        final byte[] expect) throws Exception
    {
        final CompletableFuture<TransportConnection> connected = new CompletableFuture<>();
        transport.connect(uri, new ConnectHandler()
        {
            public void onConnected(final TransportConnection connection)
            {
                connected.complete(connection);
            }

            public void onConnectFailed(final Throwable cause)
            {
                connected.completeExceptionally(cause);
            }
        });
        final TransportConnection connection = connected.get(WAIT_SECONDS, TimeUnit.SECONDS);
        out.println("ENDPOINT " + describe(connection.remoteEndpoint()));
        final Recorder recorder = new Recorder(out);
        // Stop reading once the answer is in: no IN transfer is then in flight at the close (umockdev's replay
        // never completes a cancelled one).
        recorder.pauseAt(connection, expect.length);
        connection.handler(recorder);

        // Bulk OUT first, then IN, as the emulated device's script has them.
        connection.write(new UnsafeBuffer(send), 0, send.length);
        connection.flush();
        recorder.awaitWritten(send.length);
        out.println("WRITTEN " + send.length);
        connection.resumeReading();
        final byte[] got = recorder.awaitRead(expect.length);
        out.println("READ " + HexFormat.of().formatHex(got));
        connection.close();
        out.println("CLOSED " + recorder.closed.get(WAIT_SECONDS, TimeUnit.SECONDS));
    }

    private static void listen(
        final PrintStream out, final UsbTransport transport, final TransportUri uri, final byte[] expect)
        throws Exception
    {
        final CompletableFuture<String> firstClose = new CompletableFuture<>();
        final TransportListener listener = transport.listen(uri, (connection) ->
        {
            out.println("ENDPOINT " + describe(connection.remoteEndpoint()));
            final Recorder recorder = new Recorder(out);
            recorder.closed.thenAccept((reason) ->
            {
                out.println("CLOSED " + reason);
                firstClose.complete(reason);
            });
            connection.handler(recorder);
            if (expect.length > 0)
            {
                recorder.pauseAt(connection, expect.length);
                recorder.printWhenRead();
                connection.resumeReading();
            }
        });
        out.println("LISTENING " + describe(listener.localEndpoint()));
        final Thread stdin = new Thread(() ->
        {
            try
            {
                while (System.in.read() >= 0)
                {
                    // Until the test closes it.
                }
            }
            catch (final java.io.IOException ignore)
            {
                // Ends the same way.
            }
            firstClose.complete("STDIN_CLOSED");
        });
        stdin.setDaemon(true);
        stdin.start();
        firstClose.get(120, TimeUnit.SECONDS);
        listener.close();
    }

    private static String describe(final Endpoint endpoint)
    {
        return "type=" + endpoint.type() + " bus=" + endpoint.usbBus() + " port=" + endpoint.path() +
            " vid=" + Integer.toHexString(endpoint.vendorId()) + " pid=" + Integer.toHexString(endpoint.productId()) +
            " serial=" + endpoint.serialNumber();
    }

    /**
     * Collects a connection's events.
     */
    private static final class Recorder implements ConnectionHandler
    {
        final CompletableFuture<String> closed = new CompletableFuture<>();
        private final PrintStream out;
        private final ByteArrayOutputStream read = new ByteArrayOutputStream();
        private final AtomicLong written = new AtomicLong();
        private TransportConnection connection;
        private int pauseAt = Integer.MAX_VALUE;
        private boolean printRead;

        Recorder(final PrintStream out)
        {
            this.out = out;
        }

        public synchronized void onData(final DirectBuffer buffer, final int offset, final int length)
        {
            final byte[] bytes = new byte[length];
            buffer.getBytes(offset, bytes);
            read.write(bytes, 0, length);
            if (read.size() >= pauseAt)
            {
                connection.pauseReading();
                if (printRead)
                {
                    out.println("READ " + HexFormat.of().formatHex(read.toByteArray()));
                }
            }
            notifyAll();
        }

        public synchronized void onWritten(final int length)
        {
            written.addAndGet(length);
            notifyAll();
        }

        public void onClosed(final CloseReason reason, final String detail)
        {
            if (!closed.complete(reason + (detail.isEmpty() ? "" : " " + detail)))
            {
                out.println("FAILED onClosed called twice");
            }
            synchronized (this)
            {
                notifyAll();
            }
        }

        synchronized void pauseAt(final TransportConnection connection, final int length)
        {
            this.connection = connection;
            this.pauseAt = length;
        }

        synchronized void printWhenRead()
        {
            printRead = true;
        }

        synchronized void awaitWritten(final long length) throws InterruptedException
        {
            final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_SECONDS);
            while (written.get() < length && !closed.isDone() && System.nanoTime() < deadline)
            {
                wait(100);
            }
            if (written.get() < length)
            {
                throw new IllegalStateException("written " + written.get() + " of " + length +
                    (closed.isDone() ? ", closed: " + closed.join() : ""));
            }
        }

        synchronized byte[] awaitRead(final int length) throws InterruptedException
        {
            final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_SECONDS);
            while (read.size() < length && !closed.isDone() && System.nanoTime() < deadline)
            {
                wait(100);
            }
            if (read.size() < length)
            {
                throw new IllegalStateException("read " + read.size() + " of " + length +
                    (closed.isDone() ? ", closed: " + closed.join() : ""));
            }
            return read.toByteArray();
        }
    }
}
