package dev.mancom.broker.config;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The validated broker configuration: the {@code [broker]} settings and every {@code [service.NAME]}. Immutable;
 * obtained from {@link ConfigLoader}.
 */
public final class BrokerConfig
{
    /**
     * Default number of I/O threads ({@code io_threads}).
     */
    public static final int DEFAULT_IO_THREADS = 1;

    /**
     * Default per-connection flow-control window ({@code credit_window}): 256 KiB.
     */
    public static final int DEFAULT_CREDIT_WINDOW_LENGTH = 256 * 1024;

    /**
     * Smallest {@code credit_window}: 4 KiB.
     */
    public static final int MIN_CREDIT_WINDOW_LENGTH = 4 * 1024;

    /**
     * Largest {@code credit_window}: 64 MiB.
     */
    public static final int MAX_CREDIT_WINDOW_LENGTH = 64 * 1024 * 1024;

    /**
     * Default Aeron IPC term length of each client stream ({@code term_length}): 4 MiB.
     */
    public static final int DEFAULT_TERM_LENGTH = 4 * 1024 * 1024;

    /**
     * Smallest {@code term_length}: 64 KiB.
     */
    public static final int MIN_TERM_LENGTH = 64 * 1024;

    /**
     * Largest {@code term_length}: 64 MiB.
     */
    public static final int MAX_TERM_LENGTH = 64 * 1024 * 1024;

    /**
     * Default limit on connections ({@code max_connections}).
     */
    public static final int DEFAULT_MAX_CONNECTIONS = 65536;

    /**
     * Largest {@code max_connections}.
     */
    public static final int MAX_MAX_CONNECTIONS = 1024 * 1024;

    private final String source;
    private final List<String> sources;
    private final String dir;
    private final String journal;
    private final int ioThreads;
    private final int creditWindowLength;
    private final int termLength;
    private final int maxConnections;
    private final IdleProfile idle;
    private final String plugins;
    private final String group;
    private final Map<String, Integer> lines;
    private final Map<String, ServiceConfig> services;
    private final List<String> warnings;

    BrokerConfig(
        final String source,
        final List<String> sources,
        final String dir,
        final String journal,
        final int ioThreads,
        final int creditWindowLength,
        final int termLength,
        final int maxConnections,
        final IdleProfile idle,
        final String plugins,
        final String group,
        final Map<String, Integer> lines,
        final Map<String, ServiceConfig> services,
        final List<String> warnings)
    {
        this.source = Objects.requireNonNull(source, "source");
        this.sources = List.copyOf(sources);
        this.dir = dir;
        this.journal = journal;
        this.ioThreads = ioThreads;
        this.creditWindowLength = creditWindowLength;
        this.termLength = termLength;
        this.maxConnections = maxConnections;
        this.idle = Objects.requireNonNull(idle, "idle");
        this.plugins = plugins;
        this.group = group;
        this.lines = Map.copyOf(lines);
        this.services = Collections.unmodifiableMap(new LinkedHashMap<>(services));
        this.warnings = List.copyOf(warnings);
    }

    /**
     * This configuration with other services, sources and warnings: the result of merging drop-in files.
     *
     * @param sources  every file merged, the main file first.
     * @param services every service, in file order.
     * @param warnings every warning.
     * @return the merged configuration.
     */
    BrokerConfig merge(
        final List<String> sources, final Map<String, ServiceConfig> services, final List<String> warnings)
    {
        return new BrokerConfig(
            source,
            sources,
            dir,
            journal,
            ioThreads,
            creditWindowLength,
            termLength,
            maxConnections,
            idle,
            plugins,
            group,
            lines,
            services,
            warnings);
    }

    /**
     * The broker directory ({@code dir}), where the broker and its clients share memory.
     *
     * @return the directory as written (not empty, a valid path), or null if not configured (the broker then uses
     * its default).
     */
    public String dir()
    {
        return dir;
    }

    /**
     * The journal directory ({@code journal}) that recorded services are written to.
     *
     * @return the directory as written (not empty, a valid path), or null if not configured.
     */
    public String journal()
    {
        return journal;
    }

    /**
     * The number of I/O threads running the transports ({@code io_threads}).
     *
     * @return at least 1; {@value #DEFAULT_IO_THREADS} by default.
     */
    public int ioThreads()
    {
        return ioThreads;
    }

    /**
     * The per-connection flow-control window in bytes ({@code credit_window}).
     *
     * @return from 4 KiB to 64 MiB; 256 KiB by default.
     */
    public int creditWindowLength()
    {
        return creditWindowLength;
    }

    /**
     * The Aeron IPC term length of each client stream in bytes ({@code term_length}).
     *
     * @return a power of two from 64 KiB to 64 MiB; 4 MiB by default.
     */
    public int termLength()
    {
        return termLength;
    }

    /**
     * The most connections the broker accepts at once ({@code max_connections}).
     *
     * @return from 1 to 1048576; {@value #DEFAULT_MAX_CONNECTIONS} by default.
     */
    public int maxConnections()
    {
        return maxConnections;
    }

    /**
     * How the broker's threads wait for work ({@code idle}).
     *
     * @return the profile, {@link IdleProfile#POLITE} by default.
     */
    public IdleProfile idle()
    {
        return idle;
    }

    /**
     * The group that may use the broker ({@code group}): the broker directory and its shared-memory files are
     * made readable and writable by it, and by nobody else but the broker's user.
     *
     * @return the group name, or null: then only the broker's user (and root) can open the directory.
     */
    public String group()
    {
        return group;
    }

    /**
     * The directory transport plugins are loaded from ({@code plugins}).
     *
     * @return the directory as written (not empty, a valid path), or null if not configured.
     */
    public String plugins()
    {
        return plugins;
    }

    /**
     * Every service, in the order of the files and of the tables in them.
     *
     * @return service name to service, unmodifiable.
     */
    public Map<String, ServiceConfig> services()
    {
        return services;
    }

    /**
     * Where the configuration came from: the main file (the one with the {@code [broker]} settings).
     *
     * @return the file as given to the loader, or {@value ConfigLoader#BUILT_IN_SOURCE}.
     */
    public String source()
    {
        return source;
    }

    /**
     * Every file the configuration was read from: the main file, then the drop-in files in the order merged.
     *
     * @return the files as given to the loader, unmodifiable, never empty.
     */
    public List<String> sources()
    {
        return sources;
    }

    /**
     * What was ignored, for the broker to log: unknown keys and tables, each as
     * {@code <file>:<line>: unknown key 'service.echo.lisen' (ignored)}, and settings that have no effect.
     *
     * @return the warnings in file order, unmodifiable; empty when there is nothing to say.
     */
    public List<String> warnings()
    {
        return warnings;
    }

    /**
     * The line a {@code [broker]} key is defined on in {@link #source()}.
     *
     * @param field the key within the {@code [broker]} table, such as {@code dir}.
     * @return the line, starting at 1, or 0 if the key is not set or its line is not known.
     */
    public int line(final String field)
    {
        return lines.getOrDefault(field, 0);
    }

    /**
     * An exception about one of the {@code [broker]} settings, located and formatted like every configuration
     * error: for a broker directory that cannot be created, for example.
     *
     * @param field   the key within the {@code [broker]} table, such as {@code dir}.
     * @param problem what is wrong, for a person.
     * @return the exception, to throw.
     */
    public ConfigException error(final String field, final String problem)
    {
        return new ConfigException(source, line(field), "broker." + ConfigValues.keyPart(field), problem);
    }

    /**
     * The {@code [broker]} settings of this configuration that differ from those of the configuration a broker runs
     * with. They take effect only when the broker starts (they size its shared memory, its threads and its
     * tables), so a live reload that changes one is refused.
     *
     * @param running the configuration the broker runs with.
     * @return the problem, naming each key that changed with both values and located in this configuration, or
     * null when every {@code [broker]} setting is the same.
     */
    public ConfigException restartOnlyChanges(final BrokerConfig running)
    {
        final List<ConfigException> problems = new ArrayList<>();
        restartOnly(problems, "dir", path(running.dir), path(dir));
        restartOnly(problems, "journal", path(running.journal), path(journal));
        restartOnly(problems, "io_threads", Integer.toString(running.ioThreads), Integer.toString(ioThreads));
        restartOnly(problems, "credit_window",
            ConfigValues.quote(ConfigValues.formatSize(running.creditWindowLength)),
            ConfigValues.quote(ConfigValues.formatSize(creditWindowLength)));
        restartOnly(problems, "term_length",
            ConfigValues.quote(ConfigValues.formatSize(running.termLength)),
            ConfigValues.quote(ConfigValues.formatSize(termLength)));
        restartOnly(problems, "max_connections",
            Integer.toString(running.maxConnections), Integer.toString(maxConnections));
        restartOnly(problems, "idle",
            ConfigValues.quote(running.idle.configName()), ConfigValues.quote(idle.configName()));
        restartOnly(problems, "plugins", path(running.plugins), path(plugins));
        restartOnly(problems, "group", path(running.group), path(group));

        return problems.isEmpty() ? null : ConfigException.combine(problems);
    }

    private void restartOnly(
        final List<ConfigException> problems, final String field, final String before, final String after)
    {
        if (!before.equals(after))
        {
            problems.add(error(field, "changes only on restart: the broker runs with " + before +
                ", the file now says " + after + "; restart the broker to change it"));
        }
    }

    private static String path(final String value)
    {
        return null == value ? "(not set)" : ConfigValues.quote(value);
    }

    /**
     * A multi-line description for logs.
     *
     * @return the settings and the services, one per line.
     */
    @Override
    public String toString()
    {
        final StringBuilder builder = new StringBuilder();
        builder.append("broker configuration from ").append(String.join(", ", sources)).append('\n')
            .append("  dir=").append(null == dir ? "(default)" : dir)
            .append(" journal=").append(null == journal ? "(none)" : journal)
            .append(" io_threads=").append(ioThreads)
            .append(" credit_window=").append(ConfigValues.formatSize(creditWindowLength))
            .append(" term_length=").append(ConfigValues.formatSize(termLength))
            .append(" max_connections=").append(maxConnections)
            .append(" idle=").append(idle.configName())
            .append(" plugins=").append(null == plugins ? "(none)" : plugins)
            .append(" group=").append(null == group ? "(none)" : group);
        for (final ServiceConfig service : services.values())
        {
            builder.append("\n  ").append(service);
        }

        return builder.toString();
    }
}
