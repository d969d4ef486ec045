package dev.mancom.tests.kit;

import dev.mancom.client.Acceptor;
import dev.mancom.client.Connection;
import dev.mancom.client.ManCom;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.CRC32;

/**
 * An application for tests, run in its own JVM: accepts N connections with the blocking API and does not read
 * them until a line "read" arrives on its standard input; then reads each to its end and prints
 * {@code conn PORT bytes N crc C}, where PORT is the remote peer's port.
 * <p>
 * Arguments: broker directory, service, number of connections.
 */
public final class SlowReaderApp
{
    private SlowReaderApp()
    {
    }

    /**
     * Run.
     *
     * @param args directory, service, connection count.
     * @throws Exception on failure.
     */
    public static void main(final String[] args) throws Exception
    {
        final int count = Integer.parseInt(args[2]);
        try (ManCom mancom = ManCom.connect(new ManCom.Context().dir(Paths.get(args[0])).dispatchThread(true));
            Acceptor acceptor = mancom.registerAcceptor(args[1]))
        {
            System.out.println("registered");
            final List<Connection> connections = new ArrayList<>();
            while (connections.size() < count)
            {
                final Connection connection = acceptor.accept(Duration.ofSeconds(60));
                if (null == connection)
                {
                    throw new IllegalStateException("no connection within 60 s");
                }
                connections.add(connection);
            }
            System.out.println("accepted " + count);

            final BufferedReader stdin = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
            String line;
            while (null != (line = stdin.readLine()) && !line.equals("read"))
            {
                System.out.println("ignored " + line);
            }
            System.out.println("reading");

            final List<Thread> readers = new ArrayList<>();
            for (final Connection connection : connections)
            {
                final Thread reader = new Thread(() -> readToEnd(connection));
                reader.start();
                readers.add(reader);
            }
            for (final Thread reader : readers)
            {
                reader.join();
            }
            System.out.println("done");
        }
    }

    private static void readToEnd(final Connection connection)
    {
        final CRC32 crc = new CRC32();
        final byte[] buffer = new byte[64 * 1024];
        long total = 0;
        while (true)
        {
            final int n = connection.read(buffer, 0, buffer.length, Duration.ofSeconds(60));
            if (n < 0)
            {
                break;
            }
            crc.update(buffer, 0, n);
            total += n;
        }
        System.out.println("conn " + connection.remoteEndpoint().port() + " bytes " + total + " crc " + crc.getValue());
    }
}
