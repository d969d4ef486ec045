package dev.mancom.tools;

import dev.mancom.broker.config.ConfigException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.io.PrintWriter;

/**
 * The {@code mancom} command.
 */
@Command(
    name = "mancom",
    mixinStandardHelpOptions = true,
    versionProvider = Main.Version.class,
    description = "ManCom: one broker owns every transport; applications talk to it over shared memory.",
    subcommands = {
        BrokerCommand.class,
        WaitReadyCommand.class,
        EchoCommand.class,
        DemoCommand.class,
        ReloadCommand.class,
        ConfigCommand.class,
        CommandLine.HelpCommand.class
    })
public final class Main implements Runnable
{
    @CommandLine.Spec
    private CommandLine.Model.CommandSpec spec;

    /**
     * Run the command line.
     *
     * @param args the arguments.
     */
    public static void main(final String[] args)
    {
        System.exit(execute(args));
    }

    /**
     * Run the command line and return its exit code.
     *
     * @param args the arguments.
     * @return the exit code.
     */
    public static int execute(final String... args)
    {
        final CommandLine commandLine = new CommandLine(new Main());
        commandLine.setExecutionExceptionHandler(new ErrorMessageHandler());
        return commandLine.execute(args);
    }

    /**
     * Run the command line with the given output streams and return its exit code.
     *
     * @param out  where the commands print their results.
     * @param err  where the commands print errors and warnings.
     * @param args the arguments.
     * @return the exit code.
     */
    public static int execute(final PrintWriter out, final PrintWriter err, final String... args)
    {
        final CommandLine commandLine = new CommandLine(new Main());
        commandLine.setExecutionExceptionHandler(new ErrorMessageHandler());
        commandLine.setOut(out);
        commandLine.setErr(err);
        return commandLine.execute(args);
    }

    /**
     * With no sub-command, print the usage.
     */
    public void run()
    {
        spec.commandLine().usage(System.out);
    }

    /**
     * Prints a failure as one clear line rather than a stack trace.
     */
    static final class ErrorMessageHandler implements CommandLine.IExecutionExceptionHandler
    {
        public int handleExecutionException(
            final Exception ex, final CommandLine commandLine, final CommandLine.ParseResult parseResult)
        {
            if (ex instanceof ConfigException configEx && configEx.errors().size() > 1)
            {
                // Every problem of the file, so that all can be fixed at once.
                for (final String error : configEx.errors())
                {
                    commandLine.getErr().println("mancom " + commandLine.getCommandName() + ": " + error);
                }
            }
            else
            {
                commandLine.getErr().println("mancom " + commandLine.getCommandName() + ": " + ex.getMessage());
            }
            if (Boolean.getBoolean("mancom.debug"))
            {
                ex.printStackTrace(commandLine.getErr());
            }
            return 1;
        }
    }

    /**
     * The version of the build.
     */
    static final class Version implements CommandLine.IVersionProvider
    {
        public String[] getVersion()
        {
            final String version = Main.class.getPackage().getImplementationVersion();
            return new String[]{"mancom " + (null == version ? "development build" : version)};
        }
    }
}
