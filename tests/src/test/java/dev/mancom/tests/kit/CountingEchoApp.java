package dev.mancom.tests.kit;

import dev.mancom.client.ManCom;

import java.nio.file.Paths;
import java.time.Duration;

/**
 * An application for tests, run in its own JVM: echoes every byte of every connection of a service back, as
 * {@code mancom echo} does, and tells which connections it got: it prints {@code registered} once its acceptor is
 * registered, then {@code accepted PORT} for each connection it accepts and {@code closed PORT} when that connection
 * is closed, where PORT is the remote peer's port. It runs no thread of its own (it polls on its main thread) and
 * stops when the broker goes or the process is terminated. It waits up to 60 s for the broker's answers (instead
 * of 10 s), as tests start many of these at once on few cores.
 * <p>
 * Arguments: broker directory, service.
 */
public final class CountingEchoApp
{
    private CountingEchoApp()
    {
    }

    /**
     * Run.
     *
     * @param args directory, service.
     */
    public static void main(final String[] args)
    {
        final ManCom.Context ctx = new ManCom.Context()
            .dir(Paths.get(args[0]))
            .clientName("counting echo")
            .timeout(Duration.ofSeconds(60));
        try (ManCom mancom = ManCom.connect(ctx))
        {
            mancom.registerAcceptor(args[1], (connection) ->
            {
                final int port = connection.remoteEndpoint().port();
                System.out.println("accepted " + port);
                connection
                    .dataHandler((c, buffer, offset, length) -> Math.max(0, c.offer(buffer, offset, length)))
                    .closeHandler((c, reason, detail) -> System.out.println("closed " + port));
            });
            System.out.println("registered");
            while (mancom.isConnected())
            {
                mancom.idle(mancom.poll());
            }
        }
    }
}
