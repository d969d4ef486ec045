package dev.mancom.client;

/**
 * Visits the ready registrations of a {@link Poller}.
 */
@FunctionalInterface
public interface PollHandler
{
    /**
     * A registration is ready for some of its interest set.
     *
     * @param key      the registration: {@link PollKey#connection()} or {@link PollKey#acceptor()}.
     * @param readyOps the ready operations within the interest set: {@link Poller#ACCEPTABLE},
     *                 {@link Poller#READABLE}, {@link Poller#WRITABLE}, {@link Poller#CLOSED}.
     */
    void onReady(PollKey key, int readyOps);
}
