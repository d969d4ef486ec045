package dev.mancom.tools;

import dev.mancom.client.ManCom;
import dev.mancom.protocol.BrokerDirectory;
import dev.mancom.protocol.ManComException;
import dev.mancom.protocol.codecs.ErrorCode;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.time.Duration;
import java.util.concurrent.Callable;

/**
 * {@code mancom wait-ready [--service NAME]}: exit 0 once a broker (and a service of it) is ready.
 */
@Command(
    name = "wait-ready",
    mixinStandardHelpOptions = true,
    description = {
        "Exit 0 once the broker in DIR is ready, and with --service once that service is ready too.",
        "%nA service is ready when each of its listeners is bound and, for a serial port or USB device, the device " +
            "is present; a service of applications only (no listen, no connect) once an application has registered " +
            "it; an outbound service at once."
    },
    exitCodeListHeading = "Exit codes:%n",
    exitCodeList = {
        "0:ready",
        "1:the broker has no such service, or refused this client",
        "2:not ready within the time-out (the message says what it waits for)"
    })
final class WaitReadyCommand implements Callable<Integer>
{
    @Mixin
    private DirOption dirOption;

    @Option(
        names = "--timeout",
        paramLabel = "DURATION",
        defaultValue = "10s",
        converter = DurationConverter.class,
        description = "how long to wait in all (such as 500ms, 10s, 2m; default ${DEFAULT-VALUE})")
    private Duration timeout;

    @Option(
        names = "--service",
        paramLabel = "NAME",
        description = "also wait until this service is ready")
    private String service;

    @CommandLine.Spec
    private CommandLine.Model.CommandSpec spec;

    public Integer call() throws InterruptedException
    {
        final long deadlineNs = System.nanoTime() + timeout.toNanos();
        if (!BrokerDirectory.awaitReady(dirOption.dir(), timeout.toMillis()))
        {
            spec.commandLine().getErr().println(
                "mancom wait-ready: no broker became ready in " + dirOption.dir() + " within " + timeout.toMillis() +
                " ms");
            return 2;
        }
        if (null == service)
        {
            return 0;
        }

        final Duration left = Duration.ofNanos(Math.max(0, deadlineNs - System.nanoTime()));
        final ManCom.Context ctx = new ManCom.Context().dir(dirOption.dir()).clientName("mancom-wait-ready");
        try (ManCom mancom = ManCom.connect(ctx))
        {
            mancom.awaitService(service, left);
            return 0;
        }
        catch (final ManComException ex)
        {
            spec.commandLine().getErr().println("mancom wait-ready: " + ex.getMessage());
            return ErrorCode.TIMEOUT == ex.code() || ErrorCode.NOT_CONNECTED == ex.code() ? 2 : 1;
        }
    }
}
