package dev.mancom.transport.tcp;

import dev.mancom.protocol.codecs.CloseReason;
import dev.mancom.transport.TransportConnection;
import dev.mancom.transport.TransportListener;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Queue;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;

import static dev.mancom.transport.tcp.TcpTestSupport.DEADLINE;
import static dev.mancom.transport.tcp.TcpTestSupport.DEADLINE_SECONDS;
import static dev.mancom.transport.tcp.TcpTestSupport.EPOLL;
import static dev.mancom.transport.tcp.TcpTestSupport.NIO;
import static dev.mancom.transport.tcp.TcpTestSupport.errors;
import static dev.mancom.transport.tcp.TcpTestSupport.transport;
import static dev.mancom.transport.tcp.TcpTestSupport.uniquePrefix;
import static dev.mancom.transport.tcp.TcpTestSupport.uri;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.params.provider.Arguments.arguments;

/**
 * An echo server built on the SPI, with many plain-socket clients at once: every byte comes back, in order, and
 * onWritten accounts for every byte echoed.
 */
class TcpEchoTest
{
    private static final int CLIENTS = 20;
    private static final int BYTES_PER_CLIENT = 256 * 1024;
    private static final int MAX_CHUNK = 16 * 1024;
    private static final String FROM_IO_THREAD = "the I/O thread";
    private static final String FROM_SENDER = "a sender thread";

    private final Queue<Throwable> errors = errors();
    private TcpTransport transport;
    private ExecutorService clients;
    private Sender sender;

    @AfterEach
    void tearDown() throws InterruptedException
    {
        if (null != clients)
        {
            clients.shutdownNow();
        }
        if (null != sender)
        {
            sender.stop();
        }
        if (null != transport)
        {
            transport.close();
        }
    }

    static Stream<Arguments> ioAndWriter()
    {
        return Stream.of(
            arguments(EPOLL, FROM_IO_THREAD),
            arguments(EPOLL, FROM_SENDER),
            arguments(NIO, FROM_IO_THREAD),
            arguments(NIO, FROM_SENDER));
    }

    @ParameterizedTest(name = "{0}, writes from {1}")
    @MethodSource("ioAndWriter")
    void shouldEchoRandomChunksByteForByte(final String io, final String writer) throws Exception
    {
        final String prefix = uniquePrefix("echo");
        transport = transport(io, prefix, 2, errors);
        if (FROM_SENDER.equals(writer))
        {
            sender = new Sender();
        }

        final Queue<EchoHandler> handlers = new ConcurrentLinkedQueue<>();
        final TransportListener listener = transport.listen(
            uri("tcp://127.0.0.1:0"),
            (connection) ->
            {
                final EchoHandler handler = new EchoHandler(prefix, sender);
                handlers.add(handler);
                handler.attach(connection);
            });
        final int port = listener.localEndpoint().port();

        clients = Executors.newFixedThreadPool(CLIENTS * 2);
        final List<Future<?>> results = new ArrayList<>();
        for (int i = 0; i < CLIENTS; i++)
        {
            final long seed = 1000L * i + System.nanoTime();
            results.add(clients.submit(() -> echoClient(port, seed)));
        }
        for (final Future<?> result : results)
        {
            result.get(DEADLINE_SECONDS, TimeUnit.SECONDS);
        }

        await().atMost(DEADLINE).until(
            () -> handlers.size() == CLIENTS && handlers.stream().allMatch((h) -> null != h.closeReason));
        for (final EchoHandler handler : handlers)
        {
            assertTrue(handler.violations.isEmpty(), handler.violations::toString);
            assertEquals(CloseReason.REMOTE_CLOSED, handler.closeReason);
            assertEquals(BYTES_PER_CLIENT, handler.receivedAtClose);
            assertEquals(BYTES_PER_CLIENT, handler.echoed.get());
            // The client read every echoed byte before closing, so every write had completed by then.
            assertEquals(BYTES_PER_CLIENT, handler.writtenAtClose);
        }
        assertTrue(errors.isEmpty(), errors::toString);
    }

    private Void echoClient(final int port, final long seed) throws Exception
    {
        final Random random = new Random(seed);
        final byte[] data = new byte[BYTES_PER_CLIENT];
        random.nextBytes(data);

        try (Socket socket = new Socket())
        {
            socket.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), (int)DEADLINE.toMillis());
            socket.setSoTimeout((int)DEADLINE.toMillis());
            final OutputStream out = socket.getOutputStream();
            final InputStream in = socket.getInputStream();

            final Future<?> writing = clients.submit(() ->
            {
                int position = 0;
                while (position < data.length)
                {
                    final int length = Math.min(1 + random.nextInt(MAX_CHUNK), data.length - position);
                    out.write(data, position, length);
                    position += length;
                }
                out.flush();
                return null;
            });

            final byte[] echoed = in.readNBytes(data.length);
            writing.get(DEADLINE_SECONDS, TimeUnit.SECONDS);
            if (!Arrays.equals(data, echoed))
            {
                throw new AssertionError(
                    "echo of " + echoed.length + " bytes differs from the data at " + Arrays.mismatch(data, echoed));
            }
        }
        return null;
    }

    /**
     * Records, and writes every byte back: at once on the I/O thread, or through a sender thread as the broker does.
     */
    private static final class EchoHandler extends RecordingHandler
    {
        final AtomicLong echoed = new AtomicLong();
        private final Sender sender;

        EchoHandler(final String ioThreadPrefix, final Sender sender)
        {
            super(ioThreadPrefix, false, false);
            this.sender = sender;
        }

        public void onData(final DirectBuffer buffer, final int offset, final int length)
        {
            super.onData(buffer, offset, length);
            if (null == sender)
            {
                connection.write(buffer, offset, length);
                connection.flush();
                echoed.addAndGet(length);
            }
            else
            {
                final byte[] copy = new byte[length];
                buffer.getBytes(offset, copy);
                sender.submit(this, copy);
            }
        }
    }

    /**
     * One thread that writes for every connection and flushes whatever it has written when it runs out of work.
     */
    private static final class Sender implements Runnable
    {
        private static final Item STOP = new Item(null, null);

        private final BlockingQueue<Item> queue = new LinkedBlockingQueue<>();
        private final Thread thread = new Thread(this, "test-sender");

        Sender()
        {
            thread.setDaemon(true);
            thread.start();
        }

        void submit(final EchoHandler handler, final byte[] bytes)
        {
            queue.add(new Item(handler, bytes));
        }

        void stop() throws InterruptedException
        {
            queue.add(STOP);
            thread.join(DEADLINE.toMillis());
        }

        public void run()
        {
            final UnsafeBuffer view = new UnsafeBuffer();
            final Set<TransportConnection> unflushed = new HashSet<>();
            try
            {
                while (true)
                {
                    Item item = queue.take();
                    while (null != item && STOP != item)
                    {
                        view.wrap(item.bytes);
                        item.handler.connection.write(view, 0, item.bytes.length);
                        item.handler.echoed.addAndGet(item.bytes.length);
                        unflushed.add(item.handler.connection);
                        item = queue.poll();
                    }
                    for (final TransportConnection connection : unflushed)
                    {
                        connection.flush();
                    }
                    unflushed.clear();
                    if (STOP == item)
                    {
                        return;
                    }
                }
            }
            catch (final InterruptedException ex)
            {
                Thread.currentThread().interrupt();
            }
        }
    }

    /**
     * Bytes to write for one connection.
     */
    private static final class Item
    {
        final EchoHandler handler;
        final byte[] bytes;

        Item(final EchoHandler handler, final byte[] bytes)
        {
            this.handler = handler;
            this.bytes = bytes;
        }
    }
}
