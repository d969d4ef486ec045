package dev.mancom.tools;

import dev.mancom.client.BrokerListener;
import dev.mancom.client.ManCom;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * {@code mancom echo SERVICE}: register SERVICE and echo every connection. Outlives its broker: when the broker stops
 * or dies it says so and waits; when a broker is back in the same directory it is registered again and echoes on.
 */
@Command(
    name = "echo",
    mixinStandardHelpOptions = true,
    description = {"Register SERVICE with the broker and echo every byte of every connection back.",
        "When the broker stops or dies, waits for one to be ready in the same directory again and serves on."})
final class EchoCommand implements Callable<Integer>
{
    @Parameters(index = "0", paramLabel = "SERVICE", description = "the service to accept")
    private String service;

    @Mixin
    private DirOption dirOption;

    public Integer call()
    {
        final AtomicBoolean running = new AtomicBoolean(true);
        final CountDownLatch closed = new CountDownLatch(1);
        final BrokerListener listener = new BrokerListener()
        {
            public void onBrokerLost(final String reason)
            {
                System.out.println("broker lost: " + reason);
                System.out.flush();
            }

            public void onBrokerReconnected(final long reconnections)
            {
                System.out.println("broker back: echoing service '" + service + "' again (reconnection " +
                    reconnections + ")");
                System.out.flush();
            }
        };
        try (ManCom mancom = ManCom.connect(new ManCom.Context()
            .dir(dirOption.dir())
            .clientName("echo " + service)
            .brokerListener(listener)))
        {
            // On SIGINT/SIGTERM: stop the loop and wait until the client has detached (not for the main thread,
            // which then blocks in System.exit while the shutdown is in progress).
            Runtime.getRuntime().addShutdownHook(new Thread(() ->
            {
                running.set(false);
                try
                {
                    closed.await(5, TimeUnit.SECONDS);
                }
                catch (final InterruptedException ignore)
                {
                    Thread.currentThread().interrupt();
                }
            }, "mancom-echo-shutdown"));
            mancom.registerAcceptor(service, (connection) -> connection.dataHandler(
                (c, buffer, offset, length) -> Math.max(0, c.offer(buffer, offset, length))));
            System.out.println("echoing service '" + service + "' (client " + mancom.clientId() + ")");
            System.out.flush();
            while (running.get() && !mancom.isClosed())
            {
                mancom.idle(mancom.poll());
            }
            return running.get() ? 3 : 0;
        }
        finally
        {
            closed.countDown();
        }
    }
}
