package dev.mancom.transport;

import java.util.Objects;
import java.util.function.Consumer;

/**
 * What the broker gives a transport when it creates it. Immutable.
 */
public final class TransportContext
{
    private final int ioThreads;
    private final String threadNamePrefix;
    private final Consumer<Throwable> errorHandler;

    /**
     * A context.
     *
     * @param ioThreads        how many I/O threads the transport may run (at least 1).
     * @param threadNamePrefix prefix of the names of the transport's threads.
     * @param errorHandler     where to report errors that no caller can receive; must not block.
     */
    public TransportContext(
        final int ioThreads, final String threadNamePrefix, final Consumer<Throwable> errorHandler)
    {
        if (ioThreads < 1)
        {
            throw new IllegalArgumentException("ioThreads must be at least 1: " + ioThreads);
        }
        this.ioThreads = ioThreads;
        this.threadNamePrefix = Objects.requireNonNull(threadNamePrefix, "threadNamePrefix");
        this.errorHandler = Objects.requireNonNull(errorHandler, "errorHandler");
    }

    /**
     * How many I/O threads the transport may run.
     *
     * @return at least 1.
     */
    public int ioThreads()
    {
        return ioThreads;
    }

    /**
     * Prefix of the names of the transport's threads.
     *
     * @return the prefix.
     */
    public String threadNamePrefix()
    {
        return threadNamePrefix;
    }

    /**
     * Where to report errors that no caller can receive.
     *
     * @return the handler.
     */
    public Consumer<Throwable> errorHandler()
    {
        return errorHandler;
    }
}
