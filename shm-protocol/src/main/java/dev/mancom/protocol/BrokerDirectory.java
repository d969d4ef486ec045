package dev.mancom.protocol;

import org.agrona.IoUtil;
import org.agrona.concurrent.UnsafeBuffer;

import java.io.IOException;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;

/**
 * Reads what a broker directory's mark file says, without talking to the broker. Never opens the lock file: a
 * record lock belongs to the whole process and would be dropped by closing any descriptor of it, which would
 * break a broker embedded in the same JVM.
 */
public final class BrokerDirectory
{
    /** System property naming the broker directory; wins over {@code MANCOM_DIR}. */
    public static final String DIR_PROP_NAME = "mancom.dir";

    /** Environment variable naming the broker directory. */
    public static final String DIR_ENV_NAME = "MANCOM_DIR";

    private BrokerDirectory()
    {
    }

    /**
     * The default broker directory: the {@code mancom.dir} system property, else {@code MANCOM_DIR}, else
     * {@code /dev/shm/mancom} for root (the system broker) and {@code /dev/shm/mancom-$USER} for everyone else.
     *
     * @return the directory.
     */
    public static Path defaultDirectory()
    {
        final String prop = System.getProperty(DIR_PROP_NAME);
        if (null != prop && !prop.isEmpty())
        {
            return Paths.get(prop);
        }
        final String env = System.getenv(DIR_ENV_NAME);
        if (null != env && !env.isEmpty())
        {
            return Paths.get(env);
        }
        final String user = System.getProperty("user.name", "");
        return "root".equals(user) || user.isEmpty() ? Paths.get("/dev/shm/mancom") :
            Paths.get("/dev/shm/mancom-" + user);
    }

    /**
     * What the mark file said at one moment.
     *
     * @param pid              the broker's process id.
     * @param ready            whether the ready flag was raised.
     * @param heartbeatMs      last heartbeat, epoch milliseconds.
     * @param startTimestampMs start time, epoch milliseconds.
     * @param protocolMajor    protocol major version of the broker.
     * @param protocolMinor    protocol minor version of the broker.
     * @param configSource     the configuration the broker runs.
     */
    public record Mark(
        long pid,
        boolean ready,
        long heartbeatMs,
        long startTimestampMs,
        int protocolMajor,
        int protocolMinor,
        String configSource)
    {
        /**
         * Whether the process that wrote the mark file is alive.
         *
         * @return true when alive.
         */
        public boolean isAlive()
        {
            return ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false);
        }
    }

    /**
     * Read the mark file.
     *
     * @param dir the broker directory.
     * @return what it says, or null when there is no complete mark file.
     */
    public static Mark read(final Path dir)
    {
        final Path markPath = dir.resolve(MarkFileDescriptor.MARK_FILE_NAME);
        MappedByteBuffer mapping = null;
        try
        {
            if (!Files.isRegularFile(markPath) || Files.size(markPath) < MarkFileDescriptor.FILE_LENGTH)
            {
                return null;
            }
            // Read only: the broker's group may read the mark file, only the broker writes it.
            mapping = IoUtil.mapExistingFile(markPath.toFile(), FileChannel.MapMode.READ_ONLY, "mark file");
            final UnsafeBuffer buffer = new UnsafeBuffer(mapping);
            if (buffer.getIntVolatile(MarkFileDescriptor.VERSION_OFFSET) != MarkFileDescriptor.LAYOUT_VERSION)
            {
                return null;
            }
            final int sourceLength = Math.min(
                MarkFileDescriptor.CONFIG_PATH_MAX_LENGTH,
                Math.max(0, buffer.getInt(MarkFileDescriptor.CONFIG_PATH_OFFSET)));
            final byte[] source = new byte[sourceLength];
            buffer.getBytes(MarkFileDescriptor.CONFIG_PATH_OFFSET + 4, source);
            return new Mark(
                buffer.getLong(MarkFileDescriptor.PID_OFFSET),
                buffer.getIntVolatile(MarkFileDescriptor.READY_OFFSET) == 1,
                buffer.getLongVolatile(MarkFileDescriptor.HEARTBEAT_OFFSET),
                buffer.getLong(MarkFileDescriptor.START_TIMESTAMP_OFFSET),
                buffer.getInt(MarkFileDescriptor.PROTOCOL_MAJOR_OFFSET),
                buffer.getInt(MarkFileDescriptor.PROTOCOL_MINOR_OFFSET),
                new String(source, StandardCharsets.UTF_8));
        }
        catch (final IOException | RuntimeException ex)
        {
            return null;
        }
        finally
        {
            IoUtil.unmap(mapping);
        }
    }

    /**
     * Whether a live broker has raised its ready flag in the directory.
     *
     * @param dir the broker directory.
     * @return true when ready.
     */
    public static boolean isReady(final Path dir)
    {
        final Mark mark = read(dir);
        return null != mark && mark.ready() && mark.isAlive();
    }

    /**
     * Wait until a live broker is ready in the directory.
     *
     * @param dir       the broker directory.
     * @param timeoutMs how long to wait.
     * @return true when ready in time.
     * @throws InterruptedException when interrupted.
     */
    public static boolean awaitReady(final Path dir, final long timeoutMs) throws InterruptedException
    {
        final long deadlineNs = System.nanoTime() + timeoutMs * 1_000_000L;
        while (true)
        {
            if (isReady(dir))
            {
                return true;
            }
            if (System.nanoTime() - deadlineNs >= 0)
            {
                return false;
            }
            Thread.sleep(10);
        }
    }
}
