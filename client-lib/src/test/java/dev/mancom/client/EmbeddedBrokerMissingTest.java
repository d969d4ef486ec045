package dev.mancom.client;

import dev.mancom.protocol.ManComException;
import dev.mancom.protocol.codecs.ErrorCode;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The client library alone (no broker on its class path) asked for a broker in its process says what is missing.
 */
class EmbeddedBrokerMissingTest
{
    @Test
    void shouldNameTheMissingBrokerJarWhenAnEmbeddedBrokerIsAskedFor()
    {
        final ManComException ex = assertThrows(ManComException.class,
            () -> ManCom.connect(new ManCom.Context().embeddedBroker(true)));
        assertEquals(ErrorCode.INVALID_ARGUMENT, ex.code());
        assertTrue(ex.getMessage().contains("mancom-broker jar"), ex.getMessage());
        assertTrue(ex.getMessage().contains("MANCOM_SCOPE=process"), ex.getMessage());
    }

    @Test
    void shouldRefuseAScopeThatIsNeitherSystemNorProcess()
    {
        System.setProperty(ManCom.Context.SCOPE_PROP_NAME, "galaxy");
        try
        {
            final IllegalArgumentException ex = assertThrows(IllegalArgumentException.class,
                () -> new ManCom.Context().conclude());
            assertEquals("mancom.scope must be \"system\" or \"process\", not \"galaxy\"", ex.getMessage());
        }
        finally
        {
            System.clearProperty(ManCom.Context.SCOPE_PROP_NAME);
        }
    }
}
