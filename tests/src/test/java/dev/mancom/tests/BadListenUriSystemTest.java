package dev.mancom.tests;

import dev.mancom.tests.kit.ForkedJvm;
import dev.mancom.tools.Main;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code mancom broker} refuses to start on a listen URI no transport can serve, naming the file, line, service and
 * key of each, with no stack trace. (The in-process cases, each problem on its own, are in
 * {@link ReloadInProcessTest}.)
 */
class BadListenUriSystemTest
{
    @TempDir
    Path tempDir;

    @Test
    void shouldRefuseToStartOnAnUnknownSchemeAndABadPortNamingEach() throws Exception
    {
        final Path config = tempDir.resolve("bad-uris.toml");
        Files.writeString(config, "[service.echo]\nlisten = [\n  \"tcp://127.0.0.1:0\",\n  \"tpc://127.0.0.1:7000\",\n" +
            "]\n\n[service.web]\nlisten = [\"tcp://127.0.0.1:70000\"]\n");
        final ForkedJvm broker = ForkedJvm.start("bad-uris", tempDir.resolve("logs"), Main.class, List.of(),
            List.of("broker", "--config", config.toString(), "--dir", tempDir.resolve("broker").toString()));
        assertTrue(broker.waitFor(Duration.ofSeconds(60)));
        assertNotEquals(0, broker.process().exitValue());
        final String output = String.join("\n", broker.lines());
        assertTrue(output.contains(config + ":4: service.echo.listen: 'tpc://127.0.0.1:7000': no transport serves " +
            "'tpc://' (available: "), output);
        assertTrue(output.matches("(?s).*\\(available: [a-z, ]*\\btcp\\b[a-z, ]*\\).*"), output);
        assertTrue(output.contains(config + ":8: service.web.listen: 'tcp://127.0.0.1:70000': port 70000 is not " +
            "in 0..65535"), output);
        assertFalse(output.contains("\tat "), "a stack trace instead of a message: " + output);
    }
}
