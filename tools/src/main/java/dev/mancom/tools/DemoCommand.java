package dev.mancom.tools;

import dev.mancom.broker.Broker;
import dev.mancom.broker.config.ConfigLoader;
import dev.mancom.protocol.Endpoint;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;

/**
 * {@code mancom demo}: a broker with the built-in configuration and, in a separate process, an echo application
 * attached to it over shared memory.
 */
@Command(
    name = "demo",
    mixinStandardHelpOptions = true,
    description = {
        "Start a broker with the built-in default configuration and, in a separate process, an echo application",
        "for its 'echo' service (tcp://127.0.0.1:7007). Ctrl-C stops both."
    })
final class DemoCommand implements Callable<Integer>
{
    @Mixin
    private DirOption dirOption;

    public Integer call() throws Exception
    {
        final Path dir = dirOption.dir();
        final Broker broker = Broker.launch(new Broker.Context()
            .config(ConfigLoader.builtInDefault())
            .brokerDir(dir)
            .deleteDirOnClose(true));
        final Process echo;
        try
        {
            echo = new ProcessBuilder(JavaProcess.command(
                Main.class.getName(), List.of("-Xmx64m"), List.of("echo", "echo", "--dir", dir.toString())))
                .redirectErrorStream(true)
                .redirectInput(ProcessBuilder.Redirect.INHERIT)
                .start();
        }
        catch (final Exception ex)
        {
            broker.close();
            throw ex;
        }
        Runtime.getRuntime().addShutdownHook(new Thread(() ->
        {
            echo.destroy();
            try
            {
                echo.waitFor(5, TimeUnit.SECONDS);
            }
            catch (final InterruptedException ignore)
            {
                Thread.currentThread().interrupt();
            }
            echo.destroyForcibly();
            broker.close();
        }, "mancom-demo-shutdown"));

        // Say how to try it only once the echo application has registered, so the first try is served.
        final BufferedReader echoOutput = new BufferedReader(
            new InputStreamReader(echo.getInputStream(), StandardCharsets.UTF_8));
        String line;
        while (null != (line = echoOutput.readLine()))
        {
            System.out.println(line);
            if (line.startsWith("echoing service"))
            {
                break;
            }
        }
        final Thread relay = new Thread(() -> echoOutput.lines().forEach(System.out::println), "mancom-demo-relay");
        relay.setDaemon(true);
        relay.start();

        final Endpoint endpoint = broker.listenEndpoint("echo");
        System.out.println("ManCom demo: broker pid " + ProcessHandle.current().pid() + " in " + dir +
            ", echo application pid " + echo.pid() + ". Try it: nc " + endpoint.address().getHostAddress() + " " +
            endpoint.port() + "   (Ctrl-C stops both)");
        System.out.flush();
        final int exit = echo.waitFor();
        System.err.println("mancom demo: the echo application exited with " + exit);
        return 0;
    }
}
