package dev.mancom.tests;

import dev.mancom.tests.kit.ForkedBroker;
import dev.mancom.tests.kit.ForkedJvm;
import dev.mancom.tests.kit.HoldingEchoApp;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.zip.CRC32;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * {@code on_owner_exit = "hold"}: the owner of a connection is killed with kill -9 in the middle of a stream; the
 * remote peer stays connected, and the next application that registers the service adopts the connection and goes
 * on where the dead one stopped: the echo the peer reads back is the stream it sent, with no byte lost or doubled.
 * A held connection nobody adopts in time ({@code queue_when_unowned}) is closed.
 */
class HoldAdoptSystemTest
{
    private static final Duration DEADLINE = Duration.ofSeconds(60);
    /** Larger than the credit window, the kernel's buffers and the echo's pause point together. */
    private static final int STREAM_LENGTH = 8 * 1024 * 1024;
    /** The first owner echoes this much, then stops reading and is killed. */
    private static final int FIRST_OWNER_BYTES = 1_000_003;
    /** So does the second, which adopted the connection. */
    private static final int SECOND_OWNER_BYTES = 2_500_001;

    @TempDir
    Path tempDir;

    @Test
    void shouldHandAHeldConnectionToTheNextOwnerWithNoByteLostOrDoubledWhenTheOwnerIsKilled() throws Exception
    {
        final String config = "[service.held]\nlisten = [\"tcp://127.0.0.1:0\"]\non_owner_exit = \"hold\"\n";
        try (ForkedBroker broker = ForkedBroker.start(tempDir, config, List.of("-Xmx256m")))
        {
            final InetSocketAddress address = broker.tcpAddress("held");
            final byte[] stream = UnownedConnectionsSystemTest.pattern(STREAM_LENGTH, 3);
            final ForkedJvm first = startHoldingEcho(broker, FIRST_OWNER_BYTES);
            try (Socket socket = new Socket(address.getAddress(), address.getPort()))
            {
                socket.setSoTimeout((int)DEADLINE.toMillis());
                // The peer writes the whole stream from one thread and reads the echo from another, as fast as each
                // side lets it: the writer blocks on TCP's window whenever the broker stops reading.
                final CompletableFuture<Void> writer = CompletableFuture.runAsync(() -> write(socket, stream));
                final CompletableFuture<byte[]> reader =
                    CompletableFuture.supplyAsync(() -> read(socket, STREAM_LENGTH));

                first.awaitLine((line) -> line.equals("accepted adopted=false"), DEADLINE);
                first.awaitLine((line) -> line.equals("paused " + FIRST_OWNER_BYTES), DEADLINE);
                // Killed while the stream goes on: bytes are in its client library, in the broker and in TCP.
                first.kill9();
                first.waitFor(DEADLINE);
                broker.jvm().awaitLine((line) -> line.contains("service 'held': ") &&
                    line.contains("exited; holding 1 connection(s) for the next application that registers"),
                    DEADLINE);

                // The adopter is killed the same way: an adopted connection is held again.
                try (ForkedJvm second = startHoldingEcho(broker, SECOND_OWNER_BYTES))
                {
                    second.awaitLine((line) -> line.equals("accepted adopted=true"), DEADLINE);
                    second.awaitLine((line) -> line.equals("paused " + SECOND_OWNER_BYTES), DEADLINE);
                    second.kill9();
                    second.waitFor(DEADLINE);
                }
                UnownedConnectionsSystemTest.awaitLineCount(broker.jvm(),
                    "exited; holding 1 connection(s) for the next application that registers", 2);

                try (ForkedJvm third = startHoldingEcho(broker, 0))
                {
                    third.awaitLine((line) -> line.equals("accepted adopted=true"), DEADLINE);
                    UnownedConnectionsSystemTest.awaitLineCount(broker.jvm(),
                        "service 'held': 1 held connection(s) adopted", 2);
                    final String adopted = String.join("; ", broker.jvm().lines().stream()
                        .filter((line) -> line.contains("held connection(s) adopted")).toList());

                    final byte[] echoed = reader.get(DEADLINE.toSeconds(), TimeUnit.SECONDS);
                    writer.get(DEADLINE.toSeconds(), TimeUnit.SECONDS);
                    assertEquals(stream.length, echoed.length, "echo length (" + adopted + ")");
                    assertEquals(-1, firstDifference(stream, echoed), "first byte of the echo that differs from the " +
                        "stream sent (" + adopted + ")");
                    assertEquals(crc(stream), crc(echoed), "CRC-32 of the echo");

                    socket.shutdownOutput();
                    third.awaitLine((line) -> line.equals("closed " +
                        (STREAM_LENGTH - FIRST_OWNER_BYTES - SECOND_OWNER_BYTES)), DEADLINE);
                }
            }
            finally
            {
                first.close();
            }
        }
    }

    @Test
    void shouldCloseAHeldConnectionThatNobodyAdoptsInTime() throws Exception
    {
        final String config = "[service.brief]\nlisten = [\"tcp://127.0.0.1:0\"]\non_owner_exit = \"hold\"\n" +
            "queue_when_unowned = \"1s\"\n";
        try (ForkedBroker broker = ForkedBroker.start(tempDir, config, List.of("-Xmx128m")))
        {
            final InetSocketAddress address = broker.tcpAddress("brief");
            try (ForkedJvm owner = startHoldingEcho(broker, "brief", 5);
                Socket socket = new Socket(address.getAddress(), address.getPort()))
            {
                socket.setSoTimeout((int)DEADLINE.toMillis());
                socket.getOutputStream().write("hello, and more".getBytes(StandardCharsets.US_ASCII));
                owner.awaitLine((line) -> line.equals("paused 5"), DEADLINE);
                assertEquals("hello", new String(socket.getInputStream().readNBytes(5), StandardCharsets.US_ASCII));
                owner.kill9();
                broker.jvm().awaitLine((line) -> line.contains("exited; holding 1 connection(s) for the next " +
                    "application that registers (up to 1000 ms)"), DEADLINE);
                assertEquals(-1, UnownedConnectionsSystemTest.readUntilClosed(socket),
                    "a held connection is closed when nobody adopts it in time");
                broker.jvm().awaitLine((line) -> line.contains("service 'brief': no application adopted") &&
                    line.contains("in time (service.brief.queue_when_unowned): closing it"), DEADLINE);
            }
        }
    }

    private ForkedJvm startHoldingEcho(final ForkedBroker broker, final long pauseAfter) throws IOException
    {
        return startHoldingEcho(broker, "held", pauseAfter);
    }

    private ForkedJvm startHoldingEcho(final ForkedBroker broker, final String service, final long pauseAfter)
        throws IOException
    {
        final ForkedJvm app = ForkedJvm.start("holding-echo", tempDir.resolve("logs"), HoldingEchoApp.class,
            List.of("-Xmx128m"), List.of(broker.dir().toString(), service, Long.toString(pauseAfter)));
        app.awaitLine((line) -> line.equals("registered"), DEADLINE);
        return app;
    }

    private static void write(final Socket socket, final byte[] bytes)
    {
        try
        {
            socket.getOutputStream().write(bytes);
            socket.getOutputStream().flush();
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
    }

    private static byte[] read(final Socket socket, final int length)
    {
        try
        {
            final InputStream in = socket.getInputStream();
            return in.readNBytes(length);
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
    }

    private static long crc(final byte[] bytes)
    {
        final CRC32 crc = new CRC32();
        crc.update(bytes);
        return crc.getValue();
    }

    /**
     * Where two streams first differ, or -1 when they are equal.
     */
    private static int firstDifference(final byte[] expected, final byte[] actual)
    {
        final int length = Math.min(expected.length, actual.length);
        for (int i = 0; i < length; i++)
        {
            if (expected[i] != actual[i])
            {
                return i;
            }
        }
        return expected.length == actual.length ? -1 : length;
    }
}
