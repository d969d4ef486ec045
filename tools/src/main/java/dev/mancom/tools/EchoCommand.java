package dev.mancom.tools;

import dev.mancom.client.ManCom;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

import java.util.concurrent.Callable;
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
        final Thread main = Thread.currentThread();
        try (ManCom mancom = ManCom.connect(new ManCom.Context().dir(dirOption.dir()).clientName("echo " + service)))
        {
            Runtime.getRuntime().addShutdownHook(new Thread(() ->
            {
                running.set(false);
                try
                {
                    main.join(5_000);
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
    }
}
