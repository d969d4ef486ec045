package dev.mancom.broker.internal;

import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
import com.sun.jna.ptr.PointerByReference;

/**
 * Looks user and group names up in the system's user database through the C library ({@code getpwnam_r},
 * {@code getgrnam_r}), so that whatever the name service switch serves (files, LDAP, systemd's dynamic users)
 * counts, as it does for {@code ls -l}. Admin path only: a look-up may block on the name service. Thread safe.
 */
public final class Accounts
{
    /** Returned when a name is not known. */
    public static final int UNKNOWN = -1;

    private static final int INITIAL_BUFFER_LENGTH = 4096;
    private static final int MAX_BUFFER_LENGTH = 1024 * 1024;
    /** {@code struct passwd} and {@code struct group} are at most 48 bytes on LP64; room to spare. */
    private static final int STRUCT_LENGTH = 128;
    /** Offsets of {@code pw_uid} and {@code gr_gid}: after two pointers ({@code pw_name}, {@code pw_passwd}). */
    private static final int ID_OFFSET = 2 * Native.POINTER_SIZE;

    private Accounts()
    {
    }

    /**
     * The user id of a user name, or of a decimal number that names no user.
     *
     * @param name the user name.
     * @return the uid, or {@link #UNKNOWN}.
     */
    public static int userId(final String name)
    {
        final int id = lookUp(name, true);
        return UNKNOWN != id ? id : numeric(name);
    }

    /**
     * The group id of a group name, or of a decimal number that names no group.
     *
     * @param name the group name.
     * @return the gid, or {@link #UNKNOWN}.
     */
    public static int groupId(final String name)
    {
        final int id = lookUp(name, false);
        return UNKNOWN != id ? id : numeric(name);
    }

    /**
     * What a configuration error says of a name that {@link #userId} or {@link #groupId} does not know.
     *
     * @param name the name.
     * @param user a user name, else a group name.
     * @return the problem, for {@code ConfigException}.
     */
    public static String unknownName(final String name, final boolean user)
    {
        return "'" + name + "' is not a known " + (user ? "user" : "group") + " of this system (nor a numeric " +
            (user ? "uid" : "gid") + ")";
    }

    private static int numeric(final String name)
    {
        if (name.isEmpty() || name.length() > 10 || !name.chars().allMatch(Character::isDigit))
        {
            return UNKNOWN;
        }
        final long value = Long.parseLong(name);
        // (uid_t)-1 means "no user" to the kernel's calls.
        return value < 0xFFFF_FFFFL ? (int)value : UNKNOWN;
    }

    private static int lookUp(final String name, final boolean user)
    {
        int bufferLength = INITIAL_BUFFER_LENGTH;
        while (true)
        {
            final Memory entry = new Memory(STRUCT_LENGTH);
            final Memory buffer = new Memory(bufferLength);
            final PointerByReference result = new PointerByReference();
            final int rc = user ?
                LibC.INSTANCE.getpwnam_r(name, entry, buffer, bufferLength, result) :
                LibC.INSTANCE.getgrnam_r(name, entry, buffer, bufferLength, result);
            if (LibC.ERANGE == rc && bufferLength < MAX_BUFFER_LENGTH)
            {
                bufferLength *= 2;
                continue;
            }
            final Pointer found = result.getValue();
            if (0 != rc || null == found)
            {
                return UNKNOWN;
            }
            return found.getInt(ID_OFFSET);
        }
    }
}
