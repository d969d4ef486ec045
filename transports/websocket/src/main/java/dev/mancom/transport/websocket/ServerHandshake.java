package dev.mancom.transport.websocket;

import dev.mancom.transport.AcceptHandler;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.handler.codec.http.websocketx.WebSocketDecoderConfig;
import io.netty.handler.codec.http.websocketx.WebSocketServerHandshaker;
import io.netty.handler.codec.http.websocketx.WebSocketServerHandshakerFactory;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;

import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;

/**
 * The server side of the opening handshake of one accepted socket: reads one HTTP request (reading explicitly, as
 * auto-read is off), upgrades it when it asks for the listener's path, answers an HTTP error otherwise, and then
 * puts a {@link WebSocketConnection} in its place and hands it to the accept handler. A socket that sends no
 * complete request within {@code handshake_timeout_ms} is closed. On the channel's I/O thread.
 */
final class ServerHandshake extends ChannelInboundHandlerAdapter
{
    private final WebSocketTransport transport;
    private final WebSocketOptions options;
    private final AcceptHandler acceptHandler;
    private final WebSocketServerHandshakerFactory factory;
    private ScheduledFuture<?> timeout;
    private boolean requestSeen;

    ServerHandshake(
        final WebSocketTransport transport, final WebSocketOptions options, final AcceptHandler acceptHandler)
    {
        this.transport = transport;
        this.options = options;
        this.acceptHandler = acceptHandler;
        this.factory = new WebSocketServerHandshakerFactory(
            options.uri.toString(), null, decoderConfig(options.maxMessage, true));
    }

    static WebSocketDecoderConfig decoderConfig(final int maxMessage, final boolean server)
    {
        return WebSocketDecoderConfig.newBuilder()
            .maxFramePayloadLength(maxMessage)
            .expectMaskedFrames(server)
            .allowMaskMismatch(false)
            .allowExtensions(false)
            .closeOnProtocolViolation(true)
            .build();
    }

    /**
     * {@inheritDoc}
     */
    public void channelActive(final ChannelHandlerContext ctx)
    {
        timeout = ctx.executor().schedule(
            () -> ctx.channel().close(), options.handshakeTimeoutMs, TimeUnit.MILLISECONDS);
        ctx.read();
    }

    /**
     * {@inheritDoc}
     */
    public void channelRead(final ChannelHandlerContext ctx, final Object msg)
    {
        if (!(msg instanceof FullHttpRequest request) || requestSeen)
        {
            ReferenceCountUtil.release(msg);
            return;
        }
        requestSeen = true;
        try
        {
            handle(ctx, request);
        }
        finally
        {
            request.release();
        }
    }

    /**
     * {@inheritDoc}
     */
    public void channelReadComplete(final ChannelHandlerContext ctx)
    {
        if (!requestSeen)
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
        ctx.fireChannelInactive();
    }

    /**
     * {@inheritDoc}
     */
    public void exceptionCaught(final ChannelHandlerContext ctx, final Throwable cause)
    {
        // A malformed request or a reset before the upgrade: nothing was handed to the broker yet.
        cancelTimeout();
        ctx.close();
    }

    private void handle(final ChannelHandlerContext ctx, final FullHttpRequest request)
    {
        final Channel channel = ctx.channel();
        if (!request.decoderResult().isSuccess())
        {
            respond(ctx, HttpResponseStatus.BAD_REQUEST, "malformed HTTP request\n");
            return;
        }
        final String path = new QueryStringDecoder(request.uri()).path();
        if (!options.path.equals(path))
        {
            respond(ctx, HttpResponseStatus.NOT_FOUND, "no WebSocket at " + path + "\n");
            return;
        }
        if (!HttpMethod.GET.equals(request.method()))
        {
            respond(ctx, HttpResponseStatus.METHOD_NOT_ALLOWED, "a WebSocket upgrade is a GET request\n");
            return;
        }
        if (!request.headers().containsValue(HttpHeaderNames.UPGRADE, HttpHeaderValues.WEBSOCKET, true))
        {
            respond(ctx, HttpResponseStatus.BAD_REQUEST, "this is a WebSocket endpoint: send an upgrade request\n");
            return;
        }
        final WebSocketServerHandshaker handshaker = factory.newHandshaker(request);
        if (null == handshaker)
        {
            cancelTimeout();
            WebSocketServerHandshakerFactory.sendUnsupportedVersionResponse(channel)
                .addListener(ChannelFutureListener.CLOSE);
            return;
        }

        final WebSocketConnection connection = new WebSocketConnection(transport, channel, options.maxMessage);
        ctx.pipeline().replace(this, "ws", connection);
        handshaker.handshake(channel, request).addListener((ChannelFutureListener)(future) ->
        {
            cancelTimeout();
            if (!future.isSuccess())
            {
                channel.close();
                return;
            }
            connection.open(
                WebSocketTransport.endpoint(channel.localAddress(), options.path),
                WebSocketTransport.endpoint(channel.remoteAddress(), ""));
            try
            {
                acceptHandler.onAccept(connection);
            }
            catch (final Throwable ex)
            {
                connection.fail(ex);
            }
        });
    }

    private void respond(final ChannelHandlerContext ctx, final HttpResponseStatus status, final String text)
    {
        cancelTimeout();
        final ByteBuf body = Unpooled.copiedBuffer(text, StandardCharsets.UTF_8);
        final FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, body);
        response.headers()
            .set(HttpHeaderNames.CONTENT_TYPE, "text/plain; charset=utf-8")
            .setInt(HttpHeaderNames.CONTENT_LENGTH, body.readableBytes())
            .set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
        if (HttpResponseStatus.METHOD_NOT_ALLOWED.equals(status))
        {
            response.headers().set(HttpHeaderNames.ALLOW, "GET");
        }
        ctx.writeAndFlush(response).addListener(ChannelFutureListener.CLOSE);
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
