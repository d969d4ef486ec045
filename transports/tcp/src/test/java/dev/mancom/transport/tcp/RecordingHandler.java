package dev.mancom.transport.tcp;

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
 * the I/O threads, data while it has paused reading, anything after onClosed, onClosed twice.
 */
class RecordingHandler implements ConnectionHandler
{
    final String ioThreadPrefix;
    final AtomicLong received = new AtomicLong();
    final AtomicLong written = new AtomicLong();
    final AtomicInteger closeCount = new AtomicInteger();
    final CountDownLatch closed = new CountDownLatch(1);
    final Queue<String> violations = new ConcurrentLinkedQueue<>();
    final Semaphore credit = new Semaphore(0);

    volatile TransportConnection connection;
    volatile long pauseAt = Long.MAX_VALUE;
    volatile boolean paused;
    volatile long receivedAtPause = -1;
    volatile CloseReason closeReason;
    volatile String closeDetail;
    volatile long receivedAtClose = -1;
    volatile long writtenAtClose = -1;

    private final boolean capture;
    private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    private final boolean checkPattern;

    RecordingHandler(final String ioThreadPrefix, final boolean capture, final boolean checkPattern)
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
    RecordingHandler attach(final TransportConnection connection)
    {
        this.connection = connection;
        connection.handler(this);
        connection.resumeReading();
        return this;
    }

    /**
     * Resume reading after the handler paused itself; it does not pause again.
     */
    void resume()
    {
        pauseAt = Long.MAX_VALUE;
        paused = false;
        connection.resumeReading();
    }

    synchronized byte[] bytes()
    {
        return bytes.toByteArray();
    }

    boolean awaitClosed(final long seconds) throws InterruptedException
    {
        return closed.await(seconds, TimeUnit.SECONDS);
    }

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
                final byte expected = TcpTestSupport.pattern(position + i);
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
