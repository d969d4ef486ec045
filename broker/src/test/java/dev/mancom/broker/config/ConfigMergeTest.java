package dev.mancom.broker.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ConfigMergeTest
{
    @TempDir
    Path tempDir;

    private Path write(final String name, final String toml) throws IOException
    {
        final Path file = tempDir.resolve(name);
        Files.createDirectories(file.getParent());
        Files.writeString(file, toml, StandardCharsets.UTF_8);
        return file;
    }

    @Test
    void shouldAddTheServicesOfDropInFilesInOrder() throws IOException
    {
        final Path main = write(
            "mancom.toml",
            "[broker]\nio_threads = 2\n\n[service.echo]\nlisten = [\"tcp://127.0.0.1:7000\"]\n");
        final Path first = write("conf.d/10-web.toml", "[service.web]\nlisten = [\"tcp://0.0.0.0:8080\"]\n");
        final Path second = write(
            "conf.d/20-up.toml",
            "[service.up]\nconnect = \"tcp://10.0.0.2:9000\"\n[service.log]\nlisten = [\"unix:///run/log.sock\"]\n");

        final BrokerConfig config = ConfigLoader.loadMerged(main, List.of(first, second));

        assertEquals(main.toString(), config.source());
        assertEquals(List.of(main.toString(), first.toString(), second.toString()), config.sources());
        assertEquals(2, config.ioThreads());
        assertEquals(List.of("echo", "web", "up", "log"), List.copyOf(config.services().keySet()));
        assertEquals(main.toString(), config.services().get("echo").source());
        assertEquals(first.toString(), config.services().get("web").source());
        assertEquals(second.toString(), config.services().get("log").source());
        assertEquals(3, config.services().get("log").line());
        assertEquals("tcp://10.0.0.2:9000", config.services().get("up").connect());
    }

    @Test
    void shouldLoadTheMainFileAloneWithNoDropIns() throws IOException
    {
        final Path main = write("mancom.toml", "[service.echo]\nlisten = [\"tcp://127.0.0.1:7000\"]\n");

        final BrokerConfig config = ConfigLoader.loadMerged(main, List.of());

        assertEquals(List.of("echo"), List.copyOf(config.services().keySet()));
        assertEquals(List.of(main.toString()), config.sources());
    }

    @Test
    void shouldRejectAServiceDefinedTwiceNamingBothFiles() throws IOException
    {
        final Path main = write("mancom.toml", "# main\n[service.echo]\nlisten = [\"tcp://127.0.0.1:7000\"]\n");
        final Path dropIn = write("conf.d/50-echo.toml", "\n\n\n[service.echo]\nlisten = [\"tcp://127.0.0.1:7001\"]\n");

        final ConfigException ex = assertThrows(
            ConfigException.class, () -> ConfigLoader.loadMerged(main, List.of(dropIn)));

        assertEquals(
            dropIn + ":4: service.echo: is already defined at " + main + ":2; a service may be defined only once",
            ex.getMessage());
        assertEquals(dropIn.toString(), ex.file());
        assertEquals(4, ex.line());
        assertEquals("service.echo", ex.key());
    }

    @Test
    void shouldRejectAServiceDefinedInTwoDropInFiles() throws IOException
    {
        final Path main = write("mancom.toml", "[broker]\nio_threads = 1\n");
        final Path first = write("conf.d/a.toml", "[service.web]\nlisten = [\"tcp://0.0.0.0:80\"]\n");
        final Path second = write("conf.d/b.toml", "[service.web]\nlisten = [\"tcp://0.0.0.0:81\"]\n");

        final ConfigException ex = assertThrows(
            ConfigException.class, () -> ConfigLoader.loadMerged(main, List.of(first, second)));

        assertTrue(ex.getMessage().startsWith(second + ":1: service.web: is already defined at " + first + ":1"),
            ex.getMessage());
    }

    @Test
    void shouldRejectBrokerKeysInADropInFileNamingFileLineAndKey() throws IOException
    {
        final Path main = write("mancom.toml", "[broker]\nio_threads = 1\n");
        final Path dropIn = write(
            "conf.d/10-tune.toml",
            "[service.web]\nlisten = [\"tcp://0.0.0.0:80\"]\n[broker]\nio_threads = 8\nidle = \"spin\"\n");

        final ConfigException ex = assertThrows(
            ConfigException.class, () -> ConfigLoader.loadMerged(main, List.of(dropIn)));

        assertEquals(
            dropIn + ":4: broker.io_threads: [broker] settings are allowed only in the main file " + main +
            ", not in a drop-in file",
            ex.getMessage());
        assertEquals(4, ex.line());
        assertEquals("broker.io_threads", ex.key());
        assertEquals(2, ex.errors().size());
        assertTrue(ex.errors().get(1).startsWith(dropIn + ":5: broker.idle: "), ex.errors().get(1));
    }

    @Test
    void shouldNameTheDropInFileInItsOwnErrors() throws IOException
    {
        final Path main = write("mancom.toml", "[broker]\nio_threads = 1\n");
        final Path dropIn = write("conf.d/10-web.toml", "[service.web]\nlisten = [\"tcp://0.0.0.0:80\"]\nrecord = 1\n");

        final ConfigException ex = assertThrows(
            ConfigException.class, () -> ConfigLoader.loadMerged(main, List.of(dropIn)));

        assertEquals(dropIn + ":3: service.web.record: must be true or false, not an integer", ex.getMessage());
    }

    @Test
    void shouldCollectTheWarningsOfEveryFile() throws IOException
    {
        final Path main = write("mancom.toml", "[broker]\nio_thread = 1\n");
        final Path dropIn = write("conf.d/10-web.toml", "[service.web]\nlisten = [\"tcp://0.0.0.0:80\"]\nrecrod = true\n");

        final BrokerConfig config = ConfigLoader.loadMerged(main, List.of(dropIn));

        assertEquals(
            List.of(
                main + ":2: unknown key 'broker.io_thread' (ignored)",
                dropIn + ":3: unknown key 'service.web.recrod' (ignored)"),
            config.warnings());
    }

    @Test
    void shouldNameAnUnreadableDropInFile() throws IOException
    {
        final Path main = write("mancom.toml", "[broker]\nio_threads = 1\n");
        final Path missing = tempDir.resolve("conf.d/missing.toml");

        final ConfigException ex = assertThrows(
            ConfigException.class, () -> ConfigLoader.loadMerged(main, List.of(missing)));

        assertEquals(missing + ": cannot read file: no such file or directory", ex.getMessage());
    }
}
