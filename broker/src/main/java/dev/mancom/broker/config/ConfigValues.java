package dev.mancom.broker.config;

import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.LocalTime;
import java.time.OffsetDateTime;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.tomlj.Toml;
import org.tomlj.TomlArray;
import org.tomlj.TomlTable;

/**
 * Value syntax shared by the configuration parser: sizes, durations, dotted keys and how values are described in
 * messages.
 */
final class ConfigValues
{
    private static final Pattern BARE_KEY = Pattern.compile("[A-Za-z0-9_-]+");
    private static final Pattern SIZE = Pattern.compile("([0-9]+)([kKmMgG]?)");
    private static final Pattern DURATION = Pattern.compile("([0-9]+)(ms|s|m|h)?");

    private ConfigValues()
    {
    }

    /**
     * Parse a size: a number of bytes with an optional binary suffix k, m or g (either case), such as
     * {@code "256k"}.
     *
     * @param text the size as written.
     * @return the number of bytes, {@link Long#MAX_VALUE} if it is too large to represent.
     * @throws NumberFormatException if the text is not a size.
     */
    static long parseSize(final String text)
    {
        final Matcher matcher = SIZE.matcher(text);
        if (!matcher.matches())
        {
            throw new NumberFormatException("not a size: " + text);
        }

        final int shift;
        switch (matcher.group(2))
        {
            case "k", "K" -> shift = 10;
            case "m", "M" -> shift = 20;
            case "g", "G" -> shift = 30;
            default -> shift = 0;
        }

        try
        {
            return Math.multiplyExact(Long.parseLong(matcher.group(1)), 1L << shift);
        }
        catch (final ArithmeticException | NumberFormatException ex)
        {
            return Long.MAX_VALUE;
        }
    }

    /**
     * Parse a duration: a number with a unit {@code ms}, {@code s}, {@code m} or {@code h}, such as {@code "5s"}, or
     * a plain {@code "0"}.
     *
     * @param text the duration as written.
     * @return the duration in milliseconds.
     * @throws NumberFormatException    if the text is not a duration.
     * @throws ArithmeticException if the duration is too long to represent in milliseconds.
     */
    static long parseDurationMs(final String text)
    {
        final Matcher matcher = DURATION.matcher(text);
        if (!matcher.matches())
        {
            throw new NumberFormatException("not a duration: " + text);
        }

        final String unit = matcher.group(2);
        final long amount;
        try
        {
            amount = Long.parseLong(matcher.group(1));
        }
        catch (final NumberFormatException ex)
        {
            throw new ArithmeticException("duration too long: " + text);
        }

        if (null == unit)
        {
            if (0 != amount)
            {
                throw new NumberFormatException("duration without a unit: " + text);
            }
            return 0;
        }

        final long multiplier;
        switch (unit)
        {
            case "s" -> multiplier = 1000L;
            case "m" -> multiplier = 60_000L;
            case "h" -> multiplier = 3_600_000L;
            default -> multiplier = 1L;
        }

        return Math.multiplyExact(amount, multiplier);
    }

    /**
     * Write a number of bytes the short way, such as {@code 64k} or {@code 1m}.
     *
     * @param bytes the number of bytes.
     * @return the size with the largest binary suffix that divides it exactly.
     */
    static String formatSize(final long bytes)
    {
        if (bytes != 0 && bytes % (1L << 30) == 0)
        {
            return (bytes >> 30) + "g";
        }
        if (bytes != 0 && bytes % (1L << 20) == 0)
        {
            return (bytes >> 20) + "m";
        }
        if (bytes != 0 && bytes % (1L << 10) == 0)
        {
            return (bytes >> 10) + "k";
        }

        return Long.toString(bytes);
    }

    /**
     * One part of a dotted key as TOML writes it: bare when it can be, quoted otherwise (so a service named
     * {@code echo.v2} is {@code service."echo.v2"}).
     *
     * @param key the key.
     * @return the key, quoted if needed.
     */
    static String keyPart(final String key)
    {
        return BARE_KEY.matcher(key).matches() ? key : quote(key);
    }

    /**
     * A string as a TOML basic string, for messages.
     *
     * @param text the text.
     * @return the text in double quotes, escaped.
     */
    static String quote(final String text)
    {
        return "\"" + Toml.tomlEscape(text) + "\"";
    }

    /**
     * The TOML type of a value, with its article, for messages such as {@code must be a string, not an integer}.
     *
     * @param value a value from a parsed TOML table.
     * @return such as {@code "an integer"}.
     */
    static String typeName(final Object value)
    {
        if (value instanceof String)
        {
            return "a string";
        }
        if (value instanceof Long)
        {
            return "an integer";
        }
        if (value instanceof Double)
        {
            return "a float";
        }
        if (value instanceof Boolean)
        {
            return "a boolean";
        }
        if (value instanceof TomlArray)
        {
            return "an array";
        }
        if (value instanceof TomlTable)
        {
            return "a table";
        }
        if (value instanceof OffsetDateTime || value instanceof LocalDateTime)
        {
            return "a date-time";
        }
        if (value instanceof LocalDate)
        {
            return "a date";
        }
        if (value instanceof LocalTime)
        {
            return "a time";
        }

        return null == value ? "nothing" : "a " + value.getClass().getSimpleName();
    }
}
