package dev.mancom.broker.internal;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * User and group names looked up through the C library.
 */
class AccountsTest
{
    @Test
    void shouldFindRootByNameAsUserAndGroup()
    {
        assertEquals(0, Accounts.userId("root"));
        assertEquals(0, Accounts.groupId("root"));
    }

    @Test
    void shouldTakeADecimalNumberThatNamesNobodyAsAnId()
    {
        assertEquals(54321, Accounts.userId("54321"));
        assertEquals(54321, Accounts.groupId("54321"));
    }

    @Test
    void shouldSayUnknownForANameNoDatabaseKnows()
    {
        assertEquals(Accounts.UNKNOWN, Accounts.userId("no-such-user-mancom"));
        assertEquals(Accounts.UNKNOWN, Accounts.groupId("no-such-group-mancom"));
        assertEquals(Accounts.UNKNOWN, Accounts.userId("4294967295"));
        assertEquals(Accounts.UNKNOWN, Accounts.userId("-1"));
    }
}
