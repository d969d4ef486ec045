package dev.mancom.transport;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class TransportUriTest
{
    @Test
    void shouldParseSchemeHostPortPathAndParameters()
    {
        final TransportUri uri = TransportUri.parse("TCP://127.0.0.1:7000/x?nodelay=false&backlog=5");
        assertEquals("tcp", uri.scheme());
        assertEquals("127.0.0.1", uri.host());
        assertEquals(7000, uri.port());
        assertEquals("/x", uri.path());
        assertEquals("false", uri.param("nodelay", "true"));
        assertEquals("5", uri.param("backlog", null));
    }

    @Test
    void shouldParseAPathOnlyUri()
    {
        final TransportUri uri = TransportUri.parse("serial:///dev/ttyUSB0?baud=115200");
        assertEquals("serial", uri.scheme());
        assertEquals("/dev/ttyUSB0", uri.path());
        assertEquals("115200", uri.param("baud", null));
    }

    @Test
    void shouldKeepAPairOfHexadecimalIdsAsTheAuthority()
    {
        final TransportUri uri = TransportUri.parse("usb://1d6b:00ff?interface=1");
        assertEquals("usb", uri.scheme());
        assertEquals("1d6b:00ff", uri.authority());
        assertEquals("1", uri.param("interface", null));
    }

    @ParameterizedTest
    @CsvSource({
        "127.0.0.1:7000, scheme",
        "tcp://:7000, host",
        "tcp://127.0.0.1:70x, port",
        "tcp://127.0.0.1:1?a=1&a=2, a",
    })
    void shouldNameThePartThatIsWrong(final String text, final String key)
    {
        final TransportException ex = assertThrows(TransportException.class, () -> TransportUri.parse(text));
        assertEquals(key, ex.key(), ex.getMessage());
    }
}
