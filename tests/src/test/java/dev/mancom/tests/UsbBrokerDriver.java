package dev.mancom.tests;

import dev.mancom.broker.Broker;
import dev.mancom.broker.config.ConfigLoader;
import dev.mancom.client.ManCom;
import dev.mancom.protocol.Endpoint;

import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.HexFormat;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The program {@link UsbBrokerUmockdevTest} runs in a child JVM under umockdev: an embedded broker with a service
 * listening on a {@code usb://} URI, and an application that accepts its connections. Arguments: the broker
 * directory, the URI, and the number of bytes the emulated device sends. It prints {@code LISTENING} once the broker
 * runs, then for the connection {@code ENDPOINT ...} (as the application sees it), {@code READ HEX} once that many
 * bytes arrived, and {@code CLOSED REASON} with the reason the application is given; {@code FAILED ...} on failure.
 * <p>
 * The credit window is as long as the device's message and the application consumes nothing, so the broker stops
 * reading after it (the emulated device's script has no further transfer to answer another read with).
 */
public final class UsbBrokerDriver
{
    private UsbBrokerDriver()
    {
    }

    /**
     * Run.
     *
     * @param args broker directory, URI, bytes expected.
     * @throws Exception on failure.
     */
    public static void main(final String[] args) throws Exception
    {
        final PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        final Path dir = Paths.get(args[0]);
        final String uri = args[1];
        final int expect = Integer.parseInt(args[2]);
        final String toml = "[service.device]\nlisten = [\"" + uri + "\"]\n";
        final CompletableFuture<String> closed = new CompletableFuture<>();
        int status = 1;
        try (Broker broker = Broker.launch(new Broker.Context()
                .config(ConfigLoader.parse(toml, "usb-test"))
                .brokerDir(dir)
                .creditWindowLength(expect));
            ManCom app = ManCom.connect(new ManCom.Context().dir(dir)))
        {
            app.registerAcceptor("device", (connection) ->
            {
                out.println("ENDPOINT " + describe(connection.remoteEndpoint()));
                final AtomicBoolean printed = new AtomicBoolean();
                connection.dataHandler((c, buffer, offset, length) ->
                {
                    if (length >= expect && printed.compareAndSet(false, true))
                    {
                        final byte[] bytes = new byte[length];
                        buffer.getBytes(offset, bytes);
                        out.println("READ " + HexFormat.of().formatHex(bytes));
                    }
                    return 0;
                });
                connection.closeHandler((c, reason, detail) ->
                {
                    out.println("CLOSED " + reason + " " + detail);
                    closed.complete(reason.toString());
                });
            });
            out.println("LISTENING " + describe(broker.listenEndpoint("device")));
            final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
            while (!closed.isDone() && System.nanoTime() - deadline < 0)
            {
                app.idle(app.poll());
            }
            status = closed.isDone() ? 0 : 1;
        }
        catch (final Throwable ex)
        {
            out.println("FAILED " + ex);
            ex.printStackTrace(out);
        }
        out.flush();
        System.exit(status);
    }

    private static String describe(final Endpoint endpoint)
    {
        return "type=" + endpoint.type() + " bus=" + endpoint.usbBus() + " port=" + endpoint.path() +
            " vid=" + Integer.toHexString(endpoint.vendorId()) + " pid=" + Integer.toHexString(endpoint.productId()) +
            " serial=" + endpoint.serialNumber();
    }
}
