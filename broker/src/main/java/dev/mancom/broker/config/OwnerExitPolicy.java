package dev.mancom.broker.config;

/**
 * What the broker does with a service's transports and connections when the application that owns the service
 * exits: the {@code on_owner_exit} key of a {@code [service.NAME]} table.
 */
public enum OwnerExitPolicy
{
    /**
     * Close the service's connections and stop listening ({@code "close"}, the default).
     */
    CLOSE("close"),

    /**
     * Keep the listeners and connections open until a new owner registers the service ({@code "hold"}).
     */
    HOLD("hold");

    private final String configName;

    OwnerExitPolicy(final String configName)
    {
        this.configName = configName;
    }

    /**
     * The value as written in the configuration file.
     *
     * @return the configuration value, such as {@code "close"}.
     */
    public String configName()
    {
        return configName;
    }
}
