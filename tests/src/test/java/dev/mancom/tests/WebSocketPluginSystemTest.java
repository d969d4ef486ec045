package dev.mancom.tests;

import dev.mancom.client.Connection;
import dev.mancom.client.ManCom;
import dev.mancom.protocol.codecs.CloseReason;
import dev.mancom.protocol.codecs.TransportType;
import dev.mancom.tests.kit.ForkedBroker;
import dev.mancom.tests.kit.ForkedJvm;
import dev.mancom.tools.Main;
import dev.mancom.transport.testkit.WebSocketPeer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static dev.mancom.transport.testkit.TransportTestSupport.readFully;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The WebSocket transport as a plug-in: a forked broker (whose class path does not hold it) loads it from the
 * directory its module's build leaves ({@code [broker] plugins}), a forked echo application serves a
 * {@code ws://} service, and Java's own WebSocket client talks to it as a browser would. Then outbound WebSockets,
 * and a plug-in directory that is wrong.
 */
class WebSocketPluginSystemTest
{
    private static final Duration TIMEOUT = Duration.ofSeconds(60);
    private static final Pattern WS_LISTENING = Pattern.compile("service '([^']+)' listening on (ws://\\S+)");

    @TempDir
    Path tempDir;

    private static Path pluginsDir;

    @BeforeAll
    static void findThePlugin()
    {
        final String dir = System.getProperty("mancom.test.websocket.plugins");
        assertTrue(null != dir, "mancom.test.websocket.plugins is not set (the tests module's POM sets it)");
        pluginsDir = Paths.get(dir).toAbsolutePath().normalize();
        assertTrue(Files.isDirectory(pluginsDir.resolve("websocket")),
            pluginsDir + "/websocket does not exist: package transports/websocket first (./mvnw verify does)");
        // The point: the broker's class path (this JVM's) does not carry the plug-in.
        assertThrows(ClassNotFoundException.class,
            () -> Class.forName("dev.mancom.transport.websocket.WebSocketTransportProvider"));
    }

    @Test
    @SuppressWarnings("try")
    void shouldEchoEveryByteOfRandomBinaryMessagesOfConcurrentWebSocketsThroughThePlugin() throws Exception
    {
        final String config = "[broker]\nplugins = \"" + pluginsDir + "\"\n\n" +
            "[service.echo]\nlisten = [\"ws://127.0.0.1:0/echo\"]\n";
        final ExecutorService threads = Executors.newCachedThreadPool();
        try (ForkedBroker broker = ForkedBroker.start(tempDir, config, List.of("-Xmx256m"));
            ForkedJvm app = TcpEchoSystemTest.startEcho(tempDir, broker, "echo"))
        {
            final String log = String.join("\n", broker.jvm().lines());
            assertTrue(log.contains("transport plug-in " + pluginsDir.resolve("websocket")), log);
            final URI uri = URI.create(wsUri(broker, "echo"));
            assertTrue(uri.toString().endsWith("/echo"), uri::toString);

            final List<Future<?>> peers = new ArrayList<>();
            for (int i = 0; i < 4; i++)
            {
                final long seed = 42 + i;
                peers.add(threads.submit(() ->
                {
                    final byte[] data = new byte[512 * 1024];
                    new Random(seed).nextBytes(data);
                    try (WebSocketPeer peer = WebSocketPeer.connect(uri, 64 * 1024, seed))
                    {
                        final Future<?> writer = threads.submit(() ->
                        {
                            peer.write(data, 0, data.length);
                            return null;
                        });
                        final byte[] echoed = new byte[data.length];
                        final int length = readFully(peer, echoed);
                        writer.get(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
                        assertEquals(data.length, length, "seed " + seed);
                        assertEquals(-1, Arrays.mismatch(data, echoed), "seed " + seed);
                    }
                    return null;
                }));
            }
            for (final Future<?> peer : peers)
            {
                peer.get(TIMEOUT.toSeconds() * 2, TimeUnit.SECONDS);
            }

            // Not a WebSocket: plain HTTP answers.
            final HttpClient http = HttpClient.newBuilder().connectTimeout(TIMEOUT).build();
            final URI httpBase = URI.create(uri.toString().replace("ws://", "http://"));
            final HttpResponse<String> elsewhere = http.send(
                HttpRequest.newBuilder(httpBase.resolve("/elsewhere")).timeout(TIMEOUT).build(),
                HttpResponse.BodyHandlers.ofString());
            assertEquals(404, elsewhere.statusCode());
            final HttpResponse<String> plainGet = http.send(
                HttpRequest.newBuilder(httpBase).timeout(TIMEOUT).build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(400, plainGet.statusCode());
        }
        finally
        {
            threads.shutdownNow();
        }
    }

    @Test
    @SuppressWarnings("try")
    void shouldConnectOutOverWebSocketByServiceNameAndByUri() throws Exception
    {
        final int port;
        try (ServerSocket probe = new ServerSocket(0, 1, InetAddress.getLoopbackAddress()))
        {
            port = probe.getLocalPort();
        }
        final String uri = "ws://127.0.0.1:" + port + "/echo";
        final String config = "[broker]\nplugins = \"" + pluginsDir + "\"\n\n" +
            "[service.echo]\nlisten = [\"" + uri + "\"]\n\n" +
            "[service.upstream]\nconnect = \"" + uri + "\"\n";
        try (ForkedBroker broker = ForkedBroker.start(tempDir, config, List.of("-Xmx256m"));
            ForkedJvm app = TcpEchoSystemTest.startEcho(tempDir, broker, "echo");
            ManCom mancom = ManCom.connect(new ManCom.Context().dir(broker.dir()).dispatchThread(true)
                .timeout(TIMEOUT)))
        {
            for (final String target : List.of("upstream", uri))
            {
                final Connection connection = mancom.connect(target);
                assertEquals(TransportType.PLUGIN, connection.remoteEndpoint().type());
                assertEquals("ws", connection.remoteEndpoint().scheme());
                assertEquals(uri, connection.remoteEndpoint().toString());
                final byte[] sent = new byte[512 * 1024];
                new Random(target.length()).nextBytes(sent);
                final Thread writer = new Thread(() -> connection.write(sent, 0, sent.length, TIMEOUT));
                writer.start();
                final byte[] received = connection.inputStream().readNBytes(sent.length);
                writer.join(TIMEOUT.toMillis());
                assertArrayEquals(sent, received, "echo through " + target);

                connection.close();
                await().atMost(TIMEOUT).until(connection::isClosed);
                assertEquals(CloseReason.LOCAL_CLOSED, connection.closeReason());
            }
        }
    }

    @Test
    void shouldRefuseAMissingPluginDirectoryNamingTheKeyAndTheDirectory() throws Exception
    {
        final Path missing = tempDir.resolve("no-such-plugins");
        final String output = failingBroker("missing", "[broker]\nplugins = \"" + missing + "\"\n");
        assertTrue(output.contains("missing.toml:2: broker.plugins: the plug-in directory " + missing +
            " does not exist"),
            output);
    }

    @Test
    void shouldRefuseAWebSocketServiceWithoutThePluginNamingTheScheme() throws Exception
    {
        final String output = failingBroker("no-plugin", "[service.echo]\nlisten = [\"ws://127.0.0.1:0/echo\"]\n");
        assertTrue(output.contains("service.echo.listen"), output);
        assertTrue(output.contains("no transport serves 'ws://'"), output);
    }

    @Test
    void shouldRefuseAPluginDirectoryServingASchemeTwice() throws Exception
    {
        // The same plug-in twice: the second copy claims ws, which the first serves.
        final Path twice = Files.createDirectories(tempDir.resolve("twice"));
        for (final String name : List.of("a", "b"))
        {
            final Path copy = Files.createDirectories(twice.resolve(name));
            try (var jars = Files.list(pluginsDir.resolve("websocket")))
            {
                for (final Path jar : (Iterable<Path>)jars::iterator)
                {
                    Files.copy(jar, copy.resolve(jar.getFileName()));
                }
            }
        }
        final String output = failingBroker("twice", "[broker]\nplugins = \"" + twice + "\"\n");
        assertTrue(output.contains("twice.toml:2: broker.plugins: the plug-in " + twice.resolve("b")), output);
        assertTrue(output.contains("'ws', which the plug-in " + twice.resolve("a") + " already serves"), output);
    }

    private String failingBroker(final String name, final String toml) throws Exception
    {
        final Path config = tempDir.resolve(name + ".toml");
        Files.writeString(config, toml);
        final ForkedJvm broker = ForkedJvm.start(name, tempDir.resolve("logs"), Main.class, List.of("-Xmx128m"),
            List.of("broker", "--config", config.toString(), "--dir", tempDir.resolve("broker-" + name).toString()));
        try
        {
            assertTrue(broker.waitFor(TIMEOUT));
            assertNotEquals(0, broker.process().exitValue());
            final String output = String.join("\n", broker.lines());
            assertTrue(!output.contains("\tat "), "a stack trace instead of a message: " + output);
            return output;
        }
        finally
        {
            broker.close();
        }
    }

    private static String wsUri(final ForkedBroker broker, final String service)
    {
        for (final String line : broker.jvm().lines())
        {
            final Matcher matcher = WS_LISTENING.matcher(line);
            if (matcher.find() && matcher.group(1).equals(service))
            {
                return matcher.group(2);
            }
        }
        throw new AssertionError("service '" + service + "' does not listen on ws; broker output:\n" +
            String.join("\n", broker.jvm().lines()));
    }
}
