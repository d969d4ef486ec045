package dev.mancom.broker.config;

import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.regex.Pattern;

import org.tomlj.Toml;
import org.tomlj.TomlArray;
import org.tomlj.TomlParseError;
import org.tomlj.TomlParseResult;
import org.tomlj.TomlPosition;
import org.tomlj.TomlTable;

/**
 * Validates one parsed configuration file. Single use: collects every problem, then either builds the
 * {@link BrokerConfig} or throws one {@link ConfigException} listing them all.
 */
final class ConfigParser
{
    private static final Pattern SERVICE_NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,62}");
    private static final Pattern ACCOUNT_NAME = Pattern.compile("[A-Za-z_][A-Za-z0-9_.-]{0,31}|[0-9]{1,10}");
    private static final Pattern URI = Pattern.compile("[A-Za-z][A-Za-z0-9+.-]*://.*", Pattern.DOTALL);
    private static final String URI_EXAMPLE = "\"tcp://127.0.0.1:7000\"";
    private static final String SIZE_EXAMPLE = "such as 65536 or \"256k\" (suffix k, m or g)";
    private static final String DURATION_EXAMPLE = "such as \"500ms\", \"5s\", \"2m\", \"1h\" or \"0\"";

    private final String source;
    private final String mainSource;
    private final List<ConfigException> errors = new ArrayList<>();
    private final List<Warning> warnings = new ArrayList<>();

    private final Map<String, Integer> brokerLines = new HashMap<>();
    private String dir;
    private String journal;
    private int ioThreads = BrokerConfig.DEFAULT_IO_THREADS;
    private int creditWindowLength = BrokerConfig.DEFAULT_CREDIT_WINDOW_LENGTH;
    private int termLength = BrokerConfig.DEFAULT_TERM_LENGTH;
    private int maxConnections = BrokerConfig.DEFAULT_MAX_CONNECTIONS;
    private IdleProfile idle = IdleProfile.POLITE;
    private String plugins;
    private String group;
    private final Map<String, ServiceConfig> services = new LinkedHashMap<>();

    private record Warning(int line, String text)
    {
    }

    private ConfigParser(final String source, final String mainSource)
    {
        this.source = source;
        this.mainSource = mainSource;
    }

    /**
     * Parse and validate one file.
     *
     * @param toml       the file's text.
     * @param source     the file name, for messages.
     * @param mainSource null for the main file; for a drop-in file, the main file's name ({@code [broker]} is
     *                   then an error).
     * @return the configuration of this file alone.
     * @throws ConfigException listing every problem.
     */
    static BrokerConfig parse(final String toml, final String source, final String mainSource)
    {
        final TomlParseResult result = Toml.parse(toml);
        if (result.hasErrors())
        {
            throw syntaxError(source, result.errors());
        }

        return new ConfigParser(source, mainSource).walk(result);
    }

    private static ConfigException syntaxError(final String source, final List<TomlParseError> parseErrors)
    {
        final List<String> messages = new ArrayList<>();
        for (final TomlParseError error : parseErrors)
        {
            final TomlPosition position = error.position();
            messages.add(ConfigException.format(
                source,
                null == position ? 0 : position.line(),
                null == position ? 0 : position.column(),
                null,
                "syntax error: " + error.getMessage()));
        }

        final TomlParseError first = parseErrors.get(0);
        final TomlPosition position = first.position();
        return ConfigException.syntaxError(
            source,
            null == position ? 0 : position.line(),
            null == position ? 0 : position.column(),
            first.getMessage(),
            messages);
    }

    private BrokerConfig walk(final TomlTable root)
    {
        for (final String key : root.keySet())
        {
            final Object value = root.get(List.of(key));
            final int line = line(root, key);
            switch (key)
            {
                case "broker" -> broker(value, line);
                case "service" -> services(value, line);
                default -> warnUnknown(line, ConfigValues.keyPart(key));
            }
        }

        if (!errors.isEmpty())
        {
            throw ConfigException.combine(errors);
        }

        warnings.sort((a, b) -> Integer.compare(a.line, b.line));
        final List<String> texts = new ArrayList<>();
        for (final Warning warning : warnings)
        {
            texts.add(warning.text);
        }

        return new BrokerConfig(
            source,
            List.of(source),
            dir,
            journal,
            ioThreads,
            creditWindowLength,
            termLength,
            maxConnections,
            idle,
            plugins,
            group,
            brokerLines,
            services,
            texts);
    }

    private void broker(final Object value, final int tableLine)
    {
        if (!(value instanceof TomlTable table))
        {
            error(tableLine, "broker", "must be a table ([broker]), not " + ConfigValues.typeName(value));
            return;
        }

        for (final String field : table.keySet())
        {
            final Object v = table.get(List.of(field));
            final int line = line(table, field);
            final String key = "broker." + ConfigValues.keyPart(field);
            if (null != mainSource)
            {
                error(line, key, "[broker] settings are allowed only in the main file " + mainSource +
                    ", not in a drop-in file");
                continue;
            }

            brokerLines.put(field, line);
            switch (field)
            {
                case "dir" -> dir = path(v, line, key);
                case "journal" -> journal = path(v, line, key);
                case "io_threads" -> ioThreads = integer(v, line, key, 1, Integer.MAX_VALUE, ioThreads);
                case "credit_window" -> creditWindowLength = size(
                    v,
                    line,
                    key,
                    BrokerConfig.MIN_CREDIT_WINDOW_LENGTH,
                    BrokerConfig.MAX_CREDIT_WINDOW_LENGTH,
                    false,
                    creditWindowLength);
                case "term_length" -> termLength = size(
                    v, line, key, BrokerConfig.MIN_TERM_LENGTH, BrokerConfig.MAX_TERM_LENGTH, true, termLength);
                case "max_connections" -> maxConnections = integer(
                    v, line, key, 1, BrokerConfig.MAX_MAX_CONNECTIONS, maxConnections);
                case "idle" -> idle = choice(v, line, key, IdleProfile.values(), IdleProfile::configName, idle);
                case "plugins" -> plugins = path(v, line, key);
                case "group" -> group = groupName(v, line, key);
                default -> warnUnknown(line, key);
            }
        }
    }

    private void services(final Object value, final int tableLine)
    {
        if (!(value instanceof TomlTable table))
        {
            error(tableLine, "service", "must be a table of services such as [service.echo], not " +
                ConfigValues.typeName(value));
            return;
        }

        for (final String name : table.keySet())
        {
            final Object v = table.get(List.of(name));
            final int line = line(table, name);
            final String key = "service." + ConfigValues.keyPart(name);
            if (!SERVICE_NAME.matcher(name).matches())
            {
                error(line, key, "service name must be 1 to 63 letters, digits, '.', '_' or '-', " +
                    "starting with a letter or digit");
            }
            else if (!(v instanceof TomlTable serviceTable))
            {
                error(line, key, "must be a table ([" + key + "]), not " + ConfigValues.typeName(v));
            }
            else
            {
                final ServiceConfig service = service(name, serviceTable, line);
                if (null != service)
                {
                    services.put(name, service);
                }
            }
        }
    }

    private ServiceConfig service(final String name, final TomlTable table, final int tableLine)
    {
        final int errorCount = errors.size();
        final String prefix = "service." + ConfigValues.keyPart(name) + ".";
        final Map<String, Integer> lines = new HashMap<>();
        List<String> listen = List.of();
        final List<Integer> listenLines = new ArrayList<>();
        String connect = null;
        OwnerExitPolicy onOwnerExit = OwnerExitPolicy.CLOSE;
        long queueWhenUnownedMs = 0;
        boolean record = false;
        List<String> allowUsers = List.of();
        List<String> allowGroups = List.of();
        List<String> exec = List.of();
        RestartPolicy restart = RestartPolicy.NO;

        for (final String field : table.keySet())
        {
            final Object v = table.get(List.of(field));
            final int line = line(table, field);
            final String key = prefix + ConfigValues.keyPart(field);
            lines.put(field, line);
            switch (field)
            {
                case "listen" -> listen = listen(v, line, key, listenLines);
                case "connect" -> connect = uri(v, line, key, "");
                case "on_owner_exit" -> onOwnerExit = choice(
                    v, line, key, OwnerExitPolicy.values(), OwnerExitPolicy::configName, onOwnerExit);
                case "queue_when_unowned" -> queueWhenUnownedMs = duration(v, line, key, queueWhenUnownedMs);
                case "record" -> record = bool(v, line, key, record);
                case "allow_users" -> allowUsers = names(v, line, key, "user");
                case "allow_groups" -> allowGroups = names(v, line, key, "group");
                case "exec" -> exec = exec(v, line, key);
                case "restart" -> restart = choice(
                    v, line, key, RestartPolicy.values(), RestartPolicy::configName, restart);
                default -> warnUnknown(line, key);
            }
        }

        final boolean hasListen = table.contains(List.of("listen"));
        final boolean hasConnect = table.contains(List.of("connect"));
        final String serviceKey = "service." + ConfigValues.keyPart(name);
        if (hasListen && hasConnect)
        {
            error(
                Math.max(lines.get("listen"), lines.get("connect")),
                serviceKey,
                "has both listen and connect; a service either listens (listen = [...]) or connects out " +
                "(connect = \"...\"), not both");
        }
        // Neither: a service of this machine's applications only, reached by name with connect("name").

        if (restart != RestartPolicy.NO && !lines.containsKey("exec"))
        {
            warn(lines.get("restart"), prefix + "restart has no effect without exec (ignored)");
        }

        if (errors.size() != errorCount)
        {
            return null;
        }

        return new ServiceConfig(
            name,
            source,
            tableLine,
            lines,
            listen,
            listenLines,
            connect,
            onOwnerExit,
            queueWhenUnownedMs,
            record,
            allowUsers,
            allowGroups,
            exec,
            restart);
    }

    private List<String> listen(final Object value, final int line, final String key, final List<Integer> lines)
    {
        if (!(value instanceof TomlArray array))
        {
            error(line, key, "must be an array of URI strings such as [" + URI_EXAMPLE + "], not " +
                ConfigValues.typeName(value));
            return List.of();
        }
        if (array.isEmpty())
        {
            error(line, key, "must not be empty: give at least one URI, such as [" + URI_EXAMPLE + "]");
            return List.of();
        }

        final List<String> uris = new ArrayList<>();
        for (int i = 0; i < array.size(); i++)
        {
            final int elementLine = line(array.inputPositionOf(i), line);
            final String uri = uri(array.get(i), elementLine, key, "entry " + (i + 1) + " ");
            if (null != uri)
            {
                if (uris.contains(uri))
                {
                    error(elementLine, key, "entry " + (i + 1) + " repeats " + ConfigValues.quote(uri));
                }
                uris.add(uri);
                lines.add(elementLine);
            }
        }

        return uris;
    }

    private String uri(final Object value, final int line, final String key, final String what)
    {
        if (!(value instanceof String text))
        {
            error(line, key, what + "must be a URI string such as " + URI_EXAMPLE + ", not " +
                ConfigValues.typeName(value));
            return null;
        }
        if (text.isEmpty())
        {
            error(line, key, what + "must be a URI such as " + URI_EXAMPLE + ", not an empty string");
            return null;
        }
        if (!URI.matcher(text).matches())
        {
            error(line, key, what + "must be a URI with a scheme:// such as " + URI_EXAMPLE + ", not " +
                ConfigValues.quote(text));
            return null;
        }

        return text;
    }

    private List<String> names(final Object value, final int line, final String key, final String what)
    {
        if (!(value instanceof TomlArray array))
        {
            error(line, key, "must be an array of " + what + " names (strings), not " + ConfigValues.typeName(value));
            return List.of();
        }

        final List<String> names = new ArrayList<>();
        for (int i = 0; i < array.size(); i++)
        {
            final Object element = array.get(i);
            final int elementLine = line(array.inputPositionOf(i), line);
            if (!(element instanceof String name))
            {
                error(elementLine, key, "entry " + (i + 1) + " must be a string, not " +
                    ConfigValues.typeName(element));
            }
            else if (name.isEmpty())
            {
                error(elementLine, key, "entry " + (i + 1) + " must not be empty");
            }
            else if (!ACCOUNT_NAME.matcher(name).matches())
            {
                error(elementLine, key, "entry " + (i + 1) + " must be a " + what + " name (a letter or '_', then " +
                    "letters, digits, '_', '.' or '-', at most 32) or a numeric " + what.charAt(0) + "id, not " +
                    ConfigValues.quote(name));
            }
            else
            {
                names.add(name);
            }
        }

        return names;
    }

    private List<String> exec(final Object value, final int line, final String key)
    {
        if (!(value instanceof TomlArray array))
        {
            error(line, key, "must be an array of strings, the program and its arguments, such as " +
                "[\"/usr/bin/app\", \"--flag\"], not " + ConfigValues.typeName(value));
            return List.of();
        }
        if (array.isEmpty())
        {
            error(line, key, "must not be empty: give the program and its arguments, such as [\"/usr/bin/app\"]");
            return List.of();
        }

        final List<String> command = new ArrayList<>();
        for (int i = 0; i < array.size(); i++)
        {
            final Object element = array.get(i);
            final int elementLine = line(array.inputPositionOf(i), line);
            if (!(element instanceof String argument))
            {
                error(elementLine, key, "entry " + (i + 1) + " must be a string, not " +
                    ConfigValues.typeName(element));
            }
            else if (0 == i && argument.isEmpty())
            {
                error(elementLine, key, "entry 1, the program, must not be empty");
            }
            else
            {
                command.add(argument);
            }
        }

        return command;
    }

    private String groupName(final Object value, final int line, final String key)
    {
        if (!(value instanceof String text))
        {
            error(line, key, "must be a group name (a string), not " + ConfigValues.typeName(value));
            return null;
        }
        if (text.isEmpty())
        {
            error(line, key, "must be a group name, not an empty string");
            return null;
        }
        return text;
    }

    private String path(final Object value, final int line, final String key)
    {
        if (!(value instanceof String text))
        {
            error(line, key, "must be a path string, not " + ConfigValues.typeName(value));
            return null;
        }
        if (text.isEmpty())
        {
            error(line, key, "must be a path, not an empty string");
            return null;
        }

        try
        {
            Path.of(text);
            return text;
        }
        catch (final InvalidPathException ex)
        {
            error(line, key, "is not a valid path: " + ex.getReason());
            return null;
        }
    }

    private int integer(
        final Object value, final int line, final String key, final int min, final int max, final int fallback)
    {
        if (!(value instanceof Long number))
        {
            error(line, key, "must be an integer, not " + ConfigValues.typeName(value));
            return fallback;
        }

        return inRange(number, Long.toString(number), line, key, min, max, fallback);
    }

    private int size(
        final Object value,
        final int line,
        final String key,
        final int min,
        final int max,
        final boolean powerOfTwo,
        final int fallback)
    {
        final long bytes;
        final String shown;
        if (value instanceof Long number)
        {
            bytes = number;
            shown = Long.toString(number);
        }
        else if (value instanceof String text)
        {
            shown = ConfigValues.quote(text);
            try
            {
                bytes = ConfigValues.parseSize(text);
            }
            catch (final NumberFormatException ex)
            {
                error(line, key, "must be a size " + SIZE_EXAMPLE + ", not " + shown);
                return fallback;
            }
        }
        else
        {
            error(line, key, "must be a size " + SIZE_EXAMPLE + ", not " + ConfigValues.typeName(value));
            return fallback;
        }

        if (bytes < min || bytes > max)
        {
            error(line, key, "must be from " + ConfigValues.formatSize(min) + " to " + ConfigValues.formatSize(max) +
                ", not " + shown);
            return fallback;
        }
        if (powerOfTwo && Long.bitCount(bytes) != 1)
        {
            error(line, key, "must be a power of two, such as \"1m\" or \"2m\", not " + shown);
            return fallback;
        }

        return (int)bytes;
    }

    private int inRange(
        final long number,
        final String shown,
        final int line,
        final String key,
        final int min,
        final int max,
        final int fallback)
    {
        if (number < min)
        {
            error(line, key, "must be at least " + min + ", not " + shown);
            return fallback;
        }
        if (number > max)
        {
            error(line, key, "must be at most " + max + ", not " + shown);
            return fallback;
        }

        return (int)number;
    }

    private long duration(final Object value, final int line, final String key, final long fallback)
    {
        if (!(value instanceof String text))
        {
            error(line, key, "must be a duration string " + DURATION_EXAMPLE + ", not " +
                ConfigValues.typeName(value));
            return fallback;
        }

        try
        {
            return ConfigValues.parseDurationMs(text);
        }
        catch (final NumberFormatException ex)
        {
            error(line, key, "must be a duration " + DURATION_EXAMPLE + ", not " + ConfigValues.quote(text));
        }
        catch (final ArithmeticException ex)
        {
            error(line, key, "is too long: " + ConfigValues.quote(text));
        }

        return fallback;
    }

    private boolean bool(final Object value, final int line, final String key, final boolean fallback)
    {
        if (!(value instanceof Boolean flag))
        {
            error(line, key, "must be true or false, not " + ConfigValues.typeName(value));
            return fallback;
        }

        return flag;
    }

    private <E> E choice(
        final Object value,
        final int line,
        final String key,
        final E[] choices,
        final Function<E, String> configName,
        final E fallback)
    {
        if (value instanceof String text)
        {
            for (final E choice : choices)
            {
                if (configName.apply(choice).equals(text))
                {
                    return choice;
                }
            }
        }

        final StringBuilder allowed = new StringBuilder("must be ");
        for (int i = 0; i < choices.length; i++)
        {
            if (i > 0)
            {
                allowed.append(i == choices.length - 1 ? " or " : ", ");
            }
            allowed.append(ConfigValues.quote(configName.apply(choices[i])));
        }
        allowed.append(", not ").append(
            value instanceof String text ? ConfigValues.quote(text) : ConfigValues.typeName(value));
        error(line, key, allowed.toString());

        return fallback;
    }

    private void error(final int line, final String key, final String problem)
    {
        errors.add(new ConfigException(source, line, key, problem));
    }

    private void warnUnknown(final int line, final String key)
    {
        warn(line, "unknown key '" + key + "' (ignored)");
    }

    private void warn(final int line, final String text)
    {
        warnings.add(new Warning(line, ConfigException.format(source, line, 0, null, text)));
    }

    private static int line(final TomlTable table, final String key)
    {
        return line(table.inputPositionOf(List.of(key)), 0);
    }

    private static int line(final TomlPosition position, final int fallback)
    {
        return null == position ? fallback : position.line();
    }
}
