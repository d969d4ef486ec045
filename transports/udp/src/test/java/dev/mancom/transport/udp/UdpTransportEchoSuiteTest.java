package dev.mancom.transport.udp;

import dev.mancom.protocol.codecs.TransportType;
import dev.mancom.transport.Transport;
import dev.mancom.transport.TransportContext;
import dev.mancom.transport.TransportListener;
import dev.mancom.transport.TransportUri;
import dev.mancom.transport.testkit.DatagramChannelPeer;
import dev.mancom.transport.testkit.RawPeer;
import dev.mancom.transport.testkit.TransportEchoSuite;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Nested;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.channels.DatagramChannel;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;

/**
 * The shared transport suite, on native epoll and on Java NIO, with a plain datagram socket as the peer: each
 * datagram is a message, so the echo goes message by message with random lengths up to the largest UDP payload, and
 * each datagram must come back whole. The peer's first datagram opens its connection.
 */
class UdpTransportEchoSuiteTest
{
    @Nested
    class Epoll extends UdpSuite
    {
        Epoll()
        {
            super(true);
        }
    }

    @Nested
    class Nio extends UdpSuite
    {
        Nio()
        {
            super(false);
        }
    }

    /**
     * The suite on one I/O implementation; listeners on ephemeral loopback ports.
     */
    abstract static class UdpSuite extends TransportEchoSuite
    {
        private final boolean epoll;

        UdpSuite(final boolean epoll)
        {
            this.epoll = epoll;
        }

        protected String scheme()
        {
            return "udp";
        }

        protected TransportType transportType()
        {
            return TransportType.UDP;
        }

        /**
         * Many connections only. UDP lacks the others, and the suite skips their tests:
         * <ul>
         *     <li>{@link Feature#PEER_CLOSE}: UDP has no close. A peer that stops sending is not seen until the
         *     connection's {@code idle_timeout}, which closes it with {@code TIMEOUT} (not {@code REMOTE_CLOSED});
         *     closing a connection tells the peer nothing.</li>
         *     <li>{@link Feature#BACK_PRESSURE}: UDP has no flow control. The socket is always read; a paused
         *     connection's datagrams are queued up to {@code queue_bytes} and dropped beyond, so a reader that stops
         *     does not hold the writer back, and a peer that does not read does not hold back
         *     {@code onWritten} (each datagram handed to the kernel is written, whether or not it is read).</li>
         *     <li>{@link Feature#CONNECT}: an outbound connect binds a port and never fails for want of a listener
         *     (UDP has no handshake), so there is no failure to report, and the suite's outbound test ends with the
         *     peer's close. {@code UdpConnectTest} covers outbound connections.</li>
         * </ul>
         *
         * @return {@link Feature#MANY_CONNECTIONS}.
         */
        protected Set<Feature> features()
        {
            return EnumSet.of(Feature.MANY_CONNECTIONS);
        }

        /**
         * Eight. A connection has one datagram in flight at a time, and the echo over many connections sends
         * datagrams of at most 16 KiB, so at most eight of them wait in the listener's socket: they fit in the
         * kernel's default receive buffer (212,992 bytes on Linux, which holds twelve 16 KiB datagrams with the
         * kernel's overhead, but only three of the largest) even while the I/O thread is slow to read. Sixteen would
         * not, and the kernel would drop some: that is UDP, not a fault of the transport.
         *
         * @return 8.
         */
        protected int concurrentConnections()
        {
            return 8;
        }

        /**
         * The largest UDP payload over IPv4, sent on one connection only (see {@link #concurrentConnections()}).
         *
         * @return 65,507.
         */
        protected int maxMessageLength()
        {
            return UdpOptions.MAX_UDP_PAYLOAD;
        }

        protected Transport createTransport(final TransportContext context)
        {
            if (epoll)
            {
                Assumptions.assumeTrue(
                    io.netty.channel.epoll.Epoll.isAvailable(), "native epoll is not available here");
            }
            return new UdpTransport(context, epoll);
        }

        protected TransportUri listenUri()
        {
            return TransportUri.parse("udp://127.0.0.1:0");
        }

        protected TransportUri connectUri(final TransportListener listener)
        {
            return TransportUri.parse("udp://127.0.0.1:" + listener.localEndpoint().port());
        }

        protected RawPeer connectPeer(final TransportListener listener) throws IOException
        {
            return DatagramChannelPeer.connect(UdpTestSupport.loopback(listener.localEndpoint().port()));
        }

        /**
         * A port bound by a socket that never reads, until the test ends. Not used: UDP lacks
         * {@link Feature#CONNECT}.
         */
        protected TransportUri unreachableUri() throws IOException
        {
            final DatagramChannel silent = closeAfterTest(DatagramChannel.open());
            silent.bind(UdpTestSupport.loopback(0));
            return TransportUri.parse("udp://127.0.0.1:" + ((InetSocketAddress)silent.getLocalAddress()).getPort());
        }

        protected List<BadUri> badUris()
        {
            return List.of(
                new BadUri("udp://127.0.0.1", "port"),
                new BadUri("udp://127.0.0.1:70000", "port"),
                new BadUri("udp:///no/authority", "host"),
                new BadUri("tcp://127.0.0.1:9000", "scheme"),
                new BadUri("udp://127.0.0.1:9000/path", "path"),
                new BadUri("udp://127.0.0.1:9000?colour=blue", "colour"),
                new BadUri("udp://127.0.0.1:9000?idle_timeout=soon", "idle_timeout"),
                new BadUri("udp://127.0.0.1:9000?idle_timeout=0s", "idle_timeout"),
                new BadUri("udp://127.0.0.1:9000?max_connections=0", "max_connections"),
                new BadUri("udp://127.0.0.1:9000?queue_bytes=-1", "queue_bytes"),
                new BadUri("udp://127.0.0.1:9000?max_datagram=65508", "max_datagram"));
        }
    }
}
