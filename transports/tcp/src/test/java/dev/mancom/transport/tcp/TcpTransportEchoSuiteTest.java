package dev.mancom.transport.tcp;

import dev.mancom.protocol.codecs.TransportType;
import dev.mancom.transport.Transport;
import dev.mancom.transport.TransportContext;
import dev.mancom.transport.TransportListener;
import dev.mancom.transport.TransportUri;
import dev.mancom.transport.testkit.RawPeer;
import dev.mancom.transport.testkit.SocketChannelPeer;
import dev.mancom.transport.testkit.TransportEchoSuite;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Nested;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.util.List;

/**
 * The shared transport suite, on native epoll and on NIO.
 */
class TcpTransportEchoSuiteTest
{
    @Nested
    class Epoll extends TcpSuite
    {
        Epoll()
        {
            super(true);
        }
    }

    @Nested
    class Nio extends TcpSuite
    {
        Nio()
        {
            super(false);
        }
    }

    /**
     * The suite on one I/O implementation.
     */
    abstract static class TcpSuite extends TransportEchoSuite
    {
        private final boolean epoll;

        TcpSuite(final boolean epoll)
        {
            this.epoll = epoll;
        }

        protected String scheme()
        {
            return "tcp";
        }

        protected TransportType transportType()
        {
            return TransportType.TCP;
        }

        protected Transport createTransport(final TransportContext context)
        {
            if (epoll)
            {
                Assumptions.assumeTrue(
                    io.netty.channel.epoll.Epoll.isAvailable(), "native epoll is not available here");
            }
            return new TcpTransport(context, epoll);
        }

        protected TransportUri listenUri()
        {
            return TransportUri.parse("tcp://127.0.0.1:0");
        }

        protected TransportUri connectUri(final TransportListener listener)
        {
            return TransportUri.parse("tcp://127.0.0.1:" + listener.localEndpoint().port());
        }

        protected RawPeer connectPeer(final TransportListener listener) throws IOException
        {
            return SocketChannelPeer.connect(
                new InetSocketAddress(InetAddress.getLoopbackAddress(), listener.localEndpoint().port()));
        }

        protected TransportUri unreachableUri() throws IOException
        {
            // A bound socket that does not listen: its port refuses connections and no one else can take it meanwhile.
            final Socket bound = closeAfterTest(new Socket());
            bound.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            return TransportUri.parse("tcp://127.0.0.1:" + bound.getLocalPort());
        }

        protected List<BadUri> badUris()
        {
            return List.of(
                new BadUri("tcp://127.0.0.1", "port"),
                new BadUri("tcp://127.0.0.1:70000", "port"),
                new BadUri("tcp:///no/authority", "host"),
                new BadUri("udp://127.0.0.1:7000", "scheme"),
                new BadUri("tcp://127.0.0.1:7000/path", "path"),
                new BadUri("tcp://127.0.0.1:7000?colour=blue", "colour"),
                new BadUri("tcp://127.0.0.1:7000?nodelay=maybe", "nodelay"),
                new BadUri("tcp://127.0.0.1:7000?backlog=-1", "backlog"),
                new BadUri("tcp://127.0.0.1:7000?backlog=many", "backlog"),
                new BadUri("tcp://127.0.0.1:7000?connect_timeout_ms=0", "connect_timeout_ms"));
        }
    }
}
