package dev.mancom.transport.usb;

import dev.mancom.protocol.Endpoint;
import dev.mancom.transport.TransportException;
import dev.mancom.transport.TransportUri;

import java.util.Locale;
import java.util.Map;
import java.util.Objects;

/**
 * The parts of a {@code usb://VID:PID?serial=S&interface=N} URI, checked. Immutable.
 */
final class UsbOptions
{
    static final String SCHEME = "usb";

    static final String KEY_VENDOR = "vid";
    static final String KEY_PRODUCT = "pid";
    static final String PARAM_SERIAL = "serial";
    static final String PARAM_INTERFACE = "interface";
    static final String PARAM_IN = "in";
    static final String PARAM_OUT = "out";
    static final String PARAM_HOTPLUG = "hotplug";
    static final String PARAM_POLL_MS = "poll_ms";

    /** An endpoint chosen by the transport: the interface's first bulk endpoint of the direction. */
    static final int ANY_ENDPOINT = -1;

    static final int DEFAULT_POLL_MS = 500;
    static final int MIN_POLL_MS = 10;
    static final int MAX_POLL_MS = 60_000;

    private static final String KNOWN = String.join(", ",
        PARAM_SERIAL, PARAM_INTERFACE, PARAM_IN, PARAM_OUT, PARAM_HOTPLUG, PARAM_POLL_MS);

    final int vendorId;
    final int productId;
    final String serial;
    final int interfaceNumber;
    final int inEndpoint;
    final int outEndpoint;
    final boolean hotplug;
    final int pollMs;

    private UsbOptions(
        final int vendorId,
        final int productId,
        final String serial,
        final int interfaceNumber,
        final int inEndpoint,
        final int outEndpoint,
        final boolean hotplug,
        final int pollMs)
    {
        this.vendorId = vendorId;
        this.productId = productId;
        this.serial = serial;
        this.interfaceNumber = interfaceNumber;
        this.inEndpoint = inEndpoint;
        this.outEndpoint = outEndpoint;
        this.hotplug = hotplug;
        this.pollMs = pollMs;
    }

    /**
     * Check a URI and read its parts.
     *
     * @param uri the URI.
     * @return the options.
     * @throws TransportException naming the part of the URI that is wrong.
     */
    static UsbOptions parse(final TransportUri uri)
    {
        Objects.requireNonNull(uri, "uri");
        if (!SCHEME.equals(uri.scheme()))
        {
            throw new TransportException("scheme", "not a usb URI: '" + uri + "'");
        }
        final String authority = uri.authority();
        if (null == authority || authority.isEmpty())
        {
            throw new TransportException(
                KEY_VENDOR, "no vendor and product id in '" + uri + "' (such as usb://1d6b:0104)");
        }
        final int colon = authority.indexOf(':');
        if (colon < 0)
        {
            throw new TransportException(
                KEY_PRODUCT, "no product id after the vendor id in '" + uri + "' (such as usb://1d6b:0104)");
        }
        final int vendorId = parseId(uri, KEY_VENDOR, "vendor", authority.substring(0, colon));
        final int productId = parseId(uri, KEY_PRODUCT, "product", authority.substring(colon + 1));
        if (!uri.path().isEmpty() && !"/".equals(uri.path()))
        {
            throw new TransportException("path", "a usb URI has no path: '" + uri.path() + "' in '" + uri + "'");
        }

        String serial = null;
        int interfaceNumber = 0;
        int in = ANY_ENDPOINT;
        int out = ANY_ENDPOINT;
        boolean hotplug = true;
        int pollMs = DEFAULT_POLL_MS;
        for (final Map.Entry<String, String> param : uri.params().entrySet())
        {
            final String key = param.getKey();
            final String value = param.getValue();
            switch (key)
            {
                case PARAM_SERIAL:
                    if (value.isEmpty())
                    {
                        throw new TransportException(key, "empty serial in '" + uri + "'");
                    }
                    serial = value;
                    break;

                case PARAM_INTERFACE:
                    interfaceNumber = parseNumber(uri, key, value, 0, 255);
                    break;

                case PARAM_IN:
                    in = parseNumber(uri, key, value, 0x81, 0x8f);
                    break;

                case PARAM_OUT:
                    out = parseNumber(uri, key, value, 0x01, 0x0f);
                    break;

                case PARAM_HOTPLUG:
                    if ("true".equals(value))
                    {
                        hotplug = true;
                    }
                    else if ("false".equals(value))
                    {
                        hotplug = false;
                    }
                    else
                    {
                        throw new TransportException(
                            key, "hotplug must be true or false, not '" + value + "', in '" + uri + "'");
                    }
                    break;

                case PARAM_POLL_MS:
                    pollMs = parseNumber(uri, key, value, MIN_POLL_MS, MAX_POLL_MS);
                    break;

                default:
                    throw new TransportException(
                        key, "unknown parameter '" + key + "' in '" + uri + "' (known: " + KNOWN + ")");
            }
        }
        return new UsbOptions(vendorId, productId, serial, interfaceNumber, in, out, hotplug, pollMs);
    }

    /**
     * Whether a device is one this URI asks for.
     *
     * @param device the device.
     * @return true when vendor and product ids match.
     */
    boolean matchesIds(final UsbBackend.DeviceInfo device)
    {
        return device.vendorId() == vendorId && device.productId() == productId;
    }

    /**
     * Whether a serial number is the one the URI asks for.
     *
     * @param deviceSerial the device's serial number, may be null.
     * @return true when the URI names no serial or the same one.
     */
    boolean matchesSerial(final String deviceSerial)
    {
        return null == serial || serial.equals(deviceSerial);
    }

    /**
     * The URI's device as an endpoint: what a listener listens for.
     *
     * @return the endpoint, with unknown bus and port path.
     */
    Endpoint endpoint()
    {
        return Endpoint.usb(Endpoint.UNKNOWN, null, vendorId, productId, serial);
    }

    /**
     * The ids as written in a URI.
     *
     * @return such as {@code 1d6b:0104}, with the serial when the URI names one.
     */
    String describe()
    {
        return String.format(Locale.ROOT, "%04x:%04x", vendorId, productId) +
            (null == serial ? "" : " with serial '" + serial + "'");
    }

    private static int parseId(final TransportUri uri, final String key, final String what, final String text)
    {
        if (text.isEmpty() || text.length() > 4 || !isHex(text))
        {
            throw new TransportException(key, "bad " + what + " id '" + text + "' in '" + uri +
                "': four hexadecimal digits at most, such as usb://1d6b:0104");
        }
        return Integer.parseInt(text, 16);
    }

    private static boolean isHex(final String text)
    {
        for (int i = 0; i < text.length(); i++)
        {
            if (Character.digit(text.charAt(i), 16) < 0)
            {
                return false;
            }
        }
        return true;
    }

    private static int parseNumber(
        final TransportUri uri, final String key, final String value, final int min, final int max)
    {
        final int number;
        try
        {
            if (value.startsWith("0x") || value.startsWith("0X"))
            {
                number = Integer.parseInt(value.substring(2), 16);
            }
            else
            {
                number = Integer.parseInt(value);
            }
        }
        catch (final NumberFormatException ex)
        {
            throw new TransportException(key, key + " must be a number, not '" + value + "', in '" + uri + "'");
        }
        if (number < min || number > max)
        {
            throw new TransportException(key, String.format(Locale.ROOT,
                "%s %s is not in 0x%x..0x%x (%d..%d) in '%s'", key, value, min, max, min, max, uri));
        }
        return number;
    }
}
