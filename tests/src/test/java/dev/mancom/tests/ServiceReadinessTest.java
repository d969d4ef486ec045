package dev.mancom.tests;

import dev.mancom.broker.Broker;
import dev.mancom.broker.config.ConfigLoader;
import dev.mancom.client.Acceptor;
import dev.mancom.client.ManCom;
import dev.mancom.protocol.ManComException;
import dev.mancom.protocol.ProtocolVersion;
import dev.mancom.protocol.codecs.ErrorCode;
import dev.mancom.protocol.codecs.MessageHeaderDecoder;
import dev.mancom.protocol.codecs.WelcomeDecoder;
import dev.mancom.tests.kit.RawControlClient;
import dev.mancom.tools.Main;
import dev.mancom.transport.testkit.PtyPair;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code ManCom.awaitService} and {@code mancom wait-ready --service} against a real broker: a TCP service is ready
 * once bound; an unknown service is an error with {@code UNKNOWN_SERVICE}; a serial service waits for its device,
 * which a pseudo-terminal pair then provides; a service of applications only is ready once one registers it.
 */
class ServiceReadinessTest
{
    private static final Duration DEADLINE = Duration.ofSeconds(30);

    @TempDir
    Path tempDir;

    private PtyPair device;
    private Broker broker;
    private ManCom mancom;

    @BeforeEach
    void startBroker()
    {
        device = new PtyPair(tempDir, "modem");
        final String toml =
            "[service.echo]\n" +
            "listen = [\"tcp://127.0.0.1:0\"]\n" +
            "\n" +
            "[service.modem]\n" +
            "listen = [\"tcp://127.0.0.1:0\", \"serial://" + device.a() + "?baud=115200\"]\n" +
            "\n" +
            "[service.local]\n";
        broker = Broker.launch(new Broker.Context()
            .config(ConfigLoader.parse(toml, "readiness.toml"))
            .brokerDir(tempDir.resolve("broker")));
        mancom = ManCom.connect(new ManCom.Context().dir(tempDir.resolve("broker")));
    }

    @AfterEach
    void stop()
    {
        if (null != mancom)
        {
            mancom.close();
        }
        if (null != broker)
        {
            broker.close();
        }
        device.close();
    }

    @Test
    void shouldReturnOnceATcpServiceIsBound()
    {
        mancom.awaitService("echo", DEADLINE);

        assertEquals(0, waitReady("--service", "echo", "--timeout", "30s"), err.toString());
    }

    @Test
    void shouldFailAtOnceForAnUnknownService()
    {
        final ManComException ex = assertThrows(
            ManComException.class, () -> mancom.awaitService("nope", DEADLINE));

        assertEquals(ErrorCode.UNKNOWN_SERVICE, ex.code());
        assertTrue(ex.getMessage().contains("unknown service 'nope'"), ex.getMessage());
        assertEquals(1, waitReady("--service", "nope"));
        assertTrue(err.toString().contains("unknown service 'nope'"), err.toString());
    }

    @Test
    void shouldWaitForTheDeviceOfASerialServiceAndReturnOnceItIsThere() throws Exception
    {
        final ManComException timeout = assertThrows(
            ManComException.class, () -> mancom.awaitService("modem", Duration.ofMillis(200)));
        assertEquals(ErrorCode.TIMEOUT, timeout.code());
        assertTrue(timeout.getMessage().contains("'serial://" + device.a() + "?baud=115200' waits for its device"),
            timeout.getMessage());
        assertEquals(2, waitReady("--service", "modem", "--timeout", "200ms"));
        assertTrue(err.toString().contains("waits for its device"), err.toString());

        final CompletableFuture<Void> waiting = CompletableFuture.runAsync(() ->
        {
            try (ManCom waiter = ManCom.connect(new ManCom.Context().dir(tempDir.resolve("broker"))))
            {
                waiter.awaitService("modem", DEADLINE);
            }
        });
        assertFalse(waiting.isDone());

        device.start();

        waiting.get(DEADLINE.toMillis(), TimeUnit.MILLISECONDS);
        mancom.awaitService("modem", DEADLINE);
    }

    @Test
    void shouldWaitForAnApplicationToRegisterAServiceWithoutListeners()
    {
        final ManComException ex = assertThrows(
            ManComException.class, () -> mancom.awaitService("local", Duration.ofMillis(100)));
        assertEquals(ErrorCode.TIMEOUT, ex.code());
        assertTrue(ex.getMessage().contains("no application has registered it yet"), ex.getMessage());

        try (Acceptor acceptor = mancom.registerAcceptor("local"))
        {
            mancom.awaitService("local", DEADLINE);
        }
    }

    @Test
    void shouldStillWelcomeAClientOfProtocol11() throws Exception
    {
        try (RawControlClient old = new RawControlClient(tempDir.resolve("broker")))
        {
            old.hello(ProtocolVersion.MAJOR, 1);
            final UnsafeBuffer frame = old.readFrame();
            assertEquals(WelcomeDecoder.TEMPLATE_ID, RawControlClient.templateId(frame));
            final WelcomeDecoder welcome = new WelcomeDecoder().wrap(frame, MessageHeaderDecoder.ENCODED_LENGTH,
                WelcomeDecoder.BLOCK_LENGTH, WelcomeDecoder.SCHEMA_VERSION);
            assertEquals(2, welcome.protocolMinor());
        }
    }

    private final StringWriter err = new StringWriter();

    private int waitReady(final String... options)
    {
        final String[] args = new String[options.length + 3];
        args[0] = "wait-ready";
        args[1] = "--dir";
        args[2] = tempDir.resolve("broker").toString();
        System.arraycopy(options, 0, args, 3, options.length);
        return Main.execute(new PrintWriter(new StringWriter(), true), new PrintWriter(err, true), args);
    }
}
