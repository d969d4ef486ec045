package dev.mancom.bench;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.FixedRecvByteBufAllocator;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollDatagramChannel;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerDomainSocketChannel;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.DatagramPacket;
import io.netty.channel.socket.nio.NioDatagramChannel;
import io.netty.channel.socket.nio.NioServerDomainSocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.unix.DomainSocketAddress;

import java.net.InetSocketAddress;
import java.net.UnixDomainSocketAddress;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * The reference the benchmarks compare ManCom with: a plain Netty echo server in its own JVM, built as the broker's
 * transports are (native epoll when available, else NIO; one event-loop thread for the listener and every
 * connection, as the broker's default {@code io_threads = 1}; Netty's pooled allocator).
 * <ul>
 *     <li>{@code tcp} (TCP_NODELAY) and {@code unix} (a Unix domain stream socket): each
 *     {@link io.netty.buffer.ByteBuf} read is written back with {@code writeAndFlush}; reading pauses while the
 *     channel is not writable, so a client that does not read cannot make it buffer without bound (the broker has
 *     its credit windows for that).</li>
 *     <li>{@code udp}: one bound datagram socket; each datagram read (into a 64 KiB buffer, as the broker's UDP
 *     transport reads, so none is truncated) is sent back whole to its sender. Nothing is queued: what the socket
 *     cannot take is dropped, as UDP does.</li>
 * </ul>
 * {@code java ... dev.mancom.bench.NettyEchoServer [tcp] [PORT] | unix PATH | udp [PORT]} binds 127.0.0.1 (port 0,
 * the default, picks a free one) or the socket path, prints such as {@code netty echo server listening on
 * tcp://127.0.0.1:PORT (epoll, 1 event-loop thread)} and runs until SIGINT or SIGTERM.
 */
public final class NettyEchoServer
{
    /** The start of the line printed once the server accepts connections (the URI and how it runs follow). */
    public static final String READY_LINE_PREFIX = "netty echo server listening on ";

    private static final String HOST = "127.0.0.1";
    private static final int DATAGRAM_RECEIVE_BYTES = 64 * 1024;

    private NettyEchoServer()
    {
    }

    /**
     * Run the server until the JVM is asked to stop.
     *
     * @param args {@code [tcp] [PORT]}, {@code unix PATH} or {@code udp [PORT]}.
     * @throws InterruptedException when interrupted.
     */
    public static void main(final String[] args) throws InterruptedException
    {
        final boolean named = args.length > 0 && !args[0].isEmpty() && !Character.isDigit(args[0].charAt(0));
        final String scheme = named ? args[0] : "tcp";
        final String where = args.length > (named ? 1 : 0) ? args[named ? 1 : 0] : null;
        final boolean epoll = Epoll.isAvailable();
        final IoHandlerFactory ioHandlerFactory = epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory();
        final MultiThreadIoEventLoopGroup group = new MultiThreadIoEventLoopGroup(1, ioHandlerFactory);
        final CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() ->
        {
            group.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
            stopped.countDown();
        }, "netty-echo-shutdown"));

        final String uri;
        switch (scheme)
        {
            case "tcp":
            {
                final Channel channel = new ServerBootstrap()
                    .group(group)
                    .channel(epoll ? EpollServerSocketChannel.class : NioServerSocketChannel.class)
                    .option(ChannelOption.SO_REUSEADDR, true)
                    .childOption(ChannelOption.TCP_NODELAY, true)
                    .childHandler(new EchoHandler())
                    .bind(new InetSocketAddress(HOST, null == where ? 0 : Integer.parseInt(where)))
                    .syncUninterruptibly()
                    .channel();
                uri = "tcp://" + HOST + ":" + ((InetSocketAddress)channel.localAddress()).getPort();
                break;
            }
            case "unix":
            {
                if (null == where)
                {
                    throw new IllegalArgumentException("usage: NettyEchoServer unix PATH");
                }
                new ServerBootstrap()
                    .group(group)
                    .channel(epoll ? EpollServerDomainSocketChannel.class : NioServerDomainSocketChannel.class)
                    .childHandler(new EchoHandler())
                    .bind(epoll ? new DomainSocketAddress(where) : UnixDomainSocketAddress.of(where))
                    .syncUninterruptibly();
                uri = "unix://" + where;
                break;
            }
            case "udp":
            {
                final Channel channel = new Bootstrap()
                    .group(group)
                    .channel(epoll ? EpollDatagramChannel.class : NioDatagramChannel.class)
                    .option(ChannelOption.RCVBUF_ALLOCATOR, new FixedRecvByteBufAllocator(DATAGRAM_RECEIVE_BYTES))
                    .handler(new DatagramEchoHandler())
                    .bind(new InetSocketAddress(HOST, null == where ? 0 : Integer.parseInt(where)))
                    .syncUninterruptibly()
                    .channel();
                uri = "udp://" + HOST + ":" + ((InetSocketAddress)channel.localAddress()).getPort();
                break;
            }
            default:
                throw new IllegalArgumentException("unknown transport '" + scheme + "': tcp, unix or udp");
        }
        System.out.println(READY_LINE_PREFIX + uri + " (" + (epoll ? "epoll" : "nio") + ", 1 event-loop thread)");
        System.out.flush();
        stopped.await();
    }

    /**
     * Sends every datagram back to its sender, whole.
     */
    @ChannelHandler.Sharable
    static final class DatagramEchoHandler extends SimpleChannelInboundHandler<DatagramPacket>
    {
        DatagramEchoHandler()
        {
            super(false);
        }

        /**
         * {@inheritDoc}
         */
        protected void channelRead0(final ChannelHandlerContext ctx, final DatagramPacket packet)
        {
            ctx.writeAndFlush(new DatagramPacket(packet.content(), packet.sender()), ctx.voidPromise());
        }

        /**
         * {@inheritDoc}
         */
        public void exceptionCaught(final ChannelHandlerContext ctx, final Throwable cause)
        {
            // A failed send (such as an ICMP error from a client gone away) drops that datagram; the socket goes on.
        }
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
