package dev.mancom.broker.internal;

import com.sun.jna.LastErrorException;
import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.ptr.IntByReference;

import java.io.IOException;
import java.lang.reflect.Method;
import java.nio.channels.SocketChannel;

/**
 * The process id, user id and group id of the peer of a connected Unix domain socket, as the kernel reports them
 * ({@code getsockopt(SO_PEERCRED)}): the JDK's own {@code SO_PEERCRED} option gives no pid, so the broker asks
 * the kernel itself. Immutable.
 */
public final class PeerCredentials
{
    private static final int SOL_SOCKET = 1;
    private static final int SO_PEERCRED = 17;
    private static final int UCRED_LENGTH = 12;

    private final long pid;
    private final int uid;
    private final int gid;

    /**
     * Credentials.
     *
     * @param pid process id.
     * @param uid user id.
     * @param gid group id.
     */
    public PeerCredentials(final long pid, final int uid, final int gid)
    {
        this.pid = pid;
        this.uid = uid;
        this.gid = gid;
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
        return new PeerCredentials(readInt(ucred, 0) & 0xFFFF_FFFFL, readInt(ucred, 4), readInt(ucred, 8));
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

    interface LibC extends Library
    {
        LibC INSTANCE = Native.load("c", LibC.class);

        int getsockopt(int fd, int level, int optName, byte[] optVal, IntByReference optLen) throws LastErrorException;

        int geteuid();
    }
}
