package dev.mancom.broker.internal;

import com.sun.jna.LastErrorException;

import java.io.IOException;
import java.nio.file.Path;

/**
 * Sets modes and group owners of the broker directory's files, with the bits the JDK cannot set (set-group-id on a
 * directory), and the process's file mode creation mask. Admin path only.
 */
public final class FileModes
{
    /** Keep the owner and group as they are in {@link #chown}. */
    private static final int UNCHANGED = -1;

    private FileModes()
    {
    }

    /**
     * Set a file's mode.
     *
     * @param path the file.
     * @param mode the mode, such as {@code 02770}.
     * @throws IOException naming the file and the error.
     */
    public static void chmod(final Path path, final int mode) throws IOException
    {
        try
        {
            LibC.INSTANCE.chmod(path.toString(), mode);
        }
        catch (final LastErrorException ex)
        {
            throw new IOException("cannot set mode " + Integer.toOctalString(mode) + " of " + path + ": errno " +
                ex.getErrorCode() + describe(ex.getErrorCode()), ex);
        }
    }

    /**
     * Set a file's group owner.
     *
     * @param path the file.
     * @param gid  the group id.
     * @throws IOException naming the file, the group and the error.
     */
    public static void chgrp(final Path path, final int gid) throws IOException
    {
        try
        {
            LibC.INSTANCE.chown(path.toString(), UNCHANGED, gid);
        }
        catch (final LastErrorException ex)
        {
            throw new IOException("cannot give " + path + " to group " + gid + ": errno " + ex.getErrorCode() +
                describe(ex.getErrorCode()) + " (the broker's user must be root or a member of the group)", ex);
        }
    }

    /**
     * Set the process's file mode creation mask: it applies to every file of the process created from now on.
     *
     * @param mask the mask, such as {@code 0007}.
     * @return the previous mask.
     */
    public static int umask(final int mask)
    {
        return LibC.INSTANCE.umask(mask);
    }

    private static String describe(final int errno)
    {
        return switch (errno)
        {
            case 1 -> " (operation not permitted)";
            case 2 -> " (no such file)";
            case 13 -> " (permission denied)";
            default -> "";
        };
    }
}
