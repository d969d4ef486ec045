package dev.mancom.protocol;

import com.sun.jna.Native;
import com.sun.jna.Platform;
import org.agrona.BufferUtil;
import org.agrona.concurrent.UnsafeBuffer;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * Linux futexes on words of memory that several processes map: a thread waits while a word holds a value, and
 * any process that maps the same file wakes it. Used for the doorbells, whose flags live in the media driver's
 * {@code cnc.dat}, so that the broker and every application can wake each other with one system call and no file
 * descriptor between them.
 * <p>
 * The shared (not {@code FUTEX_PRIVATE_FLAG}) operations are used: the kernel keys the wait queue on the mapped
 * file and offset, not on the address, so the processes may map the file at different addresses. Where futexes
 * are not available (not Linux on x86-64 or AArch64, or no native access) {@link #isSupported()} is false and
 * {@link #await(long, int, long)} parks for a bounded time instead: correct, but wake-ups then take up to a
 * millisecond.
 */
public final class Futex
{
    private static final int FUTEX_WAIT = 0;
    private static final int FUTEX_WAKE = 1;
    private static final long FALLBACK_PARK_NS = TimeUnit.MILLISECONDS.toNanos(1);
    private static final long SYS_FUTEX;
    private static final boolean SUPPORTED;
    private static final ThreadLocal<UnsafeBuffer> TIMESPEC = ThreadLocal.withInitial(
        () -> new UnsafeBuffer(BufferUtil.allocateDirectAligned(16, 16)));

    static
    {
        long sysFutex = -1;
        boolean supported = false;
        if (Platform.isLinux() && (Platform.isIntel() && Platform.is64Bit() || Platform.isARM() && Platform.is64Bit()))
        {
            sysFutex = Platform.isIntel() ? 202 : 98;
            try
            {
                Native.register(Futex.class, "c");
                supported = true;
            }
            catch (final LinkageError | RuntimeException ex)
            {
                supported = false;
            }
        }
        SYS_FUTEX = sysFutex;
        SUPPORTED = supported;
    }

    private Futex()
    {
    }

    private static native long syscall(long number, long address, long op, long value, long timeout, long a5, long a6);

    /**
     * Whether real futexes are used.
     *
     * @return false when waits fall back to bounded parks.
     */
    public static boolean isSupported()
    {
        return SUPPORTED;
    }

    /**
     * Block while the 32-bit word at the address holds the expected value, until woken, interrupted by a signal,
     * or the time-out passes. Returns at once when the word differs. Spurious returns are possible: callers
     * re-check their condition.
     *
     * @param address   the word's address, 4-byte aligned, in a shared file mapping.
     * @param expected  the value to wait on.
     * @param timeoutNs the longest wait.
     */
    public static void await(final long address, final int expected, final long timeoutNs)
    {
        if (!SUPPORTED)
        {
            LockSupport.parkNanos(Math.min(timeoutNs, FALLBACK_PARK_NS));
            return;
        }
        final UnsafeBuffer timespec = TIMESPEC.get();
        timespec.putLong(0, timeoutNs / 1_000_000_000L);
        timespec.putLong(8, timeoutNs % 1_000_000_000L);
        syscall(SYS_FUTEX, address, FUTEX_WAIT, expected & 0xFFFF_FFFFL, timespec.addressOffset(), 0, 0);
    }

    /**
     * Wake the threads that wait on the word at the address, in any process that maps it.
     *
     * @param address the word's address.
     */
    public static void wakeAll(final long address)
    {
        if (SUPPORTED)
        {
            syscall(SYS_FUTEX, address, FUTEX_WAKE, Integer.MAX_VALUE, 0, 0, 0);
        }
    }
}
