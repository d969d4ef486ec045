package dev.mancom.tests;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads figures of another JVM with {@code jcmd}.
 */
final class JvmProbe
{
    private static final Pattern USED = Pattern.compile("used (\\d+)K");
    private static final Pattern THREAD = Pattern.compile("^\"(.*)\" #\\d+");

    private JvmProbe()
    {
    }

    /**
     * The heap in use of a JVM, summed over its generations, as {@code jcmd PID GC.heap_info} prints it.
     *
     * @param pid the JVM's pid.
     * @return bytes in use.
     * @throws IOException when jcmd fails.
     * @throws InterruptedException when interrupted.
     */
    static long heapUsedBytes(final long pid) throws IOException, InterruptedException
    {
        final String output = jcmd(pid, "GC.heap_info");
        long total = 0;
        boolean found = false;
        for (final String line : output.split("\n"))
        {
            // Generation lines ("def new generation total ..., used ...K"), not their spaces (eden, from, to).
            if (line.contains("generation"))
            {
                final Matcher matcher = USED.matcher(line);
                if (matcher.find())
                {
                    total += Long.parseLong(matcher.group(1)) * 1024;
                    found = true;
                }
            }
        }
        if (!found)
        {
            throw new IOException("no heap figures in jcmd output: " + output);
        }
        return total;
    }

    /**
     * The names of the Java threads of a JVM (those {@code jcmd PID Thread.print} gives a state, which leaves out
     * the VM's own threads), in the order printed.
     *
     * @param pid the JVM's pid.
     * @return the names.
     * @throws IOException when jcmd fails.
     * @throws InterruptedException when interrupted.
     */
    static List<String> javaThreadNames(final long pid) throws IOException, InterruptedException
    {
        final String output = jcmd(pid, "Thread.print");
        final List<String> names = new ArrayList<>();
        String name = null;
        for (final String line : output.split("\n"))
        {
            final Matcher matcher = THREAD.matcher(line);
            if (matcher.find())
            {
                name = matcher.group(1);
            }
            else if (null != name && line.contains("java.lang.Thread.State"))
            {
                names.add(name);
                name = null;
            }
        }
        if (names.isEmpty())
        {
            throw new IOException("no threads in jcmd output: " + output);
        }
        return names;
    }

    private static String jcmd(final long pid, final String command) throws IOException, InterruptedException
    {
        final String jcmd = Paths.get(System.getProperty("java.home"), "bin", "jcmd").toString();
        final Process process = new ProcessBuilder(jcmd, String.valueOf(pid), command)
            .redirectErrorStream(true).start();
        final String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!process.waitFor(60, TimeUnit.SECONDS) || process.exitValue() != 0)
        {
            throw new IOException("jcmd failed: " + output);
        }
        return output;
    }
}
