package dev.mancom.broker.config;

/**
 * When the broker restarts the program given by a service's {@code exec} key: the {@code restart} key of a
 * {@code [service.NAME]} table.
 */
public enum RestartPolicy
{
    /**
     * Never restart it ({@code "no"}, the default).
     */
    NO("no"),

    /**
     * Restart it when it exits with a non-zero status or is killed by a signal ({@code "on-failure"}).
     */
    ON_FAILURE("on-failure"),

    /**
     * Restart it whenever it exits ({@code "always"}).
     */
    ALWAYS("always");

    private final String configName;

    RestartPolicy(final String configName)
    {
        this.configName = configName;
    }

    /**
     * The value as written in the configuration file.
     *
     * @return the configuration value, such as {@code "on-failure"}.
     */
    public String configName()
    {
        return configName;
    }
}
