package dev.mancom.transport;

import dev.mancom.protocol.Endpoint;

/**
 * A bound listener. Closing it stops accepting; connections already accepted go on.
 */
public interface TransportListener extends AutoCloseable
{
    /**
     * Where the listener is bound (with the port the system chose when the URI asked for port 0).
     *
     * @return the local endpoint.
     */
    Endpoint localEndpoint();

    /**
     * Stop accepting. Idempotent.
     */
    void close();
}
