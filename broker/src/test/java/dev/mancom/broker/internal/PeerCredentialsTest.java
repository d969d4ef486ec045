package dev.mancom.broker.internal;

import com.sun.security.auth.module.UnixSystem;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What the kernel reports of the peer of a Unix socket: here this very process, whose credentials the JDK knows.
 */
class PeerCredentialsTest
{
    @TempDir
    Path tempDir;

    @Test
    void shouldReportThisProcessUidGidAndSupplementaryGroups() throws Exception
    {
        final UnixDomainSocketAddress address = UnixDomainSocketAddress.of(tempDir.resolve("s.sock"));
        try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX))
        {
            server.bind(address);
            try (SocketChannel client = SocketChannel.open(address); SocketChannel accepted = server.accept())
            {
                final PeerCredentials peer = PeerCredentials.of(accepted);
                final UnixSystem self = new UnixSystem();
                assertEquals(ProcessHandle.current().pid(), peer.pid());
                assertEquals(self.getUid(), peer.uid());
                assertEquals(self.getGid(), peer.gid());
                assertTrue(peer.inGroup((int)self.getGid()));

                final long[] expected = self.getGroups();
                final long[] actual = Arrays.stream(peer.groups()).asLongStream().toArray();
                Arrays.sort(expected);
                Arrays.sort(actual);
                // The JDK adds the primary group to its list; the kernel lists it only if it is supplementary.
                assertArrayEquals(
                    Arrays.stream(expected).filter((g) -> g != self.getGid() || contains(actual, g)).toArray(),
                    actual);
                for (final long group : actual)
                {
                    assertTrue(peer.inGroup((int)group));
                }
            }
        }
    }

    private static boolean contains(final long[] values, final long value)
    {
        return Arrays.stream(values).anyMatch((v) -> v == value);
    }
}
