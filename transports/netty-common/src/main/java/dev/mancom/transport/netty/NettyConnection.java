package dev.mancom.transport.netty;

import dev.mancom.protocol.Endpoint;
import dev.mancom.protocol.codecs.CloseReason;
import dev.mancom.transport.AcceptHandler;
import dev.mancom.transport.ConnectionHandler;
import dev.mancom.transport.TransportConnection;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.DefaultChannelPromise;
import org.agrona.DirectBuffer;
import org.agrona.ExpandableArrayBuffer;
import org.agrona.concurrent.UnsafeBuffer;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.util.ArrayDeque;
import java.util.Objects;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicReferenceFieldUpdater;

/**
 * One connection of a Netty stream channel (a TCP or a Unix domain socket): the {@link TransportConnection} the
 * broker drives, and the last handler of its channel's pipeline. Its endpoints come from its {@link NettyTransport}.
 * <p>
 * Reading: every {@link ByteBuf} Netty reads is handed to {@link ConnectionHandler#onData} as a view of its memory,
 * without a copy, then released. Reading is paused by turning Netty's auto-read off; while paused, anything Netty
 * still reads is queued and delivered after {@link #resumeReading()}. That happens with native epoll: when epoll
 * reports that the peer closed (EPOLLRDHUP), Netty 4.2 reads everything up to the end of the stream and closes the
 * channel whatever auto-read says. With NIO nothing is read while paused, so the peer's close is seen only after
 * {@link #resumeReading()}. Either way the peer's bytes are all delivered before {@link ConnectionHandler#onClosed}
 * reports a close this side did not ask for; a peer's close with no bytes left to deliver is reported at once, even
 * while paused. (The peer's close reaches us only after its bytes, so while they do not fit in our receive window it
 * is not seen at all.)
 * <p>
 * Writing: {@link #write(DirectBuffer, int, int)} copies into a pooled direct buffer; {@link #flush()} queues that
 * buffer and has the I/O thread write every queued buffer, one Netty promise per flush, whose completion reports
 * {@link ConnectionHandler#onWritten(int)}.
 * <p>
 * Threading: the {@link ChannelInboundHandlerAdapter} methods and everything that calls the handler run on the
 * channel's I/O thread. The write and close state is guarded by a lock that the sender and the I/O thread hold only
 * briefly, never while calling the handler or Netty.
 */
public final class NettyConnection extends ChannelInboundHandlerAdapter implements TransportConnection
{
    /**
     * Smallest outbound buffer: a few small writes between flushes should not each grow the buffer.
     */
    private static final int MIN_WRITE_CAPACITY = 4096;

    private static final AtomicReferenceFieldUpdater<NettyConnection, ConnectionHandler> HANDLER_UPDATER =
        AtomicReferenceFieldUpdater.newUpdater(NettyConnection.class, ConnectionHandler.class, "handler");

    private final NettyTransport transport;
    private final Channel channel;
    private final AcceptHandler acceptHandler;
    private final Runnable readStateTask = this::updateReading;
    private final Runnable flushTask = this::writeFlushed;
    private final Runnable closeTask = this::closeAfterWrites;

    private volatile ConnectionHandler handler;
    private volatile boolean readPaused = true;
    private volatile boolean aborted;
    private volatile Endpoint localEndpoint;
    private volatile Endpoint remoteEndpoint;

    // Used on the I/O thread only.
    private final UnsafeBuffer readView = new UnsafeBuffer();
    private ExpandableArrayBuffer copyBuffer;
    private ArrayDeque<ByteBuf> pendingReads;
    private ArrayDeque<ByteBuf> writing = new ArrayDeque<>();
    private boolean writingFlushed;
    private boolean opened;
    private boolean channelClosed;
    private boolean closedNotified;

    // Guarded by lock.
    private final Object lock = new Object();
    private final UnsafeBuffer writeView = new UnsafeBuffer();
    private ArrayDeque<ByteBuf> flushed = new ArrayDeque<>();
    private ByteBuf pendingWrite;
    private boolean flushScheduled;
    private boolean writesClosed;
    private boolean closeRequested;
    private boolean closedLocally;
    private CloseReason closeReason;
    private String closeDetail = "";

    /**
     * A connection for a channel that is being initialised.
     *
     * @param transport     the transport that owns it.
     * @param channel       its channel.
     * @param acceptHandler told when the channel becomes active, for accepted channels; null for outbound ones,
     *                      which {@link NettyTransport} reports when the connect completes.
     */
    NettyConnection(final NettyTransport transport, final Channel channel, final AcceptHandler acceptHandler)
    {
        this.transport = transport;
        this.channel = channel;
        this.acceptHandler = acceptHandler;
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
        // The channel may have closed before the broker got here; the I/O thread reports that now.
        execute(readStateTask);
    }

    /**
     * {@inheritDoc}
     * <p>
     * On the I/O thread, such as from {@link ConnectionHandler#onData}, this takes effect at once: Netty's read loop
     * stops after the current buffer. From another thread a call of {@code onData} that is under way may still
     * finish, but no other follows.
     */
    public void pauseReading()
    {
        readPaused = true;
        if (channel.eventLoop().inEventLoop())
        {
            channel.config().setAutoRead(false);
        }
        else
        {
            // Auto-read is only ever changed on the I/O thread, from the latest value of readPaused, so that racing
            // pause and resume calls cannot leave it on while paused.
            execute(readStateTask);
        }
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
     * Bytes written after {@link #close()} or {@link #abort(CloseReason)}, or after the connection closed, are
     * dropped.
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

        synchronized (lock)
        {
            if (writesClosed)
            {
                return;
            }

            ByteBuf out = pendingWrite;
            if (null == out)
            {
                out = NettyTransport.ALLOCATOR.directBuffer(Math.max(length, MIN_WRITE_CAPACITY));
                pendingWrite = out;
            }
            else
            {
                out.ensureWritable(length);
            }

            final int index = out.writerIndex();
            if (out.hasMemoryAddress())
            {
                writeView.wrap(out.memoryAddress() + index, length);
                buffer.getBytes(offset, writeView, 0, length);
            }
            else if (out.hasArray())
            {
                buffer.getBytes(offset, out.array(), out.arrayOffset() + index, length);
            }
            else
            {
                buffer.getBytes(offset, out.internalNioBuffer(index, length), length);
            }
            out.writerIndex(index + length);
        }
    }

    /**
     * {@inheritDoc}
     * <p>
     * Off the I/O thread this queues the bytes and wakes the I/O thread once, however many flushes come before it
     * runs; on the I/O thread it writes at once.
     */
    public void flush()
    {
        synchronized (lock)
        {
            final ByteBuf out = pendingWrite;
            if (null == out)
            {
                return;
            }
            pendingWrite = null;
            flushed.addLast(out);
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
     * Bytes written but not yet flushed are flushed first. The socket is closed once Netty has written everything
     * before it; if the peer never reads, that is never, and {@link #abort(CloseReason)} is the way out.
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
            closedLocally = true;
            if (null == closeReason)
            {
                closeReason = CloseReason.LOCAL_CLOSED;
                closeDetail = "";
            }
            if (null != pendingWrite)
            {
                flushed.addLast(pendingWrite);
                pendingWrite = null;
            }
            writesClosed = true;
        }

        // Always through the task queue so that the close comes after flushes the sender has already queued.
        execute(closeTask);
    }

    /**
     * {@inheritDoc}
     * <p>
     * Bytes read but not yet delivered are dropped too. Overrides the reason of an earlier {@link #close()} that has
     * not completed.
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
            closedLocally = true;
            if (null == closeReason || CloseReason.LOCAL_CLOSED == closeReason)
            {
                closeReason = reason;
                closeDetail = "";
            }
            writesClosed = true;
            releaseWrites();
        }
        channel.close();
        // When the channel had already closed, onClosed may be waiting for a resume that will not come.
        execute(readStateTask);
    }

    /**
     * {@inheritDoc}
     */
    public void channelActive(final ChannelHandlerContext ctx)
    {
        if (null != acceptHandler)
        {
            open();
            try
            {
                acceptHandler.onAccept(this);
            }
            catch (final Throwable ex)
            {
                fail(ex);
            }
        }
    }

    /**
     * {@inheritDoc}
     */
    public void channelRead(final ChannelHandlerContext ctx, final Object msg)
    {
        final ByteBuf buffer = (ByteBuf)msg;
        final ConnectionHandler handler = this.handler;
        if (aborted || closedNotified)
        {
            buffer.release();
        }
        else if (readPaused || null == handler || hasPendingReads())
        {
            // Netty reads while auto-read is off when epoll reports the peer's close; keep it for resumeReading().
            if (null == pendingReads)
            {
                pendingReads = new ArrayDeque<>();
            }
            pendingReads.addLast(buffer);
        }
        else
        {
            deliver(handler, buffer);
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
     */
    public void exceptionCaught(final ChannelHandlerContext ctx, final Throwable cause)
    {
        if (!(cause instanceof IOException))
        {
            // Not the network's fault: most likely a handler threw from onData.
            transport.reportError(cause);
        }
        closing(CloseReason.TRANSPORT_ERROR, NettyTransport.describe(cause));
        ctx.close();
    }

    /**
     * {@inheritDoc}
     */
    public void channelInactive(final ChannelHandlerContext ctx)
    {
        channelClosed = true;
        transport.closed(this);
        synchronized (lock)
        {
            writesClosed = true;
            releaseWrites();
        }

        if (opened)
        {
            notifyClosedWhenDue();
        }
        else
        {
            releasePendingReads();
        }
    }

    /**
     * The connection as its two ends.
     *
     * @return such as {@code Connection{tcp://127.0.0.1:7000 <- tcp://127.0.0.1:50312}}.
     */
    public String toString()
    {
        return "Connection{" + localEndpoint + " <- " + remoteEndpoint + "}";
    }

    /**
     * The connection is active and about to be given to the broker: on the I/O thread.
     */
    void open()
    {
        localEndpoint = transport.localEndpoint(channel);
        remoteEndpoint = transport.remoteEndpoint(channel);
        opened = true;
        transport.opened(this);
    }

    /**
     * Whether the channel is still open; tests use this to see what Netty did while reading was paused.
     *
     * @return true until the socket is closed.
     */
    public boolean isOpen()
    {
        return channel.isOpen();
    }

    private void updateReading()
    {
        final ConnectionHandler handler = this.handler;
        if (null == handler)
        {
            return;
        }

        if (!readPaused)
        {
            try
            {
                deliverPendingReads(handler);
            }
            catch (final Throwable ex)
            {
                fail(ex);
            }
        }

        if (channelClosed)
        {
            notifyClosedWhenDue();
        }
        else
        {
            channel.config().setAutoRead(!readPaused && !hasPendingReads());
        }
    }

    private void deliver(final ConnectionHandler handler, final ByteBuf buffer)
    {
        try
        {
            final int length = buffer.readableBytes();
            if (length > 0)
            {
                final int index = buffer.readerIndex();
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
                    // A composite buffer has no single view; Netty's socket reads never produce one.
                    if (null == copyBuffer)
                    {
                        copyBuffer = new ExpandableArrayBuffer(length);
                    }
                    copyBuffer.checkLimit(length);
                    buffer.getBytes(index, copyBuffer.byteArray(), 0, length);
                    handler.onData(copyBuffer, 0, length);
                }
            }
        }
        finally
        {
            buffer.release();
        }
    }

    private void deliverPendingReads(final ConnectionHandler handler)
    {
        final ArrayDeque<ByteBuf> pending = pendingReads;
        if (null == pending)
        {
            return;
        }

        ByteBuf buffer;
        while (!readPaused && !aborted && null != (buffer = pending.pollFirst()))
        {
            deliver(handler, buffer);
        }
    }

    private boolean hasPendingReads()
    {
        return null != pendingReads && !pendingReads.isEmpty();
    }

    private void releasePendingReads()
    {
        final ArrayDeque<ByteBuf> pending = pendingReads;
        if (null != pending)
        {
            ByteBuf buffer;
            while (null != (buffer = pending.pollFirst()))
            {
                buffer.release();
            }
        }
    }

    private void notifyClosedWhenDue()
    {
        if (!channelClosed || closedNotified)
        {
            return;
        }

        final ConnectionHandler handler = this.handler;
        if (null == handler)
        {
            // handler() runs updateReading, which comes back here; unless the transport is closed, and with it the
            // I/O thread that would run it.
            if (transport.isClosed())
            {
                releasePendingReads();
            }
            return;
        }

        final boolean local;
        CloseReason reason;
        final String detail;
        synchronized (lock)
        {
            local = closedLocally;
            reason = closeReason;
            detail = closeDetail;
        }

        if (local || transport.isClosed())
        {
            releasePendingReads();
        }
        else if (hasPendingReads())
        {
            // The peer's bytes go before the peer's close: resumeReading() delivers them, then comes back here.
            return;
        }

        if (null == reason)
        {
            reason = transport.isClosed() ? CloseReason.BROKER_SHUTDOWN : CloseReason.REMOTE_CLOSED;
        }
        closedNotified = true;
        try
        {
            handler.onClosed(reason, detail);
        }
        catch (final Throwable ex)
        {
            transport.reportError(ex);
        }
    }

    private void writeFlushed()
    {
        final ArrayDeque<ByteBuf> toWrite;
        synchronized (lock)
        {
            flushScheduled = false;
            if (flushed.isEmpty())
            {
                return;
            }
            // Swap the queues so that the sender can go on flushing while this thread writes.
            toWrite = flushed;
            flushed = writing;
            writing = toWrite;
        }

        writingFlushed = true;
        try
        {
            ByteBuf buffer;
            while (null != (buffer = toWrite.pollFirst()))
            {
                final FlushPromise promise = new FlushPromise(channel, this, buffer.readableBytes());
                promise.addListener(promise);
                channel.write(buffer, promise);
            }
        }
        finally
        {
            writingFlushed = false;
        }
        channel.flush();
    }

    private void closeAfterWrites()
    {
        if (channelClosed)
        {
            // onClosed may be waiting for a resume that will not come.
            notifyClosedWhenDue();
            return;
        }
        writeFlushed();
        // The empty buffer's write completes only after everything written before it.
        channel.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
    }

    private void flushComplete(final ChannelFuture future, final int length)
    {
        if (future.isSuccess())
        {
            final ConnectionHandler handler = this.handler;
            if (!closedNotified && null != handler)
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
        else
        {
            // Netty closes the channel after a failed write without firing exceptionCaught; keep the reason.
            final Throwable cause = future.cause();
            if (cause instanceof IOException && !(cause instanceof ClosedChannelException))
            {
                closing(CloseReason.TRANSPORT_ERROR, NettyTransport.describe(cause));
            }
        }
    }

    private void closing(final CloseReason reason, final String detail)
    {
        synchronized (lock)
        {
            if (null == closeReason)
            {
                closeReason = reason;
                closeDetail = detail;
            }
        }
    }

    private void fail(final Throwable error)
    {
        transport.reportError(error);
        closing(CloseReason.TRANSPORT_ERROR, NettyTransport.describe(error));
        channel.close();
    }

    private void releaseWrites()
    {
        if (null != pendingWrite)
        {
            pendingWrite.release();
            pendingWrite = null;
        }
        ByteBuf buffer;
        while (null != (buffer = flushed.pollFirst()))
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
            // The transport is closed: its I/O threads have closed the channel and reported what they could.
        }
    }

    /**
     * The promise of one flush's write, and its own listener: one object per flush.
     */
    private static final class FlushPromise extends DefaultChannelPromise implements ChannelFutureListener
    {
        private final NettyConnection connection;
        private final int length;

        FlushPromise(final Channel channel, final NettyConnection connection, final int length)
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
            connection.flushComplete(future, length);
        }
    }
}
