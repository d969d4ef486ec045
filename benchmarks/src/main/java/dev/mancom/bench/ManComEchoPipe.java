package dev.mancom.bench;

import dev.mancom.client.Connection;
import dev.mancom.client.ManCom;
import dev.mancom.protocol.ManComException;
import org.agrona.CloseHelper;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.BackoffIdleStrategy;
import org.agrona.concurrent.BusySpinIdleStrategy;
import org.agrona.concurrent.IdleStrategy;

import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * A ManCom client of this JVM, attached to a broker for one measurement, with one connection opened by
 * {@link ManCom#connect(String)} to the echo application (app-to-app: no socket on the data path). No dispatch
 * thread: the load's thread calls {@link ManCom#poll()}; bytes come back through the connection's data handler.
 * <p>
 * Default profile: the polling thread idles with {@link ManCom#idle(int)} (the library's doorbell strategy), a
 * thread back-pressured on {@link Connection#offer} with the back-off the library uses for its own blocking calls.
 * Low-latency profile: the system property {@value #IDLE_PROP_NAME}{@code =spin} is set while the client is
 * created (so that the library spins once it reads it) and both threads busy-spin in the benchmark's own loops.
 */
final class ManComEchoPipe implements EchoPipe
{
    /** The system property that chooses the client library's idle profile. */
    static final String IDLE_PROP_NAME = "mancom.idle";

    /** Its value for the low-latency profile. */
    static final String IDLE_SPIN = "spin";

    private static final Object PROPERTY_LOCK = new Object();

    private final String name;
    private final ManCom mancom;
    private final Connection connection;
    private final boolean lowLatency;
    private final IdleStrategy spinIdle = new BusySpinIdleStrategy();
    private Receiver receiver = (buffer, offset, length) ->
    {
    };

    private ManComEchoPipe(
        final String name, final ManCom mancom, final Connection connection, final boolean lowLatency)
    {
        this.name = name;
        this.mancom = mancom;
        this.connection = connection;
        this.lowLatency = lowLatency;
        connection.dataHandler((c, buffer, offset, length) ->
        {
            receiver.onBytes(buffer, offset, length);
            return length;
        });
    }

    /**
     * Attach to the broker and open a connection to the echo.
     *
     * @param name       the target's name, for messages.
     * @param brokerDir  the broker's directory.
     * @param target     what to connect to: the service's name (app-to-app), or a URI.
     * @param lowLatency true for the low-latency profile.
     * @param timeout    the client's time-out for its commands.
     * @return the pipe.
     * @throws BenchmarkException starting with {@code connect failed: } when the broker refuses.
     */
    static ManComEchoPipe open(
        final String name, final Path brokerDir, final String target, final boolean lowLatency, final Duration timeout)
    {
        ManCom mancom = null;
        try
        {
            final ManCom.Context ctx = new ManCom.Context()
                .dir(brokerDir)
                .clientName("local-echo benchmark")
                .timeout(timeout)
                .errorHandler((ex) -> System.err.println("local-echo: " + name + ": " + ex));
            mancom = lowLatency ? connectSpinning(ctx) : ManCom.connect(ctx);
            final Connection connection = mancom.connect(target);
            return new ManComEchoPipe(name, mancom, connection, lowLatency);
        }
        catch (final ManComException ex)
        {
            CloseHelper.quietClose(mancom);
            throw new BenchmarkException("connect failed: " + ex.code() + ": " + ex.getMessage(), ex);
        }
        catch (final RuntimeException ex)
        {
            CloseHelper.quietClose(mancom);
            throw ex;
        }
    }

    private static ManCom connectSpinning(final ManCom.Context ctx)
    {
        synchronized (PROPERTY_LOCK)
        {
            final String previous = System.getProperty(IDLE_PROP_NAME);
            System.setProperty(IDLE_PROP_NAME, IDLE_SPIN);
            try
            {
                return ManCom.connect(ctx);
            }
            finally
            {
                if (null == previous)
                {
                    System.clearProperty(IDLE_PROP_NAME);
                }
                else
                {
                    System.setProperty(IDLE_PROP_NAME, previous);
                }
            }
        }
    }

    /**
     * {@inheritDoc}
     */
    public String name()
    {
        return name;
    }

    /**
     * {@inheritDoc}
     */
    public int offer(final DirectBuffer buffer, final int offset, final int length)
    {
        final int result = connection.offer(buffer, offset, length);
        if (result > 0)
        {
            return result;
        }
        if (Connection.BACK_PRESSURED == result)
        {
            return 0;
        }
        throw new BenchmarkException("the ManCom connection to " + name + " is " +
            (Connection.NOT_CONNECTED == result ? "gone with the broker" : "closed") +
            (null == connection.closeReason() ? "" : " (" + connection.closeReason() + " " +
            connection.closeDetail() + ")"));
    }

    /**
     * {@inheritDoc}
     */
    public int poll(final Receiver receiver)
    {
        this.receiver = receiver;
        return mancom.poll();
    }

    /**
     * {@inheritDoc}
     */
    public void idle(final int workCount)
    {
        if (lowLatency)
        {
            spinIdle.idle(workCount);
        }
        else
        {
            mancom.idle(workCount);
        }
    }

    /**
     * {@inheritDoc}
     */
    public IdleStrategy newOfferIdleStrategy()
    {
        return lowLatency ? new BusySpinIdleStrategy() : new BackoffIdleStrategy(
            100, 100, TimeUnit.MICROSECONDS.toNanos(1), TimeUnit.MILLISECONDS.toNanos(1));
    }

    /**
     * {@inheritDoc}
     */
    public void close()
    {
        CloseHelper.quietClose(connection);
        CloseHelper.quietClose(mancom);
    }
}
