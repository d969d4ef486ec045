package dev.mancom.examples;

import dev.mancom.client.Acceptor;
import dev.mancom.client.Connection;
import dev.mancom.client.ManCom;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;

/**
 * An echo server with the blocking API: one thread per connection, plain streams.
 */
public final class BlockingEchoServer
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
        try (ManCom mancom = ManCom.connect(new ManCom.Context().dispatchThread(true));
            Acceptor acceptor = mancom.registerAcceptor(service))
        {
            while (!mancom.isClosed())
            {
                final Connection connection = acceptor.accept(Duration.ofSeconds(1));
                if (null != connection)
                {
                    new Thread(() -> echo(connection)).start();
                }
            }
        }
    }

    private static void echo(final Connection connection)
    {
        try (connection)
        {
            connection.inputStream().transferTo(connection.outputStream());
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
    }
}
