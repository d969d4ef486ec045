package dev.mancom.broker;

import dev.mancom.protocol.ManComException;
import dev.mancom.protocol.codecs.ErrorCode;

import java.nio.file.Path;

/**
 * Another broker already serves the directory: only one broker may run per directory.
 */
public final class BrokerAlreadyRunningException extends ManComException
{
    private final long pid;

    /**
     * The failure.
     *
     * @param dir the directory.
     * @param pid the live broker's process id, or -1 when unknown.
     */
    public BrokerAlreadyRunningException(final Path dir, final long pid)
    {
        super(ErrorCode.RESOURCE_LIMIT, "another broker " + (pid > 0 ? "(pid " + pid + ") " : "") +
            "is already running in " + dir + "; stop it first or give another directory with --dir");
        this.pid = pid;
    }

    /**
     * The live broker's process id.
     *
     * @return the pid, or -1 when unknown.
     */
    public long pid()
    {
        return pid;
    }
}
