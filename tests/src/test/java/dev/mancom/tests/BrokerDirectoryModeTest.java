package dev.mancom.tests;

import dev.mancom.broker.Broker;
import dev.mancom.broker.config.ConfigException;
import dev.mancom.broker.config.ConfigLoader;
import dev.mancom.protocol.MarkFileDescriptor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The modes the broker gives its directory without {@code [broker] group}: its user's alone, whatever the umask.
 * (With a group: {@code AccessControlSystemTest}.)
 */
class BrokerDirectoryModeTest
{
    @TempDir
    Path tempDir;

    @Test
    void shouldKeepTheDirectoryToTheBrokersUserByDefault() throws Exception
    {
        final Path dir = tempDir.resolve("b");
        Files.createDirectories(dir);
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        try (Broker ignored = Broker.launch(new Broker.Context()
            .config(ConfigLoader.parse(TcpEchoSystemTest.ECHO_CONFIG, "test")).brokerDir(dir)))
        {
            assertEquals(0700, mode(dir));
            assertEquals(0600, mode(dir.resolve(MarkFileDescriptor.LOCK_FILE_NAME)));
            assertEquals(0600, mode(dir.resolve(MarkFileDescriptor.MARK_FILE_NAME)));
            assertEquals(0600, mode(dir.resolve(Broker.ERROR_LOG_FILE_NAME)));
        }
    }

    @Test
    void shouldRefuseADirectoryEveryUserShares() throws Exception
    {
        final Path shared = tempDir.resolve("shm");
        Files.createDirectories(shared);
        Files.setPosixFilePermissions(shared, PosixFilePermissions.fromString("rwxrwxrwx"));
        final IllegalStateException ex = assertThrows(IllegalStateException.class, () -> Broker.launch(
            new Broker.Context().config(ConfigLoader.parse(TcpEchoSystemTest.ECHO_CONFIG, "test")).brokerDir(shared)));
        assertTrue(ex.getMessage().startsWith("broker directory " + shared + " is shared by every user (mode 0777): " +
            "give the broker a directory of its own, such as " + shared.resolve("mancom")), ex.getMessage());
        assertEquals(0777, mode(shared), "its mode is left alone");
        assertFalse(Files.exists(shared.resolve(MarkFileDescriptor.LOCK_FILE_NAME)));
    }

    @Test
    void shouldRefuseAnUnknownBrokerGroupNamingTheKey()
    {
        final String toml = "[broker]\ngroup = \"no-such-group-mancom\"\n\n" + TcpEchoSystemTest.ECHO_CONFIG;
        final ConfigException ex = assertThrows(ConfigException.class, () -> Broker.launch(new Broker.Context()
            .config(ConfigLoader.parse(toml, "group.toml")).brokerDir(tempDir.resolve("b"))));
        assertEquals("group.toml:2: broker.group: 'no-such-group-mancom' is not a known group of this system " +
            "(nor a numeric gid)", ex.getMessage());
    }

    private static int mode(final Path path) throws Exception
    {
        return (Integer)Files.getAttribute(path, "unix:mode") & 07777;
    }
}
