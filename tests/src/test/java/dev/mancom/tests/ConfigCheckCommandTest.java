package dev.mancom.tests;

import dev.mancom.broker.config.ConfigLoader;
import dev.mancom.tests.kit.ForkedJvm;
import dev.mancom.tools.Main;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.params.provider.Arguments.arguments;

/**
 * {@code mancom config check FILE}: a good file gives one summary line and exit 0; a bad one every error as
 * {@code FILE:LINE: KEY: problem} and exit 1, URIs checked against the transports of the class path without binding
 * anything, and the names of {@code [broker] group}, {@code allow_users} and {@code allow_groups} looked up as the
 * broker does at start.
 */
class ConfigCheckCommandTest
{
    @TempDir
    Path tempDir;

    private final StringWriter out = new StringWriter();
    private final StringWriter err = new StringWriter();

    @Test
    void shouldAcceptAGoodFileWithOneSummaryLineAndPrintItsWarnings() throws Exception
    {
        final Path config = tempDir.resolve("good.toml");
        Files.writeString(config,
            "[broker]\n" +
            "credit_window = \"128k\"\n" +
            "\n" +
            "[service.echo]\n" +
            "listen = [\"tcp://127.0.0.1:7000\", \"unix://" + tempDir.resolve("echo.sock") + "\"]\n" +
            "colour = \"blue\"\n" +
            "\n" +
            "[service.gps]\n" +
            "listen = [\"serial:///dev/ttyUSB7?baud=9600\"]\n" +
            "\n" +
            "[service.out]\n" +
            "connect = \"udp://127.0.0.1:9000\"\n");

        final int exitCode = run("config", "check", config.toString());

        assertEquals(0, exitCode, err.toString());
        assertEquals(config + ": 3 services OK\n", out.toString());
        assertTrue(err.toString().contains(config + ":6: unknown key 'service.echo.colour' (ignored)"), err.toString());
    }

    @Test
    void shouldNotBindTheListenersItChecks() throws Exception
    {
        final Path socket = tempDir.resolve("never.sock");
        final Path config = tempDir.resolve("unix.toml");
        Files.writeString(config, "[service.echo]\nlisten = [\"unix://" + socket + "\"]\n");

        assertEquals(0, run("config", "check", config.toString()), err.toString());
        assertFalse(Files.exists(socket), "config check bound " + socket);
    }

    @Test
    void shouldPrintEveryErrorAsFileLineKeyAndExitOne() throws Exception
    {
        final Path config = tempDir.resolve("bad.toml");
        Files.writeString(config,
            "[broker]\n" +
            "io_threads = \"four\"\n" +
            "\n" +
            "[service.echo]\n" +
            "listen = [\n" +
            "  \"tcp://127.0.0.1:0\",\n" +
            "  \"tpc://127.0.0.1:7000\",\n" +
            "]\n" +
            "on_owner_exit = \"keep\"\n" +
            "\n" +
            "[service.web]\n" +
            "listen = [\"tcp://127.0.0.1:70000\"]\n");

        final int exitCode = run("config", "check", config.toString());

        assertEquals(1, exitCode);
        assertEquals("", out.toString());
        final String errors = err.toString();
        assertTrue(errors.contains(config + ":2: broker.io_threads: must be an integer, not a string\n"), errors);
        assertTrue(errors.contains(config + ":9: service.echo.on_owner_exit: must be \"close\" or \"hold\", not " +
            "\"keep\"\n"), errors);
    }

    @Test
    void shouldCheckEveryUriAgainstTheTransportsOnTheClassPath() throws Exception
    {
        final Path config = tempDir.resolve("uris.toml");
        Files.writeString(config,
            "[service.echo]\n" +
            "listen = [\n" +
            "  \"tcp://127.0.0.1:0\",\n" +
            "  \"tpc://127.0.0.1:7000\",\n" +
            "]\n" +
            "\n" +
            "[service.web]\n" +
            "listen = [\"tcp://127.0.0.1:70000\"]\n" +
            "\n" +
            "[service.out]\n" +
            "connect = \"serial:///dev/ttyS0?baud=fast\"\n");

        final int exitCode = run("config", "check", config.toString());

        assertEquals(1, exitCode);
        final String errors = err.toString();
        assertTrue(errors.contains(config + ":4: service.echo.listen: 'tpc://127.0.0.1:7000': no transport serves " +
            "'tpc://' (available: "), errors);
        assertTrue(errors.contains(config + ":8: service.web.listen: 'tcp://127.0.0.1:70000': port 70000 is not " +
            "in 0..65535"), errors);
        assertTrue(errors.contains(config + ":11: service.out.connect: 'serial:///dev/ttyS0?baud=fast': "), errors);
        assertEquals(3, errors.lines().count(), errors);
    }

    @ParameterizedTest(name = "[{index}] {0}")
    @MethodSource("unknownAccounts")
    void shouldRefuseAnUnknownUserOrGroupAsTheBrokerWouldAtStart(
        final String name, final String toml, final String expectedError) throws Exception
    {
        final Path config = tempDir.resolve(name + ".toml");
        Files.writeString(config, toml);

        final int exitCode = run("config", "check", config.toString());

        assertEquals(1, exitCode, err.toString());
        assertEquals("", out.toString());
        assertEquals(config + ":" + expectedError + "\n", err.toString());
    }

    static Stream<Arguments> unknownAccounts()
    {
        final String service = "[service.echo]\nlisten = [\"tcp://127.0.0.1:0\"]\n";
        return Stream.of(
            arguments(
                "allow-users",
                service + "allow_users = [\"root\", \"no-such-user-mancom\"]\n",
                "3: service.echo.allow_users: 'no-such-user-mancom' is not a known user of this system " +
                    "(nor a numeric uid)"),
            arguments(
                "allow-groups",
                service + "allow_users = [\"root\"]\nallow_groups = [\"no-such-group-mancom\"]\n",
                "4: service.echo.allow_groups: 'no-such-group-mancom' is not a known group of this system " +
                    "(nor a numeric gid)"),
            arguments(
                "broker-group",
                "[broker]\ngroup = \"no-such-group-mancom\"\n\n" + service,
                "2: broker.group: 'no-such-group-mancom' is not a known group of this system (nor a numeric gid)"));
    }

    @Test
    void shouldReportEveryUnknownUserAndGroupOfOneFile() throws Exception
    {
        final Path config = tempDir.resolve("accounts.toml");
        Files.writeString(config,
            "[broker]\n" +
            "group = \"no-such-group-mancom\"\n" +
            "\n" +
            "[service.echo]\n" +
            "listen = [\"tcp://127.0.0.1:0\"]\n" +
            "allow_users = [\"no-such-user-mancom\"]\n" +
            "allow_groups = [\"no-such-group-mancom\"]\n");

        final int exitCode = run("config", "check", config.toString());

        assertEquals(1, exitCode, err.toString());
        assertEquals("", out.toString());
        assertEquals(
            config + ":2: broker.group: 'no-such-group-mancom' is not a known group of this system " +
                "(nor a numeric gid)\n" +
            config + ":6: service.echo.allow_users: 'no-such-user-mancom' is not a known user of this system " +
                "(nor a numeric uid)\n" +
            config + ":7: service.echo.allow_groups: 'no-such-group-mancom' is not a known group of this system " +
                "(nor a numeric gid)\n",
            err.toString());
    }

    @Test
    void shouldAcceptKnownUsersAndGroups() throws Exception
    {
        final Path config = tempDir.resolve("root.toml");
        Files.writeString(config,
            "[broker]\n" +
            "group = \"root\"\n" +
            "\n" +
            "[service.echo]\n" +
            "listen = [\"tcp://127.0.0.1:0\"]\n" +
            "allow_users = [\"root\", \"0\"]\n" +
            "allow_groups = [\"root\"]\n");

        final int exitCode = run("config", "check", config.toString());

        assertEquals(0, exitCode, err.toString());
        assertEquals(config + ": 1 service OK\n", out.toString());
        assertEquals("", err.toString());
    }

    @Test
    void shouldCheckWhatTheBrokerWouldReadWhenNoFileIsGiven() throws Exception
    {
        final Path config = tempDir.resolve("from-env.toml");
        Files.writeString(config, "[service.a]\nlisten = [\"tcp://127.0.0.1:0\"]\n\n[service.b]\n");
        try (ForkedJvm check = ForkedJvm.start("config-check", tempDir.resolve("logs"), Main.class, List.of(),
            List.of("config", "check"), Map.of(ConfigLoader.CONFIG_ENV, config.toString())))
        {
            assertTrue(check.waitFor(Duration.ofSeconds(60)));
            assertEquals(0, check.process().exitValue(), String.join("\n", check.lines()));
            assertEquals(List.of(config + ": 2 services OK"), check.lines());
        }
    }

    @Test
    void shouldReportAFileThatCannotBeRead()
    {
        final Path missing = tempDir.resolve("missing.toml");

        assertEquals(1, run("config", "check", missing.toString()));
        assertEquals(missing + ": cannot read file: no such file or directory\n", err.toString());
    }

    private int run(final String... args)
    {
        return Main.execute(new PrintWriter(out, true), new PrintWriter(err, true), args);
    }
}
