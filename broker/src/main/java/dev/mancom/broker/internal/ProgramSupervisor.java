package dev.mancom.broker.internal;

import dev.mancom.broker.config.ServiceConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.File;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * Starts and stops the programs of services with {@code exec} (socket activation), never through a shell.
 * <p>
 * A program is started with the broker's environment plus {@code MANCOM_DIR} (the broker directory, so that
 * {@code ManCom.connect} finds this broker) and {@code MANCOM_SERVICE} (the service's name), in the broker's
 * working directory, as the broker's user, with standard input from {@code /dev/null} and standard output and error
 * inherited from the broker (under systemd they go to the journal with the broker's own lines).
 * <p>
 * Its exit is reported by {@link Process#onExit()} on a JDK thread, which only posts it to the conductor: nothing
 * here waits for a process while the broker runs. The broker's stop waits, up to {@link #STOP_GRACE_MS}, for the
 * programs to end after SIGTERM, then kills what is left with SIGKILL.
 * <p>
 * Threading: {@link #start} on the conductor; {@link #stopAll()} on any thread, once the broker stops; after it no
 * program is started any more.
 */
final class ProgramSupervisor
{
    /** At most this many starts of one service's program within {@link #START_INTERVAL_MS}; then it gives up. */
    static final int MAX_STARTS = 5;
    /** The interval of the start limit. */
    static final long START_INTERVAL_MS = 60_000;
    /** The back-off before the first restart; it doubles with every start within the interval. */
    static final long FIRST_RESTART_DELAY_MS = 100;
    /** The longest back-off before a restart. */
    static final long MAX_RESTART_DELAY_MS = 10_000;
    /** How long the broker's stop waits for programs to end after SIGTERM before it sends SIGKILL. */
    static final long STOP_GRACE_MS = 5_000;
    /** Environment variable naming the broker directory, for the started program's {@code ManCom.connect}. */
    static final String DIR_ENV_NAME = "MANCOM_DIR";
    /** Environment variable naming the service the program was started for. */
    static final String SERVICE_ENV_NAME = "MANCOM_SERVICE";

    private static final Logger LOG = LoggerFactory.getLogger(ProgramSupervisor.class);
    private static final File NULL_DEVICE = new File("/dev/null");

    private final Path brokerDir;
    private final Consumer<Runnable> post;
    private final Object lock = new Object();
    /** Running programs and their services' names, for the stop. Guarded by lock. */
    private final Map<Process, String> running = new LinkedHashMap<>();
    private boolean stopping;

    /**
     * A supervisor.
     *
     * @param brokerDir the broker directory, given to programs as {@code MANCOM_DIR}.
     * @param post      runs a task on the conductor (the exit of a program is reported through it).
     */
    ProgramSupervisor(final Path brokerDir, final Consumer<Runnable> post)
    {
        this.brokerDir = brokerDir;
        this.post = post;
    }

    /**
     * The back-off before a restart, given how often the program started within the interval.
     *
     * @param recentStarts starts within the interval, at least 1.
     * @return milliseconds.
     */
    static long restartDelayMs(final int recentStarts)
    {
        final int shift = Math.min(Math.max(recentStarts - 1, 0), 16);
        return Math.min(FIRST_RESTART_DELAY_MS << shift, MAX_RESTART_DELAY_MS);
    }

    /**
     * Conductor: start a service's program.
     *
     * @param config the service's configuration, with a non-empty {@code exec}.
     * @param onExit runs on the conductor with the exit status once the process ends.
     * @return the process.
     * @throws IOException when it cannot be started (no such file, not executable, ...).
     * @throws IllegalStateException when the broker is stopping.
     */
    Process start(final ServiceConfig config, final ExitHandler onExit) throws IOException
    {
        final List<String> command = config.exec();
        final ProcessBuilder builder = new ProcessBuilder(command)
            .redirectInput(ProcessBuilder.Redirect.from(NULL_DEVICE))
            .redirectOutput(ProcessBuilder.Redirect.INHERIT)
            .redirectError(ProcessBuilder.Redirect.INHERIT);
        builder.environment().put(DIR_ENV_NAME, brokerDir.toString());
        builder.environment().put(SERVICE_ENV_NAME, config.name());

        final Process process;
        synchronized (lock)
        {
            if (stopping)
            {
                throw new IllegalStateException("the broker is stopping");
            }
            process = builder.start();
            running.put(process, config.name());
        }
        process.onExit().thenRun(() ->
        {
            synchronized (lock)
            {
                running.remove(process);
            }
            post.accept(() -> onExit.onExit(process, process.exitValue()));
        });
        return process;
    }

    /**
     * Whether {@link #stopAll()} was called: no program starts any more. Any thread.
     *
     * @return true once the broker stops.
     */
    boolean isStopping()
    {
        synchronized (lock)
        {
            return stopping;
        }
    }

    /**
     * Stop every running program: SIGTERM to all, then wait up to {@link #STOP_GRACE_MS} in all, then SIGKILL to
     * what is left and its descendants. No program starts after this. Any thread; blocks up to the grace time.
     */
    void stopAll()
    {
        final Map<Process, String> toStop;
        synchronized (lock)
        {
            stopping = true;
            toStop = new LinkedHashMap<>(running);
        }
        if (toStop.isEmpty())
        {
            return;
        }
        for (final Map.Entry<Process, String> entry : toStop.entrySet())
        {
            LOG.info("service '{}': stopping its program (pid {}) with SIGTERM", entry.getValue(),
                entry.getKey().pid());
            entry.getKey().destroy();
        }
        final long deadlineNs = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(STOP_GRACE_MS);
        final List<Process> left = new ArrayList<>();
        boolean interrupted = false;
        for (final Process process : toStop.keySet())
        {
            try
            {
                if (interrupted || !process.waitFor(Math.max(0, deadlineNs - System.nanoTime()), TimeUnit.NANOSECONDS))
                {
                    left.add(process);
                }
            }
            catch (final InterruptedException ex)
            {
                interrupted = true;
                left.add(process);
            }
        }
        for (final Process process : left)
        {
            if (process.isAlive())
            {
                LOG.warn("service '{}': its program (pid {}) did not stop within {} ms of SIGTERM: killing it",
                    toStop.get(process), process.pid(), STOP_GRACE_MS);
                process.descendants().forEach(ProcessHandle::destroyForcibly);
                process.destroyForcibly();
            }
        }
        if (interrupted)
        {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * What runs on the conductor when a program ends.
     */
    @FunctionalInterface
    interface ExitHandler
    {
        /**
         * The process ended.
         *
         * @param process    the process.
         * @param exitStatus its exit status; 128 + N when killed by signal N.
         */
        void onExit(Process process, int exitStatus);
    }
}
