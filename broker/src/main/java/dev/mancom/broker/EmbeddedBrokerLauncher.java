package dev.mancom.broker;

import dev.mancom.protocol.EmbeddedBrokerFactory;

import java.nio.file.Path;

/**
 * Starts a {@link Broker} inside an application's process for the client library (the process scope). Found by
 * {@link java.util.ServiceLoader}; not for direct use.
 */
public final class EmbeddedBrokerLauncher implements EmbeddedBrokerFactory
{
    /**
     * {@inheritDoc}
     */
    public AutoCloseable launch(final Path dir, final Path configFile)
    {
        final Broker.Context ctx = new Broker.Context().brokerDir(dir).deleteDirOnClose(true);
        if (null != configFile)
        {
            ctx.configFile(configFile);
        }
        return Broker.launch(ctx);
    }
}
