package dev.mancom.broker.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class ConfigValuesTest
{
    @ParameterizedTest
    @CsvSource({
        "0, 0",
        "4096, 4096",
        "1k, 1024",
        "1K, 1024",
        "256k, 262144",
        "1m, 1048576",
        "64M, 67108864",
        "1g, 1073741824",
        "2G, 2147483648",
        "99999999999999999999, 9223372036854775807",
        "9999999999g, 9223372036854775807"
    })
    void shouldParseSizesWithBinarySuffixes(final String text, final long bytes)
    {
        assertEquals(bytes, ConfigValues.parseSize(text));
    }

    @ParameterizedTest
    @ValueSource(strings = { "", "k", "-1", "1.5k", "1kb", "1 k", " 1k", "1t", "0x10" })
    void shouldRejectTextThatIsNotASize(final String text)
    {
        assertThrows(NumberFormatException.class, () -> ConfigValues.parseSize(text));
    }

    @ParameterizedTest
    @CsvSource({
        "0, 0",
        "0s, 0",
        "0ms, 0",
        "500ms, 500",
        "5s, 5000",
        "2m, 120000",
        "1h, 3600000"
    })
    void shouldParseDurations(final String text, final long millis)
    {
        assertEquals(millis, ConfigValues.parseDurationMs(text));
    }

    @ParameterizedTest
    @ValueSource(strings = { "", "5", "s", "-1s", "1.5s", "5 s", "5d", "5S", "1m30s", "5sec" })
    void shouldRejectTextThatIsNotADuration(final String text)
    {
        assertThrows(NumberFormatException.class, () -> ConfigValues.parseDurationMs(text));
    }

    @Test
    void shouldRejectADurationTooLongForMilliseconds()
    {
        assertThrows(ArithmeticException.class, () -> ConfigValues.parseDurationMs("9223372036854775807h"));
        assertThrows(ArithmeticException.class, () -> ConfigValues.parseDurationMs("99999999999999999999ms"));
    }

    @Test
    void shouldFormatSizesWithTheLargestExactSuffix()
    {
        assertEquals("0", ConfigValues.formatSize(0));
        assertEquals("1000", ConfigValues.formatSize(1000));
        assertEquals("4k", ConfigValues.formatSize(4096));
        assertEquals("1m", ConfigValues.formatSize(1 << 20));
        assertEquals("1025k", ConfigValues.formatSize(1025 * 1024));
        assertEquals("2g", ConfigValues.formatSize(2L << 30));
    }

    @Test
    void shouldQuoteKeysThatAreNotBareKeys()
    {
        assertEquals("echo", ConfigValues.keyPart("echo"));
        assertEquals("my_svc-2", ConfigValues.keyPart("my_svc-2"));
        assertEquals("\"echo.v2\"", ConfigValues.keyPart("echo.v2"));
        assertEquals("\"a b\"", ConfigValues.keyPart("a b"));
        assertEquals("\"a\\\"b\"", ConfigValues.keyPart("a\"b"));
    }
}
