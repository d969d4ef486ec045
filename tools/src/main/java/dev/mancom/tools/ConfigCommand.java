package dev.mancom.tools;

import dev.mancom.broker.ConfigCheck;
import dev.mancom.broker.config.BrokerConfig;
import dev.mancom.broker.config.ConfigException;
import dev.mancom.broker.config.ConfigLoader;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/**
 * {@code mancom config}: commands about the broker's configuration.
 */
@Command(
    name = "config",
    mixinStandardHelpOptions = true,
    description = "Commands about the broker's configuration.",
    subcommands = {ConfigCommand.Check.class, CommandLine.HelpCommand.class})
final class ConfigCommand implements Runnable
{
    @CommandLine.Spec
    private CommandLine.Model.CommandSpec spec;

    /**
     * With no sub-command, print the usage.
     */
    public void run()
    {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    /**
     * {@code mancom config check [FILE]}: validate a configuration without starting anything.
     */
    @Command(
        name = "check",
        mixinStandardHelpOptions = true,
        description = {
            "Validate a configuration without starting anything.",
            "%nChecks FILE, else what the broker would read: $MANCOM_CONFIG, else /etc/mancom/mancom.toml with " +
                "/etc/mancom/conf.d/*.toml, else the built-in default. Every key is checked; the names of [broker] " +
                "group, allow_users and allow_groups are looked up in this system's user and group database, as " +
                "the broker does at start; and every listen and connect URI is checked against the transports the " +
                "broker would have (its class path and [broker] plugins), without binding anything. Errors are " +
                "printed one a line as FILE:LINE: KEY: problem; warnings (such as unknown keys) as FILE:LINE: warning."
        },
        exitCodeListHeading = "Exit codes:%n",
        exitCodeList = {
            "0:the configuration is good (one summary line, after any warnings)",
            "1:the configuration is wrong or cannot be read (every error is printed)"
        })
    static final class Check implements Callable<Integer>
    {
        @Parameters(
            arity = "0..1",
            paramLabel = "FILE",
            description = "the file to check (default: what the broker would read)")
        private Path file;

        @CommandLine.Spec
        private CommandLine.Model.CommandSpec spec;

        public Integer call()
        {
            final PrintWriter out = spec.commandLine().getOut();
            final PrintWriter err = spec.commandLine().getErr();
            try
            {
                final BrokerConfig config =
                    null != file ? ConfigLoader.load(file) : ConfigLoader.resolve(System.getenv());
                ConfigCheck.check(config, Thread.currentThread().getContextClassLoader());
                for (final String warning : config.warnings())
                {
                    err.println("warning: " + warning);
                }
                final int count = config.services().size();
                out.println(String.join(" + ", config.sources()) + ": " + count +
                    (1 == count ? " service OK" : " services OK"));
                return 0;
            }
            catch (final ConfigException ex)
            {
                for (final String error : ex.errors())
                {
                    err.println(error);
                }
                return 1;
            }
            finally
            {
                out.flush();
                err.flush();
            }
        }
    }
}
