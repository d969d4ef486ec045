package dev.mancom.tests.kit;

import dev.mancom.tools.Main;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A broker in its own JVM, run by the {@code mancom broker} command with a configuration written by the test.
 */
public final class ForkedBroker implements AutoCloseable
{
    private static final Pattern LISTENING =
        Pattern.compile("service '([^']+)' listening on (tcp|udp)://([^:]+):(\\d+)");

    private final ForkedJvm jvm;
    private final Path dir;

    private ForkedBroker(final ForkedJvm jvm, final Path dir)
    {
        this.jvm = jvm;
        this.dir = dir;
    }

    /**
     * Start a broker and wait until it is ready.
     *
     * @param workDir where the broker directory, configuration and logs go.
     * @param toml    the configuration.
     * @param jvmArgs extra JVM arguments (such as memory limits).
     * @return the ready broker.
     * @throws IOException when it cannot start.
     */
    public static ForkedBroker start(final Path workDir, final String toml, final List<String> jvmArgs)
        throws IOException
    {
        final Path config = workDir.resolve("mancom.toml");
        Files.writeString(config, toml);
        final Path dir = workDir.resolve("broker");
        final List<String> args = new ArrayList<>(List.of("broker", "--config", config.toString(),
            "--dir", dir.toString()));
        final ForkedJvm jvm = ForkedJvm.start("broker", workDir.resolve("logs"), Main.class, jvmArgs, args);
        final ForkedBroker broker = new ForkedBroker(jvm, dir);
        try
        {
            jvm.awaitLine((line) -> line.contains("ManCom broker ready"), Duration.ofSeconds(60));
        }
        catch (final AssertionError ex)
        {
            jvm.close();
            throw ex;
        }
        return broker;
    }

    /**
     * The broker directory.
     *
     * @return the directory.
     */
    public Path dir()
    {
        return dir;
    }

    /**
     * The JVM.
     *
     * @return the JVM.
     */
    public ForkedJvm jvm()
    {
        return jvm;
    }

    /**
     * Where a service listens on TCP, from the broker's log.
     *
     * @param service the service's name.
     * @return the address.
     */
    public InetSocketAddress tcpAddress(final String service)
    {
        return listenAddress(service, "tcp");
    }

    /**
     * Where a service listens on UDP, from the broker's log.
     *
     * @param service the service's name.
     * @return the address.
     */
    public InetSocketAddress udpAddress(final String service)
    {
        return listenAddress(service, "udp");
    }

    private InetSocketAddress listenAddress(final String service, final String scheme)
    {
        for (final String line : jvm.lines())
        {
            final Matcher matcher = LISTENING.matcher(line);
            if (matcher.find() && matcher.group(1).equals(service) && matcher.group(2).equals(scheme))
            {
                return new InetSocketAddress(matcher.group(3), Integer.parseInt(matcher.group(4)));
            }
        }
        throw new AssertionError("service '" + service + "' does not listen on " + scheme + "; broker output:\n" +
            String.join("\n", jvm.lines()));
    }

    /**
     * Stop the broker with SIGTERM.
     */
    public void close()
    {
        jvm.close();
    }
}
