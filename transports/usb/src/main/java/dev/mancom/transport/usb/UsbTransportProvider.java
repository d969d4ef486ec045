package dev.mancom.transport.usb;

import dev.mancom.transport.Transport;
import dev.mancom.transport.TransportContext;
import dev.mancom.transport.TransportProvider;

import java.util.Set;

/**
 * The USB transport plug-in: serves {@code usb://VID:PID?serial=S&interface=N} URIs on libusb (through usb4java,
 * which bundles it). The URI and the behaviour are described in the {@linkplain dev.mancom.transport.usb package}.
 */
public final class UsbTransportProvider implements TransportProvider
{
    private static final Set<String> SCHEMES = Set.of(UsbOptions.SCHEME);

    /**
     * A provider; {@link java.util.ServiceLoader} calls this.
     */
    public UsbTransportProvider()
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
        return new UsbTransport(context);
    }
}
