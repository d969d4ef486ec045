package dev.mancom.transport.unix;

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
import java.net.UnixDomainSocketAddress;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The shared transport suite, on native epoll and on Java NIO.
 */
class UnixTransportEchoSuiteTest
{
    @Nested
    class Epoll extends UnixSuite
    {
        Epoll()
        {
            super(true);
        }
    }

    @Nested
    class Nio extends UnixSuite
    {
        Nio()
        {
            super(false);
        }
    }

    /**
     * The suite on one I/O implementation; sockets in the test's temporary directory.
     */
    abstract static class UnixSuite extends TransportEchoSuite
    {
        private final boolean epoll;
        private final AtomicInteger sockets = new AtomicInteger();

        UnixSuite(final boolean epoll)
        {
            this.epoll = epoll;
        }

        protected String scheme()
        {
            return "unix";
        }

        protected TransportType transportType()
        {
            return TransportType.UNIX;
        }

        protected Transport createTransport(final TransportContext context)
        {
            if (epoll)
            {
                Assumptions.assumeTrue(
                    io.netty.channel.epoll.Epoll.isAvailable(), "native epoll is not available here");
            }
            return new UnixTransport(context, epoll);
        }

        protected TransportUri listenUri()
        {
            return TransportUri.parse("unix://" + tempDir.resolve("s" + sockets.incrementAndGet() + ".sock"));
        }

        protected TransportUri connectUri(final TransportListener listener)
        {
            return TransportUri.parse("unix://" + listener.localEndpoint().path());
        }

        protected RawPeer connectPeer(final TransportListener listener) throws IOException
        {
            return SocketChannelPeer.connect(UnixDomainSocketAddress.of(listener.localEndpoint().path()));
        }

        protected TransportUri unreachableUri()
        {
            return TransportUri.parse("unix://" + tempDir.resolve("nobody-listens.sock"));
        }

        protected List<BadUri> badUris()
        {
            return List.of(
                new BadUri("unix://localhost/run/echo.sock", "host"),
                new BadUri("unix:///", "path"),
                new BadUri("unix:///run/mancom/", "path"),
                new BadUri("unix:///run/a%00b.sock", "path"),
                new BadUri("unix:///" + "d".repeat(100) + "/echo.sock", "path"),
                new BadUri("tcp:///run/echo.sock", "scheme"),
                new BadUri("unix:///run/echo.sock?colour=blue", "colour"),
                new BadUri("unix:///run/echo.sock?backlog=0", "backlog"),
                new BadUri("unix:///run/echo.sock?connect_timeout_ms=soon", "connect_timeout_ms"));
        }
    }
}
