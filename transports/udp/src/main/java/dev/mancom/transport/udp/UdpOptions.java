package dev.mancom.transport.udp;

import dev.mancom.transport.TransportException;
import dev.mancom.transport.TransportUri;

import java.util.Map;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The parameters of a {@code udp://} URI, checked. Immutable.
 */
final class UdpOptions
{
    static final String SCHEME = "udp";

    static final String PARAM_IDLE_TIMEOUT = "idle_timeout";
    static final String PARAM_MAX_CONNECTIONS = "max_connections";
    static final String PARAM_QUEUE_BYTES = "queue_bytes";
    static final String PARAM_MAX_DATAGRAM = "max_datagram";

    /**
     * Largest payload of a UDP datagram over IPv4: 65,535 less the IPv4 header (20) and the UDP header (8).
     */
    static final int MAX_UDP_PAYLOAD = 65_507;

    static final long DEFAULT_IDLE_TIMEOUT_NS = TimeUnit.SECONDS.toNanos(60);
    static final int DEFAULT_MAX_CONNECTIONS = 1024;
    static final int DEFAULT_QUEUE_BYTES = 64 * 1024;
    static final int DEFAULT_MAX_DATAGRAM = MAX_UDP_PAYLOAD;

    private static final Pattern DURATION = Pattern.compile("(\\d{1,12})(ms|s|m|h)?");
    private static final String KNOWN =
        PARAM_IDLE_TIMEOUT + ", " + PARAM_MAX_CONNECTIONS + ", " + PARAM_QUEUE_BYTES + ", " + PARAM_MAX_DATAGRAM;

    final long idleTimeoutNs;
    final int maxConnections;
    final int queueBytes;
    final int maxDatagram;

    private UdpOptions(final long idleTimeoutNs, final int maxConnections, final int queueBytes, final int maxDatagram)
    {
        this.idleTimeoutNs = idleTimeoutNs;
        this.maxConnections = maxConnections;
        this.queueBytes = queueBytes;
        this.maxDatagram = maxDatagram;
    }

    /**
     * Check a URI and read its parameters.
     *
     * @param uri the URI.
     * @return the options.
     * @throws TransportException naming the part of the URI that is wrong.
     */
    static UdpOptions parse(final TransportUri uri)
    {
        Objects.requireNonNull(uri, "uri");
        if (!SCHEME.equals(uri.scheme()))
        {
            throw new TransportException("scheme", "not a udp URI: '" + uri + "'");
        }
        if (null == uri.host() || uri.host().isEmpty())
        {
            throw new TransportException("host", "no host in '" + uri + "' (such as udp://127.0.0.1:9000)");
        }
        if (uri.port() < 0)
        {
            throw new TransportException("port", "no port in '" + uri + "' (such as udp://127.0.0.1:9000)");
        }
        if (uri.port() > 65535)
        {
            throw new TransportException("port", "port " + uri.port() + " is not in 0..65535 in '" + uri + "'");
        }
        if (!uri.path().isEmpty() && !"/".equals(uri.path()))
        {
            throw new TransportException("path", "a udp URI has no path: '" + uri.path() + "' in '" + uri + "'");
        }

        long idleTimeoutNs = DEFAULT_IDLE_TIMEOUT_NS;
        int maxConnections = DEFAULT_MAX_CONNECTIONS;
        int queueBytes = DEFAULT_QUEUE_BYTES;
        int maxDatagram = DEFAULT_MAX_DATAGRAM;
        for (final Map.Entry<String, String> param : uri.params().entrySet())
        {
            final String key = param.getKey();
            final String value = param.getValue();
            switch (key)
            {
                case PARAM_IDLE_TIMEOUT:
                    idleTimeoutNs = duration(uri, key, value);
                    break;

                case PARAM_MAX_CONNECTIONS:
                    maxConnections = positiveInt(uri, key, value, Integer.MAX_VALUE);
                    break;

                case PARAM_QUEUE_BYTES:
                    queueBytes = positiveInt(uri, key, value, Integer.MAX_VALUE);
                    break;

                case PARAM_MAX_DATAGRAM:
                    maxDatagram = positiveInt(uri, key, value, MAX_UDP_PAYLOAD);
                    break;

                default:
                    throw new TransportException(
                        key, "unknown parameter '" + key + "' in '" + uri + "' (known: " + KNOWN + ")");
            }
        }

        return new UdpOptions(idleTimeoutNs, maxConnections, queueBytes, maxDatagram);
    }

    private static long duration(final TransportUri uri, final String key, final String value)
    {
        final Matcher matcher = DURATION.matcher(value);
        if (matcher.matches())
        {
            final long amount = Long.parseLong(matcher.group(1));
            final String unit = null == matcher.group(2) ? "s" : matcher.group(2);
            final TimeUnit timeUnit;
            switch (unit)
            {
                case "ms":
                    timeUnit = TimeUnit.MILLISECONDS;
                    break;
                case "m":
                    timeUnit = TimeUnit.MINUTES;
                    break;
                case "h":
                    timeUnit = TimeUnit.HOURS;
                    break;
                default:
                    timeUnit = TimeUnit.SECONDS;
                    break;
            }
            final long nanos = timeUnit.toNanos(amount);
            // toNanos saturates at Long.MAX_VALUE; a year is more than any idle time-out needs.
            if (amount > 0 && nanos <= TimeUnit.DAYS.toNanos(365))
            {
                return nanos;
            }
        }
        throw new TransportException(key, key + " must be a positive duration of at most a year, such as 500ms, 30s, " +
            "5m or 1h (a number alone is seconds), not '" + value + "', in '" + uri + "'");
    }

    private static int positiveInt(final TransportUri uri, final String key, final String value, final int max)
    {
        try
        {
            final int n = Integer.parseInt(value);
            if (n > 0 && n <= max)
            {
                return n;
            }
        }
        catch (final NumberFormatException ignore)
        {
            // Reported below, with the URI.
        }
        throw new TransportException(key, key + " must be an integer in 1.." + max + ", not '" + value + "', in '" +
            uri + "'");
    }
}
