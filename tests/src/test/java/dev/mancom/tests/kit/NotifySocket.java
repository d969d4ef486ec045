package dev.mancom.tests.kit;

import com.sun.jna.LastErrorException;
import com.sun.jna.Native;
import com.sun.jna.NativeLong;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/**
 * What systemd listens on for {@code sd_notify} messages, for tests: an {@code AF_UNIX} datagram socket bound to a
 * path or to an abstract name ({@code @name}), read one datagram at a time. Java cannot bind {@code AF_UNIX}
 * datagram sockets, so this calls the C library through JNA. Linux only.
 */
public final class NotifySocket implements AutoCloseable
{
    private static final int AF_UNIX = 1;
    private static final int SOCK_DGRAM = 2;
    private static final int SOCK_CLOEXEC = 0x80000;
    private static final short POLLIN = 1;
    private static final int EINTR = 4;

    static
    {
        Native.register(NotifySocket.class, "c");
    }

    private final String name;
    private final int fd;
    private boolean closed;

    private static native int socket(int domain, int type, int protocol) throws LastErrorException;

    private static native int bind(int fd, byte[] address, int addressLength) throws LastErrorException;

    private static native int poll(byte[] fds, NativeLong count, int timeoutMs) throws LastErrorException;

    private static native NativeLong recv(int fd, byte[] buffer, NativeLong length, int flags)
        throws LastErrorException;

    private static native int close(int fd) throws LastErrorException;

    /**
     * Bind a socket.
     *
     * @param name a path, or {@code @name} for an abstract name: what {@code NOTIFY_SOCKET} is then set to.
     * @throws IOException when it cannot be bound.
     */
    public NotifySocket(final String name) throws IOException
    {
        this.name = name;
        final byte[] path = name.getBytes(StandardCharsets.UTF_8);
        final boolean isAbstract = name.startsWith("@");
        final ByteBuffer address = ByteBuffer.allocate(2 + path.length + (isAbstract ? 0 : 1))
            .order(ByteOrder.nativeOrder());
        address.putShort((short)AF_UNIX).put(path);
        if (isAbstract)
        {
            address.put(2, (byte)0);
        }
        try
        {
            fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        }
        catch (final LastErrorException ex)
        {
            throw new IOException("socket: errno " + ex.getErrorCode(), ex);
        }
        try
        {
            bind(fd, address.array(), address.capacity());
        }
        catch (final LastErrorException ex)
        {
            close(fd);
            throw new IOException("bind " + name + ": errno " + ex.getErrorCode(), ex);
        }
    }

    /**
     * The name, as {@code NOTIFY_SOCKET} takes it.
     *
     * @return the path or {@code @name}.
     */
    public String name()
    {
        return name;
    }

    /**
     * Wait for the next datagram.
     *
     * @param timeout how long at most.
     * @return its text, or null when none came in time.
     * @throws IOException when the socket fails.
     */
    public String receive(final Duration timeout) throws IOException
    {
        final long deadlineNs = System.nanoTime() + timeout.toNanos();
        while (true)
        {
            final long leftMs = Math.max(0, (deadlineNs - System.nanoTime()) / 1_000_000);
            final ByteBuffer pollFd = ByteBuffer.allocate(8).order(ByteOrder.nativeOrder());
            pollFd.putInt(0, fd).putShort(4, POLLIN);
            try
            {
                if (0 == poll(pollFd.array(), new NativeLong(1), (int)Math.min(Integer.MAX_VALUE, leftMs)))
                {
                    return null;
                }
                final byte[] buffer = new byte[4096];
                final int length = recv(fd, buffer, new NativeLong(buffer.length), 0).intValue();
                return new String(buffer, 0, length, StandardCharsets.UTF_8);
            }
            catch (final LastErrorException ex)
            {
                if (EINTR != ex.getErrorCode())
                {
                    throw new IOException("receive on " + name + ": errno " + ex.getErrorCode(), ex);
                }
            }
        }
    }

    /**
     * Close the socket.
     */
    public void close()
    {
        if (!closed)
        {
            closed = true;
            close(fd);
        }
    }
}
