package dev.mancom.tests.kit;

import dev.mancom.tools.JavaProcess;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * A JVM forked for a test: same class path and JVM flags as the test, output captured line by line (and copied
 * to a log file), awaited with deadlines.
 */
public final class ForkedJvm implements AutoCloseable
{
    private static final Path KEPT_LOGS = Paths.get("target", "forked-logs");

    private final String name;
    private final Process process;
    private final List<String> lines = new CopyOnWriteArrayList<>();
    private final Object linesChanged = new Object();
    private final Thread pump;
    private final OutputStream stdin;

    private ForkedJvm(final String name, final Process process, final Path logFile)
    {
        this.name = name;
        this.process = process;
        this.stdin = process.getOutputStream();
        this.pump = new Thread(() -> pump(logFile), "pump-" + name);
        pump.setDaemon(true);
        pump.start();
    }

    /**
     * Start a JVM.
     *
     * @param name      a name for logs.
     * @param logDir    unused: output is copied to {@code target/forked-logs/NAME-PID.log}.
     * @param mainClass the main class.
     * @param jvmArgs   extra JVM arguments.
     * @param args      the program's arguments.
     * @return the running JVM.
     * @throws IOException when it cannot start.
     */
    public static ForkedJvm start(
        final String name,
        final Path logDir,
        final Class<?> mainClass,
        final List<String> jvmArgs,
        final List<String> args) throws IOException
    {
        return start(name, logDir, mainClass, jvmArgs, args, Map.of());
    }

    /**
     * Start a JVM with more environment variables.
     *
     * @param name      a name for logs.
     * @param logDir    unused: output is copied to {@code target/forked-logs/NAME-PID.log}.
     * @param mainClass the main class.
     * @param jvmArgs   extra JVM arguments.
     * @param args      the program's arguments.
     * @param env       environment variables to set, on top of the test's.
     * @return the running JVM.
     * @throws IOException when it cannot start.
     */
    public static ForkedJvm start(
        final String name,
        final Path logDir,
        final Class<?> mainClass,
        final List<String> jvmArgs,
        final List<String> args,
        final Map<String, String> env) throws IOException
    {
        final List<String> allJvmArgs = new ArrayList<>(jvmArgs);
        allJvmArgs.add("-XX:+UseSerialGC");
        final ProcessBuilder builder = new ProcessBuilder(JavaProcess.command(mainClass.getName(), allJvmArgs, args))
            .redirectErrorStream(true);
        builder.environment().putAll(env);
        // Logs are kept under target/forked-logs as well, where they outlive the test's temporary directory.
        Files.createDirectories(KEPT_LOGS);
        final Process process = builder.start();
        return new ForkedJvm(name, process, KEPT_LOGS.resolve(name + "-" + process.pid() + ".log"));
    }

    /**
     * Start a process given its whole command line, such as a JVM run as another user through {@code setpriv}.
     *
     * @param name    a name for logs.
     * @param command the command line.
     * @return the running process.
     * @throws IOException when it cannot start.
     */
    public static ForkedJvm startCommand(final String name, final List<String> command) throws IOException
    {
        Files.createDirectories(KEPT_LOGS);
        final Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        return new ForkedJvm(name, process, KEPT_LOGS.resolve(name + "-" + process.pid() + ".log"));
    }

    private void pump(final Path logFile)
    {
        try (BufferedReader reader = new BufferedReader(
            new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
            OutputStream log = Files.newOutputStream(logFile))
        {
            String line;
            while (null != (line = reader.readLine()))
            {
                lines.add(line);
                synchronized (linesChanged)
                {
                    linesChanged.notifyAll();
                }
                log.write((line + "\n").getBytes(StandardCharsets.UTF_8));
                log.flush();
            }
        }
        catch (final IOException ignore)
        {
            // the process ended
        }
    }

    /**
     * Wait for an output line that matches.
     *
     * @param predicate what to look for.
     * @param timeout   how long to wait.
     * @return the line.
     * @throws AssertionError with the output so far when it does not come, or the process exits first.
     */
    public String awaitLine(final Predicate<String> predicate, final Duration timeout)
    {
        final long deadlineNs = System.nanoTime() + timeout.toNanos();
        while (true)
        {
            for (final String line : lines)
            {
                if (predicate.test(line))
                {
                    return line;
                }
            }
            if (!process.isAlive() && !pump.isAlive())
            {
                throw new AssertionError(name + " exited with " + process.exitValue() + " before the awaited " +
                    "line; output:\n" + String.join("\n", lines));
            }
            if (System.nanoTime() - deadlineNs >= 0)
            {
                throw new AssertionError(name + ": awaited line did not come within " + timeout + "; output:\n" +
                    String.join("\n", lines));
            }
            synchronized (linesChanged)
            {
                try
                {
                    // Woken by every new line and by the end of the output; the bound re-checks the process.
                    linesChanged.wait(100);
                }
                catch (final InterruptedException ex)
                {
                    Thread.currentThread().interrupt();
                    throw new AssertionError(ex);
                }
            }
        }
    }

    /**
     * Every output line so far.
     *
     * @return the lines.
     */
    public List<String> lines()
    {
        return lines;
    }

    /**
     * Write a line to the process's standard input.
     *
     * @param line the line.
     * @throws IOException when the process is gone.
     */
    public void send(final String line) throws IOException
    {
        stdin.write((line + "\n").getBytes(StandardCharsets.UTF_8));
        stdin.flush();
    }

    /**
     * The process.
     *
     * @return the process.
     */
    public Process process()
    {
        return process;
    }

    /**
     * The process id.
     *
     * @return the pid.
     */
    public long pid()
    {
        return process.pid();
    }

    /**
     * Kill with SIGKILL, as {@code kill -9} does, and wait for the process to end.
     */
    public void kill9()
    {
        process.destroyForcibly();
        waitFor(Duration.ofSeconds(30));
    }

    /**
     * Ask the process to stop with SIGTERM and wait for it.
     *
     * @param timeout how long to wait before SIGKILL.
     * @return the exit code.
     */
    public int terminate(final Duration timeout)
    {
        process.destroy();
        if (!waitFor(timeout))
        {
            process.destroyForcibly();
            waitFor(Duration.ofSeconds(30));
        }
        return process.exitValue();
    }

    /**
     * Wait for the process to end.
     *
     * @param timeout how long.
     * @return true when it ended.
     */
    public boolean waitFor(final Duration timeout)
    {
        try
        {
            final boolean ended = process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
            if (ended)
            {
                pump.join(5_000);
            }
            return ended;
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /**
     * Stop the process (SIGTERM, then SIGKILL after 20 s).
     */
    public void close()
    {
        if (process.isAlive())
        {
            terminate(Duration.ofSeconds(20));
        }
    }

    /**
     * {@inheritDoc}
     */
    public String toString()
    {
        return name + " (pid " + process.pid() + ")";
    }
}
