package dev.mancom.transport.serial;

import dev.mancom.protocol.codecs.TransportType;
import dev.mancom.transport.Transport;
import dev.mancom.transport.TransportContext;
import dev.mancom.transport.TransportListener;
import dev.mancom.transport.TransportUri;
import dev.mancom.transport.testkit.PtyPair;
import dev.mancom.transport.testkit.RawPeer;
import dev.mancom.transport.testkit.TransportEchoSuite;

import java.io.IOException;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The shared transport suite on pseudo-terminal pairs made by socat: the transport listens on one end, the test's
 * raw peer (or an outbound connect) is the other end.
 * <p>
 * Features left out: {@code PEER_CLOSE}, since a serial line has no end of stream (a peer that closes its end is
 * not seen; a device that goes away is {@code DEVICE_GONE}, tested in {@link SerialTransportTest});
 * {@code MANY_CONNECTIONS}, since a serial listener is one port and so one connection at a time.
 */
class SerialTransportEchoSuiteTest extends TransportEchoSuite
{
    private final AtomicInteger pairCount = new AtomicInteger();
    private final Map<String, PtyPair> pairs = new ConcurrentHashMap<>();

    protected String scheme()
    {
        return "serial";
    }

    protected TransportType transportType()
    {
        return TransportType.SERIAL;
    }

    protected Set<Feature> features()
    {
        return EnumSet.of(Feature.BACK_PRESSURE, Feature.CONNECT);
    }

    protected Transport createTransport(final TransportContext context)
    {
        return new SerialTransport(context);
    }

    protected TransportUri listenUri() throws IOException
    {
        final PtyPair pair = closeAfterTest(PtyPair.open(tempDir, "pty" + pairCount.incrementAndGet()));
        pairs.put(pair.a().toString(), pair);
        return TransportUri.parse("serial://" + pair.a() + "?baud=115200");
    }

    protected TransportUri connectUri(final TransportListener listener)
    {
        return TransportUri.parse("serial://" + pair(listener).b());
    }

    protected RawPeer connectPeer(final TransportListener listener) throws IOException
    {
        return pair(listener).peer();
    }

    protected TransportUri unreachableUri()
    {
        return TransportUri.parse("serial://" + tempDir.resolve("no-such-device"));
    }

    protected List<BadUri> badUris()
    {
        return List.of(
            new BadUri("serial://localhost/dev/ttyS0", "host"),
            new BadUri("serial:///", "path"),
            new BadUri("serial:///dev/", "path"),
            new BadUri("tcp:///dev/ttyS0", "scheme"),
            new BadUri("serial:///dev/ttyS0?colour=blue", "colour"),
            new BadUri("serial:///dev/ttyS0?baud=0", "baud"),
            new BadUri("serial:///dev/ttyS0?baud=fast", "baud"),
            new BadUri("serial:///dev/ttyS0?baud=4000001", "baud"),
            new BadUri("serial:///dev/ttyS0?data_bits=9", "data_bits"),
            new BadUri("serial:///dev/ttyS0?data_bits=4", "data_bits"),
            new BadUri("serial:///dev/ttyS0?parity=sometimes", "parity"),
            new BadUri("serial:///dev/ttyS0?stop_bits=3", "stop_bits"),
            new BadUri("serial:///dev/ttyS0?stop_bits=1.5", "stop_bits"),
            new BadUri("serial:///dev/ttyS0?flow_control=dtr_dsr", "flow_control"));
    }

    private PtyPair pair(final TransportListener listener)
    {
        return pairs.get(listener.localEndpoint().path());
    }
}
