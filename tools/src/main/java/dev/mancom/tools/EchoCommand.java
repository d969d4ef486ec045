package dev.mancom.tools;

import dev.mancom.client.ManCom;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * {@code mancom echo SERVICE}: register SERVICE and echo every connection.
 */
@Command(
    name = "echo",
    mixinStandardHelpOptions = true,
    description = "Register SERVICE with the broker and echo every byte of every connection back.")
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
        try (ManCom mancom = ManCom.connect(new ManCom.Context().dir(dirOption.dir()).clientName("echo " + service)))
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
            while (running.get() && mancom.isConnected())
            {
                mancom.idle(mancom.poll());
            }
            return mancom.isConnected() || !running.get() ? 0 : 3;
        }
        finally
        {
            closed.countDown();
        }
    }
}
