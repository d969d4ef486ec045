package dev.mancom.tools;

import picocli.CommandLine;

import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads durations such as {@code 500ms}, {@code 10s}, {@code 2m}, {@code 1h}.
 */
final class DurationConverter implements CommandLine.ITypeConverter<Duration>
{
    private static final Pattern FORMAT = Pattern.compile("(\\d+)(ms|s|m|h)?");

    public Duration convert(final String value)
    {
        final Matcher matcher = FORMAT.matcher(value.trim());
        if (!matcher.matches())
        {
            throw new CommandLine.TypeConversionException(
                "'" + value + "' is not a duration (such as 500ms, 10s, 2m, 1h)");
        }
        final long amount = Long.parseLong(matcher.group(1));
        final String unit = null == matcher.group(2) ? "s" : matcher.group(2);
        switch (unit)
        {
            case "ms":
                return Duration.ofMillis(amount);
            case "m":
                return Duration.ofMinutes(amount);
            case "h":
                return Duration.ofHours(amount);
            default:
                return Duration.ofSeconds(amount);
        }
    }
}
