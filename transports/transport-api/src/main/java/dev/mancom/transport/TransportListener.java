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
     * Whether the listener can take a connection now: a socket listener once bound (always, since {@code listen}
     * returns bound); a device listener (serial, USB) only while its device is present. What
     * {@code ManCom.awaitService} and {@code mancom wait-ready --service} wait for. Any thread; cheap (no I/O
     * beyond a file-system check).
     *
     * @return true when ready; false when waiting for a device, or once closed.
     */
    boolean isReady();

    /**
     * Stop accepting. Idempotent.
     */
    void close();
}
