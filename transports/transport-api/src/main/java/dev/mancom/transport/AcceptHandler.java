package dev.mancom.transport;

/**
 * Receives the connections a listener accepts.
 */
@FunctionalInterface
public interface AcceptHandler
{
    /**
     * A connection was accepted. Called on an I/O thread; must not block. Reading is paused.
     *
     * @param connection the new connection.
     */
    void onAccept(TransportConnection connection);
}
