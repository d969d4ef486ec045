package dev.mancom.client;

import org.agrona.concurrent.IdleStrategy;

import java.time.Duration;
import java.util.ArrayList;
import java.util.concurrent.locks.LockSupport;

/**
 * The epoll of ManCom: one thread waits on many connections and acceptors of the blocking API at once and serves
 * the ones that are ready, with non-blocking calls ({@link Connection#read(byte[], int, int, Duration)} with a zero
 * time-out, {@link Connection#offer}, {@link Acceptor#accept(Duration)} with a zero time-out).
 * <p>
 * <b>Level-triggered</b>, like {@code epoll} without {@code EPOLLET}: a registration is visited by every
 * {@link #poll} for as long as it is ready for something in its interest set, whether or not it was served the
 * last time. So a handler may read only part of what is there; the rest is visited again. A connection stays
 * {@link #CLOSED} (and {@link #READABLE}, reading -1) once closed: cancel its key when done with it.
 * <ul>
 *     <li>{@link #ACCEPTABLE}: an acceptor has a connection waiting ({@code accept(Duration.ZERO)} returns it).</li>
 *     <li>{@link #READABLE}: a connection has bytes to read, or is closed (read returns -1 once drained).</li>
 *     <li>{@link #WRITABLE}: a connection has send credit (an {@code offer} sends at least one byte).</li>
 *     <li>{@link #CLOSED}: the connection or acceptor is closed.</li>
 * </ul>
 * Threading: one thread polls a poller. Without a dispatch thread, {@link #poll} also drives the client (it calls
 * {@link ManCom#poll()}) and waits on the client's doorbell, so no thread of the library runs; with one, the
 * dispatch thread marks registrations ready and wakes the polling thread. Readiness costs nothing per idle
 * registration: only registrations that an event touched are looked at, so one thread can hold thousands.
 * Connections with a data handler and acceptors with an accept handler cannot be registered: their events go to
 * their handlers.
 */
public final class Poller
{
    /** Interest and ready bit: an acceptor has a connection waiting. */
    public static final int ACCEPTABLE = 1;
    /** Interest and ready bit: a connection has bytes to read, or its end. */
    public static final int READABLE = 2;
    /** Interest and ready bit: a connection may send. */
    public static final int WRITABLE = 4;
    /** Interest and ready bit: closed. */
    public static final int CLOSED = 8;

    private final ManCom client;
    private final IdleStrategy idle;
    private final Object lock = new Object();
    private ArrayList<PollKey> ready = new ArrayList<>();
    private ArrayList<PollKey> visiting = new ArrayList<>();
    private volatile Thread waiter;

    Poller(final ManCom client, final IdleStrategy idle)
    {
        this.client = client;
        this.idle = idle;
    }

    static void validateOps(final int ops, final boolean acceptor)
    {
        final int allowed = acceptor ? ACCEPTABLE | CLOSED : READABLE | WRITABLE | CLOSED;
        if ((ops & ~allowed) != 0)
        {
            throw new IllegalArgumentException("interest " + ops + " has bits an " +
                (acceptor ? "acceptor" : "connection") + " cannot be ready for (allowed: " + allowed + ")");
        }
    }

    /**
     * Register a connection of the blocking API (no data handler).
     *
     * @param connection  the connection.
     * @param interestOps {@link #READABLE}, {@link #WRITABLE}, {@link #CLOSED}, combined.
     * @return its key.
     * @throws IllegalStateException when the connection has a data handler or is registered already.
     */
    public PollKey register(final Connection connection, final int interestOps)
    {
        validateOps(interestOps, false);
        if (connection.hasDataHandler() && (interestOps & READABLE) != 0)
        {
            throw new IllegalStateException(connection + " has a data handler: its bytes go there, not to a poller");
        }
        final PollKey key = new PollKey(this, connection, null, interestOps);
        if (!connection.pollKey(null, key))
        {
            throw new IllegalStateException(connection + " is registered with a poller already");
        }
        markReady(key);
        return key;
    }

    /**
     * Register an acceptor of the blocking API (no accept handler).
     *
     * @param acceptor    the acceptor.
     * @param interestOps {@link #ACCEPTABLE}, {@link #CLOSED}, combined.
     * @return its key.
     * @throws IllegalStateException when the acceptor has a handler or is registered already.
     */
    public PollKey register(final Acceptor acceptor, final int interestOps)
    {
        validateOps(interestOps, true);
        if (acceptor.hasHandler())
        {
            throw new IllegalStateException(acceptor + " has an accept handler: its connections go there");
        }
        final PollKey key = new PollKey(this, null, acceptor, interestOps);
        if (!acceptor.pollKey(null, key))
        {
            throw new IllegalStateException(acceptor + " is registered with a poller already");
        }
        markReady(key);
        return key;
    }

    /**
     * Wait until registrations are ready or the time-out passes, and visit each ready one once.
     *
     * @param timeout the longest wait; zero to look without waiting.
     * @param handler visits the ready registrations, on this thread.
     * @return how many were visited; 0 after the time-out.
     */
    public int poll(final Duration timeout, final PollHandler handler)
    {
        final long deadlineNs = System.nanoTime() + timeout.toNanos();
        final boolean drive = !client.hasDispatcher();
        while (true)
        {
            final int work = drive ? client.poll() : 0;
            final int visited = visitReady(handler);
            if (visited > 0)
            {
                idle.reset();
                return visited;
            }
            final long remainingNs = deadlineNs - System.nanoTime();
            if (remainingNs <= 0)
            {
                return 0;
            }
            if (drive)
            {
                if (idle instanceof ManCom.SessionIdleStrategy)
                {
                    ((ManCom.SessionIdleStrategy)idle).blockLimitNs(remainingNs);
                }
                idle.idle(work);
            }
            else
            {
                waiter = Thread.currentThread();
                if (isEmpty())
                {
                    LockSupport.parkNanos(this, remainingNs);
                }
                waiter = null;
            }
        }
    }

    private boolean isEmpty()
    {
        synchronized (lock)
        {
            return ready.isEmpty();
        }
    }

    private int visitReady(final PollHandler handler)
    {
        final ArrayList<PollKey> keys;
        synchronized (lock)
        {
            if (ready.isEmpty())
            {
                return 0;
            }
            keys = ready;
            ready = visiting;
            visiting = keys;
            for (int i = 0; i < keys.size(); i++)
            {
                keys.get(i).queued = false;
            }
        }
        int visited = 0;
        try
        {
            for (int i = 0; i < keys.size(); i++)
            {
                final PollKey key = keys.get(i);
                if (key.isCancelled())
                {
                    continue;
                }
                final int ops = key.readyOps() & key.interestOps();
                if (0 == ops)
                {
                    continue; // an event that changed nothing of interest
                }
                visited++;
                handler.onReady(key, ops);
                if (!key.isCancelled() && (key.readyOps() & key.interestOps()) != 0)
                {
                    markReady(key); // level-triggered: still ready, so visited again next time
                }
            }
        }
        finally
        {
            keys.clear();
        }
        return visited;
    }

    /**
     * Something changed for the key's connection or acceptor: look at it in the next visit. Any thread.
     */
    void markReady(final PollKey key)
    {
        synchronized (lock)
        {
            if (key.queued)
            {
                return;
            }
            key.queued = true;
            ready.add(key);
        }
        final Thread waiter = this.waiter;
        if (null != waiter)
        {
            LockSupport.unpark(waiter);
        }
    }
}
