package dev.mancom.tests;

import dev.mancom.client.Acceptor;
import dev.mancom.client.Connection;
import dev.mancom.client.ManCom;
import dev.mancom.protocol.codecs.CloseReason;
import dev.mancom.protocol.codecs.TransportType;
import dev.mancom.tests.kit.ForkedBroker;
import dev.mancom.tests.kit.ForkedJvm;
import dev.mancom.tests.kit.LocalSenderApp;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * App-to-app connections between real processes: a forked broker, a forked application, and this JVM as the other
 * application; no socket on the data path.
 */
class AppToAppSystemTest
{
    private static final String CONFIG = "[service.echo]\n\n[service.sink]\n";
    private static final Duration TIMEOUT = Duration.ofSeconds(60);

    @TempDir
    Path tempDir;

    @Test
    void shouldEchoEveryByteOfEightConcurrentConnectionsThroughAnotherProcess() throws Exception
    {
        try (ForkedBroker broker = ForkedBroker.start(tempDir, CONFIG, List.of("-Xmx128m"));
            ForkedJvm echo = TcpEchoSystemTest.startEcho(tempDir, broker, "echo");
            ManCom mancom = ManCom.connect(new ManCom.Context().dir(broker.dir()).dispatchThread(true)
                .timeout(TIMEOUT)))
        {
            final ExecutorService pool = Executors.newFixedThreadPool(8);
            try
            {
                final List<Future<?>> results = new ArrayList<>();
                for (int i = 0; i < 8; i++)
                {
                    final int seed = i;
                    results.add(pool.submit(() ->
                    {
                        echoOneMegabyte(mancom, echo.pid(), seed);
                        return null;
                    }));
                }
                for (final Future<?> result : results)
                {
                    result.get(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
                }
            }
            finally
            {
                pool.shutdownNow();
            }
        }
    }

    private static void echoOneMegabyte(final ManCom mancom, final long echoPid, final int seed) throws Exception
    {
        final Connection connection = mancom.connect("echo");
        assertTrue(connection.isAppToApp());
        assertEquals(TransportType.LOCAL, connection.remoteEndpoint().type());
        assertEquals(echoPid, connection.remoteEndpoint().pid(), "the endpoint names the other process");

        final byte[] sent = new byte[1024 * 1024];
        new Random(seed).nextBytes(sent);
        final OutputStream out = connection.outputStream();
        final Thread writer = new Thread(() ->
        {
            try
            {
                final Random sizes = new Random(seed + 100);
                int offset = 0;
                while (offset < sent.length)
                {
                    final int chunk = Math.min(sent.length - offset, 1 + sizes.nextInt(64 * 1024));
                    out.write(sent, offset, chunk);
                    offset += chunk;
                }
            }
            catch (final Exception ex)
            {
                throw new IllegalStateException(ex);
            }
        });
        writer.start();
        final byte[] received = new InputStreamReader(connection.inputStream()).readExactly(sent.length);
        writer.join(TIMEOUT.toMillis());
        assertArrayEquals(sent, received);
        connection.close();
    }

    @Test
    void shouldDeliverEveryByteOfAKilledApplicationAndThenCloseItsConnection() throws Exception
    {
        final int count = 1024 * 1024;
        try (ForkedBroker broker = ForkedBroker.start(tempDir, CONFIG, List.of("-Xmx128m"));
            ManCom mancom = ManCom.connect(new ManCom.Context().dir(broker.dir()).dispatchThread(true)
                .timeout(TIMEOUT)))
        {
            final Acceptor acceptor = mancom.registerAcceptor("sink");
            try (ForkedJvm sender = ForkedJvm.start("local-sender", tempDir.resolve("logs"), LocalSenderApp.class,
                List.of("-Xmx64m"), List.of(broker.dir().toString(), "sink", Integer.toString(count), "5")))
            {
                final Connection connection = acceptor.accept(TIMEOUT);
                assertTrue(connection.isAppToApp());
                assertEquals(sender.pid(), connection.remoteEndpoint().pid());
                final InputStream in = connection.inputStream();

                // Read all but the last 192 KiB: the sender's credit (the 256 KiB window, less at most a quarter of
                // it consumed but not yet granted) then covers the rest, which it writes before it dies.
                final byte[] received = new byte[count];
                final int firstPart = count - 192 * 1024;
                int read = 0;
                while (read < firstPart)
                {
                    read += in.read(received, read, firstPart - read);
                }
                sender.awaitLine((line) -> line.startsWith("sent "), TIMEOUT);
                sender.kill9();

                while (read < count)
                {
                    final int n = in.read(received, read, count - read);
                    assertTrue(n > 0, "end of stream after " + read + " of " + count + " bytes");
                    read += n;
                }
                final byte[] expected = new byte[count];
                new Random(5).nextBytes(expected);
                assertArrayEquals(expected, received);
                assertEquals(-1, in.read(), "the connection ends after the killed application's last byte");
                assertEquals(CloseReason.OWNER_EXITED, connection.closeReason());
            }
        }
    }

    /**
     * Reads exactly n bytes of a stream.
     */
    private record InputStreamReader(InputStream in)
    {
        byte[] readExactly(final int n) throws java.io.IOException
        {
            final byte[] bytes = new byte[n];
            int read = 0;
            while (read < n)
            {
                final int r = in.read(bytes, read, n - read);
                if (r < 0)
                {
                    throw new java.io.EOFException("end of stream after " + read + " of " + n + " bytes");
                }
                read += r;
            }
            return bytes;
        }
    }
}
