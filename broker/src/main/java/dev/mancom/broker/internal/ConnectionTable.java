package dev.mancom.broker.internal;

import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * Every open connection of the broker, found by id without a lock or an allocation.
 * <p>
 * An id is {@code generation << 32 | (slot + 1)}: a slot freed and used again gets a new generation, so a stale
 * id from a client never finds the new connection. Only the conductor allocates and frees slots; any thread may
 * {@link #get(long)}.
 */
public final class ConnectionTable
{
    private final AtomicReferenceArray<ConnectionSession> slots;
    private final int[] generations;
    private final int[] freeSlots;
    private int freeCount;

    /**
     * A table.
     *
     * @param capacity the most connections open at once.
     */
    public ConnectionTable(final int capacity)
    {
        slots = new AtomicReferenceArray<>(capacity);
        generations = new int[capacity];
        freeSlots = new int[capacity];
        for (int i = 0; i < capacity; i++)
        {
            freeSlots[i] = capacity - 1 - i;
        }
        freeCount = capacity;
    }

    /**
     * Reserve an id. Conductor only.
     *
     * @return the id, or 0 when the table is full.
     */
    public long allocate()
    {
        if (0 == freeCount)
        {
            return 0;
        }
        final int slot = freeSlots[--freeCount];
        final int generation = ++generations[slot] & 0x7FFF_FFFF;
        generations[slot] = generation;
        return ((long)generation << 32) | (slot + 1);
    }

    /**
     * Publish the session of an allocated id. Conductor only.
     *
     * @param id      the allocated id.
     * @param session the session.
     */
    public void put(final long id, final ConnectionSession session)
    {
        slots.set(slotOf(id), session);
    }

    /**
     * Free an id. Conductor only.
     *
     * @param id the id.
     */
    public void free(final long id)
    {
        final int slot = slotOf(id);
        final ConnectionSession session = slots.get(slot);
        if (null != session && session.id() != id)
        {
            return;
        }
        slots.set(slot, null);
        freeSlots[freeCount++] = slot;
    }

    /**
     * Find the session of an id. Any thread.
     *
     * @param id the id.
     * @return the session, or null when the id is unknown or stale.
     */
    public ConnectionSession get(final long id)
    {
        final int slot = (int)id - 1;
        if (slot < 0 || slot >= slots.length())
        {
            return null;
        }
        final ConnectionSession session = slots.get(slot);
        return null != session && session.id() == id ? session : null;
    }

    /**
     * How many ids are in use. Conductor only.
     *
     * @return the count.
     */
    public int size()
    {
        return slots.length() - freeCount;
    }

    private static int slotOf(final long id)
    {
        return (int)id - 1;
    }
}
