package dev.mancom.protocol;

import dev.mancom.protocol.codecs.TransportType;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.Arrays;
import java.util.Objects;

/**
 * One end of a connection: the transport type and the address for that type.
 * <p>
 * Which fields are meaningful depends on {@link #type()}:
 * <ul>
 *     <li>{@code TCP}, {@code UDP}: {@link #address()} (IP address) and {@link #port()}.</li>
 *     <li>{@code UNIX}: {@link #path()}, and for the remote end the peer's {@link #pid()}, {@link #uid()} and
 *     {@link #gid()} as the kernel reports them.</li>
 *     <li>{@code USB}: {@link #usbBus()}, {@link #path()} (the port path, such as {@code 1-2.3}),
 *     {@link #vendorId()}, {@link #productId()} and {@link #serialNumber()}.</li>
 *     <li>{@code SERIAL}: {@link #path()} is the serial port's name, such as {@code /dev/ttyUSB0}.</li>
 *     <li>{@code LOCAL}: another application on the same machine, named by {@link #pid()}, {@link #uid()},
 *     {@link #gid()}.</li>
 *     <li>{@code PLUGIN}: a plugged-in transport; {@link #scheme()} names it and {@link #opaqueAddress()} carries
 *     its address as the plug-in encodes it, with {@link #path()} as a printable form.</li>
 * </ul>
 * Fields that do not apply are {@link #UNKNOWN} for numbers, {@code null} for objects. Instances are immutable.
 */
public final class Endpoint
{
    /** Value of a numeric field that is unknown or does not apply to the transport type. */
    public static final int UNKNOWN = -1;

    private final TransportType type;
    private final String scheme;
    private final byte[] opaqueAddress;
    private final int port;
    private final String path;
    private final String serialNumber;
    private final long pid;
    private final int uid;
    private final int gid;
    private final int usbBus;
    private final int vendorId;
    private final int productId;

    private Endpoint(
        final TransportType type,
        final String scheme,
        final byte[] opaqueAddress,
        final int port,
        final String path,
        final String serialNumber,
        final long pid,
        final int uid,
        final int gid,
        final int usbBus,
        final int vendorId,
        final int productId)
    {
        this.type = Objects.requireNonNull(type, "type");
        this.scheme = Objects.requireNonNull(scheme, "scheme");
        this.opaqueAddress = opaqueAddress;
        this.port = port;
        this.path = path;
        this.serialNumber = serialNumber;
        this.pid = pid;
        this.uid = uid;
        this.gid = gid;
        this.usbBus = usbBus;
        this.vendorId = vendorId;
        this.productId = productId;
    }

    /**
     * Decode an endpoint from its fields, as carried by the protocol. No validation beyond the type.
     *
     * @param type          transport type.
     * @param scheme        URI scheme of the transport.
     * @param address       raw address bytes (IP address, or a plug-in's opaque address), may be null.
     * @param port          port or {@link #UNKNOWN}.
     * @param path          path, port name or port path, may be null.
     * @param serialNumber  USB serial number, may be null.
     * @param pid           peer process id or {@link #UNKNOWN}.
     * @param uid           peer user id or {@link #UNKNOWN}.
     * @param gid           peer group id or {@link #UNKNOWN}.
     * @param usbBus        USB bus number or {@link #UNKNOWN}.
     * @param vendorId      USB vendor id or {@link #UNKNOWN}.
     * @param productId     USB product id or {@link #UNKNOWN}.
     * @return the endpoint.
     */
    public static Endpoint of(
        final TransportType type,
        final String scheme,
        final byte[] address,
        final int port,
        final String path,
        final String serialNumber,
        final long pid,
        final int uid,
        final int gid,
        final int usbBus,
        final int vendorId,
        final int productId)
    {
        return new Endpoint(
            type, scheme, address == null ? null : address.clone(), port, path, serialNumber,
            pid, uid, gid, usbBus, vendorId, productId);
    }

    /**
     * An IP endpoint of a stream (TCP) or datagram (UDP) transport.
     *
     * @param type    {@link TransportType#TCP} or {@link TransportType#UDP}.
     * @param address the socket address, resolved.
     * @return the endpoint.
     */
    public static Endpoint ip(final TransportType type, final InetSocketAddress address)
    {
        if (type != TransportType.TCP && type != TransportType.UDP)
        {
            throw new IllegalArgumentException("not an IP transport: " + type);
        }
        final InetAddress inetAddress = address.getAddress();
        if (null == inetAddress)
        {
            throw new IllegalArgumentException("unresolved address: " + address);
        }
        return new Endpoint(
            type, type == TransportType.TCP ? "tcp" : "udp", inetAddress.getAddress(), address.getPort(),
            null, null, UNKNOWN, UNKNOWN, UNKNOWN, UNKNOWN, UNKNOWN, UNKNOWN);
    }

    /**
     * A Unix domain socket endpoint.
     *
     * @param path socket path (may be empty for an unnamed peer socket).
     * @param pid  peer process id from the kernel, or {@link #UNKNOWN}.
     * @param uid  peer user id from the kernel, or {@link #UNKNOWN}.
     * @param gid  peer group id from the kernel, or {@link #UNKNOWN}.
     * @return the endpoint.
     */
    public static Endpoint unix(final String path, final long pid, final int uid, final int gid)
    {
        return new Endpoint(
            TransportType.UNIX, "unix", null, UNKNOWN, path, null, pid, uid, gid, UNKNOWN, UNKNOWN, UNKNOWN);
    }

    /**
     * Another application on this machine, reached over shared memory.
     *
     * @param pid its process id.
     * @param uid its user id.
     * @param gid its group id.
     * @return the endpoint.
     */
    public static Endpoint local(final long pid, final int uid, final int gid)
    {
        return new Endpoint(
            TransportType.LOCAL, "local", null, UNKNOWN, null, null, pid, uid, gid, UNKNOWN, UNKNOWN, UNKNOWN);
    }

    /**
     * A USB device.
     *
     * @param bus          bus number.
     * @param portPath     port path such as {@code 1-2.3}.
     * @param vendorId     vendor id.
     * @param productId    product id.
     * @param serialNumber serial number string, may be null.
     * @return the endpoint.
     */
    public static Endpoint usb(
        final int bus, final String portPath, final int vendorId, final int productId, final String serialNumber)
    {
        return new Endpoint(
            TransportType.USB, "usb", null, UNKNOWN, portPath, serialNumber, UNKNOWN, UNKNOWN, UNKNOWN,
            bus, vendorId, productId);
    }

    /**
     * A serial port.
     *
     * @param portName the port's name such as {@code /dev/ttyUSB0}.
     * @return the endpoint.
     */
    public static Endpoint serial(final String portName)
    {
        return new Endpoint(
            TransportType.SERIAL, "serial", null, UNKNOWN, portName, null, UNKNOWN, UNKNOWN, UNKNOWN,
            UNKNOWN, UNKNOWN, UNKNOWN);
    }

    /**
     * An endpoint of a plugged-in transport.
     *
     * @param scheme    the plug-in's URI scheme.
     * @param opaque    the address as the plug-in encodes it.
     * @param printable a printable form of the address.
     * @return the endpoint.
     */
    public static Endpoint plugin(final String scheme, final byte[] opaque, final String printable)
    {
        return new Endpoint(
            TransportType.PLUGIN, scheme, opaque == null ? null : opaque.clone(), UNKNOWN, printable, null,
            UNKNOWN, UNKNOWN, UNKNOWN, UNKNOWN, UNKNOWN, UNKNOWN);
    }

    /**
     * The transport type.
     *
     * @return the transport type.
     */
    public TransportType type()
    {
        return type;
    }

    /**
     * The URI scheme of the transport, such as {@code tcp}.
     *
     * @return the URI scheme.
     */
    public String scheme()
    {
        return scheme;
    }

    /**
     * The IP address for TCP and UDP.
     *
     * @return the IP address, or null when the type has none.
     */
    public InetAddress address()
    {
        if ((type == TransportType.TCP || type == TransportType.UDP) && null != opaqueAddress)
        {
            try
            {
                return InetAddress.getByAddress(opaqueAddress);
            }
            catch (final UnknownHostException ex)
            {
                return null;
            }
        }
        return null;
    }

    /**
     * The raw address bytes: the IP address for TCP and UDP, the plug-in's address for plug-ins.
     *
     * @return a copy of the raw address bytes, or null.
     */
    public byte[] opaqueAddress()
    {
        return null == opaqueAddress ? null : opaqueAddress.clone();
    }

    /**
     * The port for TCP and UDP.
     *
     * @return the port or {@link #UNKNOWN}.
     */
    public int port()
    {
        return port;
    }

    /**
     * The Unix socket path, the serial port's name, or the USB port path.
     *
     * @return the path or null.
     */
    public String path()
    {
        return path;
    }

    /**
     * The USB device's serial number.
     *
     * @return the serial number or null.
     */
    public String serialNumber()
    {
        return serialNumber;
    }

    /**
     * The peer's process id, where the kernel reports it (Unix sockets, local applications).
     *
     * @return the process id or {@link #UNKNOWN}.
     */
    public long pid()
    {
        return pid;
    }

    /**
     * The peer's user id, where the kernel reports it.
     *
     * @return the user id or {@link #UNKNOWN}.
     */
    public int uid()
    {
        return uid;
    }

    /**
     * The peer's group id, where the kernel reports it.
     *
     * @return the group id or {@link #UNKNOWN}.
     */
    public int gid()
    {
        return gid;
    }

    /**
     * The USB bus number.
     *
     * @return the bus number or {@link #UNKNOWN}.
     */
    public int usbBus()
    {
        return usbBus;
    }

    /**
     * The USB vendor id.
     *
     * @return the vendor id or {@link #UNKNOWN}.
     */
    public int vendorId()
    {
        return vendorId;
    }

    /**
     * The USB product id.
     *
     * @return the product id or {@link #UNKNOWN}.
     */
    public int productId()
    {
        return productId;
    }

    /**
     * {@inheritDoc}
     */
    public boolean equals(final Object o)
    {
        if (this == o)
        {
            return true;
        }
        if (!(o instanceof Endpoint))
        {
            return false;
        }
        final Endpoint that = (Endpoint)o;
        return type == that.type && port == that.port && pid == that.pid && uid == that.uid && gid == that.gid &&
            usbBus == that.usbBus && vendorId == that.vendorId && productId == that.productId &&
            scheme.equals(that.scheme) && Arrays.equals(opaqueAddress, that.opaqueAddress) &&
            Objects.equals(path, that.path) && Objects.equals(serialNumber, that.serialNumber);
    }

    /**
     * {@inheritDoc}
     */
    public int hashCode()
    {
        return Objects.hash(type, scheme, Arrays.hashCode(opaqueAddress), port, path, pid, usbBus, vendorId);
    }

    /**
     * The endpoint as a URI-like string, with the peer's credentials where known.
     *
     * @return a printable form.
     */
    public String toString()
    {
        final StringBuilder sb = new StringBuilder();
        switch (type)
        {
            case TCP:
            case UDP:
            {
                final InetAddress inetAddress = address();
                sb.append(scheme).append("://");
                if (null == inetAddress)
                {
                    sb.append('?');
                }
                else if (opaqueAddress.length == 16)
                {
                    sb.append('[').append(inetAddress.getHostAddress()).append(']');
                }
                else
                {
                    sb.append(inetAddress.getHostAddress());
                }
                sb.append(':').append(port);
                break;
            }
            case USB:
                sb.append("usb://").append(String.format("%04x:%04x", vendorId, productId));
                sb.append("?bus=").append(usbBus).append("&port=").append(path);
                if (null != serialNumber)
                {
                    sb.append("&serial=").append(serialNumber);
                }
                break;
            case LOCAL:
                sb.append("local:");
                break;
            case UNIX:
            case SERIAL:
            default:
                sb.append(scheme).append("://").append(null == path ? "" : path);
                break;
        }
        if (pid != UNKNOWN || uid != UNKNOWN)
        {
            sb.append(" (pid ").append(pid).append(", uid ").append(uid).append(", gid ").append(gid).append(')');
        }
        return sb.toString();
    }
}
