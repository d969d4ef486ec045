package dev.mancom.broker;

import dev.mancom.broker.config.BrokerConfig;
import dev.mancom.broker.config.ConfigException;
import dev.mancom.broker.config.ServiceConfig;

/**
 * Refuses configuration that this version of the broker parses but does not carry out yet, naming the key, so
 * that nobody runs with recording they believe is on.
 */
final class SupportedFeatures
{
    private static final String NOT_YET = "is not supported by this version of the broker yet; remove the key";

    private SupportedFeatures()
    {
    }

    static void check(final BrokerConfig config)
    {
        if (null != config.journal())
        {
            throw config.error("journal", "journaling " + NOT_YET);
        }
        for (final ServiceConfig service : config.services().values())
        {
            check(service);
        }
    }

    private static void check(final ServiceConfig service)
    {
        if (service.record())
        {
            throw refuse(service, "record", "recording " + NOT_YET);
        }
    }

    private static ConfigException refuse(final ServiceConfig service, final String field, final String problem)
    {
        return service.error(field, problem);
    }
}
