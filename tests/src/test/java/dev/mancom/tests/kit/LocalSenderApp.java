package dev.mancom.tests.kit;

import dev.mancom.client.Connection;
import dev.mancom.client.ManCom;

import java.nio.file.Paths;
import java.time.Duration;
import java.util.Random;

/**
 * A test application that opens an app-to-app connection to a service, writes a number of seeded random bytes
 * with the blocking API, prints {@code sent N} and then keeps its connection open, polling, until it is killed.
 * <p>
 * Arguments: broker directory, service, byte count, seed.
 */
public final class LocalSenderApp
{
    private LocalSenderApp()
    {
    }

    /**
     * Entry point.
     *
     * @param args directory, service, byte count, seed.
     */
    public static void main(final String[] args)
    {
        final int count = Integer.parseInt(args[2]);
        final byte[] bytes = new byte[count];
        new Random(Long.parseLong(args[3])).nextBytes(bytes);
        final BrokerLostLatch brokerLost = new BrokerLostLatch();
        final ManCom.Context ctx = new ManCom.Context()
            .dir(Paths.get(args[0]))
            .clientName("local sender")
            .dispatchThread(true)
            .brokerListener(brokerLost)
            .timeout(Duration.ofSeconds(60));
        try (ManCom mancom = ManCom.connect(ctx))
        {
            final Connection connection = mancom.connect(args[1]);
            System.out.println("connected " + connection.id() + " app-to-app " + connection.isAppToApp());
            connection.write(bytes, 0, bytes.length, Duration.ofSeconds(60));
            System.out.println("sent " + count);
            // Then it waits, its connection open, to be killed by the test (or until the broker goes).
            brokerLost.await(Duration.ofMinutes(5));
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
        }
    }
}
