package dev.mancom.tests;

import dev.mancom.broker.Broker;
import dev.mancom.broker.ReloadReport;
import dev.mancom.broker.config.ConfigException;
import dev.mancom.broker.config.ConfigLoader;
import dev.mancom.client.ManCom;
import dev.mancom.protocol.Endpoint;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import com.sun.security.auth.module.UnixSystem;
import dev.mancom.protocol.MarkFileDescriptor;
import dev.mancom.protocol.ProtocolVersion;
import dev.mancom.protocol.codecs.MessageHeaderDecoder;
import dev.mancom.protocol.codecs.MessageHeaderEncoder;
import dev.mancom.protocol.codecs.ReloadEncoder;
import dev.mancom.protocol.codecs.ReloadResultDecoder;
import dev.mancom.protocol.codecs.ReloadStatus;
import org.agrona.concurrent.UnsafeBuffer;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteOrder;
import java.nio.file.attribute.PosixFilePermissions;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketAddress;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Live reloads of an embedded broker started from a configuration file: what changes, what is refused, and that a
 * refused reload changes nothing. The forked-process view is {@link ReloadSystemTest}.
 */
class ReloadInProcessTest
{
    private static final Duration DEADLINE = Duration.ofSeconds(30);

    @TempDir
    Path tempDir;

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
        "unknown scheme|foo://127.0.0.1:7000|no transport serves 'foo://' (available: ",
        "bad port|tcp://127.0.0.1:99999|port 99999 is not in 0..65535",
        "port that is no number|tcp://127.0.0.1:70x0|bad port '70x0'",
        "connect with an unknown scheme|CONNECT foo://x|no transport serves 'foo://'"
    })
    void shouldRefuseABadUriAtStartUpNamingFileLineServiceAndKey(
        final String name, final String uri, final String problem) throws IOException
    {
        final Path config = tempDir.resolve("mancom.toml");
        final boolean connect = uri.startsWith("CONNECT ");
        Files.writeString(config, "[service.fine]\nlisten = [\"tcp://127.0.0.1:0\"]\n\n[service.echo]\n" +
            (connect ? "connect = \"" + uri.substring(8) + "\"\n" :
            "listen = [\n  \"tcp://127.0.0.1:0\",\n  \"" + uri + "\",\n]\n"));
        final ConfigException ex = assertThrows(ConfigException.class, () -> Broker.launch(new Broker.Context()
            .configFile(config).brokerDir(tempDir.resolve("broker"))));

        final String key = connect ? "service.echo.connect" : "service.echo.listen";
        final int line = connect ? 5 : 7;
        assertEquals(key, ex.key(), ex.getMessage());
        assertEquals(line, ex.line(), ex.getMessage());
        final String prefix = config + ":" + line + ": " + key + ": '" + (connect ? uri.substring(8) : uri) + "': ";
        assertTrue(ex.getMessage().startsWith(prefix), ex.getMessage());
        assertTrue(ex.getMessage().contains(problem), ex.getMessage());
        // Nothing was bound: the URIs are checked before the first listener.
        assertFalse(Files.exists(tempDir.resolve("broker").resolve("broker.sock")));
    }

    @Test
    void shouldKeepTheRunningListenersWhenANewOneCannotBeBound() throws Exception
    {
        final Path config = tempDir.resolve("mancom.toml");
        Files.writeString(config, "[service.echo]\nlisten = [\"tcp://127.0.0.1:0\"]\n");
        final Path unixPath = tempDir.resolve("new.sock");
        try (Broker broker = Broker.launch(new Broker.Context().configFile(config).brokerDir(tempDir.resolve("b")));
            ServerSocket occupied = new ServerSocket(0, 1, InetAddress.getLoopbackAddress()))
        {
            final List<Endpoint> before = broker.listenEndpoints().get("echo");
            Files.writeString(config, "[service.echo]\nlisten = [\n  \"tcp://127.0.0.1:0\",\n  \"unix://" + unixPath +
                "\",\n  \"tcp://127.0.0.1:" + occupied.getLocalPort() + "\",\n]\n");

            final ConfigException ex = assertThrows(ConfigException.class, broker::reload);
            assertEquals("service.echo.listen", ex.key());
            assertEquals(5, ex.line(), ex.getMessage());
            assertTrue(ex.getMessage().startsWith(config + ":5: service.echo.listen: 'tcp://127.0.0.1:" +
                occupied.getLocalPort() + "': "), ex.getMessage());

            // All or nothing: the Unix listener this reload had bound is closed again, the old one still serves.
            assertEquals(before, broker.listenEndpoints().get("echo"));
            assertFalse(Files.exists(unixPath, LinkOption.NOFOLLOW_LINKS), "the rolled back listener's socket");
            assertConnects(new InetSocketAddress(before.get(0).address(), before.get(0).port()));
            assertEquals(List.of("tcp://127.0.0.1:0"), broker.config().services().get("echo").listen());
        }
    }

    @Test
    void shouldAddRemoveAndMoveListenersWhileTheApplicationChangesNothing() throws Exception
    {
        final Path config = tempDir.resolve("mancom.toml");
        final Path aSocket = tempDir.resolve("a.sock");
        Files.writeString(config, "[service.a]\nlisten = [\"unix://" + aSocket + "\"]\n" +
            "[service.b]\nlisten = [\"tcp://127.0.0.1:0\"]\n");
        final Path dir = tempDir.resolve("b");
        final BlockingQueue<String> accepted = new LinkedBlockingQueue<>();
        try (Broker broker = Broker.launch(new Broker.Context().configFile(config).brokerDir(dir));
            ManCom mancom = ManCom.connect(new ManCom.Context().dir(dir).dispatchThread(true)))
        {
            for (final String service : List.of("a", "b"))
            {
                mancom.registerAcceptor(service, (connection) ->
                {
                    accepted.add(connection.service());
                    connection.dataHandler((c, buffer, offset, length) -> Math.max(0, c.offer(buffer, offset, length)));
                });
            }
            final Endpoint bTcp = broker.listenEndpoint("b");
            try (SocketChannel early = SocketChannel.open(UnixDomainSocketAddress.of(aSocket)))
            {
                assertEquals("a", accepted.poll(DEADLINE.toSeconds(), TimeUnit.SECONDS));
                assertEchoes(early, "before");

                // Service a removed, its Unix socket handed to b, b's TCP listener kept as it was.
                Files.writeString(config, "[service.b]\nlisten = [\"tcp://127.0.0.1:0\", \"unix://" + aSocket +
                    "\"]\n");
                final ReloadReport moved = broker.reload();
                assertEquals(2, moved.changes().size(), moved.describe());
                assertTrue(moved.changes().get(0).startsWith("service 'b' now serves unix://" + aSocket +
                    " (moved from service 'a'"), moved.describe());
                assertTrue(moved.changes().get(1).startsWith("service 'a' removed"), moved.describe());
                assertEquals(List.of("b"), List.copyOf(broker.listenEndpoints().keySet()));
                assertEquals(bTcp, broker.listenEndpoints().get("b").get(0));

                assertEchoes(early, "the connection accepted for a goes on");
                try (SocketChannel later = SocketChannel.open(UnixDomainSocketAddress.of(aSocket)))
                {
                    assertEquals("b", accepted.poll(DEADLINE.toSeconds(), TimeUnit.SECONDS));
                    assertEchoes(later, "now b's");
                }

                // Service a again, on TCP: the acceptor the application registered at first serves it again.
                Files.writeString(config, "[service.a]\nlisten = [\"tcp://127.0.0.1:0\"]\n" +
                    "[service.b]\nlisten = [\"tcp://127.0.0.1:0\"]\n");
                final ReloadReport again = broker.reload();
                assertTrue(again.describe().contains("service 'a' configured again: its 1 registered acceptor(s)"),
                    again.describe());
                assertTrue(again.describe().contains("service 'b' stopped listening on unix://" + aSocket),
                    again.describe());
                final Endpoint aTcp = broker.listenEndpoint("a");
                try (SocketChannel onA = SocketChannel.open(new InetSocketAddress(aTcp.address(), aTcp.port())))
                {
                    assertEquals("a", accepted.poll(DEADLINE.toSeconds(), TimeUnit.SECONDS));
                    assertEchoes(onA, "a again");
                }
                assertEchoes(early, "still going");

                final ReloadReport unchanged = broker.reload();
                assertEquals(List.of(), unchanged.changes());
                assertEquals("configuration reloaded from " + config + ": no change", unchanged.summary());
            }
        }
    }

    @Test
    void shouldRefuseToChangeABrokerSettingLiveNamingTheKeyAndBothValues() throws Exception
    {
        final Path config = tempDir.resolve("mancom.toml");
        Files.writeString(config, "[broker]\nterm_length = \"1m\"\n[service.echo]\nlisten = [\"tcp://127.0.0.1:0\"]\n");
        try (Broker broker = Broker.launch(new Broker.Context().configFile(config).brokerDir(tempDir.resolve("b"))))
        {
            final Endpoint before = broker.listenEndpoint("echo");
            Files.writeString(config, "[broker]\nterm_length = \"2m\"\nidle = \"spin\"\n" +
                "[service.echo]\nlisten = [\"unix://" + tempDir.resolve("e.sock") + "\"]\n");
            final ConfigException ex = assertThrows(ConfigException.class, broker::reload);
            assertEquals(config + ":2: broker.term_length: changes only on restart: the broker runs with \"1m\", " +
                "the file now says \"2m\"; restart the broker to change it", ex.getMessage());
            assertEquals(2, ex.errors().size(), String.join("\n", ex.errors()));
            assertTrue(ex.errors().get(1).startsWith(config + ":3: broker.idle: changes only on restart: the " +
                "broker runs with \"polite\", the file now says \"spin\""), ex.errors().get(1));
            assertEquals(List.of(before), broker.listenEndpoints().get("echo"));
        }
    }

    @Test
    void shouldRefuseToReloadAConfigurationGivenInCode()
    {
        try (Broker broker = Broker.launch(new Broker.Context()
            .config(ConfigLoader.parse(TcpEchoSystemTest.ECHO_CONFIG, "test")).brokerDir(tempDir.resolve("b"))))
        {
            final ConfigException ex = assertThrows(ConfigException.class, broker::reload);
            assertTrue(ex.getMessage().contains("given in code, not read from a file: there is nothing to re-read"),
                ex.getMessage());
        }
    }

    @Test
    void shouldDenyAReloadRequestFromAnotherUser() throws Exception
    {
        assumeTrue(0 == new UnixSystem().getUid(), "a client of another user can be run by root only");
        ensurePackages("socat");
        final Path config = tempDir.resolve("mancom.toml");
        Files.writeString(config, TcpEchoSystemTest.ECHO_CONFIG);
        final Path dir = tempDir.resolve("b");
        try (Broker broker = Broker.launch(new Broker.Context().configFile(config).brokerDir(dir)))
        {
            final List<Endpoint> before = broker.listenEndpoints().get("echo");
            Files.writeString(config, "[service.echo]\nlisten = [\"unix://" + tempDir.resolve("e.sock") + "\"]\n");
            // Let user nobody reach the control socket; the broker, not the file system, must refuse it.
            final Path socket = dir.resolve(MarkFileDescriptor.CONTROL_SOCKET_NAME);
            Files.setPosixFilePermissions(tempDir, PosixFilePermissions.fromString("rwx--x--x"));
            Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx--x--x"));
            Files.setPosixFilePermissions(socket, PosixFilePermissions.fromString("rw-rw-rw-"));

            final UnsafeBuffer request = new UnsafeBuffer(new byte[64]);
            final ReloadEncoder encoder = new ReloadEncoder().wrapAndApplyHeader(request, 4, new MessageHeaderEncoder())
                .protocolMajor(ProtocolVersion.MAJOR).protocolMinor(ProtocolVersion.MINOR);
            final int length = MessageHeaderEncoder.ENCODED_LENGTH + encoder.encodedLength();
            request.putInt(0, length, ByteOrder.LITTLE_ENDIAN);

            final Process client = new ProcessBuilder("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                "socat", "-t", "30", "-", "UNIX-CONNECT:" + socket).start();
            try (OutputStream in = client.getOutputStream())
            {
                in.write(request.byteArray(), 0, 4 + length);
            }
            final byte[] answer = client.getInputStream().readAllBytes();
            assertTrue(client.waitFor(DEADLINE.toSeconds(), TimeUnit.SECONDS));
            assertTrue(answer.length > 4,
                "no answer; socat said: " + new String(client.getErrorStream().readAllBytes()));

            final UnsafeBuffer frame = new UnsafeBuffer(answer, 4, answer.length - 4);
            final MessageHeaderDecoder header = new MessageHeaderDecoder().wrap(frame, 0);
            assertEquals(ReloadResultDecoder.TEMPLATE_ID, header.templateId());
            final ReloadResultDecoder result = new ReloadResultDecoder().wrap(
                frame, MessageHeaderDecoder.ENCODED_LENGTH, header.blockLength(), header.version());
            assertEquals(ReloadStatus.ACCESS_DENIED, result.status());
            final String message = result.message();
            assertTrue(message.startsWith("only root or the broker's own user (uid 0) may reload the broker, not " +
                "uid 65534"), message);
            assertEquals(before, broker.listenEndpoints().get("echo"), "the denied request changed nothing");
        }
    }

    /**
     * Install the Debian packages a test needs with the project's script (as root; says what is missing
     * otherwise, and the test is skipped).
     */
    private static void ensurePackages(final String... packages) throws Exception
    {
        Path script = Path.of("scripts", "ensure-packages").toAbsolutePath();
        if (!Files.exists(script))
        {
            script = Path.of("..", "scripts", "ensure-packages").toAbsolutePath().normalize();
        }
        final List<String> command = new java.util.ArrayList<>(List.of(script.toString()));
        command.addAll(List.of(packages));
        final Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        final String output = new String(process.getInputStream().readAllBytes());
        assumeTrue(0 == process.waitFor(), "missing packages: " + output);
    }

    private static void assertConnects(final SocketAddress address) throws IOException
    {
        try (Socket socket = new Socket())
        {
            socket.connect(address, (int)DEADLINE.toMillis());
        }
    }

    static void assertEchoes(final SocketChannel channel, final String text) throws IOException
    {
        final byte[] bytes = text.getBytes();
        channel.write(ByteBuffer.wrap(bytes));
        final ByteBuffer back = ByteBuffer.allocate(bytes.length);
        final long deadlineNs = System.nanoTime() + DEADLINE.toNanos();
        while (back.hasRemaining())
        {
            assertTrue(System.nanoTime() - deadlineNs < 0, "no echo of '" + text + "'");
            if (channel.read(back) < 0)
            {
                break;
            }
        }
        assertArrayEquals(bytes, back.array(), text);
    }
}
