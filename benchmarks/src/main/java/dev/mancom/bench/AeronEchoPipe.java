package dev.mancom.bench;

import io.aeron.Aeron;
import io.aeron.Publication;
import io.aeron.Subscription;
import io.aeron.logbuffer.FragmentHandler;
import org.agrona.CloseHelper;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.BackoffIdleStrategy;
import org.agrona.concurrent.BusySpinIdleStrategy;
import org.agrona.concurrent.IdleStrategy;

import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * The raw Aeron IPC echo of a {@link LocalEchoServer}: one publication to the echo thread's subscription and one
 * subscription to its publication, both on {@value LocalEchoServer#CHANNEL}, added for one measurement and closed
 * after it (so that the echo thread only spins while measured). Both sides idle alike: busy spin, or Aeron's
 * default {@link BackoffIdleStrategy}.
 */
final class AeronEchoPipe implements EchoPipe
{
    private static final int FRAGMENT_LIMIT = 16;
    private static final long STALE_QUIET_MS = 10;

    private final String name;
    private final Publication publication;
    private final Subscription subscription;
    private final Supplier<IdleStrategy> idleStrategies;
    private final IdleStrategy pollIdle;
    private final FragmentHandler fragmentHandler;
    private Receiver receiver = (buffer, offset, length) ->
    {
    };

    private AeronEchoPipe(
        final String name,
        final Publication publication,
        final Subscription subscription,
        final Supplier<IdleStrategy> idleStrategies)
    {
        this.name = name;
        this.publication = publication;
        this.subscription = subscription;
        this.idleStrategies = idleStrategies;
        this.pollIdle = idleStrategies.get();
        this.fragmentHandler = (buffer, offset, length, header) -> receiver.onBytes(buffer, offset, length);
    }

    /**
     * Add the streams to one of the echo threads and wait until both are connected.
     *
     * @param name     the target's name, for messages.
     * @param aeron    a client of the echo server's media driver.
     * @param busySpin true for the busy-spinning echo thread (and busy spin here), false for the backing-off one.
     * @param timeout  how long the streams may take to connect.
     * @return the pipe.
     * @throws BenchmarkException when they do not connect in time.
     */
    static AeronEchoPipe open(final String name, final Aeron aeron, final boolean busySpin, final Duration timeout)
    {
        final Supplier<IdleStrategy> idleStrategies = busySpin ? BusySpinIdleStrategy::new : BackoffIdleStrategy::new;
        Publication publication = null;
        Subscription subscription = null;
        try
        {
            publication = aeron.addPublication(LocalEchoServer.CHANNEL,
                busySpin ? LocalEchoServer.SPIN_PING_STREAM_ID : LocalEchoServer.BACKOFF_PING_STREAM_ID);
            subscription = aeron.addSubscription(LocalEchoServer.CHANNEL,
                busySpin ? LocalEchoServer.SPIN_PONG_STREAM_ID : LocalEchoServer.BACKOFF_PONG_STREAM_ID);
            final long deadlineNs = System.nanoTime() + timeout.toNanos();
            while (!publication.isConnected() || !subscription.isConnected())
            {
                if (System.nanoTime() - deadlineNs >= 0)
                {
                    throw new BenchmarkException("the Aeron streams to the echo server did not connect within " +
                        timeout.toSeconds() + " s (publication " + (publication.isConnected() ? "" : "not ") +
                        "connected, subscription " + (subscription.isConnected() ? "" : "not ") + "connected)");
                }
                TimeUnit.MILLISECONDS.sleep(1);
            }
            discardStale(subscription);
            return new AeronEchoPipe(name, publication, subscription, idleStrategies);
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            CloseHelper.quietCloseAll(subscription, publication);
            throw new BenchmarkException("interrupted while connecting to " + name, ex);
        }
        catch (final RuntimeException ex)
        {
            CloseHelper.quietCloseAll(subscription, publication);
            throw ex;
        }
    }

    /**
     * Skip what the echo wrote before this subscription joined. A new subscription to the echo's publication joins
     * at the position its previous subscriber was last known to have read to, which may be behind what that
     * subscriber actually read: the echo of its last messages would come again. Nothing has been sent yet, so
     * whatever comes now is old; it is all in the log already.
     */
    private static void discardStale(final Subscription subscription) throws InterruptedException
    {
        final FragmentHandler discard = (buffer, offset, length, header) ->
        {
        };
        final long quietNs = TimeUnit.MILLISECONDS.toNanos(STALE_QUIET_MS);
        long lastFragmentNs = System.nanoTime();
        while (System.nanoTime() - lastFragmentNs < quietNs)
        {
            if (subscription.poll(discard, Integer.MAX_VALUE) > 0)
            {
                lastFragmentNs = System.nanoTime();
            }
            else
            {
                TimeUnit.MILLISECONDS.sleep(1);
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
        final long result = publication.offer(buffer, offset, length);
        if (result > 0)
        {
            return length;
        }
        if (Publication.BACK_PRESSURED == result || Publication.ADMIN_ACTION == result)
        {
            return 0;
        }
        throw new BenchmarkException("cannot offer to " + name + ": " + Publication.errorString(result));
    }

    /**
     * {@inheritDoc}
     */
    public int poll(final Receiver receiver)
    {
        this.receiver = receiver;
        return subscription.poll(fragmentHandler, FRAGMENT_LIMIT);
    }

    /**
     * {@inheritDoc}
     */
    public void idle(final int workCount)
    {
        pollIdle.idle(workCount);
    }

    /**
     * {@inheritDoc}
     */
    public IdleStrategy newOfferIdleStrategy()
    {
        return idleStrategies.get();
    }

    /**
     * {@inheritDoc}
     */
    public void close()
    {
        CloseHelper.quietCloseAll(subscription, publication);
    }
}
