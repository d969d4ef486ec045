package dev.mancom.protocol;

import org.agrona.concurrent.AtomicBuffer;
import org.agrona.concurrent.status.CountersReader;

import java.lang.invoke.VarHandle;

/**
 * A doorbell in shared memory: lets a reader block without missing a wake-up and without the writer making a
 * system call while the reader is awake.
 * <p>
 * The reader, about to block, sets the flag to {@link #PARKED}, looks once more for work (so that a message
 * written just before is not missed), and then blocks: an application in a futex wait on the flag itself
 * ({@link #await(long)}), the broker's sender in {@code select} on its clients' control sockets. A writer that has
 * just published reads the flag: only when it is {@code PARKED} and it wins the swap to {@link #RUNG} does it wake
 * the reader ({@link #ring()}: a futex wake; for the broker's sender, one byte on the control socket), so one
 * wake-up costs one system call however many writers there are, and none while the reader is awake. The reader
 * sets the flag back to {@link #AWAKE} when it wakes. The flag is the value of an Aeron counter in the driver's
 * {@code cnc.dat}, which the broker and its clients map; its id travels in the Welcome message (and, for the
 * other application of an app-to-app connection, in ConnectionOpened).
 * <p>
 * Memory order: the reader's set to {@code PARKED} is a volatile store (a full fence follows it) and then its
 * re-check loads the stream; the writer publishes (a release store) and then, after a full fence, loads the flag.
 * Without that fence the writer's load could pass its own store (store-load reordering, allowed even on x86): it
 * would read {@code AWAKE} while the reader, already parked, does not see the message yet, and the wake-up would be
 * lost until the reader's time-out. With both fences one of the two always sees the other.
 */
public final class Doorbell
{
    /** The reader is running: no need to ring. */
    public static final long AWAKE = 0;
    /** The reader is about to block or blocks: ring. */
    public static final long PARKED = 1;
    /** Somebody rang; the reader will wake. */
    public static final long RUNG = 2;

    private final AtomicBuffer values;
    private final int offset;
    private final long address;

    /**
     * A doorbell over a counter.
     *
     * @param values    the counters' values buffer.
     * @param counterId the counter's id.
     */
    public Doorbell(final AtomicBuffer values, final int counterId)
    {
        this.values = values;
        this.offset = CountersReader.counterOffset(counterId);
        this.address = values.addressOffset() + offset;
    }

    /**
     * Reader: about to block. Follow with a last look for work.
     */
    public void park()
    {
        values.putLongVolatile(offset, PARKED);
    }

    /**
     * Reader: running again.
     */
    public void wake()
    {
        values.putLongVolatile(offset, AWAKE);
    }

    /**
     * Writer: after publishing, whether this writer must ring the reader (it won the swap from {@code PARKED}).
     *
     * @return true when the caller must write the wake-up byte.
     */
    public boolean shouldRing()
    {
        VarHandle.fullFence();
        return values.getLongVolatile(offset) == PARKED && values.compareAndSetLong(offset, PARKED, RUNG);
    }

    /**
     * Writer: after publishing, wake the reader if it is parked on the futex of this doorbell.
     *
     * @return true when this writer rang (one system call).
     */
    public boolean ring()
    {
        if (shouldRing())
        {
            Futex.wakeAll(address);
            return true;
        }
        return false;
    }

    /**
     * Reader, after {@link #park()} and a last look for work: block until rung or the time-out passes. Returns at
     * once when a writer rang in between.
     *
     * @param timeoutNs the longest block.
     */
    public void await(final long timeoutNs)
    {
        // The flag is a little-endian long whose value fits the low word: wait while that word is PARKED.
        Futex.await(address, (int)PARKED, timeoutNs);
    }
}
