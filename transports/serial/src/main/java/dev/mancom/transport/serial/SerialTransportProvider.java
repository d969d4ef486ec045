package dev.mancom.transport.serial;

import dev.mancom.transport.Transport;
import dev.mancom.transport.TransportContext;
import dev.mancom.transport.TransportProvider;

import java.util.Set;

/**
 * The serial-port transport plug-in: serves {@code serial:///dev/PATH?baud=...} URIs through jSerialComm. The URI
 * parameters, what happens when a device appears and goes away, back pressure and threads are described in the
 * {@linkplain dev.mancom.transport.serial package}.
 */
public final class SerialTransportProvider implements TransportProvider
{
    private static final Set<String> SCHEMES = Set.of(SerialOptions.SCHEME);

    /**
     * A provider; {@link java.util.ServiceLoader} calls this.
     */
    public SerialTransportProvider()
    {
    }

    /**
     * {@inheritDoc}
     */
    public Set<String> schemes()
    {
        return SCHEMES;
    }

    /**
     * {@inheritDoc}
     */
    public Transport create(final TransportContext context)
    {
        return new SerialTransport(context);
    }
}
