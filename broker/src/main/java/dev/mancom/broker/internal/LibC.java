package dev.mancom.broker.internal;

import com.sun.jna.LastErrorException;
import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
import com.sun.jna.ptr.IntByReference;
import com.sun.jna.ptr.PointerByReference;

/**
 * The C library calls the broker makes that Java has no API for: the peer's credentials and groups of a Unix socket
 * ({@link PeerCredentials}), user and group names ({@link Accounts}), modes, owners and the umask of its files
 * ({@link FileModes}). One binding, loaded once.
 */
interface LibC extends Library
{
    /** The binding. */
    LibC INSTANCE = Native.load("c", LibC.class);

    /** {@code errno} of a buffer too small for the answer. */
    int ERANGE = 34;

    int getsockopt(int fd, int level, int optName, byte[] optVal, IntByReference optLen) throws LastErrorException;

    int geteuid();

    @SuppressWarnings("checkstyle:MethodName")
    int getpwnam_r(String name, Pointer pwd, Pointer buf, long bufLength, PointerByReference result);

    @SuppressWarnings("checkstyle:MethodName")
    int getgrnam_r(String name, Pointer grp, Pointer buf, long bufLength, PointerByReference result);

    int chmod(String path, int mode) throws LastErrorException;

    int chown(String path, int owner, int group) throws LastErrorException;

    int umask(int mask);
}
