package dev.mancom.examples;

import dev.mancom.client.Acceptor;
import dev.mancom.client.Connection;
import dev.mancom.client.ManCom;
import dev.mancom.client.Poller;
import org.agrona.concurrent.UnsafeBuffer;

import java.time.Duration;

/**
 * An echo server with the poller: one thread, no thread of the library's, any number of connections.
 * (Bytes an offer cannot send at once are dropped here for brevity; PollerSystemTest keeps them.)
 */
public final class PollerEchoServer
{
    /**
     * Serve the service named by the first argument (default "echo") until the process is stopped; a broker restart
     * closes the open connections, and the same acceptor serves the new broker by itself.
     *
     * @param args the service's name.
     */
    public static void main(final String[] args)
    {
        final byte[] bytes = new byte[64 * 1024];
        final UnsafeBuffer buffer = new UnsafeBuffer(bytes);
        try (ManCom mancom = ManCom.connect(new ManCom.Context()))
        {
            final Acceptor acceptor = mancom.registerAcceptor(args.length > 0 ? args[0] : "echo");
            final Poller poller = mancom.poller();
            poller.register(acceptor, Poller.ACCEPTABLE);
            while (!mancom.isClosed())
            {
                poller.poll(Duration.ofSeconds(1), (key, ready) ->
                {
                    if (null != key.acceptor())
                    {
                        for (Connection c; null != (c = acceptor.accept(Duration.ZERO)); )
                        {
                            poller.register(c, Poller.READABLE);
                        }
                        return;
                    }
                    final int n = key.connection().read(bytes, 0, bytes.length, Duration.ZERO);
                    if (n < 0)
                    {
                        key.cancel();
                    }
                    else if (n > 0)
                    {
                        key.connection().offer(buffer, 0, n);
                    }
                });
            }
        }
    }
}
