package dev.mancom.examples;

import dev.mancom.client.ManCom;

/**
 * An echo server with the callback API: whatever the transport of the service, every byte goes back.
 */
public final class CallbackEchoServer
{
    /**
     * Serve the service named by the first argument (default "echo") until the process is stopped; a broker restart
     * closes the open connections, and the same acceptor serves the new broker by itself.
     *
     * @param args the service's name.
     */
    public static void main(final String[] args)
    {
        final String service = args.length > 0 ? args[0] : "echo";
        try (ManCom mancom = ManCom.connect(new ManCom.Context()))
        {
            mancom.registerAcceptor(service, (connection) -> connection.dataHandler(
                // Consume what could be sent; the rest is offered again once the peer has read.
                (c, buffer, offset, length) -> Math.max(0, c.offer(buffer, offset, length))));
            while (!mancom.isClosed())
            {
                mancom.idle(mancom.poll());
            }
        }
    }
}
