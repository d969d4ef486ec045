package dev.mancom.client;

/**
 * A connection's or an acceptor's registration with a {@link Poller}, with its interest set and an attachment.
 */
public final class PollKey
{
    private final Poller poller;
    private final Connection connection;
    private final Acceptor acceptor;
    private volatile int interestOps;
    private volatile boolean cancelled;
    private Object attachment;
    boolean queued;

    PollKey(final Poller poller, final Connection connection, final Acceptor acceptor, final int interestOps)
    {
        this.poller = poller;
        this.connection = connection;
        this.acceptor = acceptor;
        this.interestOps = interestOps;
    }

    /**
     * The poller.
     *
     * @return the poller this key belongs to.
     */
    public Poller poller()
    {
        return poller;
    }

    /**
     * The registered connection.
     *
     * @return the connection, or null for an acceptor's key.
     */
    public Connection connection()
    {
        return connection;
    }

    /**
     * The registered acceptor.
     *
     * @return the acceptor, or null for a connection's key.
     */
    public Acceptor acceptor()
    {
        return acceptor;
    }

    /**
     * The interest set.
     *
     * @return a combination of the {@link Poller} operation bits.
     */
    public int interestOps()
    {
        return interestOps;
    }

    /**
     * Change the interest set; takes effect at the next {@link Poller#poll}.
     *
     * @param ops a combination of the {@link Poller} operation bits.
     * @return this.
     */
    public PollKey interestOps(final int ops)
    {
        Poller.validateOps(ops, null != acceptor);
        this.interestOps = ops;
        poller.markReady(this);
        return this;
    }

    /**
     * The operations ready now, whatever the interest set (level-triggered: true as long as the condition holds).
     *
     * @return a combination of the {@link Poller} operation bits.
     */
    public int readyOps()
    {
        int ops = 0;
        if (null != connection)
        {
            final boolean closed = connection.isClosed();
            if (connection.hasReadable())
            {
                ops |= Poller.READABLE;
            }
            if (!closed && !connection.isCloseRequested() && connection.canSendOrClosed())
            {
                ops |= Poller.WRITABLE;
            }
            if (closed)
            {
                ops |= Poller.CLOSED;
            }
        }
        else
        {
            if (acceptor.hasWaitingConnection())
            {
                ops |= Poller.ACCEPTABLE;
            }
            if (acceptor.isClosed())
            {
                ops |= Poller.CLOSED;
            }
        }
        return ops;
    }

    /**
     * Attach an object, such as the application's state of the connection.
     *
     * @param attachment the object.
     * @return this.
     */
    public PollKey attach(final Object attachment)
    {
        this.attachment = attachment;
        return this;
    }

    /**
     * The attached object.
     *
     * @return the attachment, or null.
     */
    public Object attachment()
    {
        return attachment;
    }

    /**
     * Remove the registration. The poller does not visit it again.
     */
    public void cancel()
    {
        cancelled = true;
        if (null != connection)
        {
            connection.pollKey(null);
        }
        else
        {
            acceptor.pollKey(null);
        }
    }

    /**
     * Whether {@link #cancel()} was called.
     *
     * @return true once cancelled.
     */
    public boolean isCancelled()
    {
        return cancelled;
    }

    public String toString()
    {
        return "PollKey{" + (null != connection ? connection : acceptor) + ", interest=" + interestOps + '}';
    }
}
