package dev.mancom.tools;

import dev.mancom.broker.Broker;
import dev.mancom.broker.config.ConfigException;
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
        final Broker broker = Broker.launch(ctx);
        if (!HangUpSignal.install(() -> reload(broker)))
        {
            LOG.warn("SIGHUP cannot be handled in this JVM: use mancom reload to reload the configuration");
        }
        runUntilSignalled(broker);
        return 0;
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
     * Block until the JVM is asked to stop, then close the broker before the JVM exits.
     *
     * @param broker the running broker.
     * @throws InterruptedException when interrupted.
     */
    static void runUntilSignalled(final Broker broker) throws InterruptedException
    {
        final CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() ->
        {
            broker.close();
            stopped.countDown();
        }, "mancom-shutdown"));
        stopped.await();
    }
}
