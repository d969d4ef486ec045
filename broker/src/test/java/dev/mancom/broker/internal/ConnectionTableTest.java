package dev.mancom.broker.internal;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

class ConnectionTableTest
{
    @Test
    void shouldNeverHandOutIdZeroAndRefuseWhenFull()
    {
        final ConnectionTable table = new ConnectionTable(2);
        final long first = table.allocate();
        final long second = table.allocate();
        assertNotEquals(0, first);
        assertNotEquals(0, second);
        assertNotEquals(first, second);
        assertEquals(0, table.allocate());
        assertEquals(2, table.size());
    }

    @Test
    void shouldGiveAReusedSlotANewIdSoStaleIdsFindNothing()
    {
        final ConnectionTable table = new ConnectionTable(1);
        final long first = table.allocate();
        table.free(first);
        final long second = table.allocate();
        assertNotEquals(first, second);
        assertNull(table.get(first));
        assertNull(table.get(second)); // allocated but not yet put
    }

    @Test
    void shouldIgnoreIdsOutsideTheTable()
    {
        final ConnectionTable table = new ConnectionTable(4);
        assertNull(table.get(0));
        assertNull(table.get(-1));
        assertNull(table.get(5));
        assertNull(table.get(Long.MAX_VALUE));
    }
}
