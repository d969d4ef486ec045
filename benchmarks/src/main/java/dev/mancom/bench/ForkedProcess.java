package dev.mancom.bench;

import dev.mancom.tools.JavaProcess;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A JVM the benchmark forks: same class path and JVM flags as the benchmark, standard output and error captured
 * line by line, awaited with deadlines, stopped with SIGTERM then SIGKILL.
 */
public final class ForkedProcess implements AutoCloseable
{
    private static final long POLL_INTERVAL_MS = 5;
    private static final int OUTPUT_TAIL_LINES = 40;

    private final String name;
    private final Process process;
    private final List<String> lines = new CopyOnWriteArrayList<>();
    private final Thread pump;

    private ForkedProcess(final String name, final Process process)
    {
        this.name = name;
        this.process = process;
        this.pump = new Thread(this::pump, "output-" + name);
        pump.setDaemon(true);
        pump.start();
    }

    /**
     * Start a JVM that runs a main class.
     *
     * @param name      a name for messages.
     * @param mainClass the main class's name.
     * @param jvmArgs   extra JVM arguments, after the JVM flags ManCom needs.
     * @param args      the program's arguments.
     * @return the running process.
     * @throws BenchmarkException when it cannot be started.
     */
    public static ForkedProcess start(
        final String name, final String mainClass, final List<String> jvmArgs, final List<String> args)
    {
        final List<String> command = JavaProcess.command(mainClass, jvmArgs, args);
        try
        {
            return new ForkedProcess(name, new ProcessBuilder(command).redirectErrorStream(true).start());
        }
        catch (final IOException ex)
        {
            throw new BenchmarkException("cannot start the " + name + " JVM (" + String.join(" ", command) + "): " +
                ex.getMessage(), ex);
        }
    }

    private void pump()
    {
        try (BufferedReader reader = new BufferedReader(
            new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8)))
        {
            String line;
            while (null != (line = reader.readLine()))
            {
                lines.add(line);
            }
        }
        catch (final IOException ignore)
        {
            // the process ended
        }
    }

    /**
     * Wait for an output line that matches a pattern.
     *
     * @param pattern what to find in a line.
     * @param timeout how long to wait.
     * @return the match.
     * @throws BenchmarkException with the output so far when the line does not come in time or the process exits
     *                            first.
     */
    public Matcher awaitLine(final Pattern pattern, final Duration timeout)
    {
        final long deadlineNs = System.nanoTime() + timeout.toNanos();
        int checked = 0;
        while (true)
        {
            final boolean ended = !process.isAlive() && !pump.isAlive();
            while (checked < lines.size())
            {
                final Matcher matcher = pattern.matcher(lines.get(checked++));
                if (matcher.find())
                {
                    return matcher;
                }
            }
            if (ended)
            {
                throw new BenchmarkException("the " + name + " JVM exited with code " + process.exitValue() +
                    " before it was ready" + outputTail());
            }
            if (System.nanoTime() - deadlineNs >= 0)
            {
                throw new BenchmarkException("the " + name + " JVM was not ready within " + timeout.toSeconds() +
                    " s (no line matching /" + pattern + "/)" + outputTail());
            }
            try
            {
                Thread.sleep(POLL_INTERVAL_MS);
            }
            catch (final InterruptedException ex)
            {
                Thread.currentThread().interrupt();
                throw new BenchmarkException("interrupted while waiting for the " + name + " JVM", ex);
            }
        }
    }

    /**
     * Whether the process still runs.
     *
     * @return true while it runs.
     */
    public boolean isAlive()
    {
        return process.isAlive();
    }

    /**
     * Fail when the process has stopped.
     *
     * @throws BenchmarkException saying so, with its last output.
     */
    public void checkAlive()
    {
        if (!process.isAlive())
        {
            throw new BenchmarkException("the " + describe());
        }
    }

    /**
     * The process's name, pid and whether it still runs, with the last lines of its output.
     *
     * @return a description for error messages.
     */
    public String describe()
    {
        if (!pump.isAlive())
        {
            // The output has ended: the process is ending too; let it, so that its exit code can be told.
            waitFor(Duration.ofMillis(500));
        }
        return name + " JVM (pid " + process.pid() + (process.isAlive() ? ", running" :
            ", exited with code " + process.exitValue()) + ")" + outputTail();
    }

    private String outputTail()
    {
        final int size = lines.size();
        if (0 == size)
        {
            return "; it printed nothing";
        }
        final StringBuilder builder = new StringBuilder("; its output");
        final int from = Math.max(0, size - OUTPUT_TAIL_LINES);
        builder.append(0 == from ? ":" : " (last " + (size - from) + " lines):");
        for (int i = from; i < size; i++)
        {
            builder.append(System.lineSeparator()).append("    | ").append(lines.get(i));
        }
        return builder.toString();
    }

    /**
     * Stop the process: SIGTERM, then SIGKILL when it has not ended within the timeout. Idempotent.
     *
     * @param timeout how long to wait after SIGTERM.
     * @return true when it ended after SIGTERM alone.
     */
    public boolean stop(final Duration timeout)
    {
        if (!process.isAlive())
        {
            return true;
        }
        process.destroy();
        final boolean ended = waitFor(timeout);
        if (!ended)
        {
            process.destroyForcibly();
            waitFor(timeout);
        }
        return ended;
    }

    private boolean waitFor(final Duration timeout)
    {
        try
        {
            return process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
        }
        catch (final InterruptedException ex)
        {
            // Keep stopping: a process must not outlive the benchmark.
            Thread.currentThread().interrupt();
            process.destroyForcibly();
            return false;
        }
    }

    /**
     * Stop the process, waiting 10 s after SIGTERM.
     */
    public void close()
    {
        stop(Duration.ofSeconds(10));
    }

    /**
     * {@inheritDoc}
     */
    public String toString()
    {
        return name + " (pid " + process.pid() + ")";
    }
}
