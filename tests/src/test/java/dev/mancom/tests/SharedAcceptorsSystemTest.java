package dev.mancom.tests;

import dev.mancom.tests.kit.CountingEchoApp;
import dev.mancom.tests.kit.ForkedBroker;
import dev.mancom.tests.kit.ForkedJvm;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Two acceptors sharing connections: two application processes register the same service, and the broker spreads
 * its connections between them, round robin; each connection is served correctly by the one that got it.
 */
class SharedAcceptorsSystemTest
{
    private static final Duration DEADLINE = Duration.ofSeconds(60);
    private static final int CONNECTIONS = 20;

    @TempDir
    Path tempDir;

    @Test
    void shouldSpreadConnectionsRoundRobinOverTwoApplications() throws Exception
    {
        final String config = "[service.shared]\nlisten = [\"tcp://127.0.0.1:0\"]\n";
        try (ForkedBroker broker = ForkedBroker.start(tempDir, config, List.of("-Xmx128m"));
            ForkedJvm first = startCounting(broker, "first");
            ForkedJvm second = startCounting(broker, "second"))
        {
            final InetSocketAddress address = broker.tcpAddress("shared");
            final List<Socket> sockets = new ArrayList<>();
            try
            {
                // All open at once, each served by the application that got it.
                for (int i = 0; i < CONNECTIONS; i++)
                {
                    final Socket socket = new Socket(address.getAddress(), address.getPort());
                    socket.setSoTimeout(30_000);
                    sockets.add(socket);
                    final byte[] bytes = UnownedConnectionsSystemTest.pattern(4096 + i, i);
                    socket.getOutputStream().write(bytes);
                    assertArrayEquals(bytes, socket.getInputStream().readNBytes(bytes.length), "connection " + i);
                }
                await().atMost(DEADLINE).pollInterval(Duration.ofMillis(20)).until(
                    () -> accepted(first).size() + accepted(second).size() == CONNECTIONS);

                final Set<Integer> firstPorts = accepted(first);
                final Set<Integer> secondPorts = accepted(second);
                // Round robin: the connections alternate, so each application got half of them, and none twice.
                assertEquals(CONNECTIONS / 2, firstPorts.size(), "first: " + firstPorts);
                assertEquals(CONNECTIONS / 2, secondPorts.size(), "second: " + secondPorts);
                for (final Socket socket : sockets)
                {
                    final int port = socket.getLocalPort();
                    assertTrue(firstPorts.contains(port) ^ secondPorts.contains(port), "port " + port);
                }
            }
            finally
            {
                for (final Socket socket : sockets)
                {
                    socket.close();
                }
            }
        }
    }

    private ForkedJvm startCounting(final ForkedBroker broker, final String name) throws Exception
    {
        final ForkedJvm app = ForkedJvm.start("counting-" + name, tempDir.resolve("logs"), CountingEchoApp.class,
            List.of("-Xmx96m"), List.of(broker.dir().toString(), "shared"));
        app.awaitLine("registered"::equals, DEADLINE);
        return app;
    }

    private static Set<Integer> accepted(final ForkedJvm app)
    {
        final Set<Integer> ports = new HashSet<>();
        for (final String line : app.lines())
        {
            if (line.startsWith("accepted "))
            {
                ports.add(Integer.parseInt(line.substring("accepted ".length()).trim()));
            }
        }
        return ports;
    }
}
