package dev.mancom.tests;

import dev.mancom.broker.Broker;
import dev.mancom.broker.config.ConfigLoader;
import dev.mancom.client.ManCom;
import dev.mancom.protocol.Endpoint;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

class InProcessEchoTest
{
    @TempDir
    Path tempDir;

    @Test
    void shouldEchoThroughAnEmbeddedBroker() throws Exception
    {
        final String toml = "[service.echo]\nlisten = [\"tcp://127.0.0.1:0\"]\n";
        try (Broker broker = Broker.launch(new Broker.Context()
                .config(ConfigLoader.parse(toml, "test"))
                .brokerDir(tempDir.resolve("broker")));
            ManCom mancom = ManCom.connect(new ManCom.Context().dir(tempDir.resolve("broker")).dispatchThread(true)))
        {
            mancom.registerAcceptor("echo", (connection) -> connection.dataHandler(
                (c, buffer, offset, length) -> Math.max(0, c.offer(buffer, offset, length))));
            final Endpoint endpoint = broker.listenEndpoint("echo");
            try (Socket socket = new Socket(endpoint.address(), endpoint.port()))
            {
                socket.setSoTimeout(10_000);
                final OutputStream out = socket.getOutputStream();
                final InputStream in = socket.getInputStream();
                final byte[] message = "hello mancom".getBytes();
                out.write(message);
                assertArrayEquals(message, in.readNBytes(message.length));
            }
        }
    }
}
