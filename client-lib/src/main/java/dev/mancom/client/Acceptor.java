package dev.mancom.client;

import dev.mancom.protocol.ManComException;
import dev.mancom.protocol.codecs.ErrorCode;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.concurrent.atomic.AtomicReference;

/**
 * This application's registration to accept the connections of a service. With an {@link AcceptHandler} the
 * connections go to it; without one they wait for {@link #accept(Duration)}. Closing it unregisters.
 */
public final class Acceptor implements AutoCloseable
{
    private final ManCom client;
    private final String service;
    private final AcceptHandler handler;
    private final ArrayDeque<Connection> waiting = new ArrayDeque<>();
    private volatile long id;
    private volatile boolean closed;
    private final AtomicReference<PollKey> pollKey = new AtomicReference<>();

    Acceptor(final ManCom client, final String service, final AcceptHandler handler)
    {
        this.client = client;
        this.service = service;
        this.handler = handler;
    }

    void id(final long id)
    {
        this.id = id;
    }

    /**
     * The acceptor's id in the broker.
     *
     * @return the id.
     */
    public long id()
    {
        return id;
    }

    /**
     * The service's name.
     *
     * @return the name.
     */
    public String service()
    {
        return service;
    }

    /**
     * Wait up to the time-out for the next connection.
     *
     * @param timeout how long to wait.
     * @return the connection, or null when the time-out passed.
     * @throws IllegalStateException when the acceptor has a handler.
     * @throws ManComException with {@code NOT_CONNECTED} when the acceptor or the client is closed. While the broker
     * is gone and the client waits for it to come back, the acceptor stays registered with the client (it is
     * registered again with the next broker): this call waits on, and returns null after its time-out.
     */
    public Connection accept(final Duration timeout)
    {
        if (null != handler)
        {
            throw new IllegalStateException("acceptor of '" + service + "' has a handler: connections go there");
        }
        final long deadlineNs = System.nanoTime() + timeout.toNanos();
        while (true)
        {
            synchronized (this)
            {
                final Connection connection = waiting.poll();
                if (null != connection)
                {
                    return connection;
                }
            }
            if (closed || client.isClosed())
            {
                throw new ManComException(ErrorCode.NOT_CONNECTED, "acceptor of '" + service + "' is closed");
            }
            if (!client.await(this::hasWaiting, deadlineNs))
            {
                return null;
            }
        }
    }

    private synchronized boolean hasWaiting()
    {
        return !waiting.isEmpty() || closed;
    }

    /**
     * Polling thread: a connection was accepted.
     */
    void onAccept(final Connection connection)
    {
        if (null != handler)
        {
            handler.onAccept(connection);
        }
        else
        {
            synchronized (this)
            {
                waiting.add(connection);
            }
            signalPoller();
        }
    }

    void markClosed()
    {
        closed = true;
        signalPoller();
    }

    boolean hasHandler()
    {
        return null != handler;
    }

    synchronized boolean hasWaitingConnection()
    {
        return !waiting.isEmpty();
    }

    boolean isClosed()
    {
        return closed;
    }

    boolean pollKey(final PollKey expected, final PollKey key)
    {
        return pollKey.compareAndSet(expected, key);
    }

    void pollKey(final PollKey key)
    {
        pollKey.set(key);
    }

    private void signalPoller()
    {
        final PollKey key = pollKey.get();
        if (null != key)
        {
            key.poller().markReady(key);
        }
    }

    /**
     * Unregister: no more connections come to this acceptor. Connections already accepted go on. Idempotent.
     */
    public void close()
    {
        if (closed)
        {
            return;
        }
        closed = true;
        signalPoller();
        client.unregister(this);
    }

    /**
     * {@inheritDoc}
     */
    public String toString()
    {
        return "Acceptor{id=" + id + ", service='" + service + "'}";
    }
}
