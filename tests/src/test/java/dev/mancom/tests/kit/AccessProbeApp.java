package dev.mancom.tests.kit;

import dev.mancom.client.Connection;
import dev.mancom.client.ManCom;
import dev.mancom.protocol.ManComException;

import java.nio.file.Paths;
import java.time.Duration;

/**
 * An application for access-control tests, run in its own JVM (as another user): it registers an acceptor for a
 * service and echoes what its connections send, or connects to a service by name. It prints {@code registered}
 * or {@code connected} on success, {@code error CODE: MESSAGE} when the broker refuses, and
 * {@code failed: MESSAGE} when it cannot reach the broker at all.
 * <p>
 * Arguments: broker directory, {@code register} or {@code connect}, service.
 */
public final class AccessProbeApp
{
    private AccessProbeApp()
    {
    }

    /**
     * Run.
     *
     * @param args directory, action, service.
     */
    public static void main(final String[] args)
    {
        final ManCom.Context ctx = new ManCom.Context()
            .dir(Paths.get(args[0]))
            .clientName("access probe")
            .timeout(Duration.ofSeconds(30));
        try (ManCom mancom = ManCom.connect(ctx))
        {
            if ("register".equals(args[1]))
            {
                mancom.registerAcceptor(args[2], (connection) -> connection.dataHandler(
                    (c, buffer, offset, length) -> Math.max(0, c.offer(buffer, offset, length))));
                System.out.println("registered");
                while (mancom.isConnected())
                {
                    mancom.idle(mancom.poll());
                }
            }
            else
            {
                final Connection connection = mancom.connect(args[2]);
                System.out.println("connected " + connection.id());
            }
        }
        catch (final ManComException ex)
        {
            System.out.println("error " + ex.code() + ": " + ex.getMessage());
        }
        catch (final RuntimeException ex)
        {
            System.out.println("failed: " + ex);
        }
    }
}
