package dev.mancom.transport.tcp;

import dev.mancom.transport.TransportContext;
import dev.mancom.transport.TransportUri;
import dev.mancom.transport.testkit.TransportTestSupport;
import io.netty.channel.epoll.Epoll;
import org.junit.jupiter.api.Assumptions;

import java.time.Duration;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * What the TCP transport's tests share: transports on either I/O implementation, URIs. The transport test kit has
 * the rest.
 */
final class TcpTestSupport
{
    static final Duration DEADLINE = TransportTestSupport.DEADLINE;
    static final long DEADLINE_SECONDS = TransportTestSupport.DEADLINE_SECONDS;

    static final String EPOLL = "epoll";
    static final String NIO = "nio";

    private static final AtomicInteger PREFIX_COUNT = new AtomicInteger();

    private TcpTestSupport()
    {
    }

    /**
     * A thread-name prefix no other transport of this JVM uses.
     *
     * @param test names the test.
     * @return the prefix.
     */
    static String uniquePrefix(final String test)
    {
        return "tcp-" + test + "-" + PREFIX_COUNT.incrementAndGet() + "-";
    }

    /**
     * A transport on the named I/O implementation; skips the test when epoll is asked for and not available.
     *
     * @param io         {@link #EPOLL} or {@link #NIO}.
     * @param prefix     thread-name prefix.
     * @param ioThreads  how many I/O threads.
     * @param errors     receives what the transport reports to the broker's error handler.
     * @return the transport.
     */
    static TcpTransport transport(
        final String io, final String prefix, final int ioThreads, final Queue<Throwable> errors)
    {
        final boolean epoll = EPOLL.equals(io);
        if (epoll)
        {
            Assumptions.assumeTrue(Epoll.isAvailable(), "native epoll is not available here");
        }
        return new TcpTransport(new TransportContext(ioThreads, prefix, errors::add), epoll);
    }

    static Queue<Throwable> errors()
    {
        return new ConcurrentLinkedQueue<>();
    }

    static TransportUri uri(final String text)
    {
        return TransportUri.parse(text);
    }

    static TransportUri loopback(final int port)
    {
        return uri("tcp://127.0.0.1:" + port);
    }
}
