package dev.mancom.tests;

import dev.mancom.broker.Broker;
import dev.mancom.broker.config.ConfigLoader;
import dev.mancom.client.Connection;
import dev.mancom.client.ManCom;
import dev.mancom.protocol.ManComException;
import dev.mancom.protocol.codecs.ErrorCode;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code queue_when_unowned} for app-to-app connections: an application's connect by name to a service nobody
 * accepts waits for the first application that registers it, or fails with {@code CONNECT_FAILED} when the time
 * runs out.
 */
class UnownedLocalConnectInProcessTest
{
    @TempDir
    Path tempDir;

    private Broker broker;
    private ManCom server;
    private ManCom client;

    @BeforeEach
    void setUp()
    {
        final String toml = "[service.later]\nqueue_when_unowned = \"60s\"\n\n" +
            "[service.brief]\nqueue_when_unowned = \"200ms\"\n\n[service.marker]\n";
        broker = Broker.launch(new Broker.Context()
            .config(ConfigLoader.parse(toml, "test"))
            .brokerDir(tempDir.resolve("broker")));
        server = ManCom.connect(new ManCom.Context().dir(tempDir.resolve("broker")).dispatchThread(true)
            .clientName("server"));
        client = ManCom.connect(new ManCom.Context().dir(tempDir.resolve("broker")).dispatchThread(true)
            .clientName("client"));
    }

    @AfterEach
    void tearDown()
    {
        if (null != client)
        {
            client.close();
        }
        if (null != server)
        {
            server.close();
        }
        if (null != broker)
        {
            broker.close();
        }
    }

    @Test
    void shouldHoldAConnectUntilAnApplicationRegistersTheService() throws Exception
    {
        final CompletableFuture<Connection> connecting = CompletableFuture.supplyAsync(() -> client.connect("later"));
        // The client's commands reach the broker in order: once this answer is back, the connect is held.
        client.registerAcceptor("marker", (connection) -> connection.close());
        assertFalse(connecting.isDone(), "the connect waits for an application to register the service");

        server.registerAcceptor("later", (connection) -> connection.dataHandler(
            (c, buffer, offset, length) -> Math.max(0, c.offer(buffer, offset, length))));
        final Connection connection = connecting.get(30, TimeUnit.SECONDS);
        assertTrue(connection.isAppToApp());

        final byte[] bytes = "held, then connected".getBytes(StandardCharsets.US_ASCII);
        connection.outputStream().write(bytes);
        assertArrayEquals(bytes, connection.inputStream().readNBytes(bytes.length));
    }

    @Test
    void shouldFailAHeldConnectWhenTheTimeRunsOut()
    {
        final ManComException ex = assertThrows(ManComException.class, () -> client.connect("brief"));
        assertEquals(ErrorCode.CONNECT_FAILED, ex.code());
        assertTrue(ex.getMessage().contains("no application accepts service 'brief': no application registered it " +
            "in time"), ex.getMessage());
    }
}
