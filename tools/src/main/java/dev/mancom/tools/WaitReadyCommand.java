package dev.mancom.tools;

import dev.mancom.protocol.BrokerDirectory;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.time.Duration;
import java.util.concurrent.Callable;

/**
 * {@code mancom wait-ready}: exit 0 once a broker is ready.
 */
@Command(
    name = "wait-ready",
    mixinStandardHelpOptions = true,
    description = "Exit 0 once the broker in DIR is ready; non-zero, with a message, on time-out.")
final class WaitReadyCommand implements Callable<Integer>
{
    @Mixin
    private DirOption dirOption;

    @Option(
        names = "--timeout",
        paramLabel = "DURATION",
        defaultValue = "10s",
        converter = DurationConverter.class,
        description = "how long to wait (such as 500ms, 10s, 2m; default ${DEFAULT-VALUE})")
    private Duration timeout;

    @CommandLine.Spec
    private CommandLine.Model.CommandSpec spec;

    public Integer call() throws InterruptedException
    {
        if (BrokerDirectory.awaitReady(dirOption.dir(), timeout.toMillis()))
        {
            return 0;
        }
        spec.commandLine().getErr().println(
            "mancom wait-ready: no broker became ready in " + dirOption.dir() + " within " + timeout.toMillis() +
            " ms");
        return 2;
    }
}
