package dev.mancom.protocol;

import dev.mancom.protocol.codecs.TransportType;
import org.junit.jupiter.api.Test;

import java.net.InetAddress;
import java.net.InetSocketAddress;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

class EndpointTest
{
    @Test
    void shouldCarryAnIpAddressAndPort() throws Exception
    {
        final Endpoint endpoint = Endpoint.ip(TransportType.TCP, new InetSocketAddress("127.0.0.1", 7007));
        assertEquals(InetAddress.getByName("127.0.0.1"), endpoint.address());
        assertEquals(7007, endpoint.port());
        assertEquals(Endpoint.UNKNOWN, endpoint.pid());
        assertEquals("tcp://127.0.0.1:7007", endpoint.toString());
    }

    @Test
    void shouldPrintIpv6AddressesInBrackets()
    {
        final Endpoint endpoint = Endpoint.ip(TransportType.UDP, new InetSocketAddress("::1", 9));
        assertEquals("udp://[0:0:0:0:0:0:0:1]:9", endpoint.toString());
    }

    @Test
    void shouldCarryTheKernelsCredentialsOfAUnixPeer()
    {
        final Endpoint endpoint = Endpoint.unix("/run/echo.sock", 42, 1000, 100);
        assertEquals("/run/echo.sock", endpoint.path());
        assertNull(endpoint.address());
        assertEquals("unix:///run/echo.sock (pid 42, uid 1000, gid 100)", endpoint.toString());
    }

    @Test
    void shouldCarryAUsbDevicesIdentity()
    {
        final Endpoint endpoint = Endpoint.usb(1, "1-2.3", 0x1234, 0x5678, "SN1");
        assertEquals("usb://1234:5678?bus=1&port=1-2.3&serial=SN1", endpoint.toString());
    }

    @Test
    void shouldRefuseAnUnresolvedAddress()
    {
        assertThrows(IllegalArgumentException.class,
            () -> Endpoint.ip(TransportType.TCP, InetSocketAddress.createUnresolved("nowhere.invalid", 1)));
    }

    @Test
    void shouldRefuseANonIpTypeForAnIpEndpoint()
    {
        assertThrows(IllegalArgumentException.class,
            () -> Endpoint.ip(TransportType.USB, new InetSocketAddress("127.0.0.1", 1)));
    }
}
