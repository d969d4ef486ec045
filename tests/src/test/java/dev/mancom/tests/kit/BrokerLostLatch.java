package dev.mancom.tests.kit;

import dev.mancom.client.BrokerListener;

import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * For test applications that, their work done, wait to be killed: the wait ends when the broker goes, or after a
 * deadline, so that an application a test forgot does not outlive it for long.
 */
public final class BrokerLostLatch implements BrokerListener
{
    private final CountDownLatch lost = new CountDownLatch(1);

    /**
     * {@inheritDoc}
     */
    public void onBrokerLost(final String reason)
    {
        lost.countDown();
    }

    /**
     * {@inheritDoc}
     */
    public void onBrokerReconnected(final long reconnections)
    {
    }

    /**
     * Wait until the broker is lost, at most the deadline.
     *
     * @param deadline how long at most.
     * @return true when the broker was lost, false when the deadline passed.
     * @throws InterruptedException when interrupted.
     */
    public boolean await(final Duration deadline) throws InterruptedException
    {
        return lost.await(deadline.toMillis(), TimeUnit.MILLISECONDS);
    }
}
