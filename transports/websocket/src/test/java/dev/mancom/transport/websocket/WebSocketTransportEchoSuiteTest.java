package dev.mancom.transport.websocket;

import dev.mancom.protocol.codecs.TransportType;
import dev.mancom.transport.Transport;
import dev.mancom.transport.TransportContext;
import dev.mancom.transport.TransportListener;
import dev.mancom.transport.TransportUri;
import dev.mancom.transport.testkit.RawPeer;
import dev.mancom.transport.testkit.TransportEchoSuite;
import dev.mancom.transport.testkit.WebSocketPeer;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Nested;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The shared transport suite over WebSocket, with Java's own WebSocket client as the remote peer (random data, random
 * message sizes), on native epoll and on NIO.
 */
class WebSocketTransportEchoSuiteTest
{
    private static final AtomicLong SEEDS = new AtomicLong(System.nanoTime());

    @Nested
    class Epoll extends WebSocketSuite
    {
        Epoll()
        {
            super(true);
        }
    }

    @Nested
    class Nio extends WebSocketSuite
    {
        Nio()
        {
            super(false);
        }
    }

    /**
     * The suite on one I/O implementation.
     */
    abstract static class WebSocketSuite extends TransportEchoSuite
    {
        private final boolean epoll;

        WebSocketSuite(final boolean epoll)
        {
            this.epoll = epoll;
        }

        protected String scheme()
        {
            return "ws";
        }

        protected TransportType transportType()
        {
            return TransportType.PLUGIN;
        }

        protected Transport createTransport(final TransportContext context)
        {
            if (epoll)
            {
                Assumptions.assumeTrue(
                    io.netty.channel.epoll.Epoll.isAvailable(), "native epoll is not available here");
            }
            return new WebSocketTransport(context, epoll);
        }

        protected TransportUri listenUri()
        {
            return TransportUri.parse("ws://127.0.0.1:0/kit");
        }

        protected TransportUri connectUri(final TransportListener listener)
        {
            // The endpoint prints as the URI: ws://127.0.0.1:PORT/kit.
            return TransportUri.parse(listener.localEndpoint().toString());
        }

        protected RawPeer connectPeer(final TransportListener listener) throws IOException
        {
            return WebSocketPeer.connect(
                URI.create(listener.localEndpoint().toString()), 64 * 1024,
                SEEDS.incrementAndGet());
        }

        protected TransportUri unreachableUri() throws IOException
        {
            final Socket bound = closeAfterTest(new Socket());
            bound.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            return TransportUri.parse("ws://127.0.0.1:" + bound.getLocalPort() + "/kit");
        }

        protected List<BadUri> badUris()
        {
            return List.of(
                new BadUri("ws://127.0.0.1/echo", "port"),
                new BadUri("ws://127.0.0.1:70000/echo", "port"),
                new BadUri("ws:///echo", "host"),
                new BadUri("wss://127.0.0.1:8443/echo", "scheme"),
                new BadUri("tcp://127.0.0.1:7000", "scheme"),
                new BadUri("ws://127.0.0.1:8080/echo?colour=blue", "colour"),
                new BadUri("ws://127.0.0.1:8080/echo?max_message=0", "max_message"),
                new BadUri("ws://127.0.0.1:8080/echo?max_message=999999999", "max_message"),
                new BadUri("ws://127.0.0.1:8080/echo?nodelay=maybe", "nodelay"),
                new BadUri("ws://127.0.0.1:8080/echo?handshake_timeout_ms=-1", "handshake_timeout_ms"),
                new BadUri("ws://127.0.0.1:8080/echo?backlog=many", "backlog"));
        }
    }
}
