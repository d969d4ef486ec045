package dev.mancom.tests;

import dev.mancom.tests.kit.EchoLoad;
import dev.mancom.tests.kit.ForkedBroker;
import dev.mancom.tests.kit.ForkedJvm;
import dev.mancom.tools.Main;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * A forked broker and a forked echo application, real TCP peers.
 */
class TcpEchoSystemTest
{
    static final String ECHO_CONFIG = "[service.echo]\nlisten = [\"tcp://127.0.0.1:0\"]\n";

    @TempDir
    Path tempDir;

    @Test
    void shouldEchoEveryByteOf200ConcurrentConnectionsInOrder() throws Exception
    {
        try (ForkedBroker broker = ForkedBroker.start(tempDir, ECHO_CONFIG, List.of("-Xmx256m"));
            ForkedJvm app = startEcho(tempDir, broker, "echo"))
        {
            final EchoLoad.Result result = EchoLoad.run(
                broker.tcpAddress("echo"), 200, 1024 * 1024, 64 * 1024, 42, Duration.ofMinutes(4));

            assertEquals(List.of(), result.failures());
            assertEquals(200, result.connections());
            assertEquals(200L * 1024 * 1024, result.bytesVerified());
        }
    }

    static ForkedJvm startEcho(final Path workDir, final ForkedBroker broker, final String service)
        throws java.io.IOException
    {
        final ForkedJvm app = ForkedJvm.start("echo-" + service, workDir.resolve("logs"), Main.class,
            List.of("-Xmx128m"), List.of("echo", service, "--dir", broker.dir().toString()));
        app.awaitLine((line) -> line.startsWith("echoing service"), Duration.ofSeconds(60));
        return app;
    }

    static void assertEchoes(final InetSocketAddress address, final String text) throws Exception
    {
        try (Socket socket = new Socket(address.getAddress(), address.getPort()))
        {
            socket.setSoTimeout(20_000);
            final byte[] bytes = text.getBytes();
            socket.getOutputStream().write(bytes);
            assertArrayEquals(bytes, socket.getInputStream().readNBytes(bytes.length));
        }
    }
}
