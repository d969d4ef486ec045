package dev.mancom.client;

/**
 * Receives the connections of an acceptor registered with a handler.
 */
@FunctionalInterface
public interface AcceptHandler
{
    /**
     * A connection was accepted. Called on the polling thread; set the connection's handlers here, before any of its
     * data is delivered.
     *
     * @param connection the new connection.
     */
    void onAccept(Connection connection);
}
