package dev.mancom.bench;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/**
 * The JVMs a benchmark forks, each with the benchmark's class path and JVM flags plus {@value #JVM_HEAP_FLAG}, and
 * the temporary directory of their files, under {@code /dev/shm} when there is one (as a broker's directory is by
 * default). {@link #close()} stops every JVM, the last started first, and deletes the directory; it is idempotent
 * and thread safe, so that a shutdown hook may call it too. Once closed, no JVM starts and no file is written.
 */
final class ForkedJvms implements AutoCloseable
{
    /** The heap of each forked JVM. */
    static final String JVM_HEAP_FLAG = "-Xmx512m";

    private static final Duration STOP_TIMEOUT = Duration.ofSeconds(10);
    private static final Path SHARED_MEMORY_DIR = Paths.get("/dev/shm");

    private final String dirPrefix;
    private final List<ForkedProcess> processes = new ArrayList<>();
    private Path workDir;
    private boolean closed;

    /**
     * No JVM started yet, no directory created yet.
     *
     * @param dirPrefix the start of the temporary directory's name, such as {@code mancom-bench-}.
     */
    ForkedJvms(final String dirPrefix)
    {
        this.dirPrefix = dirPrefix;
    }

    /**
     * The temporary directory, created on first use.
     *
     * @return the directory.
     * @throws BenchmarkException when it cannot be created.
     */
    synchronized Path workDir()
    {
        if (null == workDir)
        {
            final Path baseDir = Files.isDirectory(SHARED_MEMORY_DIR) && Files.isWritable(SHARED_MEMORY_DIR) ?
                SHARED_MEMORY_DIR : Paths.get(System.getProperty("java.io.tmpdir"));
            try
            {
                workDir = Files.createTempDirectory(baseDir, dirPrefix);
            }
            catch (final IOException ex)
            {
                throw new BenchmarkException("cannot create a temporary directory in " + baseDir + ": " + ex, ex);
            }
        }
        return workDir;
    }

    /**
     * Write the configuration file of a JVM about to start, with the directories it needs.
     *
     * @param jvmName the JVM's name, for messages, such as {@code ManCom broker}.
     * @param file    where, in the temporary directory, such as {@code mancom-1/mancom.toml}.
     * @param text    what.
     * @return the file.
     * @throws BenchmarkException when it cannot be written, or once closed.
     */
    synchronized Path writeConfig(final String jvmName, final String file, final String text)
    {
        // Under the lock, so that nothing is created again in the directory once close() has deleted it.
        if (closed)
        {
            throw new BenchmarkException("stopped before the " + jvmName + " was started");
        }
        final Path path = workDir().resolve(file);
        try
        {
            Files.createDirectories(path.getParent());
            Files.writeString(path, text);
        }
        catch (final IOException ex)
        {
            throw new BenchmarkException("cannot write " + path + ": " + ex, ex);
        }
        return path;
    }

    /**
     * Start a JVM.
     *
     * @param name      a name for messages.
     * @param mainClass the main class's name.
     * @param jvmArgs   JVM arguments besides the flags and the heap.
     * @param args      the program's arguments.
     * @return the running process.
     * @throws BenchmarkException when it cannot be started, or once closed.
     */
    synchronized ForkedProcess fork(
        final String name, final String mainClass, final List<String> jvmArgs, final List<String> args)
    {
        if (closed)
        {
            throw new BenchmarkException("stopped before the " + name + " JVM was started");
        }
        final List<String> allJvmArgs = new ArrayList<>();
        allJvmArgs.add(JVM_HEAP_FLAG);
        allJvmArgs.addAll(jvmArgs);
        final ForkedProcess process = ForkedProcess.start(name, mainClass, allJvmArgs, args);
        processes.add(process);
        return process;
    }

    /**
     * Stop one JVM before the others.
     *
     * @param process one of these JVMs.
     */
    void stop(final ForkedProcess process)
    {
        process.stop(STOP_TIMEOUT);
        synchronized (this)
        {
            processes.remove(process);
        }
    }

    /**
     * The JVMs started and not stopped, in the order they started.
     *
     * @return a copy.
     */
    synchronized List<ForkedProcess> processes()
    {
        return List.copyOf(processes);
    }

    /**
     * Stop the JVMs, the last started first, and delete the temporary directory.
     */
    public synchronized void close()
    {
        if (closed)
        {
            return;
        }
        closed = true;
        for (int i = processes.size() - 1; i >= 0; i--)
        {
            processes.get(i).stop(STOP_TIMEOUT);
        }
        processes.clear();
        if (null != workDir)
        {
            deleteRecursively(workDir);
        }
    }

    /**
     * Delete a directory and everything in it; say so on standard error when it cannot.
     *
     * @param dir the directory.
     */
    static void deleteRecursively(final Path dir)
    {
        if (!Files.exists(dir))
        {
            return;
        }
        try (Stream<Path> paths = Files.walk(dir))
        {
            paths.sorted(Comparator.reverseOrder()).forEach((path) ->
            {
                try
                {
                    Files.deleteIfExists(path);
                }
                catch (final IOException ex)
                {
                    throw new UncheckedIOException(ex);
                }
            });
        }
        catch (final IOException | UncheckedIOException ex)
        {
            System.err.println("benchmark: could not delete " + dir + ": " + ex.getMessage());
        }
    }
}
