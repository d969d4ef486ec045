package dev.mancom.bench;

/**
 * The benchmark could not run: a process did not start, a server stopped echoing, an option was wrong. Its message
 * says what, for the person who ran it.
 */
public final class BenchmarkException extends RuntimeException
{
    /**
     * A failure with a message.
     *
     * @param message what went wrong.
     */
    public BenchmarkException(final String message)
    {
        super(message);
    }

    /**
     * A failure with a message and its cause.
     *
     * @param message what went wrong.
     * @param cause   the cause.
     */
    public BenchmarkException(final String message, final Throwable cause)
    {
        super(message, cause);
    }
}
