package dev.mancom.tests.kit;

import dev.mancom.client.ManCom;
import dev.mancom.protocol.Endpoint;

import java.nio.file.Paths;
import java.time.Duration;

/**
 * An application for tests, run in its own JVM: echoes every byte of every connection of a service back, as
 * {@code mancom echo} does, and tells what the broker said of each connection's remote end. It prints
 * {@code registered} once its acceptor is registered, then for each connection it accepts
 * {@code accepted TYPE pid=PID uid=UID gid=GID path=PATH} (the remote endpoint's fields; -1 where unknown). It runs
 * no thread of its own and stops when the broker goes or the process is terminated.
 * <p>
 * Arguments: broker directory, service.
 */
public final class EndpointEchoApp
{
    private EndpointEchoApp()
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
            .clientName("endpoint echo")
            .timeout(Duration.ofSeconds(60));
        try (ManCom mancom = ManCom.connect(ctx))
        {
            mancom.registerAcceptor(args[1], (connection) ->
            {
                final Endpoint remote = connection.remoteEndpoint();
                System.out.println("accepted " + remote.type() + " pid=" + remote.pid() + " uid=" + remote.uid() +
                    " gid=" + remote.gid() + " path=" + remote.path());
                connection.dataHandler((c, buffer, offset, length) -> Math.max(0, c.offer(buffer, offset, length)));
            });
            System.out.println("registered");
            while (mancom.isConnected())
            {
                mancom.idle(mancom.poll());
            }
        }
    }
}
