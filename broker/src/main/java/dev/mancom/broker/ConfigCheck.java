package dev.mancom.broker;

import dev.mancom.broker.config.BrokerConfig;
import dev.mancom.broker.config.ConfigException;
import dev.mancom.broker.internal.BrokerConductor;
import dev.mancom.transport.TransportContext;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Checks a configuration as the broker would at start, without starting anything: the settings this version
 * carries out, the {@code [broker] group} and the names of every service's {@code allow_users} and
 * {@code allow_groups} (looked up in the system's user database, as a start does), and every {@code listen} and
 * {@code connect} URI against the transports of the class path and of the configured plug-in directory (each
 * transport's own {@code validate}). Nothing is bound, opened or mapped; the transports are created for the check
 * and closed before it returns. Used by {@code mancom config check}.
 */
public final class ConfigCheck
{
    private ConfigCheck()
    {
    }

    /**
     * Check a parsed configuration.
     *
     * @param config      the configuration, as {@link dev.mancom.broker.config.ConfigLoader} returned it.
     * @param classLoader the class loader that finds the built-in transports (and parent of the plug-ins').
     * @throws ConfigException listing every problem found, each naming the file, line and key.
     */
    public static void check(final BrokerConfig config, final ClassLoader classLoader)
    {
        final List<ConfigException> problems = new ArrayList<>();
        try
        {
            SupportedFeatures.check(config);
        }
        catch (final ConfigException ex)
        {
            problems.add(ex);
        }
        try
        {
            Broker.resolveGroup(config);
        }
        catch (final ConfigException ex)
        {
            problems.add(ex);
        }

        final Path pluginsDir = null == config.plugins() ? null : Path.of(config.plugins()).toAbsolutePath();
        final TransportContext context = new TransportContext(1, "mancom-check", (ex) -> { });
        TransportLoader loader = null;
        try
        {
            loader = TransportLoader.load(classLoader, pluginsDir, config, context);
            BrokerConductor.validate(config.services(), loader.transports());
        }
        catch (final ConfigException ex)
        {
            problems.add(ex);
        }
        finally
        {
            if (null != loader)
            {
                loader.close();
            }
        }

        if (!problems.isEmpty())
        {
            throw ConfigException.combine(problems);
        }
    }
}
