package dev.mancom.tools;

import dev.mancom.protocol.BrokerDirectory;
import picocli.CommandLine.Option;

import java.nio.file.Path;

/**
 * The {@code --dir} option every command that talks to a broker takes.
 */
final class DirOption
{
    @Option(
        names = "--dir",
        paramLabel = "DIR",
        description = "broker directory (default: $MANCOM_DIR, else /dev/shm/mancom for root, " +
            "/dev/shm/mancom-$USER for others)")
    private Path dir;

    Path dir()
    {
        return null == dir ? BrokerDirectory.defaultDirectory().toAbsolutePath() : dir.toAbsolutePath();
    }

    Path explicitDir()
    {
        return dir;
    }
}
