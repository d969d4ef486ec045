package dev.mancom.transport;

/**
 * A transport refused a URI or failed to bind or open. The message names the URI and what is wrong with it.
 */
public class TransportException extends RuntimeException
{
    private final String key;

    /**
     * A failure about one part of a URI.
     *
     * @param key     the part of the URI that is wrong (such as {@code port} or {@code baud}), or null.
     * @param message what is wrong, for a person.
     */
    public TransportException(final String key, final String message)
    {
        super(message);
        this.key = key;
    }

    /**
     * A failure with a cause.
     *
     * @param key     the part of the URI that is wrong, or null.
     * @param message what is wrong, for a person.
     * @param cause   the underlying failure.
     */
    public TransportException(final String key, final String message, final Throwable cause)
    {
        super(message, cause);
        this.key = key;
    }

    /**
     * The part of the URI that is wrong.
     *
     * @return the key, or null when the failure is not about one part.
     */
    public String key()
    {
        return key;
    }
}
