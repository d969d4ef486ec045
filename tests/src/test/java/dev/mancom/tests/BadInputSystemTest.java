package dev.mancom.tests;

import dev.mancom.broker.Broker;
import dev.mancom.broker.BrokerAlreadyRunningException;
import dev.mancom.broker.config.ConfigException;
import dev.mancom.broker.config.ConfigLoader;
import dev.mancom.client.ManCom;
import dev.mancom.protocol.ManComException;
import dev.mancom.protocol.ProtocolVersion;
import dev.mancom.protocol.codecs.ErrorCode;
import dev.mancom.protocol.codecs.ErrorDecoder;
import dev.mancom.protocol.codecs.MessageHeaderDecoder;
import dev.mancom.protocol.codecs.RefusedDecoder;
import dev.mancom.protocol.codecs.WelcomeDecoder;
import dev.mancom.tests.kit.ForkedBroker;
import dev.mancom.tests.kit.ForkedJvm;
import dev.mancom.tests.kit.RawControlClient;
import dev.mancom.tools.Main;
import io.aeron.Aeron;
import io.aeron.Publication;
import io.aeron.Subscription;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Bad input, each named by the error it must produce.
 */
class BadInputSystemTest
{
    @TempDir
    Path tempDir;

    @Test
    void shouldRefuseAMalformedConfigNamingFileLineAndKeyWithANonZeroExit() throws Exception
    {
        final Path config = tempDir.resolve("bad.toml");
        Files.writeString(config, "[service.echo]\nlisten = [\"tcp://127.0.0.1:0\"]\non_owner_exit = \"keep\"\n");
        final ForkedJvm broker = ForkedJvm.start("bad-config", tempDir.resolve("logs"), Main.class, List.of(),
            List.of("broker", "--config", config.toString(), "--dir", tempDir.resolve("broker").toString()));
        assertTrue(broker.waitFor(Duration.ofSeconds(60)));
        assertNotEquals(0, broker.process().exitValue());
        final String output = String.join("\n", broker.lines());
        assertTrue(output.contains(config + ":3: service.echo.on_owner_exit:"), output);
        assertTrue(!output.contains("\tat "), "a stack trace instead of a message: " + output);
    }

    @Test
    void shouldRefuseATomlSyntaxErrorNamingLineAndColumn() throws Exception
    {
        final Path config = tempDir.resolve("syntax.toml");
        Files.writeString(config, "[service.echo]\nlisten = [\"tcp://127.0.0.1:0\"\n");
        final ForkedJvm broker = ForkedJvm.start("syntax-config", tempDir.resolve("logs"), Main.class, List.of(),
            List.of("broker", "--config", config.toString(), "--dir", tempDir.resolve("broker").toString()));
        assertTrue(broker.waitFor(Duration.ofSeconds(60)));
        assertNotEquals(0, broker.process().exitValue());
        final String output = String.join("\n", broker.lines());
        assertTrue(output.contains(config + ":"), output);
        assertTrue(output.contains("syntax error"), output);
    }

    @Test
    void shouldRefuseConfigurationItCannotCarryOutYetNamingTheKey()
    {
        final String toml = "[service.echo]\nlisten = [\"tcp://127.0.0.1:0\"]\nrecord = true\n";
        final ConfigException ex = assertThrows(ConfigException.class, () -> Broker.launch(new Broker.Context()
            .config(ConfigLoader.parse(toml, "record.toml")).brokerDir(tempDir.resolve("broker"))));
        assertEquals("service.echo.record", ex.key());
        assertTrue(ex.getMessage().startsWith("record.toml:3: service.echo.record: recording is not " +
            "supported"), ex.getMessage());
    }

    @Test
    void shouldRefuseAnAllowListNamingAnUnknownUserOrGroup()
    {
        final String toml = "[service.echo]\nlisten = [\"tcp://127.0.0.1:0\"]\n" +
            "allow_users = [\"no-such-user-mancom\"]\nallow_groups = [\"no-such-group-mancom\"]\n";
        final ConfigException ex = assertThrows(ConfigException.class, () -> Broker.launch(new Broker.Context()
            .config(ConfigLoader.parse(toml, "access.toml")).brokerDir(tempDir.resolve("broker"))));
        assertEquals("service.echo.allow_users", ex.key());
        assertEquals(List.of(
            "access.toml:3: service.echo.allow_users: 'no-such-user-mancom' is not a known user of this system " +
                "(nor a numeric uid)",
            "access.toml:4: service.echo.allow_groups: 'no-such-group-mancom' is not a known group of this " +
                "system (nor a numeric gid)"), ex.errors());
    }

    @Test
    void shouldRefuseToRegisterAnUnknownServiceWithUnknownService()
    {
        final Path dir = tempDir.resolve("broker");
        try (Broker ignored = Broker.launch(new Broker.Context()
                .config(ConfigLoader.parse(TcpEchoSystemTest.ECHO_CONFIG, "test")).brokerDir(dir));
            ManCom mancom = ManCom.connect(new ManCom.Context().dir(dir)))
        {
            final ManComException ex = assertThrows(ManComException.class,
                () -> mancom.registerAcceptor("nope", (connection) -> {}));
            assertEquals(ErrorCode.UNKNOWN_SERVICE, ex.code());
            assertTrue(ex.getMessage().contains("'nope'"), ex.getMessage());

            final ManComException connectEx = assertThrows(ManComException.class, () -> mancom.connect("nope"));
            assertEquals(ErrorCode.UNKNOWN_SERVICE, connectEx.code());

            // The client goes on working after a refused command.
            assertNotNull(mancom.registerAcceptor("echo", (connection) -> {}));
        }
    }

    @Test
    void shouldFailToAttachWhereNoBrokerRunsWithNotConnected()
    {
        final ManComException ex = assertThrows(ManComException.class,
            () -> ManCom.connect(new ManCom.Context().dir(tempDir.resolve("nobody"))));
        assertEquals(ErrorCode.NOT_CONNECTED, ex.code());
        assertTrue(ex.getMessage().contains("no broker is running in"), ex.getMessage());
    }

    @Test
    void shouldRefuseASecondBrokerOnTheSameDirectoryNamingTheLiveOnesPid() throws Exception
    {
        try (ForkedBroker first = ForkedBroker.start(tempDir, TcpEchoSystemTest.ECHO_CONFIG, List.of()))
        {
            final ForkedJvm second = ForkedJvm.start("second-broker", tempDir.resolve("logs"), Main.class,
                List.of(), List.of("broker", "--dir", first.dir().toString(), "--config",
                tempDir.resolve("mancom.toml").toString()));
            assertTrue(second.waitFor(Duration.ofSeconds(60)));
            assertNotEquals(0, second.process().exitValue());
            final String output = String.join("\n", second.lines());
            assertTrue(output.contains("another broker (pid " + first.jvm().pid() + ") is already running in " +
                first.dir()), output);

            final BrokerAlreadyRunningException ex = assertThrows(BrokerAlreadyRunningException.class,
                () -> Broker.launch(new Broker.Context()
                    .config(ConfigLoader.parse(TcpEchoSystemTest.ECHO_CONFIG, "test")).brokerDir(first.dir())));
            assertEquals(first.jvm().pid(), ex.pid());

            // The live broker is unharmed by both attempts.
            try (ForkedJvm app = TcpEchoSystemTest.startEcho(tempDir, first, "echo"))
            {
                TcpEchoSystemTest.assertEchoes(first.tcpAddress("echo"), "still serving");
            }
        }
    }

    @Test
    void shouldTakeOverTheDirectoryOfAKilledBroker() throws Exception
    {
        final ForkedBroker dead = ForkedBroker.start(tempDir, TcpEchoSystemTest.ECHO_CONFIG, List.of());
        dead.jvm().kill9();
        try (Broker broker = Broker.launch(new Broker.Context()
                .config(ConfigLoader.parse(TcpEchoSystemTest.ECHO_CONFIG, "test")).brokerDir(dead.dir()));
            ManCom mancom = ManCom.connect(new ManCom.Context().dir(dead.dir())))
        {
            assertNotNull(mancom.registerAcceptor("echo", (connection) -> {}));
            assertTrue(broker.listenEndpoint("echo").port() > 0);
        }
    }

    @Test
    void shouldRefuseAClientOfAnotherMajorProtocolVersionWithProtocolVersionMismatch() throws Exception
    {
        try (ForkedBroker broker = ForkedBroker.start(tempDir, TcpEchoSystemTest.ECHO_CONFIG, List.of());
            RawControlClient client = new RawControlClient(broker.dir()))
        {
            client.hello(ProtocolVersion.MAJOR + 98, 3);
            final UnsafeBuffer frame = client.readFrame();
            assertNotNull(frame);
            assertEquals(RefusedDecoder.TEMPLATE_ID, RawControlClient.templateId(frame));
            final RefusedDecoder refused = new RefusedDecoder().wrap(frame, MessageHeaderDecoder.ENCODED_LENGTH,
                RefusedDecoder.BLOCK_LENGTH, RefusedDecoder.SCHEMA_VERSION);
            assertEquals(ErrorCode.PROTOCOL_VERSION_MISMATCH, refused.code());
            final String message = refused.message();
            assertTrue(message.contains((ProtocolVersion.MAJOR + 98) + ".3"), message);
            assertTrue(message.contains(ProtocolVersion.MAJOR + "." + ProtocolVersion.MINOR), message);
            assertTrue(client.readToEnd(), "the broker keeps the refused client's socket open");
        }
    }

    @Test
    void shouldCloseOnlyTheHostileClientsSessionWhenItWritesGarbageCommands() throws Exception
    {
        try (ForkedBroker broker = ForkedBroker.start(tempDir, TcpEchoSystemTest.ECHO_CONFIG, List.of());
            ForkedJvm app = TcpEchoSystemTest.startEcho(tempDir, broker, "echo");
            RawControlClient hostile = new RawControlClient(broker.dir()))
        {
            hostile.hello(ProtocolVersion.MAJOR, ProtocolVersion.MINOR);
            final UnsafeBuffer frame = hostile.readFrame();
            assertEquals(WelcomeDecoder.TEMPLATE_ID, RawControlClient.templateId(frame));
            final WelcomeDecoder welcome = new WelcomeDecoder().wrap(frame, MessageHeaderDecoder.ENCODED_LENGTH,
                WelcomeDecoder.BLOCK_LENGTH, WelcomeDecoder.SCHEMA_VERSION);
            final int commandStreamId = welcome.commandStreamId();
            final int eventStreamId = welcome.eventStreamId();
            final String channel = welcome.channel();
            final String aeronDir = welcome.aeronDirectory();

            try (Aeron aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(aeronDir));
                Publication commands = aeron.addPublication(channel, commandStreamId);
                Subscription events = aeron.addSubscription(channel, eventStreamId))
            {
                final long deadlineNs = System.nanoTime() + Duration.ofSeconds(30).toNanos();
                while (!commands.isConnected() || !events.isConnected())
                {
                    assertTrue(System.nanoTime() - deadlineNs < 0, "streams did not connect");
                    Thread.yield();
                }
                hostile.attach(aeron.clientId());

                final byte[] garbage = new byte[100];
                new SplittableRandom(7).nextBytes(garbage);
                garbage[2] = 99; // a template id no command has
                garbage[3] = 0;
                garbage[4] = 0x59; // the schema id, so that only the template is wrong
                garbage[5] = 0x1B;
                final UnsafeBuffer garbageBuffer = new UnsafeBuffer(garbage);
                while (commands.offer(garbageBuffer) < 0)
                {
                    assertTrue(System.nanoTime() - deadlineNs < 0, "cannot offer");
                    Thread.yield();
                }

                final AtomicReference<String> error = new AtomicReference<>();
                final MessageHeaderDecoder header = new MessageHeaderDecoder();
                final ErrorDecoder errorDecoder = new ErrorDecoder();
                while (null == error.get())
                {
                    assertTrue(System.nanoTime() - deadlineNs < 0, "no Error event for the garbage");
                    events.poll((buffer, offset, length, h) ->
                    {
                        header.wrap(buffer, offset);
                        if (header.templateId() == ErrorDecoder.TEMPLATE_ID)
                        {
                            errorDecoder.wrapAndApplyHeader(buffer, offset, header);
                            error.set(errorDecoder.code() + ": " + errorDecoder.message());
                        }
                    }, 10);
                    Thread.yield();
                }
                assertTrue(error.get().startsWith("MALFORMED_COMMAND"), error.get());
                assertTrue(hostile.readToEnd(), "the hostile client's session stays open");
            }

            // Everyone else is served as before.
            assertTrue(broker.jvm().process().isAlive());
            TcpEchoSystemTest.assertEchoes(broker.tcpAddress("echo"), "after the hostile client");
        }
    }
}
