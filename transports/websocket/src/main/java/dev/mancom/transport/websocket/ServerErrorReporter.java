package dev.mancom.transport.websocket;

import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;

/**
 * Reports failures to accept (such as running out of file descriptors) to the broker, then lets Netty's acceptor
 * back off as it does.
 */
@ChannelHandler.Sharable
final class ServerErrorReporter extends ChannelInboundHandlerAdapter
{
    private final WebSocketTransport transport;

    ServerErrorReporter(final WebSocketTransport transport)
    {
        this.transport = transport;
    }

    /**
     * {@inheritDoc}
     */
    public void exceptionCaught(final ChannelHandlerContext ctx, final Throwable cause)
    {
        transport.reportError(cause);
        ctx.fireExceptionCaught(cause);
    }
}
