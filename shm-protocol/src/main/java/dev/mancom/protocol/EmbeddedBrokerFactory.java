package dev.mancom.protocol;

import java.nio.file.Path;

/**
 * Starts a broker inside the calling process: how the client library runs an application's own broker (the
 * process scope, {@code MANCOM_SCOPE=process}) without depending on the broker module. The broker module provides
 * the implementation through {@link java.util.ServiceLoader}; an application that wants the process scope puts the
 * broker's jar (and the transports' jars) on its class path.
 */
public interface EmbeddedBrokerFactory
{
    /**
     * Start a broker in this process and wait until it is ready.
     *
     * @param dir        the broker directory, private to this process; the broker removes it when it stops.
     * @param configFile the configuration file, or null for the broker's usual lookup ({@code MANCOM_CONFIG},
     *                   {@code /etc/mancom/mancom.toml}, the built-in default).
     * @return what stops the broker.
     * @throws RuntimeException when the broker cannot start (a bad configuration, a port in use), with the reason.
     */
    AutoCloseable launch(Path dir, Path configFile);
}
