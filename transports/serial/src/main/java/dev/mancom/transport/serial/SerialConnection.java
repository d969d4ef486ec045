package dev.mancom.transport.serial;

import com.fazecast.jSerialComm.SerialPort;
import dev.mancom.protocol.Endpoint;
import dev.mancom.protocol.codecs.CloseReason;
import dev.mancom.transport.ConnectionHandler;
import dev.mancom.transport.TransportConnection;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Objects;
import java.util.concurrent.TimeUnit;

/**
 * One open serial port as a connection, with two threads of its own: a reader, which blocks in {@code read} for at
 * most {@link SerialPorts#READ_TIMEOUT_MS} at a time, delivers {@code onData}, and closes the port at the end
 * ({@code onClosed} comes from it); and a writer, which sleeps until bytes are flushed, writes them with blocking
 * writes (which return once the kernel has taken the bytes) and reports {@code onWritten}. A close waits until the
 * kernel has sent what it took before the port is closed. Handler calls are made one at a time (under one lock),
 * in order, and none follows {@code onClosed}.
 * <p>
 * A paused reader does not read the port: the bytes wait in the kernel's buffers for the tty, and a pseudo-terminal
 * then holds its writer back. A real serial line holds the far end back only with flow control ({@code rts_cts} drops
 * RTS, {@code xon_xoff} sends XOFF when the kernel's buffer fills); without it, bytes that arrive once the kernel's
 * buffer is full are lost by the driver (an overrun), as they would be for any program that stops reading.
 */
final class SerialConnection implements TransportConnection
{
    /**
     * Hears that a connection has ended.
     */
    @FunctionalInterface
    interface Finished
    {
        /**
         * The connection has closed its port and delivered {@code onClosed}. Called on the reader thread.
         *
         * @param connection the connection.
         * @param reason     why it closed.
         * @param detail     more detail.
         */
        void onFinished(SerialConnection connection, CloseReason reason, String detail);
    }

    /**
     * What the connection tells its owner, the transport.
     */
    interface Owner extends Finished
    {
        /**
         * Something failed that no caller can hear about.
         *
         * @param error what.
         */
        void onError(Throwable error);
    }

    /**
     * What the reader does before it reads: tell the listener or the connecting caller about the connection.
     */
    interface Opened
    {
        /**
         * The connection is ready to be handed over. Called on the reader thread.
         *
         * @param connection the connection.
         */
        void onOpened(SerialConnection connection);
    }

    private static final Logger LOG = LoggerFactory.getLogger(SerialConnection.class);
    private static final int READ_LENGTH = 16 * 1024;
    private static final int WRITE_CHUNK = 16 * 1024;
    private static final long PAUSED_CHECK_MS = 200;
    private static final long WRITER_STOP_WAIT_MS = 2_000;
    private static final long DRAIN_SLACK_MS = 2_000;
    private static final long DRAIN_CHECK_MS = 10;

    private final SerialPort port;
    private final int baud;
    private final String path;
    private final Endpoint endpoint;
    private final Owner owner;
    private final Opened opened;
    private final Thread reader;
    private final Thread writer;

    /** Serialises the handler's calls; never held while waiting for the port or for {@link #state}'s monitor. */
    private final Object handlerLock = new Object();
    private ConnectionHandler handler;
    private boolean finished;

    /** Guards what follows; waits and notifications on it wake the reader and the writer. */
    private final Object state = new Object();
    private boolean readingPaused = true;
    private boolean everResumed;
    private boolean closeRequested;
    private boolean writerDone;
    private CloseReason endReason;
    private String endDetail = "";
    private byte[] outbound = new byte[WRITE_CHUNK];
    private int outboundStart;
    private int outboundEnd;
    private int outboundFlushed;

    SerialConnection(
        final SerialPort port,
        final int baud,
        final String path,
        final String threadNamePrefix,
        final Owner owner,
        final Opened opened)
    {
        this.port = Objects.requireNonNull(port, "port");
        this.baud = baud;
        this.path = path;
        this.endpoint = Endpoint.serial(path);
        this.owner = owner;
        this.opened = opened;
        this.reader = new Thread(this::runReader, threadNamePrefix + "read");
        this.writer = new Thread(this::runWriter, threadNamePrefix + "write");
        reader.setDaemon(true);
        writer.setDaemon(true);
    }

    /**
     * Start the threads; the reader first hands the connection over, then reads once reading is resumed.
     */
    void start()
    {
        writer.start();
        reader.start();
    }

    /**
     * The device's path, as the URI gave it.
     *
     * @return the path.
     */
    String path()
    {
        return path;
    }

    /**
     * Whether the broker ever resumed reading: false for a connection it refused (no application accepts it).
     *
     * @return true once {@link #resumeReading()} was called.
     */
    boolean everResumed()
    {
        synchronized (state)
        {
            return everResumed;
        }
    }

    /**
     * Wait, up to a bound, until both threads have ended.
     *
     * @param timeoutMs the bound.
     * @throws InterruptedException when interrupted.
     */
    void join(final long timeoutMs) throws InterruptedException
    {
        final long deadlineNs = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        reader.join(Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadlineNs - System.nanoTime())));
        writer.join(Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadlineNs - System.nanoTime())));
    }

    /**
     * {@inheritDoc}
     */
    public Endpoint localEndpoint()
    {
        return endpoint;
    }

    /**
     * The device on the line: known only by the port it is on.
     *
     * @return the same endpoint as {@link #localEndpoint()}.
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
        synchronized (handlerLock)
        {
            this.handler = handler;
        }
    }

    /**
     * {@inheritDoc}
     */
    public void pauseReading()
    {
        synchronized (state)
        {
            readingPaused = true;
        }
    }

    /**
     * {@inheritDoc}
     */
    public void resumeReading()
    {
        synchronized (state)
        {
            readingPaused = false;
            everResumed = true;
            state.notifyAll();
        }
    }

    /**
     * {@inheritDoc}
     */
    public void write(final DirectBuffer buffer, final int offset, final int length)
    {
        synchronized (state)
        {
            if (closeRequested || null != endReason)
            {
                return;
            }
            if (outboundEnd + length > outbound.length)
            {
                final int pending = outboundEnd - outboundStart;
                if (pending + length > outbound.length)
                {
                    // The caller bounds what it writes ahead of onWritten, so this grows to that bound and stays.
                    final byte[] larger = new byte[Math.max(outbound.length * 2, pending + length)];
                    System.arraycopy(outbound, outboundStart, larger, 0, pending);
                    outbound = larger;
                }
                else
                {
                    System.arraycopy(outbound, outboundStart, outbound, 0, pending);
                }
                outboundFlushed -= outboundStart;
                outboundEnd = pending;
                outboundStart = 0;
            }
            buffer.getBytes(offset, outbound, outboundEnd, length);
            outboundEnd += length;
        }
    }

    /**
     * {@inheritDoc}
     */
    public void flush()
    {
        synchronized (state)
        {
            if (outboundFlushed != outboundEnd)
            {
                outboundFlushed = outboundEnd;
                state.notifyAll();
            }
        }
    }

    /**
     * {@inheritDoc}
     */
    public void close()
    {
        synchronized (state)
        {
            if (!closeRequested && null == endReason)
            {
                closeRequested = true;
                state.notifyAll();
            }
        }
    }

    /**
     * {@inheritDoc}
     */
    public void abort(final CloseReason reason)
    {
        end(reason, "");
    }

    /**
     * The connection ends for this reason, unless it is ending already: the threads stop, unsent bytes are dropped.
     */
    private void end(final CloseReason reason, final String detail)
    {
        synchronized (state)
        {
            if (null == endReason)
            {
                endReason = reason;
                endDetail = detail;
                state.notifyAll();
            }
        }
    }

    private boolean ending()
    {
        return null != endReason || (closeRequested && writerDone);
    }

    private void runReader()
    {
        try
        {
            opened.onOpened(this);
            final byte[] bytes = new byte[READ_LENGTH];
            final UnsafeBuffer view = new UnsafeBuffer(bytes);
            while (awaitReading())
            {
                final int n = port.readBytes(bytes, bytes.length);
                if (n < 0)
                {
                    deviceGone("read", port.getLastErrorCode());
                }
                else if (n > 0 && awaitReading())
                {
                    // Bytes read before a pause are kept until reading resumes, then delivered.
                    synchronized (handlerLock)
                    {
                        if (null != handler && !finished)
                        {
                            handler.onData(view, 0, n);
                        }
                    }
                }
            }
        }
        catch (final InterruptedException ex)
        {
            end(CloseReason.BROKER_SHUTDOWN, "interrupted");
        }
        catch (final Throwable ex)
        {
            owner.onError(ex);
            end(CloseReason.TRANSPORT_ERROR, ex.toString());
        }
        finally
        {
            finish();
        }
    }

    /**
     * Wait while reading is paused, looking at the device now and then so that a paused connection still learns
     * that its device is gone.
     *
     * @return false when the connection ends.
     */
    private boolean awaitReading() throws InterruptedException
    {
        synchronized (state)
        {
            while (readingPaused && !ending())
            {
                state.wait(PAUSED_CHECK_MS);
                if (readingPaused && !ending() && port.bytesAvailable() < 0)
                {
                    deviceGone("check", port.getLastErrorCode());
                }
            }
            return !ending();
        }
    }

    private void deviceGone(final String operation, final int errno)
    {
        end(CloseReason.DEVICE_GONE, "serial device " + path + " failed on " + operation + ": " +
            SerialPorts.describe(errno));
    }

    private void runWriter()
    {
        final byte[] chunk = new byte[WRITE_CHUNK];
        try
        {
            while (true)
            {
                final int length;
                synchronized (state)
                {
                    while (null == endReason && !closeRequested && outboundFlushed == outboundStart)
                    {
                        state.wait();
                    }
                    if (null != endReason)
                    {
                        return;
                    }
                    if (closeRequested)
                    {
                        // What was written goes out before the close, flushed or not.
                        outboundFlushed = outboundEnd;
                        if (outboundEnd == outboundStart)
                        {
                            writerDone = true;
                            state.notifyAll();
                            return;
                        }
                    }
                    length = Math.min(chunk.length, outboundFlushed - outboundStart);
                    System.arraycopy(outbound, outboundStart, chunk, 0, length);
                    outboundStart += length;
                    if (outboundStart == outboundEnd)
                    {
                        outboundStart = 0;
                        outboundEnd = 0;
                        outboundFlushed = 0;
                    }
                }

                int written = 0;
                while (written < length)
                {
                    final int n = port.writeBytes(chunk, length - written, written);
                    if (n <= 0)
                    {
                        deviceGone("write", port.getLastErrorCode());
                        return;
                    }
                    written += n;
                }
                synchronized (handlerLock)
                {
                    if (null != handler && !finished)
                    {
                        handler.onWritten(length);
                    }
                }
            }
        }
        catch (final InterruptedException ex)
        {
            end(CloseReason.BROKER_SHUTDOWN, "interrupted");
        }
        catch (final Throwable ex)
        {
            owner.onError(ex);
            end(CloseReason.TRANSPORT_ERROR, ex.toString());
        }
    }

    /**
     * On the reader thread, last: stop the writer, close the port, deliver {@code onClosed}.
     */
    private void finish()
    {
        final CloseReason reason;
        final String detail;
        synchronized (state)
        {
            if (null == endReason)
            {
                endReason = CloseReason.LOCAL_CLOSED;
            }
            reason = endReason;
            detail = endDetail;
            state.notifyAll();
        }
        try
        {
            writer.join(WRITER_STOP_WAIT_MS);
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
        }
        if (writer.isAlive())
        {
            // Blocked in a write the device does not take (flow control held off): closing the port ends it.
            LOG.info("serial device {}: the writer is still blocked in a write; closing the port under it", path);
        }
        if (CloseReason.LOCAL_CLOSED == reason)
        {
            drain();
        }
        if (!port.closePort())
        {
            LOG.debug("serial device {}: close reported {}", path, SerialPorts.describe(port.getLastErrorCode()));
        }
        synchronized (handlerLock)
        {
            finished = true;
            if (null != handler)
            {
                try
                {
                    handler.onClosed(reason, detail);
                }
                catch (final Throwable ex)
                {
                    owner.onError(ex);
                }
            }
        }
        owner.onFinished(this, reason, detail);
    }

    /**
     * Wait until the kernel has sent what the writer handed it: closing the port discards what is left. Bounded by
     * the time the line needs for those bytes, and a little more.
     */
    private void drain()
    {
        int queued = port.bytesAwaitingWrite();
        if (queued <= 0)
        {
            return;
        }
        // Twelve bits a character at most: start, 8 data, parity and 2 stop bits.
        final long lineMs = queued * 12L * 1000 / Math.max(1, baud);
        final long deadlineNs = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(2 * lineMs + DRAIN_SLACK_MS);
        try
        {
            while (queued > 0 && System.nanoTime() - deadlineNs < 0)
            {
                Thread.sleep(DRAIN_CHECK_MS);
                queued = port.bytesAwaitingWrite();
            }
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
        }
        if (queued > 0)
        {
            LOG.warn("serial device {}: {} written bytes not sent when the port closed", path, queued);
        }
    }

    /**
     * The connection as its device.
     *
     * @return a description.
     */
    public String toString()
    {
        return "SerialConnection{" + path + "}";
    }
}
