package dev.mancom.broker.config;

/**
 * How the broker's threads wait when they have no work: the {@code idle} key of the {@code [broker]} table.
 */
public enum IdleProfile
{
    /**
     * Spin briefly, then yield, then park: low CPU use when idle, with a small wake-up latency ({@code "polite"}).
     */
    POLITE("polite"),

    /**
     * Busy-spin: lowest latency, one CPU core per broker thread fully used at all times ({@code "spin"}).
     */
    SPIN("spin");

    private final String configName;

    IdleProfile(final String configName)
    {
        this.configName = configName;
    }

    /**
     * The value as written in the configuration file.
     *
     * @return the configuration value, such as {@code "polite"}.
     */
    public String configName()
    {
        return configName;
    }
}
