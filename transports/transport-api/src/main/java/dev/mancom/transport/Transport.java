package dev.mancom.transport;

/**
 * A transport: listens and connects for the URIs of its schemes. Thread safe.
 */
public interface Transport extends AutoCloseable
{
    /**
     * Check a URI of one of this transport's schemes without binding or opening anything.
     *
     * @param uri the URI.
     * @throws TransportException naming the part of the URI that is wrong.
     */
    void validate(TransportUri uri);

    /**
     * Bind a listener. Returns once the listener is bound, or throws.
     * <p>
     * Accepted connections are handed to {@code acceptHandler} on an I/O thread with reading paused: nothing is
     * read until the broker calls {@link TransportConnection#resumeReading()}.
     *
     * @param uri           where to listen.
     * @param acceptHandler receives each accepted connection.
     * @return the bound listener.
     * @throws TransportException when the URI is wrong or binding fails (address in use, permission).
     */
    TransportListener listen(TransportUri uri, AcceptHandler acceptHandler);

    /**
     * Open an outbound connection. The result is reported to {@code connectHandler} on an I/O thread, once.
     * The connection starts with reading paused.
     *
     * @param uri            where to connect.
     * @param connectHandler receives the connection or the failure.
     * @throws TransportException when the URI is wrong; failures to connect go to the handler.
     */
    void connect(TransportUri uri, ConnectHandler connectHandler);

    /**
     * Close every listener and connection of the transport and stop its threads. Idempotent.
     */
    void close();
}
