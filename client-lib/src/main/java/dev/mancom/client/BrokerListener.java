package dev.mancom.client;

/**
 * Told when this application loses its broker and when a broker has taken it back. Set with
 * {@link ManCom.Context#brokerListener(BrokerListener)}.
 * <p>
 * When the broker stops or dies, the application keeps its {@link ManCom} and its {@link Acceptor}s: every open
 * connection closes with {@code BROKER_GONE} (its remote peer was the broker's and is lost with it), commands waiting
 * for an answer fail with {@code NOT_CONNECTED}, and sends return {@link Connection#NOT_CONNECTED} at once. The client
 * watches the broker directory (a back-off from 10 ms to 500 ms) and, when a broker is ready there again, attaches to
 * it and registers the same acceptors again, which go on receiving connections.
 * <p>
 * Threading: called on the polling thread (inside {@link ManCom#poll()}, a {@link Poller}'s poll, a blocking call
 * that polls, or on the dispatch thread), like every other callback; it must not block.
 */
public interface BrokerListener
{
    /**
     * The broker is gone: its control socket closed (a stop or a crash, seen within a second) or its media driver
     * stopped answering.
     *
     * @param reason what happened, naming the broker directory.
     */
    void onBrokerLost(String reason);

    /**
     * A broker in the same directory has taken this client back and every acceptor the application kept is
     * registered with it again (those it refused were closed and reported to the error handler).
     *
     * @param reconnections how many times the client has reconnected so far, this one included.
     */
    void onBrokerReconnected(long reconnections);
}
