package dev.mancom.transport.serial;

import dev.mancom.transport.TransportException;
import dev.mancom.transport.TransportUri;

import java.util.Map;
import java.util.Objects;

/**
 * The device path and line settings of a {@code serial://} URI, checked. Immutable.
 * <pre>
 * serial:///dev/ttyUSB0?baud=115200&amp;data_bits=8&amp;parity=none&amp;stop_bits=1&amp;flow_control=none
 * </pre>
 */
final class SerialOptions
{
    static final String SCHEME = "serial";

    static final String PARAM_BAUD = "baud";
    static final String PARAM_DATA_BITS = "data_bits";
    static final String PARAM_PARITY = "parity";
    static final String PARAM_STOP_BITS = "stop_bits";
    static final String PARAM_FLOW_CONTROL = "flow_control";

    static final int DEFAULT_BAUD = 115_200;
    static final int DEFAULT_DATA_BITS = 8;
    static final int MAX_BAUD = 4_000_000;

    private static final String KNOWN = String.join(
        ", ", PARAM_BAUD, PARAM_DATA_BITS, PARAM_PARITY, PARAM_STOP_BITS, PARAM_FLOW_CONTROL);

    /**
     * Parity of each character.
     */
    enum Parity
    {
        NONE, EVEN, ODD, MARK, SPACE
    }

    /**
     * Stop bits after each character.
     */
    enum StopBits
    {
        ONE("1"), ONE_POINT_FIVE("1.5"), TWO("2");

        final String text;

        StopBits(final String text)
        {
            this.text = text;
        }
    }

    /**
     * How the two ends hold each other back.
     */
    enum FlowControl
    {
        NONE, RTS_CTS, XON_XOFF
    }

    final String path;
    final int baud;
    final int dataBits;
    final Parity parity;
    final StopBits stopBits;
    final FlowControl flowControl;

    private SerialOptions(
        final String path,
        final int baud,
        final int dataBits,
        final Parity parity,
        final StopBits stopBits,
        final FlowControl flowControl)
    {
        this.path = path;
        this.baud = baud;
        this.dataBits = dataBits;
        this.parity = parity;
        this.stopBits = stopBits;
        this.flowControl = flowControl;
    }

    /**
     * Check a URI and read its settings.
     *
     * @param uri the URI.
     * @return the options.
     * @throws TransportException naming the part of the URI that is wrong.
     */
    static SerialOptions parse(final TransportUri uri)
    {
        Objects.requireNonNull(uri, "uri");
        if (!SCHEME.equals(uri.scheme()))
        {
            throw new TransportException("scheme", "not a serial URI: '" + uri + "'");
        }
        if (null != uri.host() && !uri.host().isEmpty())
        {
            throw new TransportException("host", "a serial URI has no host: '" + uri.host() + "' in '" + uri +
                "' (three slashes, such as serial:///dev/ttyUSB0)");
        }
        final String path = uri.path();
        if (!path.startsWith("/") || path.endsWith("/"))
        {
            throw new TransportException("path", "a serial URI needs the absolute path of a device, such as " +
                "serial:///dev/ttyUSB0, not '" + path + "', in '" + uri + "'");
        }
        if (path.indexOf('\0') >= 0)
        {
            throw new TransportException("path", "the device path has a NUL character in '" + uri + "'");
        }

        int baud = DEFAULT_BAUD;
        int dataBits = DEFAULT_DATA_BITS;
        Parity parity = Parity.NONE;
        StopBits stopBits = StopBits.ONE;
        FlowControl flowControl = FlowControl.NONE;
        for (final Map.Entry<String, String> param : uri.params().entrySet())
        {
            final String key = param.getKey();
            final String value = param.getValue();
            switch (key)
            {
                case PARAM_BAUD:
                    baud = intIn(uri, key, value, 50, MAX_BAUD);
                    break;

                case PARAM_DATA_BITS:
                    dataBits = intIn(uri, key, value, 5, 8);
                    break;

                case PARAM_PARITY:
                    parity = oneOf(uri, key, value, Parity.values(), "none, even, odd, mark, space");
                    break;

                case PARAM_STOP_BITS:
                    stopBits = stopBits(uri, key, value);
                    break;

                case PARAM_FLOW_CONTROL:
                    flowControl = oneOf(uri, key, value, FlowControl.values(), "none, rts_cts, xon_xoff");
                    break;

                default:
                    throw new TransportException(
                        key, "unknown parameter '" + key + "' in '" + uri + "' (known: " + KNOWN + ")");
            }
        }
        if (StopBits.ONE_POINT_FIVE == stopBits && 5 != dataBits)
        {
            // A UART sends 1.5 stop bits only after 5-bit characters, where termios' two stop bits mean 1.5.
            throw new TransportException(PARAM_STOP_BITS, PARAM_STOP_BITS + "=1.5 needs " + PARAM_DATA_BITS +
                "=5 (serial ports send 1.5 stop bits only after 5-bit characters); use 1 or 2 in '" + uri + "'");
        }
        return new SerialOptions(path, baud, dataBits, parity, stopBits, flowControl);
    }

    /**
     * The settings as URI parameters, defaults included, for logs.
     *
     * @return such as {@code baud=115200 data_bits=8 parity=none stop_bits=1 flow_control=none}.
     */
    String settings()
    {
        return PARAM_BAUD + "=" + baud + " " + PARAM_DATA_BITS + "=" + dataBits + " " + PARAM_PARITY + "=" +
            lower(parity) + " " + PARAM_STOP_BITS + "=" + stopBits.text + " " + PARAM_FLOW_CONTROL + "=" +
            lower(flowControl);
    }

    private static String lower(final Enum<?> value)
    {
        return value.name().toLowerCase(java.util.Locale.ROOT);
    }

    private static int intIn(
        final TransportUri uri, final String key, final String value, final int min, final int max)
    {
        try
        {
            final int n = Integer.parseInt(value);
            if (n >= min && n <= max)
            {
                return n;
            }
        }
        catch (final NumberFormatException ignore)
        {
            // Reported below, with the URI.
        }
        throw new TransportException(key, key + " must be an integer in " + min + ".." + max + ", not '" + value +
            "', in '" + uri + "'");
    }

    private static <E extends Enum<E>> E oneOf(
        final TransportUri uri, final String key, final String value, final E[] values, final String allowed)
    {
        for (final E candidate : values)
        {
            if (lower(candidate).equals(value))
            {
                return candidate;
            }
        }
        throw new TransportException(key, key + " must be one of " + allowed + ", not '" + value + "', in '" +
            uri + "'");
    }

    private static StopBits stopBits(final TransportUri uri, final String key, final String value)
    {
        for (final StopBits candidate : StopBits.values())
        {
            if (candidate.text.equals(value))
            {
                return candidate;
            }
        }
        throw new TransportException(key, key + " must be one of 1, 1.5, 2, not '" + value + "', in '" + uri + "'");
    }
}
