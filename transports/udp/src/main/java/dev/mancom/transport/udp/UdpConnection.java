package dev.mancom.transport.udp;

import dev.mancom.protocol.Endpoint;
import dev.mancom.protocol.codecs.CloseReason;
import dev.mancom.protocol.codecs.TransportType;
import dev.mancom.transport.ConnectionHandler;
import dev.mancom.transport.TransportConnection;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.DefaultChannelPromise;
import io.netty.channel.socket.DatagramPacket;
import io.netty.util.concurrent.ScheduledFuture;
import org.agrona.DirectBuffer;
import org.agrona.ExpandableArrayBuffer;
import org.agrona.concurrent.UnsafeBuffer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.PortUnreachableException;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.Objects;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReferenceFieldUpdater;

/**
 * One UDP connection: the datagrams exchanged with one remote address. Either one address served by a
 * {@link UdpListener} (it shares the listener's socket and I/O thread) or an outbound connection with a connected
 * datagram channel of its own.
 * <p>
 * Reading: each datagram is one {@link ConnectionHandler#onData} call, a view of the datagram in Netty's buffer.
 * UDP has no back pressure, so the socket is always read: while reading is paused (or before the handler is set)
 * datagrams are copied into a queue of at most {@code queue_bytes} payload bytes and delivered, in order, after
 * {@link #resumeReading()}; a datagram that does not fit is dropped and counted ({@link #droppedDatagrams()}), as
 * is one larger than {@code max_datagram}. Empty datagrams are ignored.
 * <p>
 * Writing: each {@link #write(DirectBuffer, int, int)} call is copied into a buffer of its own and becomes one
 * datagram, sent at the next {@link #flush()}; {@link ConnectionHandler#onWritten(int)} reports it once the socket
 * took it (or failed to: a datagram the system refuses is lost, as UDP loses datagrams, and counted in
 * {@link #droppedWrites()}). A write larger than {@code max_datagram} is not sent: it is dropped, counted and still
 * reported written, so that the broker's credit comes back.
 * <p>
 * Idle time-out: a connection with no datagram either way for {@code idle_timeout} closes with
 * {@link CloseReason#TIMEOUT}. A connection whose application has not yet read every queued datagram is not idle.
 * <p>
 * Threading: everything that calls the handler runs on the channel's I/O thread. The write and close state is
 * guarded by a lock that the sender and the I/O thread hold only briefly, never while calling the handler or Netty.
 */
final class UdpConnection implements TransportConnection
{
    private static final Logger LOGGER = LoggerFactory.getLogger(UdpConnection.class);

    private static final AtomicReferenceFieldUpdater<UdpConnection, ConnectionHandler> HANDLER_UPDATER =
        AtomicReferenceFieldUpdater.newUpdater(UdpConnection.class, ConnectionHandler.class, "handler");

    private final UdpTransport transport;
    private final UdpOptions options;
    private final Channel channel;
    private final UdpListener listener;
    private final InetSocketAddress remoteAddress;
    private final Endpoint remoteEndpoint;
    private final Runnable readStateTask = this::updateReading;
    private final Runnable flushTask = this::writeFlushed;
    private final Runnable closeTask = this::closeAfterWrites;
    private final Runnable abortTask = () -> finish(CloseReason.LOCAL_CLOSED, "");
    private final Runnable idleTask = this::checkIdle;
    private final AtomicLong receivedDatagrams = new AtomicLong();
    private final AtomicLong droppedDatagrams = new AtomicLong();
    private final AtomicLong droppedWrites = new AtomicLong();

    private volatile ConnectionHandler handler;
    private volatile boolean readPaused = true;
    private volatile boolean finished;
    private volatile boolean warnedOversize;
    private volatile Endpoint localEndpoint;

    // Used on the I/O thread only.
    private final UnsafeBuffer readView = new UnsafeBuffer();
    private ExpandableArrayBuffer copyBuffer;
    private ArrayDeque<ByteBuf> queue;
    private int queuedBytes;
    private long lastActivityNs;
    private ScheduledFuture<?> idleTimer;
    private int inFlight;
    private boolean writingFlushed;
    private boolean closeAfterLastWrite;
    private CloseReason finishedReason;
    private String finishedDetail = "";
    private boolean closedNotified;

    // Guarded by lock.
    private final Object lock = new Object();
    private final UnsafeBuffer writeView = new UnsafeBuffer();
    private ArrayDeque<ByteBuf> unflushed = new ArrayDeque<>();
    private ArrayDeque<ByteBuf> flushed = new ArrayDeque<>();
    private ArrayDeque<ByteBuf> writing = new ArrayDeque<>();
    private long droppedWriteBytes;
    private boolean flushScheduled;
    private boolean writesClosed;
    private boolean closeRequested;
    private boolean aborted;
    private CloseReason closeReason;

    /**
     * A connection.
     *
     * @param transport     the transport that owns it.
     * @param options       the URI's options.
     * @param channel       the listener's channel, or the connection's own connected channel.
     * @param listener      the listener that opened it, or null for an outbound connection.
     * @param remoteAddress the remote address.
     */
    UdpConnection(
        final UdpTransport transport,
        final UdpOptions options,
        final Channel channel,
        final UdpListener listener,
        final InetSocketAddress remoteAddress)
    {
        this.transport = transport;
        this.options = options;
        this.channel = channel;
        this.listener = listener;
        this.remoteAddress = remoteAddress;
        this.remoteEndpoint = Endpoint.ip(TransportType.UDP, remoteAddress);
    }

    /**
     * {@inheritDoc}
     */
    public Endpoint localEndpoint()
    {
        return localEndpoint;
    }

    /**
     * {@inheritDoc}
     */
    public Endpoint remoteEndpoint()
    {
        return remoteEndpoint;
    }

    /**
     * {@inheritDoc}
     * <p>
     * True: each {@link ConnectionHandler#onData} call is one datagram.
     */
    public boolean keepsMessageBoundaries()
    {
        return true;
    }

    /**
     * {@inheritDoc}
     *
     * @throws IllegalStateException when a handler is already set.
     */
    public void handler(final ConnectionHandler handler)
    {
        Objects.requireNonNull(handler, "handler");
        if (!HANDLER_UPDATER.compareAndSet(this, null, handler))
        {
            throw new IllegalStateException("the handler of " + this + " is already set");
        }
        // The connection may have closed before the broker got here; the I/O thread reports that now.
        execute(readStateTask);
    }

    /**
     * {@inheritDoc}
     * <p>
     * UDP has no back pressure: the socket is still read, and the datagrams that arrive are queued up to
     * {@code queue_bytes}, then dropped and counted. On the I/O thread, such as from {@link ConnectionHandler#onData},
     * this takes effect at once; from another thread a call of {@code onData} that is under way may still finish, but
     * no other follows.
     */
    public void pauseReading()
    {
        readPaused = true;
    }

    /**
     * {@inheritDoc}
     * <p>
     * Delivery resumes on the I/O thread, never within this call.
     */
    public void resumeReading()
    {
        readPaused = false;
        execute(readStateTask);
    }

    /**
     * {@inheritDoc}
     * <p>
     * One call is one datagram, sent at the next {@link #flush()}. A write larger than {@code max_datagram} is
     * dropped, counted in {@link #droppedWrites()} and reported written after the next flush. Bytes written after
     * {@link #close()} or {@link #abort(CloseReason)}, or after the connection closed, are dropped.
     */
    public void write(final DirectBuffer buffer, final int offset, final int length)
    {
        if (length <= 0)
        {
            if (length < 0)
            {
                throw new IllegalArgumentException("negative length: " + length);
            }
            return;
        }

        final boolean oversize = length > options.maxDatagram;
        synchronized (lock)
        {
            if (writesClosed)
            {
                return;
            }
            if (oversize)
            {
                droppedWriteBytes += length;
            }
            else
            {
                final ByteBuf out = UdpTransport.ALLOCATOR.directBuffer(length, length);
                if (out.hasMemoryAddress())
                {
                    writeView.wrap(out.memoryAddress(), length);
                    buffer.getBytes(offset, writeView, 0, length);
                }
                else if (out.hasArray())
                {
                    buffer.getBytes(offset, out.array(), out.arrayOffset(), length);
                }
                else
                {
                    buffer.getBytes(offset, out.internalNioBuffer(0, length), length);
                }
                out.writerIndex(length);
                unflushed.addLast(out);
            }
        }

        if (oversize)
        {
            droppedWrites.incrementAndGet();
            if (!warnedOversize)
            {
                warnedOversize = true;
                LOGGER.warn("{}: a write of {} bytes is larger than a datagram may be (max_datagram {}): dropped",
                    this, length, options.maxDatagram);
            }
        }
    }

    /**
     * {@inheritDoc}
     * <p>
     * Off the I/O thread this queues the datagrams and wakes the I/O thread once, however many flushes come before it
     * runs; on the I/O thread it sends at once.
     */
    public void flush()
    {
        synchronized (lock)
        {
            if (unflushed.isEmpty() && 0 == droppedWriteBytes)
            {
                return;
            }
            moveUnflushed();
            if (flushScheduled)
            {
                return;
            }
            flushScheduled = true;
        }

        if (channel.eventLoop().inEventLoop() && !writingFlushed)
        {
            writeFlushed();
        }
        else
        {
            execute(flushTask);
        }
    }

    /**
     * {@inheritDoc}
     * <p>
     * Datagrams written but not yet flushed are flushed first; the connection closes once the socket has taken the
     * last of them. Queued inbound datagrams are dropped. A listener's connection forgets its address: the next
     * datagram from it opens a new connection. An outbound connection closes its socket.
     */
    public void close()
    {
        synchronized (lock)
        {
            if (closeRequested || aborted)
            {
                return;
            }
            closeRequested = true;
            if (null == closeReason)
            {
                closeReason = CloseReason.LOCAL_CLOSED;
            }
            moveUnflushed();
            writesClosed = true;
        }

        // Always through the task queue so that the close comes after flushes the sender has already queued.
        execute(closeTask);
    }

    /**
     * {@inheritDoc}
     * <p>
     * Datagrams written but not sent, and datagrams read but not delivered, are dropped. Overrides the reason of an
     * earlier {@link #close()} that has not completed.
     */
    public void abort(final CloseReason reason)
    {
        Objects.requireNonNull(reason, "reason");
        synchronized (lock)
        {
            if (aborted)
            {
                return;
            }
            aborted = true;
            if (null == closeReason || CloseReason.LOCAL_CLOSED == closeReason)
            {
                closeReason = reason;
            }
            writesClosed = true;
            releaseWrites();
        }
        execute(abortTask);
    }

    /**
     * How many datagrams from the remote address reached the connection: delivered, queued or dropped. Any thread.
     *
     * @return the count since the connection opened.
     */
    long receivedDatagrams()
    {
        return receivedDatagrams.get();
    }

    /**
     * How many inbound datagrams were dropped: they came while reading was paused and did not fit in the queue
     * ({@code queue_bytes}), or were larger than {@code max_datagram}. Datagrams the kernel dropped because the
     * socket's receive buffer was full are not seen, and not counted. Any thread.
     *
     * @return the count since the connection opened.
     */
    long droppedDatagrams()
    {
        return droppedDatagrams.get();
    }

    /**
     * How many writes were not sent: larger than {@code max_datagram}, or refused by the system. Any thread.
     *
     * @return the count since the connection opened.
     */
    long droppedWrites()
    {
        return droppedWrites.get();
    }

    /**
     * Whether the connection is still open. Any thread.
     *
     * @return false once it has closed, for whatever reason (onClosed may still be due).
     */
    boolean isOpen()
    {
        return !finished;
    }

    /**
     * The remote address, the key of the connection in its listener's table.
     *
     * @return the address.
     */
    InetSocketAddress remoteAddress()
    {
        return remoteAddress;
    }

    /**
     * The connection is open: set the local endpoint, count it in the transport and start the idle timer.
     *
     * @param localEndpoint this end.
     */
    void open(final Endpoint localEndpoint)
    {
        this.localEndpoint = localEndpoint;
        transport.opened(this);
        execute(() ->
        {
            if (!finished)
            {
                lastActivityNs = System.nanoTime();
                idleTimer = channel.eventLoop().schedule(idleTask, options.idleTimeoutNs, TimeUnit.NANOSECONDS);
            }
        });
    }

    /**
     * I/O thread: a datagram from the remote address. The caller keeps and releases the buffer.
     *
     * @param content the datagram, not empty.
     */
    void onDatagram(final ByteBuf content)
    {
        lastActivityNs = System.nanoTime();
        // One writer, this thread: an ordered store is enough for readers on other threads.
        receivedDatagrams.lazySet(receivedDatagrams.get() + 1);
        if (finished)
        {
            return;
        }

        final int length = content.readableBytes();
        if (length > options.maxDatagram)
        {
            droppedDatagrams.incrementAndGet();
            return;
        }

        final ConnectionHandler handler = this.handler;
        if (readPaused || null == handler || (null != queue && !queue.isEmpty()))
        {
            enqueue(content, length);
        }
        else
        {
            deliver(handler, content);
        }
    }

    /**
     * I/O thread: the connection is closed, for the reason given unless {@link #close()} or
     * {@link #abort(CloseReason)} asked first. Idempotent.
     *
     * @param reason why, when nobody asked.
     * @param detail more detail for a person.
     */
    void finish(final CloseReason reason, final String detail)
    {
        if (finished)
        {
            return;
        }
        finished = true;

        final CloseReason asked;
        synchronized (lock)
        {
            asked = closeReason;
            writesClosed = true;
            releaseWrites();
        }
        finishedReason = null != asked ? asked : reason;
        finishedDetail = null != asked ? "" : detail;

        if (null != idleTimer)
        {
            idleTimer.cancel(false);
            idleTimer = null;
        }
        releaseQueue();
        if (null != listener)
        {
            listener.forget(this);
        }
        else
        {
            channel.close();
        }
        transport.closed(this);

        final long dropped = droppedDatagrams.get();
        final long droppedOut = droppedWrites.get();
        if (dropped > 0 || droppedOut > 0)
        {
            LOGGER.info("{} closed ({}): {} inbound datagrams dropped (queue full or too large), {} writes not sent",
                this, finishedReason, dropped, droppedOut);
        }
        notifyClosedWhenDue();
    }

    /**
     * The connection as a printable pair of endpoints.
     *
     * @return such as {@code UdpConnection{udp://127.0.0.1:9000 <- udp://127.0.0.1:40000}}.
     */
    public String toString()
    {
        return "UdpConnection{" + localEndpoint + (null == listener ? " -> " : " <- ") + remoteEndpoint + "}";
    }

    private void updateReading()
    {
        final ConnectionHandler handler = this.handler;
        if (null == handler)
        {
            return;
        }
        if (!readPaused && !finished && null != queue)
        {
            ByteBuf buffer;
            while (!readPaused && !finished && null != (buffer = queue.pollFirst()))
            {
                queuedBytes -= buffer.readableBytes();
                try
                {
                    deliver(handler, buffer);
                }
                finally
                {
                    buffer.release();
                }
            }
        }
        notifyClosedWhenDue();
    }

    private void enqueue(final ByteBuf content, final int length)
    {
        if (queuedBytes + (long)length > options.queueBytes)
        {
            droppedDatagrams.incrementAndGet();
            return;
        }
        if (null == queue)
        {
            queue = new ArrayDeque<>();
        }
        // A copy of the datagram's size: the buffer Netty read into is 64 KiB whatever the datagram.
        final ByteBuf copy = UdpTransport.ALLOCATOR.directBuffer(length, length);
        copy.writeBytes(content, content.readerIndex(), length);
        queue.addLast(copy);
        queuedBytes += length;
    }

    private void deliver(final ConnectionHandler handler, final ByteBuf buffer)
    {
        final int length = buffer.readableBytes();
        final int index = buffer.readerIndex();
        try
        {
            if (buffer.hasMemoryAddress())
            {
                readView.wrap(buffer.memoryAddress() + index, length);
                handler.onData(readView, 0, length);
            }
            else if (buffer.hasArray())
            {
                readView.wrap(buffer.array(), buffer.arrayOffset() + index, length);
                handler.onData(readView, 0, length);
            }
            else if (1 == buffer.nioBufferCount())
            {
                final ByteBuffer nioBuffer = buffer.nioBuffer(index, length);
                readView.wrap(nioBuffer, nioBuffer.position(), length);
                handler.onData(readView, 0, length);
            }
            else
            {
                // A composite buffer has no single view; Netty's datagram reads never produce one.
                if (null == copyBuffer)
                {
                    copyBuffer = new ExpandableArrayBuffer(length);
                }
                copyBuffer.checkLimit(length);
                buffer.getBytes(index, copyBuffer.byteArray(), 0, length);
                handler.onData(copyBuffer, 0, length);
            }
        }
        catch (final Throwable ex)
        {
            fail(ex);
        }
    }

    private void releaseQueue()
    {
        final ArrayDeque<ByteBuf> queue = this.queue;
        if (null != queue)
        {
            ByteBuf buffer;
            while (null != (buffer = queue.pollFirst()))
            {
                buffer.release();
            }
            queuedBytes = 0;
        }
    }

    private void notifyClosedWhenDue()
    {
        if (!finished || closedNotified)
        {
            return;
        }
        final ConnectionHandler handler = this.handler;
        if (null == handler)
        {
            // handler() runs updateReading, which comes back here.
            return;
        }
        closedNotified = true;
        try
        {
            handler.onClosed(finishedReason, finishedDetail);
        }
        catch (final Throwable ex)
        {
            transport.reportError(ex);
        }
    }

    private void checkIdle()
    {
        idleTimer = null;
        if (finished)
        {
            return;
        }
        final long timeoutNs = options.idleTimeoutNs;
        long nextCheckNs = timeoutNs;
        if ((null == queue || queue.isEmpty()) && 0 == inFlight)
        {
            final long idleNs = System.nanoTime() - lastActivityNs;
            if (idleNs >= timeoutNs)
            {
                finish(CloseReason.TIMEOUT, "no datagram either way for " + TimeUnit.NANOSECONDS.toMillis(idleNs) +
                    " ms (idle_timeout " + TimeUnit.NANOSECONDS.toMillis(timeoutNs) + " ms)");
                return;
            }
            nextCheckNs = timeoutNs - idleNs;
        }
        // Not idle while the application has datagrams to read, or the socket has datagrams to send.
        idleTimer = channel.eventLoop().schedule(idleTask, nextCheckNs, TimeUnit.NANOSECONDS);
    }

    private void writeFlushed()
    {
        final ArrayDeque<ByteBuf> toWrite;
        final long dropped;
        synchronized (lock)
        {
            flushScheduled = false;
            dropped = droppedWriteBytes;
            droppedWriteBytes = 0;
            // Swap the queues so that the sender can go on flushing while this thread writes.
            toWrite = flushed;
            flushed = writing;
            writing = toWrite;
        }

        if (finished)
        {
            release(toWrite);
            return;
        }

        writingFlushed = true;
        try
        {
            boolean wrote = false;
            ByteBuf buffer;
            while (null != (buffer = toWrite.pollFirst()))
            {
                final SendPromise promise = new SendPromise(channel, this, buffer.readableBytes());
                promise.addListener(promise);
                inFlight++;
                wrote = true;
                channel.write(null == listener ? buffer : new DatagramPacket(buffer, remoteAddress), promise);
            }
            if (wrote)
            {
                lastActivityNs = System.nanoTime();
                channel.flush();
            }
        }
        finally
        {
            writingFlushed = false;
        }

        long toReport = dropped;
        while (toReport > 0 && !finished)
        {
            final int length = (int)Math.min(toReport, Integer.MAX_VALUE);
            reportWritten(length);
            toReport -= length;
        }
    }

    private void sendComplete(final ChannelFuture future, final int length)
    {
        inFlight--;
        if (!future.isSuccess() && !finished)
        {
            // The datagram is lost, as UDP loses datagrams; the connection goes on.
            droppedWrites.incrementAndGet();
            final Throwable cause = future.cause();
            if (!(cause instanceof PortUnreachableException))
            {
                LOGGER.debug("{}: a datagram was not sent: {}", this, UdpTransport.describe(cause));
            }
        }
        reportWritten(length);
        if (closeAfterLastWrite && 0 == inFlight)
        {
            finish(CloseReason.LOCAL_CLOSED, "");
        }
    }

    private void reportWritten(final int length)
    {
        final ConnectionHandler handler = this.handler;
        if (!finished && null != handler)
        {
            try
            {
                handler.onWritten(length);
            }
            catch (final Throwable ex)
            {
                fail(ex);
            }
        }
    }

    private void closeAfterWrites()
    {
        if (finished)
        {
            notifyClosedWhenDue();
            return;
        }
        writeFlushed();
        closeAfterLastWrite = true;
        if (0 == inFlight)
        {
            finish(CloseReason.LOCAL_CLOSED, "");
        }
    }

    private void fail(final Throwable error)
    {
        // Not the network's fault: a handler threw.
        transport.reportError(error);
        finish(CloseReason.TRANSPORT_ERROR, UdpTransport.describe(error));
    }

    private void moveUnflushed()
    {
        ByteBuf buffer;
        while (null != (buffer = unflushed.pollFirst()))
        {
            flushed.addLast(buffer);
        }
    }

    private void releaseWrites()
    {
        release(unflushed);
        release(flushed);
    }

    private static void release(final ArrayDeque<ByteBuf> buffers)
    {
        ByteBuf buffer;
        while (null != (buffer = buffers.pollFirst()))
        {
            buffer.release();
        }
    }

    private void execute(final Runnable task)
    {
        try
        {
            channel.eventLoop().execute(task);
        }
        catch (final RejectedExecutionException ignore)
        {
            // The transport is closed: its I/O threads have closed the channels and reported what they could.
        }
    }

    /**
     * The last handler of an outbound connection's channel: hands its datagrams to the connection and tells it
     * when the socket closes.
     */
    static final class OutboundHandler extends ChannelInboundHandlerAdapter
    {
        private final UdpConnection connection;
        private String lastError;

        OutboundHandler(final UdpConnection connection)
        {
            this.connection = connection;
        }

        UdpConnection connection()
        {
            return connection;
        }

        /**
         * {@inheritDoc}
         */
        public void channelRead(final ChannelHandlerContext ctx, final Object msg)
        {
            final DatagramPacket packet = (DatagramPacket)msg;
            try
            {
                if (packet.content().isReadable())
                {
                    connection.onDatagram(packet.content());
                }
            }
            finally
            {
                packet.release();
            }
        }

        /**
         * {@inheritDoc}
         */
        public void channelReadComplete(final ChannelHandlerContext ctx)
        {
            // Auto-read schedules the next read; nothing for the rest of the pipeline.
        }

        /**
         * {@inheritDoc}
         * <p>
         * I/O errors are about single datagrams (such as an ICMP port unreachable: nothing listens at the peer's
         * address, for now) and the connection goes on: UDP peers come and go, and the idle time-out closes a
         * connection that hears nothing. If the error closed the socket, the connection closes with
         * {@link CloseReason#TRANSPORT_ERROR} and the error as detail.
         */
        public void exceptionCaught(final ChannelHandlerContext ctx, final Throwable cause)
        {
            if (cause instanceof IOException)
            {
                lastError = UdpTransport.describe(cause);
                LOGGER.debug("{}: {}", connection, lastError);
                return;
            }
            connection.transport.reportError(cause);
            connection.finish(CloseReason.TRANSPORT_ERROR, UdpTransport.describe(cause));
        }

        /**
         * {@inheritDoc}
         */
        public void channelInactive(final ChannelHandlerContext ctx)
        {
            final boolean shutdown = connection.transport.isClosed();
            connection.finish(
                shutdown ? CloseReason.BROKER_SHUTDOWN : CloseReason.TRANSPORT_ERROR,
                shutdown ? "" : "the socket closed" + (null == lastError ? "" : ": " + lastError));
        }
    }

    /**
     * The promise of one datagram's write, and its own listener: one object per datagram.
     */
    private static final class SendPromise extends DefaultChannelPromise implements ChannelFutureListener
    {
        private final UdpConnection connection;
        private final int length;

        SendPromise(final Channel channel, final UdpConnection connection, final int length)
        {
            super(channel);
            this.connection = connection;
            this.length = length;
        }

        /**
         * {@inheritDoc}
         */
        public void operationComplete(final ChannelFuture future)
        {
            connection.sendComplete(future, length);
        }
    }
}
