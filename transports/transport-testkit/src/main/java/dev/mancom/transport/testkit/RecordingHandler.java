package dev.mancom.transport.testkit;

import dev.mancom.protocol.codecs.CloseReason;
import dev.mancom.transport.ConnectionHandler;
import dev.mancom.transport.TransportConnection;
import org.agrona.DirectBuffer;

import java.io.ByteArrayOutputStream;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A handler that records what the transport tells it and every breach of the SPI's contract it can see: calls off
 * the I/O threads, data while it has paused reading, anything after onClosed, onClosed twice. Its fields are for
 * tests to read (and {@link #pauseAt} to set before the connection starts reading).
 */
public class RecordingHandler implements ConnectionHandler
{
    /** Names of the transport's I/O threads start with this. */
    public final String ioThreadPrefix;
    /** Bytes delivered by onData. */
    public final AtomicLong received = new AtomicLong();
    /** Bytes reported by onWritten. */
    public final AtomicLong written = new AtomicLong();
    /** Calls of onClosed. */
    public final AtomicInteger closeCount = new AtomicInteger();
    /** Counted down by the first onClosed. */
    public final CountDownLatch closed = new CountDownLatch(1);
    /** Every breach of the SPI's contract seen. */
    public final Queue<String> violations = new ConcurrentLinkedQueue<>();
    /** Released by onWritten, one permit per byte: a writer acquires it as the broker's send window. */
    public final Semaphore credit = new Semaphore(0);

    /** The connection, once attached. */
    public volatile TransportConnection connection;
    /** The handler pauses reading once it has received this many bytes. */
    public volatile long pauseAt = Long.MAX_VALUE;
    /** Whether the handler has paused reading. */
    public volatile boolean paused;
    /** Bytes received when the handler paused, or -1. */
    public volatile long receivedAtPause = -1;
    /** The reason onClosed gave, or null. */
    public volatile CloseReason closeReason;
    /** The detail onClosed gave, or null. */
    public volatile String closeDetail;
    /** Bytes received when onClosed came, or -1. */
    public volatile long receivedAtClose = -1;
    /** Bytes reported written when onClosed came, or -1. */
    public volatile long writtenAtClose = -1;

    private final boolean capture;
    private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    private final boolean checkPattern;

    /**
     * A handler.
     *
     * @param ioThreadPrefix names of the transport's I/O threads start with this.
     * @param capture        keep every byte received, for {@link #bytes()}.
     * @param checkPattern   check every byte received against {@link TransportTestSupport#pattern(long)}.
     */
    public RecordingHandler(final String ioThreadPrefix, final boolean capture, final boolean checkPattern)
    {
        this.ioThreadPrefix = ioThreadPrefix;
        this.capture = capture;
        this.checkPattern = checkPattern;
    }

    /**
     * Set as the handler of the connection and start reading.
     *
     * @param connection the connection.
     * @return this.
     */
    public RecordingHandler attach(final TransportConnection connection)
    {
        this.connection = connection;
        connection.handler(this);
        connection.resumeReading();
        return this;
    }

    /**
     * Resume reading after the handler paused itself; it does not pause again.
     */
    public void resume()
    {
        pauseAt = Long.MAX_VALUE;
        paused = false;
        connection.resumeReading();
    }

    /**
     * The bytes received, when capturing.
     *
     * @return a copy.
     */
    public synchronized byte[] bytes()
    {
        return bytes.toByteArray();
    }

    /**
     * Wait for onClosed.
     *
     * @param seconds at most this long.
     * @return true when it came.
     * @throws InterruptedException when interrupted.
     */
    public boolean awaitClosed(final long seconds) throws InterruptedException
    {
        return closed.await(seconds, TimeUnit.SECONDS);
    }

    /**
     * {@inheritDoc}
     */
    public void onData(final DirectBuffer buffer, final int offset, final int length)
    {
        checkThread("onData");
        if (closeCount.get() > 0)
        {
            violations.add("onData after onClosed");
        }
        if (paused)
        {
            violations.add("onData while paused (" + length + " bytes)");
        }
        if (length <= 0)
        {
            violations.add("onData with length " + length);
        }

        final long position = received.get();
        if (checkPattern)
        {
            for (int i = 0; i < length; i++)
            {
                final byte expected = TransportTestSupport.pattern(position + i);
                if (buffer.getByte(offset + i) != expected)
                {
                    violations.add("byte " + (position + i) + " is wrong");
                    break;
                }
            }
        }
        if (capture)
        {
            final byte[] chunk = new byte[length];
            buffer.getBytes(offset, chunk);
            synchronized (this)
            {
                bytes.write(chunk, 0, length);
            }
        }

        final long total = received.addAndGet(length);
        if (total >= pauseAt && !paused)
        {
            receivedAtPause = total;
            paused = true;
            connection.pauseReading();
        }
    }

    /**
     * {@inheritDoc}
     */
    public void onWritten(final int length)
    {
        checkThread("onWritten");
        if (closeCount.get() > 0)
        {
            violations.add("onWritten after onClosed");
        }
        if (length <= 0)
        {
            violations.add("onWritten with length " + length);
        }
        written.addAndGet(length);
        credit.release(length);
    }

    /**
     * {@inheritDoc}
     */
    public void onClosed(final CloseReason reason, final String detail)
    {
        checkThread("onClosed");
        if (closeCount.incrementAndGet() > 1)
        {
            violations.add("onClosed called again with " + reason);
            return;
        }
        if (null == detail)
        {
            violations.add("onClosed with a null detail");
        }
        receivedAtClose = received.get();
        writtenAtClose = written.get();
        closeDetail = detail;
        closeReason = reason;
        closed.countDown();
    }

    private void checkThread(final String call)
    {
        if (!Thread.currentThread().getName().startsWith(ioThreadPrefix))
        {
            violations.add(call + " on thread " + Thread.currentThread().getName());
        }
    }
}
