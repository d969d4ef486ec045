package dev.mancom.broker.config;

import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * One {@code [service.NAME]} table of the broker configuration: which transports the service listens on (or the
 * one it connects to), and how the broker treats it. Immutable.
 * <p>
 * It remembers the file and the lines its keys were on, so that later problems (a transport that cannot bind a
 * {@code listen} URI, for example) can be reported the way configuration errors are, with {@link #error}.
 */
public final class ServiceConfig
{
    private final String name;
    private final String source;
    private final int line;
    private final Map<String, Integer> lines;
    private final List<String> listen;
    private final List<Integer> listenLines;
    private final String connect;
    private final OwnerExitPolicy onOwnerExit;
    private final long queueWhenUnownedMs;
    private final boolean record;
    private final List<String> allowUsers;
    private final List<String> allowGroups;
    private final List<String> exec;
    private final RestartPolicy restart;

    ServiceConfig(
        final String name,
        final String source,
        final int line,
        final Map<String, Integer> lines,
        final List<String> listen,
        final List<Integer> listenLines,
        final String connect,
        final OwnerExitPolicy onOwnerExit,
        final long queueWhenUnownedMs,
        final boolean record,
        final List<String> allowUsers,
        final List<String> allowGroups,
        final List<String> exec,
        final RestartPolicy restart)
    {
        this.name = Objects.requireNonNull(name, "name");
        this.source = Objects.requireNonNull(source, "source");
        this.line = line;
        this.lines = Map.copyOf(lines);
        this.listen = List.copyOf(listen);
        this.listenLines = List.copyOf(listenLines);
        this.connect = connect;
        this.onOwnerExit = Objects.requireNonNull(onOwnerExit, "onOwnerExit");
        this.queueWhenUnownedMs = queueWhenUnownedMs;
        this.record = record;
        this.allowUsers = List.copyOf(allowUsers);
        this.allowGroups = List.copyOf(allowGroups);
        this.exec = List.copyOf(exec);
        this.restart = Objects.requireNonNull(restart, "restart");
    }

    /**
     * The service name, the {@code NAME} of {@code [service.NAME]}.
     *
     * @return the name, matching {@code [A-Za-z0-9][A-Za-z0-9._-]{0,62}}.
     */
    public String name()
    {
        return name;
    }

    /**
     * The file the service is defined in.
     *
     * @return the file as given to the loader, or a source name such as {@code built-in default}.
     */
    public String source()
    {
        return source;
    }

    /**
     * The URIs the service listens on ({@code listen}), as written; the transports parse them.
     *
     * @return the URIs, each with a {@code scheme://}, unmodifiable; empty for an outbound ({@code connect})
     * service.
     */
    public List<String> listen()
    {
        return listen;
    }

    /**
     * The URI an outbound service connects to ({@code connect}), as written.
     *
     * @return the URI, or null for a listening service.
     */
    public String connect()
    {
        return connect;
    }

    /**
     * Whether the service connects out ({@code connect}) rather than listening.
     *
     * @return true if {@link #connect()} is set.
     */
    public boolean isOutbound()
    {
        return null != connect;
    }

    /**
     * What happens to the service's transports when its owning application exits ({@code on_owner_exit}).
     *
     * @return the policy, {@link OwnerExitPolicy#CLOSE} by default.
     */
    public OwnerExitPolicy onOwnerExit()
    {
        return onOwnerExit;
    }

    /**
     * How long connections are queued while no application owns the service ({@code queue_when_unowned}).
     *
     * @return milliseconds, 0 (refuse at once) by default.
     */
    public long queueWhenUnownedMs()
    {
        return queueWhenUnownedMs;
    }

    /**
     * Whether the service's traffic is recorded to the journal ({@code record}).
     *
     * @return true to record, false by default.
     */
    public boolean record()
    {
        return record;
    }

    /**
     * The users allowed to own the service ({@code allow_users}).
     *
     * @return user names, unmodifiable, empty by default.
     */
    public List<String> allowUsers()
    {
        return allowUsers;
    }

    /**
     * The groups whose members are allowed to own the service ({@code allow_groups}).
     *
     * @return group names, unmodifiable, empty by default.
     */
    public List<String> allowGroups()
    {
        return allowGroups;
    }

    /**
     * The program (and its arguments) the broker starts to own the service ({@code exec}).
     *
     * @return the command line, unmodifiable; empty if the broker starts nothing.
     */
    public List<String> exec()
    {
        return exec;
    }

    /**
     * When the broker restarts the {@link #exec()} program ({@code restart}).
     *
     * @return the policy, {@link RestartPolicy#NO} by default.
     */
    public RestartPolicy restart()
    {
        return restart;
    }

    /**
     * The dotted key of the service table.
     *
     * @return such as {@code service.echo} (or {@code service."echo.v2"} for a name with a dot).
     */
    public String key()
    {
        return "service." + ConfigValues.keyPart(name);
    }

    /**
     * The dotted key of one of the service's keys, for messages.
     *
     * @param field the key within the service table, such as {@code listen}.
     * @return such as {@code service.echo.listen}.
     */
    public String key(final String field)
    {
        return key() + "." + ConfigValues.keyPart(field);
    }

    /**
     * The line the service table starts on (its {@code [service.NAME]} header).
     *
     * @return the line, starting at 1, or 0 if not known.
     */
    public int line()
    {
        return line;
    }

    /**
     * The line one of the service's keys is defined on.
     *
     * @param field the key within the service table, such as {@code listen}.
     * @return the line, starting at 1, or 0 if the key is not set or its line is not known.
     */
    public int line(final String field)
    {
        return lines.getOrDefault(field, 0);
    }

    /**
     * The line one of the {@link #listen()} URIs is written on (they may be on lines of their own).
     *
     * @param index the index in {@link #listen()}.
     * @return the line, starting at 1, or 0 if not known.
     */
    public int listenLine(final int index)
    {
        return index >= 0 && index < listenLines.size() ? listenLines.get(index) : 0;
    }

    /**
     * An exception about one of the service's keys, located and formatted like every configuration error: for a
     * transport that refuses a {@code listen} URI, for example.
     *
     * @param field   the key within the service table, such as {@code listen}, or null for the whole service.
     * @param problem what is wrong, for a person.
     * @return the exception, to throw.
     */
    public ConfigException error(final String field, final String problem)
    {
        return null == field ?
            new ConfigException(source, line, key(), problem) :
            new ConfigException(source, line(field), key(field), problem);
    }

    /**
     * Services are equal when everything they configure is equal (name, URIs, policies, users, groups, command);
     * where they were defined ({@link #source()}, lines) does not count, so a reloaded file can be compared.
     *
     * @param other the object to compare with.
     * @return true if equal.
     */
    @Override
    public boolean equals(final Object other)
    {
        if (this == other)
        {
            return true;
        }
        if (!(other instanceof ServiceConfig that))
        {
            return false;
        }

        return name.equals(that.name) &&
            listen.equals(that.listen) &&
            Objects.equals(connect, that.connect) &&
            onOwnerExit == that.onOwnerExit &&
            queueWhenUnownedMs == that.queueWhenUnownedMs &&
            record == that.record &&
            allowUsers.equals(that.allowUsers) &&
            allowGroups.equals(that.allowGroups) &&
            exec.equals(that.exec) &&
            restart == that.restart;
    }

    /**
     * A hash code consistent with {@link #equals(Object)}.
     *
     * @return the hash code.
     */
    @Override
    public int hashCode()
    {
        return Objects.hash(
            name, listen, connect, onOwnerExit, queueWhenUnownedMs, record, allowUsers, allowGroups, exec, restart);
    }

    /**
     * A one-line description for logs.
     *
     * @return such as {@code service.echo listen=[tcp://127.0.0.1:7000] (mancom.toml:3)}.
     */
    @Override
    public String toString()
    {
        final StringBuilder builder = new StringBuilder(key());
        if (null != connect)
        {
            builder.append(" connect=").append(connect);
        }
        else
        {
            builder.append(" listen=").append(listen);
        }
        builder.append(" on_owner_exit=").append(onOwnerExit.configName())
            .append(" queue_when_unowned=").append(queueWhenUnownedMs).append("ms")
            .append(" record=").append(record);
        if (!allowUsers.isEmpty())
        {
            builder.append(" allow_users=").append(allowUsers);
        }
        if (!allowGroups.isEmpty())
        {
            builder.append(" allow_groups=").append(allowGroups);
        }
        if (!exec.isEmpty())
        {
            builder.append(" exec=").append(exec).append(" restart=").append(restart.configName());
        }

        return builder.append(" (").append(source).append(line > 0 ? ":" + line : "").append(')').toString();
    }
}
