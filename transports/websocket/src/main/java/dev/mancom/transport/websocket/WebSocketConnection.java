package dev.mancom.transport.websocket;

import dev.mancom.protocol.Endpoint;
import dev.mancom.protocol.codecs.CloseReason;
import dev.mancom.transport.ConnectionHandler;
import dev.mancom.transport.TransportConnection;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.DefaultChannelPromise;
import io.netty.handler.codec.http.websocketx.BinaryWebSocketFrame;
import io.netty.handler.codec.http.websocketx.CloseWebSocketFrame;
import io.netty.handler.codec.http.websocketx.ContinuationWebSocketFrame;
import io.netty.handler.codec.http.websocketx.CorruptedWebSocketFrameException;
import io.netty.handler.codec.http.websocketx.PingWebSocketFrame;
import io.netty.handler.codec.http.websocketx.PongWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketCloseStatus;
import io.netty.handler.codec.http.websocketx.WebSocketFrame;
import io.netty.util.ReferenceCountUtil;
import org.agrona.DirectBuffer;
import org.agrona.ExpandableArrayBuffer;
import org.agrona.concurrent.UnsafeBuffer;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.util.ArrayDeque;
import java.util.Objects;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReferenceFieldUpdater;

/**
 * One WebSocket, after its opening handshake: the {@link TransportConnection} the broker drives and the last handler
 * of its channel's pipeline (after Netty's frame decoder and encoder).
 * <p>
 * Messages: each message received (a binary or text frame with the continuation frames of a fragmented message,
 * reassembled) is one {@link ConnectionHandler#onData} call with its payload, text as its UTF-8 bytes; empty
 * messages are skipped. A message larger than {@code max_message} closes the connection with status 1009 and
 * {@code PROTOCOL_ERROR}. Each {@link #write} call is one binary message, sent at the next {@link #flush()}. Pings
 * are answered; pongs are ignored.
 * <p>
 * Reading is paused by turning Netty's auto-read off; messages the decoder still produces from bytes already read
 * (at most one socket read's worth) are queued and delivered after {@link #resumeReading()}.
 * <p>
 * Closing: the peer's close frame is answered with the same status, what was flushed is sent first, the socket is
 * closed, and {@code REMOTE_CLOSED} follows the peer's last message (its detail names the status). {@link #close()}
 * sends what was written, then a close frame (1000), drops messages that arrive after it, and closes the socket
 * when the peer answers (or after {@value #CLOSE_ACK_TIMEOUT_MS} ms): {@code LOCAL_CLOSED}. A socket closed with no
 * close frame is {@code REMOTE_CLOSED} too, with a detail that says so; a reset is {@code TRANSPORT_ERROR}; a
 * protocol violation is {@code PROTOCOL_ERROR}.
 * <p>
 * Threading: the {@link ChannelInboundHandlerAdapter} methods and every call of the handler run on the channel's I/O
 * thread. The write and close state is guarded by a lock that the sender and the I/O thread hold only briefly.
 */
final class WebSocketConnection extends ChannelInboundHandlerAdapter implements TransportConnection
{
    /** How long a local close waits for the peer's close frame before closing the socket. */
    static final long CLOSE_ACK_TIMEOUT_MS = 5_000;

    private static final AtomicReferenceFieldUpdater<WebSocketConnection, ConnectionHandler> HANDLER_UPDATER =
        AtomicReferenceFieldUpdater.newUpdater(WebSocketConnection.class, ConnectionHandler.class, "handler");

    private final WebSocketTransport transport;
    private final Channel channel;
    private final int maxMessage;
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
    private ByteBuf assembling;
    private ArrayDeque<ByteBuf> pendingReads;
    private ArrayDeque<ByteBuf> writing = new ArrayDeque<>();
    private boolean writingFlushed;
    private boolean opened;
    private boolean channelClosed;
    private boolean closedNotified;
    private boolean closeFrameSent;
    private boolean peerCloseSeen;
    private String peerCloseDetail;

    // Guarded by lock.
    private final Object lock = new Object();
    private final UnsafeBuffer writeView = new UnsafeBuffer();
    private ArrayDeque<ByteBuf> flushed = new ArrayDeque<>();
    private ArrayDeque<ByteBuf> unflushed = new ArrayDeque<>();
    private boolean flushScheduled;
    private boolean writesClosed;
    private boolean closeRequested;
    private boolean closedLocally;
    private CloseReason closeReason;
    private String closeDetail = "";

    WebSocketConnection(final WebSocketTransport transport, final Channel channel, final int maxMessage)
    {
        this.transport = transport;
        this.channel = channel;
        this.maxMessage = maxMessage;
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
     * True: each {@code onData} call is one WebSocket message.
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
        execute(readStateTask);
    }

    /**
     * {@inheritDoc}
     */
    public void pauseReading()
    {
        readPaused = true;
        if (channel.eventLoop().inEventLoop())
        {
            updateAutoRead();
        }
        else
        {
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
     * One call is one binary message. Bytes written after {@link #close()} or {@link #abort(CloseReason)}, or after
     * the connection closed, are dropped.
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
            final ByteBuf out = WebSocketTransport.ALLOCATOR.directBuffer(length);
            if (out.hasMemoryAddress())
            {
                writeView.wrap(out.memoryAddress(), length);
                buffer.getBytes(offset, writeView, 0, length);
            }
            else
            {
                buffer.getBytes(offset, out.internalNioBuffer(0, length), length);
            }
            out.writerIndex(length);
            unflushed.addLast(out);
        }
    }

    /**
     * {@inheritDoc}
     * <p>
     * Off the I/O thread this queues the messages and wakes the I/O thread once, however many flushes come before it
     * runs; on the I/O thread it writes at once.
     */
    public void flush()
    {
        synchronized (lock)
        {
            if (unflushed.isEmpty())
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
     * Messages written but not yet flushed are sent first, then the close frame.
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
            moveUnflushed();
            writesClosed = true;
        }
        execute(closeTask);
    }

    /**
     * {@inheritDoc}
     * <p>
     * The socket is closed at once, with no close frame. Messages received but not yet delivered are dropped too.
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
        execute(readStateTask);
    }

    /**
     * {@inheritDoc}
     */
    public void channelRead(final ChannelHandlerContext ctx, final Object msg)
    {
        if (!(msg instanceof WebSocketFrame frame))
        {
            ReferenceCountUtil.release(msg);
            fail(CloseReason.PROTOCOL_ERROR, "unexpected " + msg.getClass().getSimpleName() + " after the handshake");
            return;
        }
        try
        {
            onFrame(frame);
        }
        finally
        {
            frame.release();
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
        if (cause instanceof CorruptedWebSocketFrameException)
        {
            // The decoder has sent the peer a close frame naming the violation.
            closing(CloseReason.PROTOCOL_ERROR, WebSocketTransport.describe(cause));
        }
        else
        {
            if (!(cause instanceof IOException))
            {
                transport.reportError(cause);
            }
            closing(CloseReason.TRANSPORT_ERROR, WebSocketTransport.describe(cause));
        }
        ctx.close();
    }

    /**
     * {@inheritDoc}
     */
    public void channelInactive(final ChannelHandlerContext ctx)
    {
        channelClosed = true;
        transport.closed(this);
        releaseAssembling();
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
     * @return such as {@code Connection{ws://127.0.0.1:8080/echo <- ws://127.0.0.1:50312}}.
     */
    public String toString()
    {
        return "Connection{" + localEndpoint + " <- " + remoteEndpoint + "}";
    }

    /**
     * The handshake is complete and the connection is about to be given to the broker: on the I/O thread.
     *
     * @param local  this end.
     * @param remote the other end.
     */
    void open(final Endpoint local, final Endpoint remote)
    {
        localEndpoint = local;
        remoteEndpoint = remote;
        opened = true;
        transport.opened(this);
    }

    /**
     * The accept handler failed: report it and close.
     *
     * @param error what it threw.
     */
    void fail(final Throwable error)
    {
        transport.reportError(error);
        fail(CloseReason.TRANSPORT_ERROR, WebSocketTransport.describe(error));
    }

    private void fail(final CloseReason reason, final String detail)
    {
        closing(reason, detail);
        channel.close();
    }

    private void onFrame(final WebSocketFrame frame)
    {
        if (aborted || closedNotified || peerCloseSeen)
        {
            return;
        }
        if (frame instanceof CloseWebSocketFrame close)
        {
            onPeerClose(close);
        }
        else if (frame instanceof PingWebSocketFrame)
        {
            if (!closeFrameSent)
            {
                channel.writeAndFlush(new PongWebSocketFrame(frame.content().retain()));
            }
        }
        else if (frame instanceof PongWebSocketFrame || closeFrameSent)
        {
            // Unsolicited pongs are allowed; messages after our close frame are not wanted.
            return;
        }
        else if (frame instanceof ContinuationWebSocketFrame)
        {
            if (null == assembling)
            {
                fail(CloseReason.PROTOCOL_ERROR, "continuation frame outside a fragmented message");
                return;
            }
            if (!append(frame.content()))
            {
                return;
            }
            if (frame.isFinalFragment())
            {
                final ByteBuf message = assembling;
                assembling = null;
                onMessage(message);
            }
        }
        else if (frame.isFinalFragment())
        {
            // Binary or text: a whole message in one frame, handed over without a copy.
            onMessage(frame.content().retain());
        }
        else
        {
            assembling = WebSocketTransport.ALLOCATOR.directBuffer(
                Math.min(maxMessage, Math.max(256, 2 * frame.content().readableBytes())), maxMessage);
            append(frame.content());
        }
    }

    private boolean append(final ByteBuf content)
    {
        if (assembling.readableBytes() + content.readableBytes() > maxMessage)
        {
            releaseAssembling();
            channel.writeAndFlush(new CloseWebSocketFrame(WebSocketCloseStatus.MESSAGE_TOO_BIG))
                .addListener(ChannelFutureListener.CLOSE);
            closeFrameSent = true;
            closing(CloseReason.PROTOCOL_ERROR, "a message larger than max_message (" + maxMessage + " bytes)");
            return false;
        }
        assembling.writeBytes(content);
        return true;
    }

    private void onPeerClose(final CloseWebSocketFrame close)
    {
        peerCloseSeen = true;
        final int status = close.statusCode();
        final String text = close.reasonText();
        peerCloseDetail = "close frame" + (status < 0 ? "" : " " + status) +
            (null == text || text.isEmpty() ? "" : " (" + text + ")");
        releaseAssembling();
        if (closeFrameSent)
        {
            // The answer to our close frame.
            channel.close();
            return;
        }
        synchronized (lock)
        {
            // What was flushed goes before the answer; what was not is dropped.
            writesClosed = true;
            releaseUnflushed();
        }
        writeFlushed();
        closeFrameSent = true;
        channel.writeAndFlush(new CloseWebSocketFrame(true, 0, close.content().retainedDuplicate()))
            .addListener(ChannelFutureListener.CLOSE);
    }

    private void onMessage(final ByteBuf message)
    {
        final ConnectionHandler handler = this.handler;
        if (0 == message.readableBytes())
        {
            message.release();
        }
        else if (readPaused || null == handler || hasPendingReads())
        {
            if (null == pendingReads)
            {
                pendingReads = new ArrayDeque<>();
            }
            pendingReads.addLast(message);
        }
        else
        {
            deliver(handler, message);
        }
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
            updateAutoRead();
        }
    }

    private void updateAutoRead()
    {
        // After our close frame the peer's answer must be read whatever the broker's credit says.
        channel.config().setAutoRead(closeFrameSent || (!readPaused && !hasPendingReads()));
    }

    private void deliver(final ConnectionHandler handler, final ByteBuf buffer)
    {
        try
        {
            final int length = buffer.readableBytes();
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
                if (null == copyBuffer)
                {
                    copyBuffer = new ExpandableArrayBuffer(length);
                }
                copyBuffer.checkLimit(length);
                buffer.getBytes(index, copyBuffer.byteArray(), 0, length);
                handler.onData(copyBuffer, 0, length);
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

    private void releaseAssembling()
    {
        if (null != assembling)
        {
            assembling.release();
            assembling = null;
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
            if (transport.isClosed())
            {
                releasePendingReads();
            }
            return;
        }

        final boolean local;
        CloseReason reason;
        String detail;
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
            // The peer's messages go before the peer's close: resumeReading() delivers them, then comes back here.
            return;
        }

        if (null == reason)
        {
            reason = transport.isClosed() ? CloseReason.BROKER_SHUTDOWN : CloseReason.REMOTE_CLOSED;
            detail = null != peerCloseDetail ? peerCloseDetail : "closed with no close frame";
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
            toWrite = flushed;
            flushed = writing;
            writing = toWrite;
        }

        int total = 0;
        for (final ByteBuf buffer : toWrite)
        {
            total += buffer.readableBytes();
        }
        writingFlushed = true;
        try
        {
            ByteBuf buffer;
            while (null != (buffer = toWrite.pollFirst()))
            {
                final BinaryWebSocketFrame frame = new BinaryWebSocketFrame(buffer);
                if (toWrite.isEmpty())
                {
                    // The last message's write completes after every one before it: it reports them all.
                    final FlushPromise promise = new FlushPromise(channel, this, total);
                    promise.addListener(promise);
                    channel.write(frame, promise);
                }
                else
                {
                    channel.write(frame, channel.voidPromise());
                }
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
            notifyClosedWhenDue();
            return;
        }
        writeFlushed();
        releasePendingReads();
        releaseAssembling();
        if (closeFrameSent)
        {
            // The peer closed first and has been answered; the socket closes when the answer is written.
            return;
        }
        closeFrameSent = true;
        channel.writeAndFlush(new CloseWebSocketFrame(WebSocketCloseStatus.NORMAL_CLOSURE))
            .addListener((ChannelFutureListener)(future) ->
            {
                if (future.isSuccess())
                {
                    channel.eventLoop().schedule(() -> channel.close(), CLOSE_ACK_TIMEOUT_MS, TimeUnit.MILLISECONDS);
                    updateAutoRead();
                }
                else
                {
                    channel.close();
                }
            });
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
            final Throwable cause = future.cause();
            if (cause instanceof IOException && !(cause instanceof ClosedChannelException))
            {
                closing(CloseReason.TRANSPORT_ERROR, WebSocketTransport.describe(cause));
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

    private void moveUnflushed()
    {
        ByteBuf buffer;
        while (null != (buffer = unflushed.pollFirst()))
        {
            flushed.addLast(buffer);
        }
    }

    private void releaseUnflushed()
    {
        ByteBuf buffer;
        while (null != (buffer = unflushed.pollFirst()))
        {
            buffer.release();
        }
    }

    private void releaseWrites()
    {
        releaseUnflushed();
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
     * The promise of one flush's last message, and its own listener: one object per flush.
     */
    private static final class FlushPromise extends DefaultChannelPromise implements ChannelFutureListener
    {
        private final WebSocketConnection connection;
        private final int length;

        FlushPromise(final Channel channel, final WebSocketConnection connection, final int length)
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
