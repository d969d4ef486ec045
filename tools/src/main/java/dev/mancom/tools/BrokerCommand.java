package dev.mancom.tools;

import dev.mancom.broker.Broker;
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
        "Run the broker in the foreground. Logs one line when ready; SIGINT or SIGTERM stops it cleanly and",
        "removes what it mapped in its directory."
    })
final class BrokerCommand implements Callable<Integer>
{
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
        runUntilSignalled(Broker.launch(ctx));
        return 0;
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
