package dev.mancom.tests.kit;

import dev.mancom.client.Acceptor;
import dev.mancom.client.Connection;
import dev.mancom.client.ManCom;

import java.nio.file.Paths;
import java.time.Duration;

/**
 * An application for tests, run in its own JVM, for services that hold their connections when the owner exits:
 * with the blocking API, it accepts one connection of a service and echoes it back, read by read. It prints
 * {@code registered} once its acceptor is registered, then {@code accepted adopted=true|false} for the connection.
 * With a pause limit it stops reading once it has echoed that many bytes, prints {@code paused N} (N: the bytes
 * echoed) and waits to be killed (at most until its broker goes, or 5 minutes): every byte the peer sent after
 * that is still in the broker or in the transport.
 * Without one, it echoes until the connection closes and prints {@code closed N}.
 * <p>
 * Arguments: broker directory, service, pause limit in bytes (0: none).
 */
public final class HoldingEchoApp
{
    private HoldingEchoApp()
    {
    }

    /**
     * Run.
     *
     * @param args directory, service, pause limit.
     * @throws InterruptedException when interrupted while paused.
     */
    public static void main(final String[] args) throws InterruptedException
    {
        final long pauseAfter = Long.parseLong(args[2]);
        final BrokerLostLatch brokerLost = new BrokerLostLatch();
        final ManCom.Context ctx = new ManCom.Context()
            .dir(Paths.get(args[0]))
            .clientName("holding echo")
            .dispatchThread(true)
            .brokerListener(brokerLost)
            .timeout(Duration.ofSeconds(60));
        try (ManCom mancom = ManCom.connect(ctx); Acceptor acceptor = mancom.registerAcceptor(args[1]))
        {
            System.out.println("registered");
            Connection connection = null;
            while (null == connection)
            {
                connection = acceptor.accept(Duration.ofSeconds(1));
            }
            System.out.println("accepted adopted=" + connection.isAdopted());
            final byte[] buffer = new byte[4096];
            long echoed = 0;
            while (true)
            {
                // Never past the limit: read no more than what is left of it, so that the pause is exact.
                final int wanted = pauseAfter > 0 ? (int)Math.min(buffer.length, pauseAfter - echoed) : buffer.length;
                final int n = connection.read(buffer, 0, wanted, Duration.ofSeconds(60));
                if (n < 0)
                {
                    System.out.println("closed " + echoed);
                    return;
                }
                connection.write(buffer, 0, n, Duration.ofSeconds(60));
                echoed += n;
                if (pauseAfter > 0 && echoed >= pauseAfter)
                {
                    System.out.println("paused " + echoed);
                    // Killed here by the test; a forgotten one ends with its broker, or after the deadline.
                    brokerLost.await(Duration.ofMinutes(5));
                    return;
                }
            }
        }
    }
}
