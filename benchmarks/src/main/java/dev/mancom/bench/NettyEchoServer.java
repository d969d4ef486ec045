package dev.mancom.bench;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;

import java.net.InetSocketAddress;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * The reference the benchmark compares ManCom with: a plain Netty TCP echo server in its own JVM, built as the
 * broker's TCP transport is (native epoll when available, else NIO; one event-loop thread for the listener and
 * every connection, as the broker's default {@code io_threads = 1}; TCP_NODELAY; Netty's pooled allocator). Each
 * {@link io.netty.buffer.ByteBuf} read is written back with {@code writeAndFlush}; reading pauses while the
 * channel is not writable, so a client that does not read cannot make it buffer without bound (the broker has its
 * credit windows for that).
 * <p>
 * {@code java ... dev.mancom.bench.NettyEchoServer [PORT]} binds 127.0.0.1 (port 0, the default, picks a free
 * one), prints {@code netty echo server listening on tcp://127.0.0.1:PORT (epoll, 1 event-loop thread)} and runs
 * until SIGINT or SIGTERM.
 */
public final class NettyEchoServer
{
    /** The start of the line printed once the server accepts connections. */
    public static final String READY_LINE_PREFIX = "netty echo server listening on ";

    private static final String HOST = "127.0.0.1";

    private NettyEchoServer()
    {
    }

    /**
     * Run the server until the JVM is asked to stop.
     *
     * @param args optionally the port.
     * @throws InterruptedException when interrupted.
     */
    public static void main(final String[] args) throws InterruptedException
    {
        final int port = args.length > 0 ? Integer.parseInt(args[0]) : 0;
        final boolean epoll = Epoll.isAvailable();
        final IoHandlerFactory ioHandlerFactory = epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory();
        final Class<? extends ServerChannel> serverChannelClass =
            epoll ? EpollServerSocketChannel.class : NioServerSocketChannel.class;
        final MultiThreadIoEventLoopGroup group = new MultiThreadIoEventLoopGroup(1, ioHandlerFactory);
        final CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() ->
        {
            group.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
            stopped.countDown();
        }, "netty-echo-shutdown"));

        final Channel serverChannel = new ServerBootstrap()
            .group(group)
            .channel(serverChannelClass)
            .option(ChannelOption.SO_REUSEADDR, true)
            .childOption(ChannelOption.TCP_NODELAY, true)
            .childHandler(new EchoHandler())
            .bind(new InetSocketAddress(HOST, port))
            .syncUninterruptibly()
            .channel();
        final InetSocketAddress local = (InetSocketAddress)serverChannel.localAddress();
        System.out.println(READY_LINE_PREFIX + "tcp://" + HOST + ":" + local.getPort() + " (" +
            (epoll ? "epoll" : "nio") + ", 1 event-loop thread)");
        System.out.flush();
        stopped.await();
    }

    /**
     * Writes every buffer back; pauses reading while the channel cannot take more.
     */
    @ChannelHandler.Sharable
    static final class EchoHandler extends ChannelInboundHandlerAdapter
    {
        /**
         * {@inheritDoc}
         */
        public void channelRead(final ChannelHandlerContext ctx, final Object msg)
        {
            ctx.writeAndFlush(msg, ctx.voidPromise());
            if (!ctx.channel().isWritable())
            {
                ctx.channel().config().setAutoRead(false);
            }
        }

        /**
         * {@inheritDoc}
         */
        public void channelWritabilityChanged(final ChannelHandlerContext ctx)
        {
            if (ctx.channel().isWritable())
            {
                ctx.channel().config().setAutoRead(true);
            }
            ctx.fireChannelWritabilityChanged();
        }

        /**
         * {@inheritDoc}
         */
        public void exceptionCaught(final ChannelHandlerContext ctx, final Throwable cause)
        {
            ctx.close();
        }
    }
}
