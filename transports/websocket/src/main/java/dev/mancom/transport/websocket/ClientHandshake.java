package dev.mancom.transport.websocket;

import dev.mancom.protocol.codecs.CloseReason;
import dev.mancom.transport.ConnectHandler;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.EmptyHttpHeaders;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.websocketx.WebSocketClientHandshaker;
import io.netty.handler.codec.http.websocketx.WebSocketClientHandshakerFactory;
import io.netty.handler.codec.http.websocketx.WebSocketHandshakeException;
import io.netty.handler.codec.http.websocketx.WebSocketVersion;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ScheduledFuture;

import java.io.IOException;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URISyntaxException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The client side of an outbound WebSocket: the TCP connect, then the opening handshake (reading explicitly, as
 * auto-read is off), then a {@link WebSocketConnection} in its place. The connect handler is told exactly once: the
 * connection, or the first failure (refused, time-out, an HTTP answer other than the upgrade, the socket closed).
 */
final class ClientHandshake extends ChannelInboundHandlerAdapter
{
    private final WebSocketTransport transport;
    private final WebSocketOptions options;
    private final InetSocketAddress address;
    private final ConnectHandler connectHandler;
    private final WebSocketClientHandshaker handshaker;
    private final AtomicBoolean reported = new AtomicBoolean();
    private ScheduledFuture<?> timeout;
    private boolean done;

    ClientHandshake(
        final WebSocketTransport transport,
        final WebSocketOptions options,
        final InetSocketAddress address,
        final ConnectHandler connectHandler)
    {
        this.transport = transport;
        this.options = options;
        this.address = address;
        this.connectHandler = connectHandler;
        final URI target;
        try
        {
            target = new URI(WebSocketOptions.SCHEME, null, options.host, options.port, options.path, null, null);
        }
        catch (final URISyntaxException ex)
        {
            throw new IllegalArgumentException("not a URI: " + options.uri, ex);
        }
        this.handshaker = WebSocketClientHandshakerFactory.newHandshaker(
            target, WebSocketVersion.V13, null, false, EmptyHttpHeaders.INSTANCE, options.maxMessage);
    }

    /**
     * The TCP connect completed. On an I/O thread (or the caller's, when the loop refused the registration).
     *
     * @param future the connect's future.
     */
    void connected(final Future<? super Void> future)
    {
        if (!future.isSuccess())
        {
            final Throwable cause = future.cause();
            fail(new ConnectException("cannot connect to " + options.uri + ": " +
                (null == cause ? "cancelled" : WebSocketTransport.describe(cause))));
        }
    }

    /**
     * {@inheritDoc}
     */
    public void channelActive(final ChannelHandlerContext ctx)
    {
        final Channel channel = ctx.channel();
        timeout = ctx.executor().schedule(() ->
        {
            fail(new IOException("no WebSocket handshake from " + options.uri + " within " +
                options.handshakeTimeoutMs + " ms"));
            channel.close();
        }, options.handshakeTimeoutMs, TimeUnit.MILLISECONDS);
        handshaker.handshake(channel).addListener((ChannelFutureListener)(future) ->
        {
            if (!future.isSuccess())
            {
                fail(new IOException("cannot send the WebSocket handshake to " + options.uri + ": " +
                    WebSocketTransport.describe(future.cause())));
                channel.close();
            }
        });
        ctx.read();
    }

    /**
     * {@inheritDoc}
     */
    public void channelRead(final ChannelHandlerContext ctx, final Object msg)
    {
        if (!(msg instanceof FullHttpResponse response) || done)
        {
            ReferenceCountUtil.release(msg);
            return;
        }
        done = true;
        cancelTimeout();
        final Channel channel = ctx.channel();
        try
        {
            handshaker.finishHandshake(channel, response);
        }
        catch (final WebSocketHandshakeException ex)
        {
            fail(new IOException("WebSocket handshake with " + options.uri + " refused: " + ex.getMessage(), ex));
            channel.close();
            return;
        }
        finally
        {
            response.release();
        }

        final WebSocketConnection connection = new WebSocketConnection(transport, channel, options.maxMessage);
        ctx.pipeline().replace(this, "ws", connection);
        try
        {
            connection.open(
                WebSocketTransport.endpoint(channel.localAddress(), ""),
                WebSocketTransport.endpoint(channel.remoteAddress(), options.path));
        }
        catch (final RuntimeException ex)
        {
            fail(ex);
            channel.close();
            return;
        }
        if (reported.compareAndSet(false, true))
        {
            try
            {
                connectHandler.onConnected(connection);
            }
            catch (final RuntimeException ex)
            {
                transport.reportError(ex);
                connection.abort(CloseReason.TRANSPORT_ERROR);
            }
        }
        else
        {
            connection.abort(CloseReason.TRANSPORT_ERROR);
        }
    }

    /**
     * {@inheritDoc}
     */
    public void channelReadComplete(final ChannelHandlerContext ctx)
    {
        if (!done)
        {
            ctx.read();
        }
    }

    /**
     * {@inheritDoc}
     */
    public void channelInactive(final ChannelHandlerContext ctx)
    {
        cancelTimeout();
        fail(new IOException(address + " closed the connection during the WebSocket handshake of " + options.uri));
        ctx.fireChannelInactive();
    }

    /**
     * {@inheritDoc}
     */
    public void exceptionCaught(final ChannelHandlerContext ctx, final Throwable cause)
    {
        cancelTimeout();
        fail(new IOException("WebSocket handshake with " + options.uri + " failed: " +
            WebSocketTransport.describe(cause), cause));
        ctx.close();
    }

    private void fail(final Throwable cause)
    {
        if (reported.compareAndSet(false, true))
        {
            try
            {
                connectHandler.onConnectFailed(cause);
            }
            catch (final RuntimeException ex)
            {
                transport.reportError(ex);
            }
        }
    }

    private void cancelTimeout()
    {
        if (null != timeout)
        {
            timeout.cancel(false);
            timeout = null;
        }
    }
}
