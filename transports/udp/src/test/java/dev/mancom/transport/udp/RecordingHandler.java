package dev.mancom.transport.udp;

import dev.mancom.protocol.codecs.CloseReason;
import dev.mancom.transport.ConnectionHandler;
import dev.mancom.transport.TransportConnection;
import org.agrona.DirectBuffer;

import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A handler that records every datagram the transport delivers, and every breach of the SPI's contract it can see:
 * calls off the I/O threads, data while it has paused reading, anything after onClosed, onClosed twice.
 */
class RecordingHandler implements ConnectionHandler
{
    final String ioThreadPrefix;
    final List<byte[]> datagrams = new CopyOnWriteArrayList<>();
    final AtomicLong received = new AtomicLong();
    final AtomicLong written = new AtomicLong();
    final AtomicInteger closeCount = new AtomicInteger();
    final CountDownLatch closed = new CountDownLatch(1);
    final Queue<String> violations = new ConcurrentLinkedQueue<>();
    final Semaphore arrivals = new Semaphore(0);

    volatile UdpConnection connection;
    volatile int pauseAfter = Integer.MAX_VALUE;
    volatile boolean paused;
    volatile CloseReason closeReason;
    volatile String closeDetail;

    RecordingHandler(final String ioThreadPrefix)
    {
        this.ioThreadPrefix = ioThreadPrefix;
    }

    /**
     * Set as the handler of the connection and start reading.
     *
     * @param connection the connection.
     * @return this.
     */
    RecordingHandler attach(final TransportConnection connection)
    {
        this.connection = (UdpConnection)connection;
        connection.handler(this);
        connection.resumeReading();
        return this;
    }

    /**
     * Resume reading after the handler paused itself; it does not pause again.
     */
    void resume()
    {
        pauseAfter = Integer.MAX_VALUE;
        paused = false;
        connection.resumeReading();
    }

    /**
     * Wait for the next datagram.
     *
     * @return false when none came within the deadline.
     * @throws InterruptedException when interrupted.
     */
    boolean awaitDatagram() throws InterruptedException
    {
        return arrivals.tryAcquire(UdpTestSupport.DEADLINE_SECONDS, TimeUnit.SECONDS);
    }

    boolean awaitClosed() throws InterruptedException
    {
        return closed.await(UdpTestSupport.DEADLINE_SECONDS, TimeUnit.SECONDS);
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
        final byte[] datagram = new byte[length];
        buffer.getBytes(offset, datagram);
        datagrams.add(datagram);
        received.addAndGet(length);
        arrivals.release();
        if (datagrams.size() >= pauseAfter && !paused)
        {
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
