package dev.mancom.broker.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URISyntaxException;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ConfigLoaderTest
{
    @TempDir
    Path tempDir;

    private static Path resource(final String name) throws URISyntaxException
    {
        final URL url = ConfigLoaderTest.class.getResource("/config/" + name);
        assertTrue(null != url, "test resource /config/" + name);
        return Path.of(url.toURI());
    }

    @Test
    void shouldReadEveryKeyOfACompleteFile() throws URISyntaxException
    {
        final Path file = resource("complete.toml");

        final BrokerConfig config = ConfigLoader.load(file);

        assertEquals(file.toString(), config.source());
        assertEquals(List.of(file.toString()), config.sources());
        assertEquals(List.of(), config.warnings());
        assertEquals("/dev/shm/mancom-test", config.dir());
        assertEquals("/var/lib/mancom/journal", config.journal());
        assertEquals(4, config.ioThreads());
        assertEquals(512 * 1024, config.creditWindowLength());
        assertEquals(4 * 1024 * 1024, config.termLength());
        assertEquals(1000, config.maxConnections());
        assertEquals(IdleProfile.SPIN, config.idle());
        assertEquals("/usr/lib/mancom/plugins", config.plugins());
        assertEquals(6, config.line("io_threads"));
        assertEquals(0, config.line("nonsense"));

        assertEquals(List.of("echo", "upstream", "metrics.v2"), List.copyOf(config.services().keySet()));

        final ServiceConfig echo = config.services().get("echo");
        assertEquals("echo", echo.name());
        assertEquals(file.toString(), echo.source());
        assertEquals(List.of("tcp://127.0.0.1:7000", "unix:///run/mancom/echo.sock"), echo.listen());
        assertNull(echo.connect());
        assertFalse(echo.isOutbound());
        assertEquals(OwnerExitPolicy.HOLD, echo.onOwnerExit());
        assertEquals(5000, echo.queueWhenUnownedMs());
        assertTrue(echo.record());
        assertEquals(List.of("alice", "bob"), echo.allowUsers());
        assertEquals(List.of("wheel"), echo.allowGroups());
        assertEquals(List.of("/usr/bin/echo-server", "--verbose", ""), echo.exec());
        assertEquals(RestartPolicy.ON_FAILURE, echo.restart());
        assertEquals("service.echo.listen", echo.key("listen"));
        assertEquals("service.echo", echo.key());
        assertEquals(13, echo.line());
        assertEquals(14, echo.line("listen"));
        assertEquals(15, echo.listenLine(0));
        assertEquals(16, echo.listenLine(1));
        assertEquals(0, echo.listenLine(2));
        assertEquals(24, echo.line("restart"));
        assertEquals(0, echo.line("connect"));

        final ServiceConfig upstream = config.services().get("upstream");
        assertEquals(List.of(), upstream.listen());
        assertEquals("tcp://10.0.0.2:9000", upstream.connect());
        assertTrue(upstream.isOutbound());
        assertEquals(OwnerExitPolicy.CLOSE, upstream.onOwnerExit());
        assertEquals(250, upstream.queueWhenUnownedMs());
        assertFalse(upstream.record());
        assertEquals(List.of(), upstream.allowUsers());
        assertEquals(List.of(), upstream.allowGroups());
        assertEquals(List.of("/usr/bin/upstream"), upstream.exec());
        assertEquals(RestartPolicy.ALWAYS, upstream.restart());
        assertEquals(27, upstream.line("connect"));

        final ServiceConfig metrics = config.services().get("metrics.v2");
        assertEquals(List.of("udp://0.0.0.0:9125"), metrics.listen());
        assertEquals(120_000, metrics.queueWhenUnownedMs());
        assertEquals(RestartPolicy.NO, metrics.restart());
        assertEquals(List.of(), metrics.exec());
        assertEquals("service.\"metrics.v2\".listen", metrics.key("listen"));
    }

    @Test
    void shouldReturnUnmodifiableCollections() throws URISyntaxException
    {
        final BrokerConfig config = ConfigLoader.load(resource("complete.toml"));
        final ServiceConfig echo = config.services().get("echo");

        assertThrows(UnsupportedOperationException.class, () -> config.services().remove("echo"));
        assertThrows(UnsupportedOperationException.class, () -> config.warnings().add("x"));
        assertThrows(UnsupportedOperationException.class, () -> echo.listen().add("tcp://x:1"));
        assertThrows(UnsupportedOperationException.class, () -> echo.exec().clear());
        assertThrows(UnsupportedOperationException.class, () -> echo.allowUsers().clear());
    }

    @Test
    void shouldUseDefaultsForEveryKeyNotSet()
    {
        final BrokerConfig config = ConfigLoader.parse("[service.a]\nlisten = [\"tcp://127.0.0.1:1\"]\n", "t.toml");

        assertEquals("t.toml", config.source());
        assertNull(config.dir());
        assertNull(config.journal());
        assertEquals(BrokerConfig.DEFAULT_IO_THREADS, config.ioThreads());
        assertEquals(256 * 1024, config.creditWindowLength());
        assertEquals(4 * 1024 * 1024, config.termLength());
        assertEquals(BrokerConfig.DEFAULT_MAX_CONNECTIONS, config.maxConnections());
        assertEquals(IdleProfile.POLITE, config.idle());
        assertNull(config.plugins());

        final ServiceConfig service = config.services().get("a");
        assertEquals(OwnerExitPolicy.CLOSE, service.onOwnerExit());
        assertEquals(0, service.queueWhenUnownedMs());
        assertFalse(service.record());
        assertEquals(List.of(), service.allowUsers());
        assertEquals(List.of(), service.allowGroups());
        assertEquals(List.of(), service.exec());
        assertEquals(RestartPolicy.NO, service.restart());
    }

    @Test
    void shouldAcceptAnEmptyFileAsNoServices()
    {
        final BrokerConfig config = ConfigLoader.parse("", "empty.toml");

        assertEquals(Map.of(), config.services());
        assertEquals(List.of(), config.warnings());
    }

    @Test
    void shouldAcceptAServiceWithNeitherListenNorConnectAsLocalOnly()
    {
        final BrokerConfig config = ConfigLoader.parse("[service.local]\n", "local.toml");

        assertEquals(List.of(), config.services().get("local").listen());
        assertEquals(null, config.services().get("local").connect());
    }

    @Test
    void shouldAcceptSizesAsIntegersAndWithEverySuffix()
    {
        final BrokerConfig config = ConfigLoader.parse(
            "[broker]\ncredit_window = 65536\nterm_length = \"1M\"\n", "t.toml");

        assertEquals(65536, config.creditWindowLength());
        assertEquals(1 << 20, config.termLength());
        assertEquals(64 << 20, ConfigLoader.parse("[broker]\nterm_length = \"64m\"\n", "t").termLength());
        assertEquals(4096, ConfigLoader.parse("[broker]\ncredit_window = \"4K\"\n", "t").creditWindowLength());
        assertEquals(4096, ConfigLoader.parse("[broker]\ncredit_window = \"4096\"\n", "t").creditWindowLength());
    }

    @Test
    void shouldAcceptServicesWrittenAsInlineOrDottedTables()
    {
        final BrokerConfig config = ConfigLoader.parse(
            "[service]\n" +
            "a = { listen = [\"tcp://127.0.0.1:1\"] }\n" +
            "b.connect = \"tcp://127.0.0.1:2\"\n",
            "t.toml");

        assertEquals(List.of("tcp://127.0.0.1:1"), config.services().get("a").listen());
        assertEquals("tcp://127.0.0.1:2", config.services().get("b").connect());
        assertEquals(2, config.services().get("a").line());
        assertEquals(3, config.services().get("b").line("connect"));
    }

    @Test
    void shouldServeEchoOnLoopbackByDefault()
    {
        final BrokerConfig config = ConfigLoader.builtInDefault();

        assertEquals("built-in default", config.source());
        assertEquals(List.of("built-in default"), config.sources());
        assertEquals(List.of("echo"), List.copyOf(config.services().keySet()));
        final ServiceConfig echo = config.services().get("echo");
        assertEquals(List.of("tcp://127.0.0.1:7007"), echo.listen());
        assertNull(echo.connect());
        assertEquals(OwnerExitPolicy.CLOSE, echo.onOwnerExit());
        assertEquals(0, echo.queueWhenUnownedMs());
        assertFalse(echo.record());
        assertEquals(List.of(), echo.exec());
        assertEquals(RestartPolicy.NO, echo.restart());
        assertNull(config.dir());
        assertEquals(1, config.ioThreads());
        assertEquals(256 * 1024, config.creditWindowLength());
        assertEquals(4 * 1024 * 1024, config.termLength());
        assertEquals(IdleProfile.POLITE, config.idle());
        assertEquals(List.of(), config.warnings());
    }

    @Test
    void shouldReportSyntaxErrorWithLineAndColumn()
    {
        final ConfigException ex = assertThrows(
            ConfigException.class,
            () -> ConfigLoader.parse("[broker]\nio_threads = 2\ndir = \n", "/etc/mancom/mancom.toml"));

        assertTrue(
            ex.getMessage().startsWith("/etc/mancom/mancom.toml:3:7: syntax error: "), ex.getMessage());
        assertEquals("/etc/mancom/mancom.toml", ex.file());
        assertEquals(3, ex.line());
        assertEquals(7, ex.column());
        assertNull(ex.key());
        assertEquals(List.of(ex.getMessage()), ex.errors());
    }

    @Test
    void shouldReportTheFirstOfSeveralSyntaxErrorsAndKeepThemAll()
    {
        final ConfigException ex = assertThrows(
            ConfigException.class,
            () -> ConfigLoader.parse("a = \n[service.echo]\nlisten = [\"x\",\nb = 1\nb = 2\n", "bad.toml"));

        assertTrue(ex.getMessage().startsWith("bad.toml:1:5: syntax error: "), ex.getMessage());
        assertTrue(ex.errors().size() >= 2, ex.errors().toString());
        assertEquals(ex.getMessage(), ex.errors().get(0));
        for (final String error : ex.errors())
        {
            assertTrue(error.matches("bad\\.toml:\\d+:\\d+: syntax error: .+"), error);
        }
    }

    @Test
    void shouldReportATableDefinedTwiceAsSyntaxError()
    {
        final ConfigException ex = assertThrows(
            ConfigException.class,
            () -> ConfigLoader.parse(
                "[service.echo]\nlisten = [\"tcp://h:1\"]\n[service.echo]\nlisten = [\"tcp://h:2\"]\n", "t.toml"));

        assertTrue(ex.getMessage().startsWith("t.toml:3:1: syntax error: "), ex.getMessage());
    }

    @Test
    void shouldWarnAboutUnknownKeysNamingFileLineAndKey()
    {
        final BrokerConfig config = ConfigLoader.parse(
            "foo = 1\n" +
            "[broker]\n" +
            "io_thread = 2\n" +
            "[service.echo]\n" +
            "lisen = [\"tcp://127.0.0.1:1\"]\n" +
            "listen = [\"tcp://127.0.0.1:1\"]\n" +
            "[services.other]\n" +
            "listen = [\"tcp://127.0.0.1:2\"]\n",
            "/etc/mancom/mancom.toml");

        assertEquals(
            List.of(
                "/etc/mancom/mancom.toml:1: unknown key 'foo' (ignored)",
                "/etc/mancom/mancom.toml:3: unknown key 'broker.io_thread' (ignored)",
                "/etc/mancom/mancom.toml:5: unknown key 'service.echo.lisen' (ignored)",
                "/etc/mancom/mancom.toml:7: unknown key 'services' (ignored)"),
            config.warnings());
        assertEquals(List.of("echo"), List.copyOf(config.services().keySet()));
    }

    @Test
    void shouldWarnThatRestartWithoutExecHasNoEffect()
    {
        final BrokerConfig config = ConfigLoader.parse(
            "[service.echo]\nlisten = [\"tcp://127.0.0.1:1\"]\nrestart = \"always\"\n", "t.toml");

        assertEquals(List.of("t.toml:3: service.echo.restart has no effect without exec (ignored)"), config.warnings());
    }

    @Test
    void shouldNameTheFileAndReasonWhenItCannotBeRead()
    {
        final Path missing = tempDir.resolve("missing.toml");

        final ConfigException ex = assertThrows(ConfigException.class, () -> ConfigLoader.load(missing));

        assertEquals(missing + ": cannot read file: no such file or directory", ex.getMessage());
        assertEquals(missing.toString(), ex.file());
        assertEquals(0, ex.line());
        assertNull(ex.key());
    }

    @Test
    void shouldNameTheFileWhenItIsNotUtf8() throws Exception
    {
        final Path file = tempDir.resolve("latin1.toml");
        Files.write(file, new byte[]{ 'a', ' ', '=', ' ', '"', (byte)0xE9, '"', '\n' });

        final ConfigException ex = assertThrows(ConfigException.class, () -> ConfigLoader.load(file));

        assertEquals(file + ": cannot read file: not valid UTF-8 text", ex.getMessage());
    }

    @Test
    void shouldNameTheRealFileInValidationErrors() throws Exception
    {
        final Path file = tempDir.resolve("mancom.toml");
        Files.writeString(file, "[broker]\n\nio_threads = -1\n", StandardCharsets.UTF_8);

        final ConfigException ex = assertThrows(ConfigException.class, () -> ConfigLoader.load(file));

        assertEquals(file + ":3: broker.io_threads: must be at least 1, not -1", ex.getMessage());
    }

    @Test
    void shouldRejectNegativeIoThreadsNamingLineAndKey()
    {
        final ConfigException ex = assertThrows(
            ConfigException.class, () -> ConfigLoader.parse("# c\n[broker]\nio_threads = -4\n", "m.toml"));

        assertEquals("m.toml:3: broker.io_threads: must be at least 1, not -4", ex.getMessage());
        assertEquals("m.toml", ex.file());
        assertEquals(3, ex.line());
        assertEquals("broker.io_threads", ex.key());
        assertEquals("must be at least 1, not -4", ex.problem());
    }

    @Test
    void shouldReportEveryProblemInLineOrderWithTheFirstAsMessage()
    {
        final ConfigException ex = assertThrows(
            ConfigException.class,
            () -> ConfigLoader.parse(
                "[service.echo]\n" +
                "listen = [\"tcp://127.0.0.1:1\"]\n" +
                "on_owner_exit = \"keep\"\n" +
                "[broker]\n" +
                "io_threads = 0\n" +
                "idle = \"busy\"\n",
                "/etc/mancom/mancom.toml"));

        assertEquals(
            "/etc/mancom/mancom.toml:3: service.echo.on_owner_exit: must be \"close\" or \"hold\", not \"keep\"",
            ex.getMessage());
        assertEquals(
            List.of(
                ex.getMessage(),
                "/etc/mancom/mancom.toml:5: broker.io_threads: must be at least 1, not 0",
                "/etc/mancom/mancom.toml:6: broker.idle: must be \"polite\" or \"spin\", not \"busy\""),
            ex.errors());
    }

    @Test
    void shouldLocateLaterErrorsAboutAServiceKey() throws URISyntaxException
    {
        final Path file = resource("complete.toml");
        final ServiceConfig echo = ConfigLoader.load(file).services().get("echo");

        final ConfigException ex = echo.error("listen", "cannot bind 127.0.0.1:7000: address in use");

        assertEquals(file + ":14: service.echo.listen: cannot bind 127.0.0.1:7000: address in use", ex.getMessage());
        assertEquals(file + ":13: service.echo: gone", echo.error(null, "gone").getMessage());
    }

    @Test
    void shouldLocateLaterErrorsAboutABrokerKey() throws URISyntaxException
    {
        final Path file = resource("complete.toml");
        final BrokerConfig config = ConfigLoader.load(file);

        assertEquals(file + ":4: broker.dir: cannot create", config.error("dir", "cannot create").getMessage());
        assertEquals(
            "built-in default: broker.dir: x", ConfigLoader.builtInDefault().error("dir", "x").getMessage());
    }

    @Test
    void shouldCompareServicesByWhatTheyConfigureNotWhereTheyAre()
    {
        final ServiceConfig a = ConfigLoader.parse("[service.e]\nlisten = [\"tcp://h:1\"]\n", "a.toml")
            .services().get("e");
        final ServiceConfig b = ConfigLoader.parse("\n\n[service.e]\nlisten = [\"tcp://h:1\"]\n", "b.toml")
            .services().get("e");
        final ServiceConfig c = ConfigLoader.parse("[service.e]\nlisten = [\"tcp://h:2\"]\n", "a.toml")
            .services().get("e");

        assertEquals(a, b);
        assertEquals(a.hashCode(), b.hashCode());
        assertFalse(a.equals(c));
    }

    @Test
    void shouldDescribeItselfForLogs()
    {
        final String text = ConfigLoader.builtInDefault().toString();

        assertTrue(text.contains("service.echo listen=[tcp://127.0.0.1:7007]"), text);
        assertTrue(text.contains("credit_window=256k"), text);
        assertTrue(text.contains("term_length=4m"), text);
    }
}
