package dev.mancom.bench;

/**
 * Stops what a benchmark started, such as its forked JVMs, when the benchmark ends or when this JVM is made to exit
 * first (Ctrl-C, SIGTERM), even while they start: a shutdown hook from construction to {@link #close()}.
 */
final class StopOnExit implements AutoCloseable
{
    private final Runnable stop;
    private final Thread hook;

    /**
     * Register the shutdown hook.
     *
     * @param benchmark the benchmark's name, such as {@code tcp-echo}.
     * @param what      what it stops, for the message of the hook, such as {@code the servers}.
     * @param stop      stops them; idempotent and thread safe.
     */
    StopOnExit(final String benchmark, final String what, final Runnable stop)
    {
        this.stop = stop;
        hook = new Thread(() ->
        {
            System.err.println(benchmark + ": stopping " + what);
            stop.run();
        }, benchmark + "-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
    }

    /**
     * Stop, then remove the shutdown hook.
     */
    public void close()
    {
        stop.run();
        try
        {
            Runtime.getRuntime().removeShutdownHook(hook);
        }
        catch (final IllegalStateException ignore)
        {
            // the JVM is shutting down; the hook runs anyway
        }
    }
}
