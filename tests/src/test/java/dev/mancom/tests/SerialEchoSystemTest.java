package dev.mancom.tests;

import dev.mancom.client.Connection;
import dev.mancom.client.ManCom;
import dev.mancom.protocol.ManComException;
import dev.mancom.protocol.codecs.CloseReason;
import dev.mancom.protocol.codecs.ErrorCode;
import dev.mancom.protocol.codecs.TransportType;
import dev.mancom.tests.kit.EndpointEchoApp;
import dev.mancom.tests.kit.ForkedBroker;
import dev.mancom.tests.kit.ForkedJvm;
import dev.mancom.tools.Main;
import dev.mancom.transport.testkit.PtyPair;
import dev.mancom.transport.testkit.RawPeer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A forked broker whose service listens on a serial port (one end of a socat pseudo-terminal pair), a forked echo
 * application, and this JVM on the other end of the pair as the device on the line; outbound connects to a serial
 * device by service name and by URI; a bad serial setting in the configuration.
 */
class SerialEchoSystemTest
{
    private static final Duration DEADLINE = Duration.ofSeconds(60);
    private static final int BYTES = 1024 * 1024 + 13;

    @TempDir
    Path tempDir;

    @Test
    void shouldEchoEveryByteBetweenASerialDeviceAndAnApplication() throws Exception
    {
        try (PtyPair pair = PtyPair.open(tempDir, "pty"))
        {
            final String uri = "serial://" + pair.a() + "?baud=115200&data_bits=8&parity=none&stop_bits=1";
            final String config = "[service.modem]\nlisten = [\"" + uri + "\"]\n";
            try (ForkedBroker broker = ForkedBroker.start(tempDir, config, List.of("-Xmx256m"));
                ForkedJvm app = ForkedJvm.start("serial-echo", tempDir.resolve("logs"), EndpointEchoApp.class,
                    List.of("-Xmx128m"), List.of(broker.dir().toString(), "modem"));
                RawPeer device = pair.peer())
            {
                assertTrue(broker.jvm().lines().stream().anyMatch(
                    (line) -> line.contains("service 'modem' listening on serial://" + pair.a())), "broker log");
                // The port opened before the application registered is refused and opened again for it.
                app.awaitLine((line) -> line.equals("accepted SERIAL pid=-1 uid=-1 gid=-1 path=" + pair.a()),
                    DEADLINE);

                final byte[] data = new byte[BYTES];
                final long seed = System.nanoTime();
                final Random random = new Random(seed);
                random.nextBytes(data);
                final CompletableFuture<Void> writing = CompletableFuture.runAsync(() ->
                {
                    try
                    {
                        int position = 0;
                        while (position < data.length)
                        {
                            final int length = Math.min(1 + random.nextInt(8192), data.length - position);
                            device.write(data, position, length);
                            position += length;
                        }
                    }
                    catch (final java.io.IOException ex)
                    {
                        throw new java.io.UncheckedIOException(ex);
                    }
                });
                final CompletableFuture<byte[]> reading = CompletableFuture.supplyAsync(() ->
                {
                    final byte[] echoed = new byte[data.length];
                    try
                    {
                        int position = 0;
                        int n;
                        while (position < echoed.length &&
                            (n = device.read(echoed, position, echoed.length - position)) >= 0)
                        {
                            position += n;
                        }
                    }
                    catch (final java.io.IOException ex)
                    {
                        throw new java.io.UncheckedIOException(ex);
                    }
                    return echoed;
                });
                try
                {
                    writing.get(DEADLINE.getSeconds(), TimeUnit.SECONDS);
                    final byte[] echoed = reading.get(DEADLINE.getSeconds(), TimeUnit.SECONDS);
                    assertEquals(-1, Arrays.mismatch(data, echoed), "seed " + seed + ": the echo differs");
                }
                finally
                {
                    // Ends a blocked read or write when the deadline passed.
                    device.close();
                }
            }
        }
    }

    @Test
    void shouldConnectOutToASerialDeviceByServiceNameAndByUri() throws Exception
    {
        try (PtyPair pair = PtyPair.open(tempDir, "pty"))
        {
            final String uri = "serial://" + pair.a() + "?baud=57600";
            final String config = "[service.modem]\nconnect = \"" + uri + "\"\n\n" +
                "[service.gone]\nconnect = \"serial://" + tempDir.resolve("ttyUSB8") + "\"\n";
            final RawPeer device = pair.peer();
            final Thread echo = new Thread(() -> echoUntilClosed(device), "pty-device-echo");
            echo.setDaemon(true);
            echo.start();
            try (ForkedBroker broker = ForkedBroker.start(tempDir, config, List.of("-Xmx128m"));
                ManCom mancom = ManCom.connect(new ManCom.Context().dir(broker.dir()).dispatchThread(true)
                    .timeout(DEADLINE)))
            {
                for (final String target : List.of("modem", uri))
                {
                    final Connection connection = mancom.connect(target);
                    assertEquals(TransportType.SERIAL, connection.remoteEndpoint().type());
                    assertEquals(pair.a().toString(), connection.remoteEndpoint().path());
                    final byte[] sent = new byte[256 * 1024];
                    new Random(target.length()).nextBytes(sent);
                    final Thread writer = new Thread(() -> connection.write(sent, 0, sent.length, DEADLINE));
                    writer.start();
                    final byte[] received = new byte[sent.length];
                    final long deadlineNs = System.nanoTime() + DEADLINE.toNanos();
                    int position = 0;
                    while (position < received.length && System.nanoTime() - deadlineNs < 0)
                    {
                        final int n = connection.read(
                            received, position, received.length - position, Duration.ofSeconds(1));
                        assertTrue(n >= 0, "closed after " + position + " bytes");
                        position += n;
                    }
                    assertEquals(received.length, position, "bytes echoed within " + DEADLINE);
                    writer.join(DEADLINE.toMillis());
                    assertEquals(-1, Arrays.mismatch(sent, received), "echo through " + target);
                    connection.close();
                    await().atMost(DEADLINE).until(connection::isClosed);
                    assertEquals(CloseReason.LOCAL_CLOSED, connection.closeReason());
                }

                final ManComException byName = assertThrows(ManComException.class, () -> mancom.connect("gone"));
                assertEquals(ErrorCode.CONNECT_FAILED, byName.code());
                assertTrue(byName.getMessage().contains("service 'gone'"), byName.getMessage());
                assertTrue(byName.getMessage().contains("service.gone.connect"), byName.getMessage());
                assertTrue(byName.getMessage().contains("no such device " + tempDir.resolve("ttyUSB8")),
                    byName.getMessage());

                final String missing = "serial://" + tempDir.resolve("ttyUSB9");
                final ManComException ex = assertThrows(ManComException.class, () -> mancom.connect(missing));
                assertEquals(ErrorCode.CONNECT_FAILED, ex.code());
                assertTrue(ex.getMessage().contains("no such device " + tempDir.resolve("ttyUSB9")), ex.getMessage());
            }
            finally
            {
                device.close();
            }
        }
    }

    /**
     * Echo what the device end reads, reading on while the echo is written: socat relays one direction at a time
     * with blocking writes, so an end that stopped reading while it writes could hold both directions up.
     */
    private static void echoUntilClosed(final RawPeer device)
    {
        final BlockingQueue<byte[]> echoes = new LinkedBlockingQueue<>();
        final Thread writer = new Thread(() ->
        {
            try
            {
                while (true)
                {
                    final byte[] bytes = echoes.take();
                    device.write(bytes, 0, bytes.length);
                }
            }
            catch (final InterruptedException | java.io.IOException ignore)
            {
                // Closed at the end of the test.
            }
        }, "pty-device-echo-writer");
        writer.setDaemon(true);
        writer.start();
        final byte[] bytes = new byte[8192];
        try
        {
            int n;
            while ((n = device.read(bytes, 0, bytes.length)) >= 0)
            {
                echoes.add(Arrays.copyOf(bytes, n));
            }
        }
        catch (final java.io.IOException ignore)
        {
            // Closed at the end of the test.
        }
        finally
        {
            writer.interrupt();
        }
    }

    @Test
    void shouldRefuseToStartWithABadSerialSettingNamingTheServiceAndTheKey() throws Exception
    {
        final Path config = tempDir.resolve("bad-serial.toml");
        Files.writeString(config,
            "[service.modem]\n# a modem\nlisten = [\"serial:///dev/ttyS0?baud=9600&parity=sometimes\"]\n");
        final ForkedJvm broker = ForkedJvm.start("bad-serial", tempDir.resolve("logs"), Main.class, List.of(),
            List.of("broker", "--config", config.toString(), "--dir", tempDir.resolve("broker").toString()));
        assertTrue(broker.waitFor(DEADLINE));
        assertNotEquals(0, broker.process().exitValue());
        final String output = String.join("\n", broker.lines());
        assertTrue(output.contains(config + ":3: service.modem.listen: "), output);
        assertTrue(output.contains("parity must be one of none, even, odd, mark, space, not 'sometimes'"), output);
        assertTrue(!output.contains("\tat "), "a stack trace instead of a message: " + output);
    }
}
