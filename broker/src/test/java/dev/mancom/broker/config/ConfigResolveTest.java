package dev.mancom.broker.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ConfigResolveTest
{
    @TempDir
    Path etcDir;

    @TempDir
    Path otherDir;

    private static Path write(final Path file, final String toml) throws IOException
    {
        Files.createDirectories(file.getParent());
        Files.writeString(file, toml, StandardCharsets.UTF_8);
        return file;
    }

    private static String service(final String name, final int port)
    {
        return "[service." + name + "]\nlisten = [\"tcp://127.0.0.1:" + port + "\"]\n";
    }

    @Test
    void shouldUseTheFileNamedByTheEnvironmentFirst() throws IOException
    {
        write(etcDir.resolve("mancom.toml"), service("system", 1));
        write(etcDir.resolve("conf.d/10-extra.toml"), service("extra", 2));
        final Path mine = write(otherDir.resolve("mine.toml"), service("mine", 3));

        final BrokerConfig config = ConfigLoader.resolve(Map.of("MANCOM_CONFIG", mine.toString()), etcDir);

        assertEquals(mine.toString(), config.source());
        assertEquals(List.of(mine.toString()), config.sources());
        assertEquals(List.of("mine"), List.copyOf(config.services().keySet()));
    }

    @Test
    void shouldRejectAnEnvironmentFileThatDoesNotExist() throws IOException
    {
        write(etcDir.resolve("mancom.toml"), service("system", 1));
        final Path missing = otherDir.resolve("nope.toml");

        final ConfigException ex = assertThrows(
            ConfigException.class, () -> ConfigLoader.resolve(Map.of("MANCOM_CONFIG", missing.toString()), etcDir));

        assertEquals(missing + ": no such file (named by MANCOM_CONFIG)", ex.getMessage());
        assertEquals(missing.toString(), ex.file());
        assertEquals(0, ex.line());
    }

    @Test
    void shouldIgnoreAnEmptyEnvironmentVariable() throws IOException
    {
        write(etcDir.resolve("mancom.toml"), service("system", 1));

        final BrokerConfig config = ConfigLoader.resolve(Map.of("MANCOM_CONFIG", ""), etcDir);

        assertEquals(etcDir.resolve("mancom.toml").toString(), config.source());
    }

    @Test
    void shouldUseTheSystemFileWithDropInsInNameOrder() throws IOException
    {
        final Path main = write(etcDir.resolve("mancom.toml"), "[broker]\nio_threads = 3\n" + service("system", 1));
        final Path b = write(etcDir.resolve("conf.d/20-b.toml"), service("b", 3));
        final Path a = write(etcDir.resolve("conf.d/10-a.toml"), service("a", 2));
        write(etcDir.resolve("conf.d/30-c.toml.disabled"), service("c", 4));
        write(etcDir.resolve("conf.d/README"), "not toml");
        Files.createDirectories(etcDir.resolve("conf.d/40-dir.toml"));

        final BrokerConfig config = ConfigLoader.resolve(Map.of(), etcDir);

        assertEquals(main.toString(), config.source());
        assertEquals(List.of(main.toString(), a.toString(), b.toString()), config.sources());
        assertEquals(3, config.ioThreads());
        assertEquals(List.of("system", "a", "b"), List.copyOf(config.services().keySet()));
    }

    @Test
    void shouldUseTheSystemFileWithoutADropInDirectory() throws IOException
    {
        final Path main = write(etcDir.resolve("mancom.toml"), service("system", 1));

        final BrokerConfig config = ConfigLoader.resolve(Map.of("OTHER", "x"), etcDir);

        assertEquals(List.of(main.toString()), config.sources());
        assertEquals(List.of("system"), List.copyOf(config.services().keySet()));
    }

    @Test
    void shouldUseTheBuiltInDefaultWithoutAnyFile()
    {
        final BrokerConfig config = ConfigLoader.resolve(Map.of(), etcDir.resolve("does-not-exist"));

        assertEquals("built-in default", config.source());
        assertEquals(List.of("tcp://127.0.0.1:7007"), config.services().get("echo").listen());
        assertEquals(List.of(), config.warnings());
    }

    @Test
    void shouldWarnThatDropInsWithoutTheMainFileAreIgnored() throws IOException
    {
        write(etcDir.resolve("conf.d/10-a.toml"), service("a", 2));

        final BrokerConfig config = ConfigLoader.resolve(Map.of(), etcDir);

        assertEquals("built-in default", config.source());
        assertEquals(List.of("echo"), List.copyOf(config.services().keySet()));
        assertEquals(1, config.warnings().size());
        assertTrue(config.warnings().get(0).contains("drop-in files ignored"), config.warnings().get(0));
    }

    @Test
    void shouldReportErrorsInTheSystemFile() throws IOException
    {
        final Path main = write(etcDir.resolve("mancom.toml"), "[broker]\nidle = \"lazy\"\n");

        final ConfigException ex = assertThrows(ConfigException.class, () -> ConfigLoader.resolve(Map.of(), etcDir));

        assertEquals(main + ":2: broker.idle: must be \"polite\" or \"spin\", not \"lazy\"", ex.getMessage());
    }

    @Test
    void shouldListDropInFilesInNameOrder() throws IOException
    {
        final Path dir = etcDir.resolve("conf.d");
        final Path z = write(dir.resolve("z.toml"), "");
        final Path a = write(dir.resolve("a.toml"), "");
        final Path m = write(dir.resolve("m.toml"), "");

        assertEquals(List.of(a, m, z), ConfigLoader.dropInFiles(dir));
        assertEquals(List.of(), ConfigLoader.dropInFiles(etcDir.resolve("missing")));
    }
}
