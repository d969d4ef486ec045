package dev.mancom.protocol;

import dev.mancom.protocol.codecs.ErrorCode;

/**
 * The one unchecked exception of ManCom's control path, carrying an {@link ErrorCode}. Failures of the data path
 * are result codes, not exceptions.
 */
public class ManComException extends RuntimeException
{
    private final ErrorCode code;

    /**
     * A failure with a code and a message.
     *
     * @param code    what kind of failure.
     * @param message what happened, for a person.
     */
    public ManComException(final ErrorCode code, final String message)
    {
        super(message);
        this.code = code;
    }

    /**
     * A failure with a code, a message and a cause.
     *
     * @param code    what kind of failure.
     * @param message what happened, for a person.
     * @param cause   the underlying failure.
     */
    public ManComException(final ErrorCode code, final String message, final Throwable cause)
    {
        super(message, cause);
        this.code = code;
    }

    /**
     * What kind of failure this is.
     *
     * @return the error code.
     */
    public ErrorCode code()
    {
        return code;
    }

    /**
     * The message prefixed by the code.
     *
     * @return printable form.
     */
    public String toString()
    {
        return "ManComException{" + code + "}: " + getMessage();
    }
}
