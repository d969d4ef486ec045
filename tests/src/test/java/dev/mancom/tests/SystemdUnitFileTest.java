package dev.mancom.tests;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The shipped unit, {@code dist/mancom.service}, has what the broker's systemd support needs, and
 * {@code systemd-analyze verify} (where installed) finds nothing wrong in it but the absent {@code /usr/bin/mancom}.
 */
class SystemdUnitFileTest
{
    private static final Path UNIT = Path.of("..", "dist", "mancom.service");

    @Test
    void shouldBeANotifyServiceWithAWatchdogAndAReload() throws Exception
    {
        final List<String> lines = Files.readAllLines(UNIT, StandardCharsets.UTF_8);
        for (final String expected : List.of(
            "Type=notify",
            "NotifyAccess=main",
            "ExecStart=/usr/bin/mancom broker",
            "ExecReload=/bin/kill -HUP $MAINPID",
            "WatchdogSec=30s",
            "Restart=on-failure",
            "WantedBy=multi-user.target"))
        {
            assertTrue(lines.contains(expected), "missing line " + expected + " in " + UNIT);
        }
        assertTrue(lines.stream().noneMatch((line) -> line.startsWith("MemoryDenyWriteExecute=yes")),
            "the JVM's JIT needs writable code pages");
        assertTrue(lines.stream().noneMatch((line) -> line.startsWith("PrivateDevices=yes")),
            "serial ports and USB devices must stay visible");
    }

    @Test
    void shouldPassSystemdAnalyzeVerifyWhereInstalled() throws Exception
    {
        final Path analyze = Path.of("/usr/bin/systemd-analyze");
        if (!Files.isExecutable(analyze))
        {
            return;
        }
        final Process process = new ProcessBuilder(analyze.toString(), "verify", UNIT.toAbsolutePath().toString())
            .redirectErrorStream(true)
            .start();
        final String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        process.waitFor();
        for (final String line : output.split("\n"))
        {
            assertTrue(line.isBlank() || line.contains("/usr/bin/mancom") || line.contains("Failed to"),
                "systemd-analyze verify: " + output);
        }
    }
}
