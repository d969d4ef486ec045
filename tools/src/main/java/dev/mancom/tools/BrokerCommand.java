package dev.mancom.tools;

import dev.mancom.broker.Broker;
import dev.mancom.broker.SystemdNotifier;
import dev.mancom.broker.config.ConfigException;
import org.agrona.concurrent.SystemEpochClock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

/**
 * {@code mancom broker}: run the broker in the foreground until SIGINT or SIGTERM.
 */
@Command(
    name = "broker",
    mixinStandardHelpOptions = true,
    description = {
        "Run the broker in the foreground.",
        "%nLogs one line when ready; SIGINT or SIGTERM stops it cleanly and removes what it mapped in its " +
            "directory; SIGHUP re-reads its configuration file and applies it live (as mancom reload does), or " +
            "logs why not and keeps the running configuration."
    })
final class BrokerCommand implements Callable<Integer>
{
    private static final Logger LOG = LoggerFactory.getLogger(BrokerCommand.class);

    @Option(
        names = "--config",
        paramLabel = "FILE",
        description = "configuration file (default: $MANCOM_CONFIG, else /etc/mancom/mancom.toml with " +
            "/etc/mancom/conf.d/*.toml, else the built-in default)")
    private Path config;

    @Mixin
    private DirOption dirOption;

    public Integer call() throws InterruptedException
    {
        final Broker.Context ctx = new Broker.Context();
        if (null != config)
        {
            ctx.configFile(config);
        }
        if (null != dirOption.explicitDir())
        {
            ctx.brokerDir(dirOption.dir());
        }
        final SystemdNotifier systemd = SystemdNotifier.fromEnvironment(System.getenv());
        final Broker broker;
        try
        {
            broker = Broker.launch(ctx);
        }
        catch (final RuntimeException ex)
        {
            if (null != systemd)
            {
                systemd.notify("STATUS=failed to start: " + firstLine(ex.getMessage()));
                systemd.close();
            }
            throw ex;
        }
        if (!HangUpSignal.install(() -> reload(broker)))
        {
            LOG.warn("SIGHUP cannot be handled in this JVM: use mancom reload to reload the configuration");
        }
        if (null != systemd)
        {
            systemd.notify("READY=1\nSTATUS=" + status(broker) + "\nMAINPID=" + ProcessHandle.current().pid());
            systemd.startWatchdog(broker::heartbeatMs, SystemEpochClock.INSTANCE);
            broker.reloadListener((report, failure) -> reportReload(broker, systemd, failure));
        }
        runUntilSignalled(broker, systemd);
        return 0;
    }

    private static String status(final Broker broker)
    {
        final int services = broker.config().services().size();
        return "serving " + services + (1 == services ? " service" : " services") + " from " +
            broker.config().source();
    }

    private static String firstLine(final String message)
    {
        if (null == message)
        {
            return "";
        }
        final int newline = message.indexOf('\n');
        return newline < 0 ? message : message.substring(0, newline);
    }

    /**
     * SIGHUP: reload, and log the outcome (the broker logs each change).
     */
    private static void reload(final Broker broker)
    {
        LOG.info("SIGHUP: reloading the configuration");
        try
        {
            broker.reload();
        }
        catch (final ConfigException ex)
        {
            LOG.warn("SIGHUP: reload refused, the running configuration is kept: {}",
                String.join("; ", ex.errors()));
        }
        catch (final RuntimeException ex)
        {
            LOG.warn("SIGHUP: reload failed: {}", ex.toString());
        }
    }

    /**
     * Every reload (SIGHUP or mancom reload) as systemd's STATUS. On the conductor: the send never blocks.
     */
    private static void reportReload(
        final Broker broker, final SystemdNotifier systemd, final RuntimeException failure)
    {
        final String status = null == failure ? "reloaded; " + status(broker) :
            (failure instanceof ConfigException ? "reload refused" : "reload failed") +
            ", running the last good configuration: " + failure.getMessage();
        systemd.notify("STATUS=" + firstLine(status));
    }

    /**
     * Block until the JVM is asked to stop, then tell systemd (if any) that the broker is stopping, stop feeding
     * its watchdog and close the broker before the JVM exits.
     *
     * @param broker  the running broker.
     * @param systemd the notifier, or null when not run by systemd.
     * @throws InterruptedException when interrupted.
     */
    static void runUntilSignalled(final Broker broker, final SystemdNotifier systemd) throws InterruptedException
    {
        final CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() ->
        {
            if (null != systemd)
            {
                systemd.notify("STOPPING=1\nSTATUS=stopping");
                // Before the broker unmaps the mark file the watchdog reads.
                systemd.close();
            }
            broker.close();
            stopped.countDown();
        }, "mancom-shutdown"));
        stopped.await();
    }
}
