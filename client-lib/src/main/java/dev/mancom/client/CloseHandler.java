package dev.mancom.client;

import dev.mancom.protocol.codecs.CloseReason;

/**
 * Told when a connection is closed.
 */
@FunctionalInterface
public interface CloseHandler
{
    /**
     * The connection is closed; nothing more will be delivered for it. Called on the polling thread.
     *
     * @param connection the connection.
     * @param reason     why: {@code REMOTE_CLOSED}, {@code LOCAL_CLOSED}, {@code BROKER_SHUTDOWN}, ...
     * @param detail     more for a person, may be empty.
     */
    void onClose(Connection connection, CloseReason reason, String detail);
}
