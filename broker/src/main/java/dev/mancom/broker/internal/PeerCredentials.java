package dev.mancom.broker.internal;

import com.sun.jna.LastErrorException;
import com.sun.jna.ptr.IntByReference;

import java.io.IOException;
import java.lang.reflect.Method;
import java.nio.channels.SocketChannel;

/**
 * The process id, user id and group id of the peer of a connected Unix domain socket, as the kernel reports them
 * ({@code getsockopt(SO_PEERCRED)}): the JDK's own {@code SO_PEERCRED} option gives no pid, so the broker asks
 * the kernel itself. Immutable.
 * <p>
 * The supplementary groups come from {@code getsockopt(SO_PEERGROUPS)} (Linux 4.13 and later): like
 * {@code SO_PEERCRED} they are the kernel's record of the peer's credentials when it connected, so they cannot be
 * raced by the peer exiting and its pid being reused, and they are the groups the process really holds (which
 * {@code setgroups}, {@code newgrp} or {@code setpriv} may have changed), not the groups the user database would
 * give the user at log-in, as {@code getgrouplist} would. Where the kernel does not know the option the peer is
 * taken to have no supplementary groups: a refusal, never a wrongful grant.
 */
public final class PeerCredentials
{
    private static final int SOL_SOCKET = 1;
    private static final int SO_PEERCRED = 17;
    private static final int SO_PEERGROUPS = 59;
    private static final int UCRED_LENGTH = 12;
    private static final int INITIAL_GROUPS = 64;
    /** The kernel's NGROUPS_MAX: no process has more supplementary groups. */
    private static final int MAX_GROUPS = 65536;
    private static final int[] NO_GROUPS = new int[0];

    private final long pid;
    private final int uid;
    private final int gid;
    private final int[] groups;

    /**
     * Credentials without supplementary groups.
     *
     * @param pid process id.
     * @param uid user id.
     * @param gid group id.
     */
    public PeerCredentials(final long pid, final int uid, final int gid)
    {
        this(pid, uid, gid, NO_GROUPS);
    }

    /**
     * Credentials.
     *
     * @param pid    process id.
     * @param uid    user id.
     * @param gid    group id.
     * @param groups supplementary group ids; copied.
     */
    public PeerCredentials(final long pid, final int uid, final int gid, final int[] groups)
    {
        this.pid = pid;
        this.uid = uid;
        this.gid = gid;
        this.groups = groups.clone();
    }

    /**
     * The peer's process id at the time it connected.
     *
     * @return process id.
     */
    public long pid()
    {
        return pid;
    }

    /**
     * The peer's effective user id.
     *
     * @return user id.
     */
    public int uid()
    {
        return uid;
    }

    /**
     * The peer's effective group id.
     *
     * @return group id.
     */
    public int gid()
    {
        return gid;
    }

    /**
     * Whether the peer holds a group, as its effective group or a supplementary one.
     *
     * @param groupId the group id.
     * @return true when it does.
     */
    public boolean inGroup(final int groupId)
    {
        if (gid == groupId)
        {
            return true;
        }
        for (final int group : groups)
        {
            if (group == groupId)
            {
                return true;
            }
        }
        return false;
    }

    /**
     * The peer's supplementary groups when it connected.
     *
     * @return group ids, a copy.
     */
    public int[] groups()
    {
        return groups.clone();
    }

    /**
     * {@inheritDoc}
     */
    public String toString()
    {
        return "pid=" + pid + " uid=" + uid + " gid=" + gid;
    }

    /**
     * Ask the kernel for the credentials of a connected Unix domain socket's peer.
     *
     * @param channel a connected {@code UNIX} socket channel.
     * @return the peer's credentials.
     * @throws IOException when the kernel refuses.
     */
    public static PeerCredentials of(final SocketChannel channel) throws IOException
    {
        final int fd = fileDescriptor(channel);
        final byte[] ucred = new byte[UCRED_LENGTH];
        final IntByReference length = new IntByReference(UCRED_LENGTH);
        try
        {
            LibC.INSTANCE.getsockopt(fd, SOL_SOCKET, SO_PEERCRED, ucred, length);
        }
        catch (final LastErrorException ex)
        {
            throw new IOException("getsockopt(SO_PEERCRED) failed: errno " + ex.getErrorCode(), ex);
        }
        return new PeerCredentials(
            readInt(ucred, 0) & 0xFFFF_FFFFL, readInt(ucred, 4), readInt(ucred, 8), peerGroups(fd));
    }

    private static int[] peerGroups(final int fd) throws IOException
    {
        int capacity = INITIAL_GROUPS;
        while (true)
        {
            final byte[] buffer = new byte[capacity * 4];
            final IntByReference length = new IntByReference(buffer.length);
            try
            {
                LibC.INSTANCE.getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, buffer, length);
            }
            catch (final LastErrorException ex)
            {
                if (LibC.ERANGE == ex.getErrorCode() && capacity < MAX_GROUPS)
                {
                    // The kernel wrote the length it needs.
                    capacity = Math.min(MAX_GROUPS, Math.max(capacity * 2, length.getValue() / 4));
                    continue;
                }
                if (LibC.ERANGE == ex.getErrorCode())
                {
                    throw new IOException("getsockopt(SO_PEERGROUPS) failed: more than " + MAX_GROUPS + " groups", ex);
                }
                // ENOPROTOOPT on kernels before 4.13: no supplementary groups are known.
                return NO_GROUPS;
            }
            final int count = length.getValue() / 4;
            final int[] groups = new int[count];
            for (int i = 0; i < count; i++)
            {
                groups[i] = readInt(buffer, 4 * i);
            }
            return groups;
        }
    }

    /**
     * The effective user id of this process, to compare a peer's with.
     *
     * @return the user id.
     */
    public static int processUid()
    {
        return LibC.INSTANCE.geteuid();
    }

    private static int readInt(final byte[] bytes, final int offset)
    {
        // struct ucred is in native (little-endian on the supported platforms) order.
        return (bytes[offset] & 0xFF) | (bytes[offset + 1] & 0xFF) << 8 |
            (bytes[offset + 2] & 0xFF) << 16 | (bytes[offset + 3] & 0xFF) << 24;
    }

    private static int fileDescriptor(final SocketChannel channel) throws IOException
    {
        try
        {
            final Method getFdVal = FdAccess.GET_FD_VAL;
            return (Integer)getFdVal.invoke(channel);
        }
        catch (final ReflectiveOperationException | RuntimeException ex)
        {
            throw new IOException(
                "cannot read the socket's file descriptor (the JVM needs --add-opens java.base/sun.nio.ch)", ex);
        }
    }

    private static final class FdAccess
    {
        static final Method GET_FD_VAL;

        static
        {
            try
            {
                final Method method = Class.forName("sun.nio.ch.SelChImpl").getMethod("getFDVal");
                method.setAccessible(true);
                GET_FD_VAL = method;
            }
            catch (final ReflectiveOperationException ex)
            {
                throw new ExceptionInInitializerError(ex);
            }
        }
    }
}
