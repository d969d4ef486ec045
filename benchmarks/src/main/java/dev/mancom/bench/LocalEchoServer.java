package dev.mancom.bench;

import dev.mancom.broker.Broker;
import dev.mancom.broker.config.BrokerConfig;
import io.aeron.Aeron;
import io.aeron.Publication;
import io.aeron.Subscription;
import io.aeron.driver.MediaDriver;
import io.aeron.driver.ThreadingMode;
import io.aeron.logbuffer.ControlledFragmentHandler;
import org.agrona.CloseHelper;
import org.agrona.concurrent.BackoffIdleStrategy;
import org.agrona.concurrent.BusySpinIdleStrategy;
import org.agrona.concurrent.IdleStrategy;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.StandardSocketOptions;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * The references of the local echo benchmark, in one JVM of their own: the echo servers that ManCom's app-to-app
 * path is compared with, between two processes of the same machine.
 * <ul>
 *     <li>Loopback TCP: a blocking {@link ServerSocketChannel} on 127.0.0.1 (ephemeral port), one thread per
 *     connection that reads up to 64 KiB and writes it back; TCP_NODELAY.</li>
 *     <li>Unix domain socket: the same, over a {@link UnixDomainSocketAddress} in the directory given.</li>
 *     <li>Raw Aeron IPC: an embedded {@link MediaDriver} ({@link ThreadingMode#SHARED}: one driver thread, idling
 *     with Aeron's default {@link BackoffIdleStrategy}; its directory under the directory given, so in
 *     {@code /dev/shm} when the benchmark has it), with the broker's IPC term length and MTU; two echo threads,
 *     each with one subscription and one publication on {@value #CHANNEL}: one polls with a
 *     {@link BusySpinIdleStrategy} (streams {@value #SPIN_PING_STREAM_ID} in, {@value #SPIN_PONG_STREAM_ID}
 *     out), the other with a default {@link BackoffIdleStrategy} (streams {@value #BACKOFF_PING_STREAM_ID} in,
 *     {@value #BACKOFF_PONG_STREAM_ID} out). Each fragment received is offered back as it is. An echo thread with
 *     no publisher connected sleeps 1 ms at a time, so that the busy-spinning one only spins while a client
 *     measures it.</li>
 * </ul>
 * {@code java ... dev.mancom.bench.LocalEchoServer DIR} prints {@value #READY_LINE_PREFIX} followed by
 * {@code tcp://127.0.0.1:PORT unix:PATH aeron:DIR} and runs until SIGINT or SIGTERM, or until its parent process
 * ends.
 */
public final class LocalEchoServer
{
    /** The start of the line printed once every server accepts clients. */
    public static final String READY_LINE_PREFIX = "local echo server ready: ";

    /** The Aeron channel of every stream. */
    public static final String CHANNEL = "aeron:ipc";

    /** Stream the busy-spinning echo thread reads. */
    public static final int SPIN_PING_STREAM_ID = 1001;

    /** Stream the busy-spinning echo thread writes. */
    public static final int SPIN_PONG_STREAM_ID = 1002;

    /** Stream the backing-off echo thread reads. */
    public static final int BACKOFF_PING_STREAM_ID = 1003;

    /** Stream the backing-off echo thread writes. */
    public static final int BACKOFF_PONG_STREAM_ID = 1004;

    /** The Aeron IPC term length: the broker's default for its client streams. */
    public static final int TERM_LENGTH = BrokerConfig.DEFAULT_TERM_LENGTH;

    /** The Aeron IPC MTU: the broker's. */
    public static final int MTU_LENGTH = Broker.Context.MTU_LENGTH_DEFAULT;

    /** The name of the Unix domain socket in the directory. */
    public static final String SOCKET_FILE_NAME = "echo.sock";

    /** The name of the Aeron directory in the directory. */
    public static final String AERON_DIR_NAME = "aeron";

    private static final String HOST = "127.0.0.1";
    private static final int BUFFER_LENGTH = 64 * 1024;
    private static final int FRAGMENT_LIMIT = 16;
    private static final long NOT_CONNECTED_SLEEP_NS = TimeUnit.MILLISECONDS.toNanos(1);

    private final List<SocketChannel> connections = new CopyOnWriteArrayList<>();
    private volatile boolean running = true;

    private LocalEchoServer()
    {
    }

    /**
     * Run the servers until the JVM is asked to stop.
     *
     * @param args the directory for the socket file and the Aeron directory.
     * @throws IOException          when a server cannot start.
     * @throws InterruptedException when interrupted.
     */
    public static void main(final String[] args) throws IOException, InterruptedException
    {
        if (1 != args.length)
        {
            System.err.println("usage: LocalEchoServer DIR");
            System.exit(2);
        }
        new LocalEchoServer().run(Paths.get(args[0]).toAbsolutePath());
    }

    private void run(final Path dir) throws IOException, InterruptedException
    {
        Files.createDirectories(dir);
        final Path socketFile = dir.resolve(SOCKET_FILE_NAME);
        Files.deleteIfExists(socketFile);
        final String aeronDir = dir.resolve(AERON_DIR_NAME).toString();

        final ServerSocketChannel tcp = ServerSocketChannel.open();
        tcp.bind(new InetSocketAddress(HOST, 0));
        final ServerSocketChannel unix = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        unix.bind(UnixDomainSocketAddress.of(socketFile));

        final MediaDriver driver = MediaDriver.launch(new MediaDriver.Context()
            .aeronDirectoryName(aeronDir)
            .threadingMode(ThreadingMode.SHARED)
            .sharedIdleStrategy(new BackoffIdleStrategy())
            .ipcTermBufferLength(TERM_LENGTH)
            .ipcMtuLength(MTU_LENGTH)
            .dirDeleteOnStart(true)
            .dirDeleteOnShutdown(true)
            .warnIfDirectoryExists(false));
        final Aeron aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(aeronDir).clientName("echo"));

        final CountDownLatch stopped = new CountDownLatch(1);
        final List<Thread> threads = List.of(
            thread("tcp-acceptor", () -> accept(tcp, true)),
            thread("unix-acceptor", () -> accept(unix, false)),
            thread("aeron-echo-spin", () -> echo(aeron, SPIN_PING_STREAM_ID, SPIN_PONG_STREAM_ID,
                new BusySpinIdleStrategy())),
            thread("aeron-echo-backoff", () -> echo(aeron, BACKOFF_PING_STREAM_ID, BACKOFF_PONG_STREAM_ID,
                new BackoffIdleStrategy())));
        Runtime.getRuntime().addShutdownHook(new Thread(() ->
        {
            running = false;
            CloseHelper.quietCloseAll(tcp, unix);
            CloseHelper.quietCloseAll(connections);
            for (final Thread thread : threads)
            {
                try
                {
                    thread.join(2_000);
                }
                catch (final InterruptedException ex)
                {
                    Thread.currentThread().interrupt();
                }
            }
            CloseHelper.quietCloseAll(aeron, driver);
            try
            {
                Files.deleteIfExists(socketFile);
            }
            catch (final IOException ignore)
            {
                // the benchmark deletes the directory anyway
            }
            stopped.countDown();
        }, "local-echo-shutdown"));
        threads.forEach(Thread::start);
        // Should the benchmark's JVM be killed outright (no shutdown hook of its to stop this one), end with it.
        ProcessHandle.current().parent().ifPresent((parent) -> parent.onExit().thenRun(() -> System.exit(0)));

        final int port = ((InetSocketAddress)tcp.getLocalAddress()).getPort();
        System.out.println(READY_LINE_PREFIX + "tcp://" + HOST + ":" + port + " unix:" + socketFile + " aeron:" +
            aeronDir);
        System.out.flush();
        stopped.await();
    }

    private static Thread thread(final String name, final Runnable body)
    {
        final Thread thread = new Thread(body, name);
        thread.setDaemon(true);
        return thread;
    }

    private void accept(final ServerSocketChannel server, final boolean tcp)
    {
        while (running)
        {
            try
            {
                final SocketChannel channel = server.accept();
                if (tcp)
                {
                    channel.setOption(StandardSocketOptions.TCP_NODELAY, true);
                }
                connections.add(channel);
                thread("echo-" + channel.getRemoteAddress(), () -> echo(channel)).start();
            }
            catch (final IOException ex)
            {
                if (running)
                {
                    System.err.println("accept failed: " + ex);
                }
                return;
            }
        }
    }

    private void echo(final SocketChannel channel)
    {
        final ByteBuffer buffer = ByteBuffer.allocateDirect(BUFFER_LENGTH);
        try
        {
            while (running && channel.read(buffer) >= 0)
            {
                buffer.flip();
                while (buffer.hasRemaining())
                {
                    channel.write(buffer);
                }
                buffer.clear();
            }
        }
        catch (final IOException ignore)
        {
            // the client went away
        }
        finally
        {
            connections.remove(channel);
            CloseHelper.quietClose(channel);
        }
    }

    private void echo(final Aeron aeron, final int pingStreamId, final int pongStreamId, final IdleStrategy idle)
    {
        try (Subscription subscription = aeron.addSubscription(CHANNEL, pingStreamId);
            Publication publication = aeron.addPublication(CHANNEL, pongStreamId))
        {
            final ControlledFragmentHandler handler = (buffer, offset, length, header) ->
            {
                final long result = publication.offer(buffer, offset, length);
                if (result > 0 || Publication.NOT_CONNECTED == result || Publication.CLOSED == result)
                {
                    return ControlledFragmentHandler.Action.CONTINUE; // sent, or nobody reads the echo any more
                }
                return ControlledFragmentHandler.Action.ABORT; // back-pressured: offered again next poll
            };
            while (running)
            {
                final int work = subscription.controlledPoll(handler, FRAGMENT_LIMIT);
                if (0 == work && !subscription.isConnected())
                {
                    LockSupport.parkNanos(NOT_CONNECTED_SLEEP_NS);
                }
                else
                {
                    idle.idle(work);
                }
            }
        }
        catch (final RuntimeException ex)
        {
            if (running)
            {
                System.err.println("aeron echo on stream " + pingStreamId + " failed: " + ex);
                ex.printStackTrace();
            }
        }
    }
}
