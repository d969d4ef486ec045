package dev.mancom.transport.websocket;

import dev.mancom.transport.TransportException;
import dev.mancom.transport.TransportUri;

import java.util.Map;
import java.util.Objects;

/**
 * A {@code ws://HOST:PORT/PATH[?PARAMS]} URI, checked. Immutable.
 */
final class WebSocketOptions
{
    static final String SCHEME = "ws";
    static final String PARAM_MAX_MESSAGE = "max_message";
    static final String PARAM_BACKLOG = "backlog";
    static final String PARAM_CONNECT_TIMEOUT_MS = "connect_timeout_ms";
    static final String PARAM_HANDSHAKE_TIMEOUT_MS = "handshake_timeout_ms";
    static final String PARAM_NODELAY = "nodelay";

    /** Default largest message received (reassembled from its fragments): 256 KiB. */
    static final int DEFAULT_MAX_MESSAGE = 256 * 1024;
    /** Largest {@code max_message}: 16 MiB. */
    static final int MAX_MAX_MESSAGE = 16 * 1024 * 1024;
    static final int DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
    static final int DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;

    final TransportUri uri;
    final String host;
    final int port;
    final String path;
    final int maxMessage;
    final int backlog;
    final int connectTimeoutMs;
    final int handshakeTimeoutMs;
    final boolean noDelay;

    private WebSocketOptions(
        final TransportUri uri,
        final String path,
        final int maxMessage,
        final int backlog,
        final int connectTimeoutMs,
        final int handshakeTimeoutMs,
        final boolean noDelay)
    {
        this.uri = uri;
        this.host = uri.host();
        this.port = uri.port();
        this.path = path;
        this.maxMessage = maxMessage;
        this.backlog = backlog;
        this.connectTimeoutMs = connectTimeoutMs;
        this.handshakeTimeoutMs = handshakeTimeoutMs;
        this.noDelay = noDelay;
    }

    /**
     * Check a URI.
     *
     * @param uri the URI.
     * @return its options.
     * @throws TransportException naming the part that is wrong and the URI.
     */
    static WebSocketOptions parse(final TransportUri uri)
    {
        Objects.requireNonNull(uri, "uri");
        if (!SCHEME.equals(uri.scheme()))
        {
            throw new TransportException("scheme", "not a ws URI: '" + uri + "'" +
                ("wss".equals(uri.scheme()) ? " (wss:// is not supported: put a TLS proxy in front of ws://)" : ""));
        }
        if (null == uri.host() || uri.host().isEmpty())
        {
            throw new TransportException("host", "no host in '" + uri + "' (such as ws://127.0.0.1:8080/echo)");
        }
        if (uri.port() < 0)
        {
            throw new TransportException("port", "no port in '" + uri + "' (such as ws://127.0.0.1:8080/echo)");
        }
        if (uri.port() > 65535)
        {
            throw new TransportException("port", "port " + uri.port() + " is not in 0..65535 in '" + uri + "'");
        }
        final String path = uri.path().isEmpty() ? "/" : uri.path();
        for (int i = 0; i < path.length(); i++)
        {
            final char c = path.charAt(i);
            if (c <= ' ' || c >= 0x7f || '%' == c)
            {
                throw new TransportException("path", "the path '" + path + "' has a character a request line " +
                    "cannot carry as is, in '" + uri + "'");
            }
        }

        int maxMessage = DEFAULT_MAX_MESSAGE;
        int backlog = 0;
        int connectTimeoutMs = DEFAULT_CONNECT_TIMEOUT_MS;
        int handshakeTimeoutMs = DEFAULT_HANDSHAKE_TIMEOUT_MS;
        boolean noDelay = true;
        for (final Map.Entry<String, String> param : uri.params().entrySet())
        {
            final String key = param.getKey();
            final String value = param.getValue();
            switch (key)
            {
                case PARAM_MAX_MESSAGE:
                    maxMessage = positiveInt(uri, key, value);
                    if (maxMessage > MAX_MAX_MESSAGE)
                    {
                        throw new TransportException(key, key + " must be at most " + MAX_MAX_MESSAGE + ", not " +
                            value + ", in '" + uri + "'");
                    }
                    break;

                case PARAM_BACKLOG:
                    backlog = positiveInt(uri, key, value);
                    break;

                case PARAM_CONNECT_TIMEOUT_MS:
                    connectTimeoutMs = positiveInt(uri, key, value);
                    break;

                case PARAM_HANDSHAKE_TIMEOUT_MS:
                    handshakeTimeoutMs = positiveInt(uri, key, value);
                    break;

                case PARAM_NODELAY:
                    if (!"true".equals(value) && !"false".equals(value))
                    {
                        throw new TransportException(
                            key, "nodelay must be true or false, not '" + value + "', in '" + uri + "'");
                    }
                    noDelay = "true".equals(value);
                    break;

                default:
                    throw new TransportException(key, "unknown parameter '" + key + "' in '" + uri + "' (known: " +
                        PARAM_MAX_MESSAGE + ", " + PARAM_HANDSHAKE_TIMEOUT_MS + ", " + PARAM_CONNECT_TIMEOUT_MS +
                        ", " + PARAM_BACKLOG + ", " + PARAM_NODELAY + ")");
            }
        }
        return new WebSocketOptions(uri, path, maxMessage, backlog, connectTimeoutMs, handshakeTimeoutMs, noDelay);
    }

    private static int positiveInt(final TransportUri uri, final String key, final String value)
    {
        try
        {
            final int n = Integer.parseInt(value);
            if (n > 0)
            {
                return n;
            }
        }
        catch (final NumberFormatException ignore)
        {
            // Reported below, with the URI.
        }
        throw new TransportException(key, key + " must be a positive integer, not '" + value + "', in '" + uri + "'");
    }
}
