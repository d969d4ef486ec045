package dev.mancom.broker;

import java.util.List;

/**
 * What a live reload changed: see {@link Broker#reload()}.
 *
 * @param source  the configuration file that was read again.
 * @param changes one line per change, in the order applied; empty when the file asked for nothing new.
 */
public record ReloadReport(String source, List<String> changes)
{
    /**
     * A report.
     *
     * @param source  the configuration file that was read again.
     * @param changes one line per change.
     */
    public ReloadReport
    {
        changes = List.copyOf(changes);
    }

    /**
     * One line for the log.
     *
     * @return such as {@code configuration reloaded from /etc/mancom/mancom.toml: 2 changes}.
     */
    public String summary()
    {
        return "configuration reloaded from " + source + ": " +
            (changes.isEmpty() ? "no change" : changes.size() + (changes.size() == 1 ? " change" : " changes"));
    }

    /**
     * The summary, then each change on a line of its own.
     *
     * @return the text.
     */
    public String describe()
    {
        final StringBuilder builder = new StringBuilder(summary());
        for (final String change : changes)
        {
            builder.append("\n  ").append(change);
        }
        return builder.toString();
    }
}
