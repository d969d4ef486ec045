package dev.mancom.broker;

import dev.mancom.broker.config.ConfigException;
import dev.mancom.broker.config.ConfigLoader;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Where a reload reads the configuration from: the file the broker was started with, and nothing when it runs the
 * built-in default or a configuration given in code.
 */
class ReloadSourceTest
{
    @TempDir
    Path tempDir;

    @Test
    void shouldRereadTheConfigurationFileAsItIsNow() throws Exception
    {
        final Path file = tempDir.resolve("mancom.toml");
        Files.writeString(file, "[service.echo]\nlisten = [\"tcp://127.0.0.1:0\"]\n");
        final Broker.Context ctx = new Broker.Context().configFile(file).brokerDir(tempDir.resolve("b")).conclude();
        Files.writeString(file, "[service.other]\nlisten = [\"tcp://127.0.0.1:0\"]\n");
        assertEquals(java.util.List.of("other"), java.util.List.copyOf(ctx.reread().services().keySet()));
    }

    @Test
    void shouldSayThereIsNothingToRereadWithTheBuiltInDefault()
    {
        assumeTrue(null == System.getenv(ConfigLoader.CONFIG_ENV) &&
            null == System.getProperty(Broker.Context.CONFIG_PROP_NAME) &&
            !Files.exists(ConfigLoader.DEFAULT_ETC_DIR.resolve(ConfigLoader.MAIN_FILE_NAME)),
            "this machine has a system configuration: the built-in default is not used");
        final Broker.Context ctx = new Broker.Context().brokerDir(tempDir.resolve("b")).conclude();
        assertEquals(ConfigLoader.BUILT_IN_SOURCE, ctx.config().source());
        final ConfigException ex = assertThrows(ConfigException.class, ctx::reread);
        assertTrue(ex.getMessage().startsWith("built-in default: the broker runs the built-in default " +
            "configuration"), ex.getMessage());
        assertTrue(ex.getMessage().contains("there is no file to re-read; restart it with --config FILE"),
            ex.getMessage());
    }

    @Test
    void shouldSayThereIsNothingToRereadForAConfigurationGivenInCode()
    {
        final Broker.Context ctx = new Broker.Context()
            .config(ConfigLoader.parse("[service.echo]\nlisten = [\"tcp://127.0.0.1:0\"]\n", "in code"))
            .brokerDir(tempDir.resolve("b"))
            .conclude();
        final ConfigException ex = assertThrows(ConfigException.class, ctx::reread);
        assertEquals("in code: the configuration was given in code, not read from a file: there is nothing to " +
            "re-read", ex.getMessage());
    }
}
