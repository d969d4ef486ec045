package dev.mancom.transport;

import java.net.URI;
import java.net.URISyntaxException;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * A transport URI such as {@code tcp://127.0.0.1:7000}, {@code unix:///run/echo.sock} or
 * {@code serial:///dev/ttyUSB0?baud=115200}: the scheme names the transport, the rest is the transport's own.
 * Immutable.
 */
public final class TransportUri
{
    /**
     * An authority that is a pair of hexadecimal ids, as in {@code usb://1d6b:00ff}: not a host and port, so it is
     * kept as the {@link #authority()} for the transport to read rather than refused as a bad port.
     */
    private static final Pattern ID_PAIR = Pattern.compile("[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}");

    private final String text;
    private final String scheme;
    private final String authority;
    private final String host;
    private final int port;
    private final String path;
    private final Map<String, String> params;

    private TransportUri(
        final String text,
        final String scheme,
        final String authority,
        final String host,
        final int port,
        final String path,
        final Map<String, String> params)
    {
        this.text = text;
        this.scheme = scheme;
        this.authority = authority;
        this.host = host;
        this.port = port;
        this.path = path;
        this.params = params;
    }

    /**
     * Parse a URI.
     *
     * @param text the URI.
     * @return the parsed URI.
     * @throws TransportException naming what is wrong.
     */
    public static TransportUri parse(final String text)
    {
        Objects.requireNonNull(text, "uri");
        if (!text.contains("://"))
        {
            throw new TransportException("scheme", "URI has no scheme (such as tcp://): '" + text + "'");
        }
        final URI uri;
        try
        {
            uri = new URI(text.trim());
        }
        catch (final URISyntaxException ex)
        {
            throw new TransportException(null, "not a valid URI: '" + text + "': " + ex.getReason());
        }

        final String scheme = uri.getScheme();
        if (null == scheme)
        {
            throw new TransportException("scheme", "URI has no scheme (such as tcp://): '" + text + "'");
        }

        final String host = uri.getHost();
        final int port = uri.getPort();
        if (null == host && null != uri.getRawAuthority() && !uri.getRawAuthority().isEmpty() &&
            !ID_PAIR.matcher(uri.getRawAuthority()).matches())
        {
            // java.net.URI falls back to a registry authority when host or port do not parse.
            final String authority = uri.getRawAuthority();
            final int colon = authority.lastIndexOf(':');
            if (0 == colon)
            {
                throw new TransportException("host", "no host before the port in '" + text + "'");
            }
            if (colon >= 0 && authority.indexOf(']') < colon)
            {
                throw new TransportException(
                    "port", "bad port '" + authority.substring(colon + 1) + "' in '" + text + "'");
            }
            throw new TransportException("host", "bad host '" + authority + "' in '" + text + "'");
        }

        final Map<String, String> params = new LinkedHashMap<>();
        final String query = uri.getRawQuery();
        if (null != query && !query.isEmpty())
        {
            for (final String pair : query.split("&"))
            {
                if (pair.isEmpty())
                {
                    continue;
                }
                final int eq = pair.indexOf('=');
                final String key = decode(eq < 0 ? pair : pair.substring(0, eq));
                final String value = eq < 0 ? "" : decode(pair.substring(eq + 1));
                if (null != params.put(key, value))
                {
                    throw new TransportException(key, "parameter '" + key + "' given twice in '" + text + "'");
                }
            }
        }

        return new TransportUri(
            text.trim(),
            scheme.toLowerCase(Locale.ROOT),
            uri.getRawAuthority(),
            host,
            port,
            uri.getPath(),
            Collections.unmodifiableMap(params));
    }

    private static String decode(final String s)
    {
        return URLDecoder.decode(s, StandardCharsets.UTF_8);
    }

    /**
     * The scheme, lower case.
     *
     * @return the scheme.
     */
    public String scheme()
    {
        return scheme;
    }

    /**
     * The authority as written, such as {@code 127.0.0.1:7000} or {@code 1d6b:00ff}, or null when the URI has none.
     * A transport whose authority is not a host and port (USB's {@code VID:PID}) reads it here.
     *
     * @return the raw authority.
     */
    public String authority()
    {
        return authority;
    }

    /**
     * The host, or null when the URI has none.
     *
     * @return the host.
     */
    public String host()
    {
        return host;
    }

    /**
     * The port, or -1 when the URI has none.
     *
     * @return the port.
     */
    public int port()
    {
        return port;
    }

    /**
     * The path, decoded; empty when the URI has none.
     *
     * @return the path.
     */
    public String path()
    {
        return null == path ? "" : path;
    }

    /**
     * The query parameters, in order.
     *
     * @return an unmodifiable map.
     */
    public Map<String, String> params()
    {
        return params;
    }

    /**
     * One query parameter.
     *
     * @param key          the parameter's name.
     * @param defaultValue returned when absent.
     * @return the value.
     */
    public String param(final String key, final String defaultValue)
    {
        return params.getOrDefault(key, defaultValue);
    }

    /**
     * The URI as it was given.
     *
     * @return the text.
     */
    public String toString()
    {
        return text;
    }

    /**
     * {@inheritDoc}
     */
    public boolean equals(final Object o)
    {
        return o instanceof TransportUri && ((TransportUri)o).text.equals(text);
    }

    /**
     * {@inheritDoc}
     */
    public int hashCode()
    {
        return text.hashCode();
    }
}
