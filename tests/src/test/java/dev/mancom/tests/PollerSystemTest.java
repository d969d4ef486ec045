package dev.mancom.tests;

import dev.mancom.client.Acceptor;
import dev.mancom.client.Connection;
import dev.mancom.client.ManCom;
import dev.mancom.client.PollKey;
import dev.mancom.client.Poller;
import dev.mancom.tests.kit.EchoLoad;
import dev.mancom.tests.kit.ForkedBroker;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The poller against a forked broker: its level-triggered semantics, and one thread serving 2,000 TCP connections.
 */
class PollerSystemTest
{
    private static final String CONFIG = "[service.echo]\nlisten = [\"tcp://127.0.0.1:0\"]\n\n[service.local]\n";
    private static final Duration TIMEOUT = Duration.ofSeconds(60);
    private static final Duration QUIET = Duration.ofMillis(50);

    @TempDir
    Path tempDir;

    @Test
    void shouldReportAcceptableReadableWritableAndClosedLevelTriggered() throws Exception
    {
        try (ForkedBroker broker = ForkedBroker.start(tempDir, CONFIG, List.of("-Xmx128m"));
            ManCom server = ManCom.connect(new ManCom.Context().dir(broker.dir()).timeout(TIMEOUT));
            ManCom client = ManCom.connect(new ManCom.Context().dir(broker.dir()).dispatchThread(true)
                .timeout(TIMEOUT)))
        {
            final Poller poller = server.poller();
            final Acceptor acceptor = server.registerAcceptor("local");
            poller.register(acceptor, Poller.ACCEPTABLE);
            assertEquals(0, poller.poll(QUIET, (key, ops) -> { }), "nothing to accept yet");

            final CompletableFuture<Connection> connecting =
                CompletableFuture.supplyAsync(() -> client.connect("local"));
            final List<Integer> seen = new ArrayList<>();
            assertEquals(1, pollUntilVisited(poller, seen));
            assertEquals(List.of(Poller.ACCEPTABLE), seen);
            final Connection accepted = acceptor.accept(Duration.ZERO);
            assertNotNull(accepted);
            final Connection remote = connecting.get(60, TimeUnit.SECONDS);

            // Writable at once (it has its credit window), not readable.
            final PollKey key = poller.register(accepted, Poller.READABLE | Poller.WRITABLE | Poller.CLOSED);
            seen.clear();
            pollUntilVisited(poller, seen);
            assertEquals(List.of(Poller.WRITABLE), seen);

            // Readable after data, and again while bytes are left (level-triggered).
            key.interestOps(Poller.READABLE | Poller.CLOSED);
            assertEquals(0, poller.poll(QUIET, (k, ops) -> { }), "no data yet");
            remote.write("abc".getBytes(), 0, 3, TIMEOUT);
            seen.clear();
            pollUntilVisited(poller, seen);
            assertEquals(List.of(Poller.READABLE), seen);
            final byte[] buffer = new byte[300_000];
            assertEquals(1, accepted.read(buffer, 0, 1, Duration.ZERO));
            seen.clear();
            assertEquals(1, poller.poll(Duration.ZERO, (k, ops) -> seen.add(ops)), "two bytes are still there");
            assertEquals(List.of(Poller.READABLE), seen);
            assertEquals(2, accepted.read(buffer, 0, 100, Duration.ZERO));
            assertEquals(0, poller.poll(QUIET, (k, ops) -> { }), "drained");

            // Not writable once the credit is spent; writable again when the other side reads and credit returns.
            key.interestOps(Poller.WRITABLE);
            final UnsafeBuffer chunk = new UnsafeBuffer(new byte[16 * 1024]);
            int sent = 0;
            while (true)
            {
                server.poll();
                final int result = accepted.offer(chunk, 0, chunk.capacity());
                if (result == Connection.BACK_PRESSURED && 0 == accepted.sendCredit())
                {
                    break;
                }
                assertTrue(result > 0 || result == Connection.BACK_PRESSURED, "offer: " + result);
                sent += Math.max(0, result);
            }
            assertEquals(0, poller.poll(QUIET, (k, ops) -> { }), "no credit: not writable");
            int read = 0;
            while (read < sent)
            {
                read += remote.read(buffer, 0, buffer.length, TIMEOUT);
            }
            seen.clear();
            pollUntilVisited(poller, seen);
            assertEquals(List.of(Poller.WRITABLE), seen);

            // Closed by the other side: readable (end of stream) and closed, until the key is cancelled.
            key.interestOps(Poller.READABLE | Poller.CLOSED);
            remote.close();
            seen.clear();
            pollUntilVisited(poller, seen);
            assertEquals(List.of(Poller.READABLE | Poller.CLOSED), seen);
            assertEquals(-1, accepted.read(buffer, 0, 10, Duration.ZERO));
            assertEquals(1, poller.poll(Duration.ZERO, (k, ops) -> { }), "still closed");
            key.cancel();
            assertEquals(0, poller.poll(QUIET, (k, ops) -> { }), "cancelled");
        }
    }

    private static int pollUntilVisited(final Poller poller, final List<Integer> seen)
    {
        final long deadlineNs = System.nanoTime() + TIMEOUT.toNanos();
        while (System.nanoTime() - deadlineNs < 0)
        {
            final int visited = poller.poll(Duration.ofSeconds(1), (key, ops) -> seen.add(ops));
            if (visited > 0)
            {
                return visited;
            }
        }
        throw new AssertionError("nothing became ready within " + TIMEOUT);
    }

    @Test
    void shouldServeTwoThousandTcpConnectionsFromOneThread() throws Exception
    {
        try (ForkedBroker broker = ForkedBroker.start(tempDir, CONFIG, List.of("-Xmx256m"));
            ManCom server = ManCom.connect(new ManCom.Context().dir(broker.dir()).timeout(TIMEOUT)))
        {
            final Acceptor acceptor = server.registerAcceptor("echo");
            final AtomicInteger served = new AtomicInteger();
            final Thread echo = new Thread(() -> serveEcho(server, acceptor, served), "poller-echo");
            echo.start();
            try
            {
                final EchoLoad.Result result = EchoLoad.run(broker.tcpAddress("echo"), 2_000, 16 * 1024, 4096, 11,
                    Duration.ofMinutes(3));
                assertEquals(List.of(), result.failures());
                assertEquals(2_000, result.connections());
                assertEquals(2_000L * 16 * 1024, result.bytesVerified());
            }
            finally
            {
                echo.interrupt();
                echo.join(TIMEOUT.toMillis());
            }
            assertEquals(2_000, served.get(), "each connection was served through the poller");
        }
    }

    /**
     * An echo server of the blocking API on one thread: the poller says which connection to serve.
     */
    private static void serveEcho(final ManCom server, final Acceptor acceptor, final AtomicInteger served)
    {
        final Poller poller = server.poller();
        poller.register(acceptor, Poller.ACCEPTABLE);
        final byte[] buffer = new byte[64 * 1024];
        final UnsafeBuffer view = new UnsafeBuffer(buffer);
        while (!Thread.currentThread().isInterrupted())
        {
            poller.poll(Duration.ofMillis(100), (key, ops) ->
            {
                if (null != key.acceptor())
                {
                    Connection connection;
                    while (null != (connection = acceptor.accept(Duration.ZERO)))
                    {
                        poller.register(connection, Poller.READABLE).attach(new Pending());
                        served.incrementAndGet();
                    }
                    return;
                }
                final Connection connection = key.connection();
                final Pending pending = (Pending)key.attachment();
                if (pending.length > 0)
                {
                    // Bytes the last offer could not send: send them first, read more only after.
                    final int sent = connection.offer(new UnsafeBuffer(pending.bytes), pending.offset, pending.length);
                    if (sent > 0)
                    {
                        pending.offset += sent;
                        pending.length -= sent;
                    }
                    if (pending.length > 0)
                    {
                        return;
                    }
                    key.interestOps(Poller.READABLE);
                }
                final int read = connection.read(buffer, 0, buffer.length, Duration.ZERO);
                if (read < 0)
                {
                    key.cancel();
                    connection.close();
                    return;
                }
                if (read > 0)
                {
                    final int sent = connection.offer(view, 0, read);
                    final int done = Math.max(0, sent);
                    if (done < read)
                    {
                        pending.bytes = java.util.Arrays.copyOfRange(buffer, done, read);
                        pending.offset = 0;
                        pending.length = read - done;
                        key.interestOps(Poller.WRITABLE);
                    }
                }
            });
        }
    }

    private static final class Pending
    {
        byte[] bytes;
        int offset;
        int length;
    }
}
