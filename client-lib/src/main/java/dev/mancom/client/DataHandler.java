package dev.mancom.client;

import org.agrona.DirectBuffer;

/**
 * Receives a connection's bytes, as a view straight into the shared-memory log: no copy is made before the call.
 */
@FunctionalInterface
public interface DataHandler
{
    /**
     * Bytes arrived. The view is valid only during the call. Called on the polling thread.
     * <p>
     * Return how many bytes were consumed. Bytes not consumed are kept by the library (copied aside; at most the
     * credit window) and offered again later, first in line; while some are kept, the broker is given no more credit
     * for the connection, so the remote peer is pushed back. Return {@code length} to consume everything.
     *
     * @param connection the connection.
     * @param buffer     holds the bytes.
     * @param offset     where they start.
     * @param length     how many.
     * @return bytes consumed, from 0 to {@code length}.
     */
    int onData(Connection connection, DirectBuffer buffer, int offset, int length);
}
