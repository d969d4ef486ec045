package dev.mancom.tests;

import dev.mancom.client.ManCom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The process scope: one setting runs a broker inside the application's process, on a directory of its own, and the
 * same API serves its connections; closing the client stops that broker and removes its directory.
 */
class EmbeddedBrokerTest
{
    @TempDir
    Path tempDir;

    @Test
    void shouldServeThroughABrokerInsideTheApplicationsProcess() throws Exception
    {
        final Path socket = tempDir.resolve("echo.sock");
        final Path config = tempDir.resolve("process.toml");
        Files.writeString(config, "[service.echo]\nlisten = [\"unix://" + socket + "\"]\n");
        final Path dir;
        try (ManCom mancom = ManCom.connect(new ManCom.Context()
            .embeddedBroker(true)
            .embeddedBrokerConfig(config)
            .dispatchThread(true)))
        {
            assertTrue(mancom.hasEmbeddedBroker());
            dir = mancom.context().dir();
            assertTrue(dir.getFileName().toString().startsWith("mancom-process-" + ProcessHandle.current().pid()),
                dir.toString());
            mancom.registerAcceptor("echo", (connection) -> connection.dataHandler(
                (c, buffer, offset, length) -> Math.max(0, c.offer(buffer, offset, length))));
            assertEchoes(socket, "served by a broker in this very process");
        }
        assertFalse(Files.exists(dir), "the embedded broker's directory is left: " + dir);
        assertFalse(Files.exists(socket), "the embedded broker's listener is left");
    }

    @Test
    void shouldTakeTheProcessScopeFromTheSystemProperty() throws Exception
    {
        final Path socket = tempDir.resolve("echo2.sock");
        final Path config = tempDir.resolve("process.toml");
        Files.writeString(config, "[service.echo]\nlisten = [\"unix://" + socket + "\"]\n");
        final Path dir = tempDir.resolve("own-dir");
        System.setProperty(ManCom.Context.SCOPE_PROP_NAME, "process");
        System.setProperty(ManCom.Context.EMBEDDED_CONFIG_PROP_NAME, config.toString());
        try (ManCom mancom = ManCom.connect(new ManCom.Context().dir(dir)))
        {
            assertTrue(mancom.hasEmbeddedBroker());
            assertEquals(dir, mancom.context().dir());
            mancom.registerAcceptor("echo", (connection) -> connection.dataHandler(
                (c, buffer, offset, length) -> Math.max(0, c.offer(buffer, offset, length))));
            final Thread poller = new Thread(() ->
            {
                while (!Thread.currentThread().isInterrupted())
                {
                    mancom.idle(mancom.poll());
                }
            }, "test-poller");
            poller.start();
            try
            {
                assertEchoes(socket, "the same API, one setting");
            }
            finally
            {
                poller.interrupt();
                poller.join();
            }
        }
        finally
        {
            System.clearProperty(ManCom.Context.SCOPE_PROP_NAME);
            System.clearProperty(ManCom.Context.EMBEDDED_CONFIG_PROP_NAME);
        }
        assertFalse(Files.exists(dir));
    }

    private static void assertEchoes(final Path socket, final String text) throws IOException
    {
        try (SocketChannel channel = SocketChannel.open(StandardProtocolFamily.UNIX))
        {
            channel.connect(UnixDomainSocketAddress.of(socket));
            final byte[] bytes = text.getBytes();
            channel.write(ByteBuffer.wrap(bytes));
            final ByteBuffer echoed = ByteBuffer.allocate(bytes.length);
            while (echoed.hasRemaining())
            {
                if (channel.read(echoed) < 0)
                {
                    break;
                }
            }
            assertArrayEquals(bytes, echoed.array());
        }
    }
}
