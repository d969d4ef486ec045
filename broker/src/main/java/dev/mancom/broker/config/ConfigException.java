package dev.mancom.broker.config;

import java.util.ArrayList;
import java.util.List;

/**
 * The broker configuration is wrong or cannot be read. The message names where and what:
 * {@code <file>:<line>: <key>: <what is wrong>}, for example
 * {@code /etc/mancom/mancom.toml:7: service.echo.on_owner_exit: must be "close" or "hold", not "keep"}; for a TOML
 * syntax error it is {@code <file>:<line>:<column>: syntax error: <what is wrong>}. The line (and column) is left
 * out when it is not known, and the key when the problem is not about one key.
 * <p>
 * When a file has several problems the message reports the first (in file order) and {@link #errors()} lists
 * them all, each formatted like the message.
 */
public class ConfigException extends RuntimeException
{
    private static final long serialVersionUID = 1L;

    private final String file;
    private final int line;
    private final int column;
    private final String key;
    private final String problem;
    private final List<String> errors;

    /**
     * A problem with one key (or with the whole file when {@code key} is null).
     *
     * @param file    the configuration file (or other source name, such as {@code built-in default}).
     * @param line    the line the problem is on, starting at 1, or 0 if not known.
     * @param key     the dotted key, such as {@code service.echo.listen}, or null.
     * @param problem what is wrong, for a person, such as {@code must be "close" or "hold", not "keep"}.
     */
    public ConfigException(final String file, final int line, final String key, final String problem)
    {
        this(file, line, 0, key, problem, null, null);
    }

    /**
     * A problem with one key (or with the whole file when {@code key} is null), with a cause.
     *
     * @param file    the configuration file (or other source name).
     * @param line    the line the problem is on, starting at 1, or 0 if not known.
     * @param key     the dotted key, such as {@code service.echo.listen}, or null.
     * @param problem what is wrong, for a person.
     * @param cause   the underlying failure, such as an {@link java.io.IOException}.
     */
    public ConfigException(
        final String file, final int line, final String key, final String problem, final Throwable cause)
    {
        this(file, line, 0, key, problem, null, cause);
    }

    private ConfigException(
        final String file,
        final int line,
        final int column,
        final String key,
        final String problem,
        final List<String> errors,
        final Throwable cause)
    {
        super(format(file, line, column, key, problem), cause);
        this.file = file;
        this.line = Math.max(0, line);
        this.column = Math.max(0, column);
        this.key = key;
        this.problem = problem;
        this.errors = null == errors ? List.of(getMessage()) : List.copyOf(errors);
    }

    /**
     * A TOML syntax error.
     *
     * @param file    the configuration file.
     * @param line    the line, or 0 if not known.
     * @param column  the column, or 0 if not known.
     * @param message the parser's description of the error.
     * @param errors  every syntax error in the file, formatted, the first being this one.
     * @return the exception.
     */
    static ConfigException syntaxError(
        final String file, final int line, final int column, final String message, final List<String> errors)
    {
        return new ConfigException(file, line, column, null, "syntax error: " + message, errors, null);
    }

    /**
     * One exception for several problems in one file: the first by line (then in the order given) is the message,
     * all are in {@link #errors()} in line order.
     *
     * @param problems the problems, at least one, in the order found.
     * @return the exception.
     */
    public static ConfigException combine(final List<ConfigException> problems)
    {
        if (problems.size() == 1)
        {
            return problems.get(0);
        }

        final List<ConfigException> sorted = new ArrayList<>(problems);
        sorted.sort((a, b) -> Integer.compare(a.line, b.line));
        final List<String> messages = new ArrayList<>();
        for (final ConfigException problem : sorted)
        {
            messages.addAll(problem.errors);
        }

        final ConfigException first = sorted.get(0);
        return new ConfigException(
            first.file, first.line, first.column, first.key, first.problem, messages, first.getCause());
    }

    /**
     * Format a location and problem the way every configuration message is formatted.
     *
     * @param file    the file.
     * @param line    the line, or 0 to leave it out.
     * @param column  the column, or 0 to leave it out.
     * @param key     the dotted key, or null to leave it out.
     * @param problem what is wrong.
     * @return {@code <file>:<line>[:<column>]: [<key>: ]<problem>}.
     */
    static String format(final String file, final int line, final int column, final String key, final String problem)
    {
        final StringBuilder builder = new StringBuilder();
        builder.append(file);
        if (line > 0)
        {
            builder.append(':').append(line);
            if (column > 0)
            {
                builder.append(':').append(column);
            }
        }
        builder.append(": ");
        if (null != key)
        {
            builder.append(key).append(": ");
        }

        return builder.append(problem).toString();
    }

    /**
     * The configuration file the problem is in.
     *
     * @return the file as given to the loader, or a source name such as {@code built-in default}.
     */
    public String file()
    {
        return file;
    }

    /**
     * The line the problem is on.
     *
     * @return the line, starting at 1, or 0 if not known (for example when the file cannot be read).
     */
    public int line()
    {
        return line;
    }

    /**
     * The column the problem is at, known only for TOML syntax errors.
     *
     * @return the column, starting at 1, or 0 if not known.
     */
    public int column()
    {
        return column;
    }

    /**
     * The dotted key the problem is about.
     *
     * @return the key, such as {@code service.echo.listen}, or null when the problem is not about one key.
     */
    public String key()
    {
        return key;
    }

    /**
     * What is wrong, without the location and key.
     *
     * @return the description, such as {@code must be "close" or "hold", not "keep"}.
     */
    public String problem()
    {
        return problem;
    }

    /**
     * Every problem found, each formatted like {@link #getMessage()}, the first being the message.
     *
     * @return the problems, unmodifiable, never empty.
     */
    public List<String> errors()
    {
        return errors;
    }
}
