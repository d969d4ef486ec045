package dev.mancom.protocol;

import org.agrona.BitUtil;

/**
 * Layout of the broker's mark file, {@code broker.mark} in the broker directory. The broker maps it, writes its
 * identity, beats its heartbeat about once a second and raises the ready flag once every configured service is
 * set up. Tools and clients map it read-only to learn whether a broker lives there, without a round trip.
 * <pre>
 *   0        4        8                 16                24                32       36       40
 *   +--------+--------+-----------------+-----------------+-----------------+--------+--------+
 *   |version | ready  | heartbeat (ms)  | pid             | start time (ms) | major  | minor  |
 *   +--------+--------+-----------------+-----------------+-----------------+--------+--------+
 *   64       68
 *   +--------+-----------------------------------------------------------------------------+
 *   | length | configuration file path, UTF-8 (at most CONFIG_PATH_MAX_LENGTH bytes)       |
 *   +--------+-----------------------------------------------------------------------------+
 * </pre>
 * {@code version} is written last with release semantics, so a reader that sees it non-zero sees the rest.
 * A broker that stops cleanly deletes the file; the exclusive lock on {@code broker.lock}, not the file, tells
 * whether a broker is alive.
 */
public final class MarkFileDescriptor
{
    /** File name of the mark file in the broker directory. */
    public static final String MARK_FILE_NAME = "broker.mark";

    /** File name of the lock file whose exclusive lock the live broker holds. */
    public static final String LOCK_FILE_NAME = "broker.lock";

    /** File name of the control socket. */
    public static final String CONTROL_SOCKET_NAME = "broker.sock";

    /** Name of the Aeron directory inside the broker directory. */
    public static final String AERON_DIR_NAME = "aeron";

    /** Current version of the layout. */
    public static final int LAYOUT_VERSION = 1;

    /** Offset of the layout version. */
    public static final int VERSION_OFFSET = 0;

    /** Offset of the ready flag: 1 once the broker serves. */
    public static final int READY_OFFSET = 4;

    /** Offset of the heartbeat, epoch milliseconds. */
    public static final int HEARTBEAT_OFFSET = 8;

    /** Offset of the broker's process id. */
    public static final int PID_OFFSET = 16;

    /** Offset of the start time, epoch milliseconds. */
    public static final int START_TIMESTAMP_OFFSET = 24;

    /** Offset of the protocol's major version. */
    public static final int PROTOCOL_MAJOR_OFFSET = 32;

    /** Offset of the protocol's minor version. */
    public static final int PROTOCOL_MINOR_OFFSET = 36;

    /** Offset of the configuration path's length. */
    public static final int CONFIG_PATH_OFFSET = 64;

    /** Most bytes of the configuration path that are kept. */
    public static final int CONFIG_PATH_MAX_LENGTH = 2048;

    /** Length of the file. */
    public static final int FILE_LENGTH = BitUtil.align(CONFIG_PATH_OFFSET + 4 + CONFIG_PATH_MAX_LENGTH, 4096);

    /** Heartbeat interval of the broker. */
    public static final long HEARTBEAT_INTERVAL_MS = 1000;

    private MarkFileDescriptor()
    {
    }
}
