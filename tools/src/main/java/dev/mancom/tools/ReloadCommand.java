package dev.mancom.tools;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.time.Duration;
import java.util.concurrent.Callable;

/**
 * {@code mancom reload}: make the running broker re-read its configuration file and apply it live.
 */
@Command(
    name = "reload",
    mixinStandardHelpOptions = true,
    description = {
        "Make the running broker re-read its configuration file and apply it live.",
        "%nThe broker in DIR re-reads the file it was started with, as on SIGHUP: listeners are bound and closed " +
            "to match it, services are added and removed; connections go on and applications change nothing. " +
            "All or nothing: a refused reload keeps the running configuration. [broker] settings change only on " +
            "restart. Only root and the broker's own user may reload."
    },
    exitCodeListHeading = "Exit codes:%n",
    exitCodeList = {
        "0:the configuration was applied (what changed is printed)",
        "1:the broker refused it (the reason names file, line and key) or refused this user",
        "2:no broker runs in DIR, or it did not answer in time"
    })
final class ReloadCommand implements Callable<Integer>
{
    @Mixin
    private DirOption dirOption;

    @Option(
        names = "--timeout",
        paramLabel = "DURATION",
        defaultValue = "30s",
        converter = DurationConverter.class,
        description = "how long to wait for the broker's answer (such as 500ms, 10s, 2m; default ${DEFAULT-VALUE})")
    private Duration timeout;

    @CommandLine.Spec
    private CommandLine.Model.CommandSpec spec;

    public Integer call()
    {
        final ReloadRequest.Result result = ReloadRequest.send(dirOption.dir(), timeout);
        switch (result.outcome())
        {
            case APPLIED:
                spec.commandLine().getOut().println(result.message());
                spec.commandLine().getOut().flush();
                return 0;
            case REFUSED:
                spec.commandLine().getErr().println(
                    "mancom reload: refused, the broker keeps its running configuration: " + result.message());
                return 1;
            case ACCESS_DENIED:
                spec.commandLine().getErr().println("mancom reload: access denied: " + result.message());
                return 1;
            default:
                spec.commandLine().getErr().println("mancom reload: " + result.message());
                return 2;
        }
    }
}
