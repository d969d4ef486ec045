package dev.mancom.transport;

/**
 * Receives the result of {@link Transport#connect(TransportUri, ConnectHandler)}, exactly once.
 */
public interface ConnectHandler
{
    /**
     * The connection is open. Called on an I/O thread; must not block. Reading is paused.
     *
     * @param connection the new connection.
     */
    void onConnected(TransportConnection connection);

    /**
     * The connection could not be opened. Called on an I/O thread or the caller's thread.
     *
     * @param cause why.
     */
    void onConnectFailed(Throwable cause);
}
