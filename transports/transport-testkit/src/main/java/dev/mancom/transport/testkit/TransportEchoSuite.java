package dev.mancom.transport.testkit;

import dev.mancom.protocol.codecs.CloseReason;
import dev.mancom.protocol.codecs.TransportType;
import dev.mancom.transport.AcceptHandler;
import dev.mancom.transport.ConnectHandler;
import dev.mancom.transport.Transport;
import dev.mancom.transport.TransportConnection;
import dev.mancom.transport.TransportContext;
import dev.mancom.transport.TransportException;
import dev.mancom.transport.TransportListener;
import dev.mancom.transport.TransportProvider;
import dev.mancom.transport.TransportUri;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.EnumSet;
import java.util.HashSet;
import java.util.List;
import java.util.Queue;
import java.util.Random;
import java.util.ServiceLoader;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import java.util.function.LongSupplier;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static dev.mancom.transport.testkit.TransportTestSupport.DEADLINE;
import static dev.mancom.transport.testkit.TransportTestSupport.DEADLINE_SECONDS;
import static dev.mancom.transport.testkit.TransportTestSupport.fillPattern;
import static dev.mancom.transport.testkit.TransportTestSupport.readFully;
import static dev.mancom.transport.testkit.TransportTestSupport.readPatternToEnd;
import static dev.mancom.transport.testkit.TransportTestSupport.writePattern;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The tests every transport passes, written against the transport SPI alone: a transport's tests subclass it and
 * supply the transport, URIs to listen on and a way to open a raw peer (a plain socket, for TCP and Unix domain
 * sockets). It checks:
 * <ul>
 *     <li>echo of random data in random chunk sizes, byte for byte, over many concurrent connections, with the
 *     transport written from its I/O thread and from another thread (as the broker's sender does); message by
 *     message, each coming back whole and alone, when the peer {@link RawPeer#keepsMessageBoundaries() keeps message
 *     boundaries} (a datagram socket);</li>
 *     <li>close from either side: the peer's close after its last byte ({@code REMOTE_CLOSED}), the transport's
 *     close after its last byte ({@code LOCAL_CLOSED}), an abort with its reason, both sides of an outbound
 *     connection, a closed listener that keeps its connections, a closed transport ({@code BROKER_SHUTDOWN});</li>
 *     <li>back pressure each way: a paused reader holds back the writing peer with no byte lost and the bytes in
 *     flight bounded by the sockets' buffers; a peer that does not read holds back
 *     {@link dev.mancom.transport.ConnectionHandler#onWritten(int)};</li>
 *     <li>bad URIs refused by validate, listen and connect with a {@link TransportException} naming the URI and the
 *     part that is wrong;</li>
 *     <li>that {@link ServiceLoader} finds the transport's provider for its scheme.</li>
 * </ul>
 * A transport that lacks a property (a serial port has one connection and no close; UDP has no back pressure) says
 * so in {@link #features()}, and the tests that need it are skipped. Every test runs on a fresh transport with two
 * I/O threads whose names start with {@link #ioThreadPrefix()}; the handlers check that every call comes on them.
 * A transport that opens a connection only when the peer first writes (a UDP listener) says so through its peer's
 * {@link RawPeer#opensOnFirstMessage()}: the tests that wait for the connection before the peer writes then write a
 * first message ({@link #connectOpenedPeer(TransportListener)}).
 * <p>
 * Subclasses are JUnit 5 test classes (a {@code @Nested} inner class per variant works too). Tests use ephemeral
 * resources only ({@link #tempDir}, port 0), so two runs at once do not collide, and never sleep: they await with
 * {@link TransportTestSupport#DEADLINE}.
 */
public abstract class TransportEchoSuite
{
    private static final int ECHO_BYTES = 256 * 1024;
    private static final int MAX_CHUNK = 16 * 1024;
    private static final long BACK_PRESSURE_BYTES = 64L * 1024 * 1024;
    private static final int PAUSE_AT = 64 * 1024;
    private static final int WINDOW = 256 * 1024;
    private static final String FROM_IO_THREAD = "I/O thread";
    private static final String FROM_SENDER = "sender thread";
    private static final String CONNECTING = "connecting";
    private static final String ACCEPTING = "accepting";
    private static final byte[] FIRST_MESSAGE = "first message".getBytes(StandardCharsets.US_ASCII);

    /**
     * What a transport can do that some transports cannot.
     */
    public enum Feature
    {
        /**
         * The peer can close a connection, which the transport reports as {@code REMOTE_CLOSED} after the peer's last
         * byte, and the peer sees the end of the stream when the transport closes.
         */
        PEER_CLOSE,

        /**
         * Byte stream with back pressure: a reader that stops holds the writer back, and no byte is lost.
         */
        BACK_PRESSURE,

        /**
         * {@link Transport#connect} reaches the transport's own listener ({@link #connectUri(TransportListener)}) and
         * reports a failure to connect ({@link #unreachableUri()}).
         */
        CONNECT,

        /**
         * One listener accepts many connections at once.
         */
        MANY_CONNECTIONS
    }

    /**
     * A URI the transport must refuse, and the part of it that is wrong.
     *
     * @param uri the URI; it must parse as a {@link TransportUri}.
     * @param key what {@link TransportException#key()} must say, or null when the failure is not about one part.
     */
    public record BadUri(String uri, String key)
    {
    }

    /**
     * A fresh directory for the test, removed after it: where a transport with paths puts its sockets.
     */
    @TempDir
    protected Path tempDir;

    private final Queue<Throwable> errors = new ConcurrentLinkedQueue<>();
    private final List<AutoCloseable> closeables = new CopyOnWriteArrayList<>();
    private ExecutorService threads;
    private Sender sender;
    private String prefix;
    private Transport transport;
    private TransportListener listener;

    /**
     * The scheme the transport serves.
     *
     * @return such as {@code tcp}.
     */
    protected abstract String scheme();

    /**
     * The type of the transport's endpoints.
     *
     * @return such as {@link TransportType#TCP}.
     */
    protected abstract TransportType transportType();

    /**
     * Create the transport under test.
     *
     * @param context the context to create it with.
     * @return the transport.
     */
    protected abstract Transport createTransport(TransportContext context);

    /**
     * A URI to listen on that no other listener uses, in this JVM or another: port 0, a path in {@link #tempDir}.
     * Each call gives a new one.
     *
     * @return the URI.
     * @throws IOException when it cannot be made.
     */
    protected abstract TransportUri listenUri() throws IOException;

    /**
     * The URI that {@link Transport#connect} uses to reach a listener of the transport.
     *
     * @param listener the listener.
     * @return the URI.
     */
    protected abstract TransportUri connectUri(TransportListener listener);

    /**
     * Open a raw peer connected to a listener, as a remote peer of the broker would.
     *
     * @param listener the listener.
     * @return the connected peer; the suite closes it after the test.
     * @throws IOException when it cannot connect.
     */
    protected abstract RawPeer connectPeer(TransportListener listener) throws IOException;

    /**
     * A URI where nothing accepts connections for the rest of the test (a subclass keeps whatever makes it so until
     * the test ends). Used only with {@link Feature#CONNECT}.
     *
     * @return the URI.
     * @throws IOException when it cannot be made.
     */
    protected abstract TransportUri unreachableUri() throws IOException;

    /**
     * URIs of the transport's scheme that it must refuse.
     *
     * @return the URIs with what is wrong in each.
     */
    protected abstract List<BadUri> badUris();

    /**
     * What the transport can do; every feature by default.
     *
     * @return the features.
     */
    protected Set<Feature> features()
    {
        return EnumSet.allOf(Feature.class);
    }

    /**
     * How many connections the echo test opens at once, with {@link Feature#MANY_CONNECTIONS}.
     *
     * @return 16 by default.
     */
    protected int concurrentConnections()
    {
        return 16;
    }

    /**
     * The largest message the transport carries whole, when the peer {@link RawPeer#keepsMessageBoundaries() keeps
     * message boundaries}: the echo over many connections sends messages of at most 16 KiB (or this, when less), and
     * one connection then sends messages of every length up to this one.
     *
     * @return 16 KiB by default; a datagram transport gives its largest datagram.
     */
    protected int maxMessageLength()
    {
        return MAX_CHUNK;
    }

    /**
     * The transport under test, created before each test and closed after it.
     *
     * @return the transport.
     */
    protected final Transport transport()
    {
        return transport;
    }

    /**
     * The names of the transport's I/O threads start with this.
     *
     * @return the prefix.
     */
    protected final String ioThreadPrefix()
    {
        return prefix;
    }

    /**
     * What the transport reported to the broker's error handler.
     *
     * @return the errors.
     */
    protected final Queue<Throwable> errors()
    {
        return errors;
    }

    /**
     * Close something after the test, before the transport is closed.
     *
     * @param closeable what.
     * @param <T>       its type.
     * @return the closeable.
     */
    protected final <T extends AutoCloseable> T closeAfterTest(final T closeable)
    {
        closeables.add(closeable);
        return closeable;
    }

    /**
     * Create the transport for a test.
     */
    @BeforeEach
    public void startKitTransport()
    {
        threads = Executors.newCachedThreadPool((runnable) ->
        {
            final Thread thread = new Thread(runnable, "kit-peer");
            thread.setDaemon(true);
            return thread;
        });
        prefix = TransportTestSupport.uniquePrefix("kit-" + scheme());
        transport = createTransport(new TransportContext(2, prefix, errors::add));
    }

    /**
     * Close what the test opened, then the transport.
     *
     * @throws InterruptedException when interrupted.
     */
    @AfterEach
    public void stopKitTransport() throws InterruptedException
    {
        if (null != threads)
        {
            threads.shutdownNow();
        }
        if (null != sender)
        {
            sender.stop();
        }
        final List<AutoCloseable> toClose = new ArrayList<>(closeables);
        Collections.reverse(toClose);
        for (final AutoCloseable closeable : toClose)
        {
            try
            {
                closeable.close();
            }
            catch (final Exception ignore)
            {
                // Closing what a failed test left behind; the failure has been reported.
            }
        }
        if (null != transport)
        {
            transport.close();
        }
    }

    /**
     * Many peers at once each send random data in random chunk sizes and read it back: every byte comes back in
     * order, and {@code onWritten} accounts for every byte echoed.
     *
     * @param writer which thread writes the echo.
     * @throws Exception on failure.
     */
    @ParameterizedTest(name = "written from the {0}")
    @ValueSource(strings = { FROM_IO_THREAD, FROM_SENDER })
    public void shouldEchoRandomChunksByteForByteOverManyConnections(final String writer) throws Exception
    {
        if (FROM_SENDER.equals(writer))
        {
            sender = new Sender();
        }
        final int connections = has(Feature.MANY_CONNECTIONS) ? concurrentConnections() : 1;
        final Queue<EchoHandler> handlers = new ConcurrentLinkedQueue<>();
        final TransportListener listener = listen((connection) ->
        {
            final EchoHandler handler = new EchoHandler(prefix, sender);
            handlers.add(handler);
            handler.attach(connection);
        });
        assertEquals(transportType(), listener.localEndpoint().type());
        assertEquals(scheme(), listener.localEndpoint().scheme());

        final long seed = System.nanoTime();
        final List<Future<Boolean>> results = new ArrayList<>();
        for (int i = 0; i < connections; i++)
        {
            final long peerSeed = seed + i;
            results.add(threads.submit(() -> echoPeer(listener, peerSeed)));
        }
        boolean messages = false;
        for (final Future<Boolean> result : results)
        {
            messages |= result.get(DEADLINE_SECONDS, TimeUnit.SECONDS);
        }

        if (has(Feature.PEER_CLOSE))
        {
            await().atMost(DEADLINE).until(
                () -> handlers.size() == connections && handlers.stream().allMatch((h) -> null != h.closeReason));
        }
        else
        {
            await().atMost(DEADLINE).until(() -> handlers.size() == connections &&
                handlers.stream().allMatch((h) -> h.written.get() == ECHO_BYTES));
        }
        for (final EchoHandler handler : handlers)
        {
            assertTrue(handler.violations.isEmpty(), handler.violations::toString);
            assertEquals(transportType(), handler.connection.localEndpoint().type());
            assertEquals(transportType(), handler.connection.remoteEndpoint().type());
            assertEquals(ECHO_BYTES, handler.echoed.get());
            if (messages)
            {
                assertTrue(handler.connection.keepsMessageBoundaries(),
                    "a connection whose peer keeps message boundaries does not say it keeps them");
            }
            if (has(Feature.PEER_CLOSE))
            {
                assertEquals(CloseReason.REMOTE_CLOSED, handler.closeReason);
                assertEquals(ECHO_BYTES, handler.receivedAtClose);
                // The peer read every echoed byte before closing, so every write had completed by then.
                assertEquals(ECHO_BYTES, handler.writtenAtClose);
            }
        }
        assertNoErrors();
    }

    /**
     * When the peer keeps message boundaries: one connection echoes messages of the shortest and the largest length
     * and of random lengths between, and each comes back whole and alone, through one {@code onData} call and one
     * write.
     *
     * @throws Exception on failure.
     */
    @Test
    public void shouldEchoMessagesOfEveryLengthUpToTheLargestWhole() throws Exception
    {
        final Queue<EchoHandler> handlers = new ConcurrentLinkedQueue<>();
        listen((connection) ->
        {
            final EchoHandler handler = new EchoHandler(prefix, null);
            handlers.add(handler);
            handler.attach(connection);
        });
        final RawPeer peer = closeAfterTest(connectPeer(listener));
        Assumptions.assumeTrue(peer.keepsMessageBoundaries(), () -> scheme() + " keeps no message boundaries");

        final int maxLength = maxMessageLength();
        final long seed = System.nanoTime();
        final Random random = new Random(seed);
        final byte[] echo = new byte[maxLength + 1];
        long total = 0;
        for (int i = 0; i < 24; i++)
        {
            final int length = 0 == i ? 1 : 1 == i ? maxLength : 1 + random.nextInt(maxLength);
            final byte[] message = new byte[length];
            random.nextBytes(message);
            final int n = within(() ->
            {
                peer.write(message, 0, length);
                return peer.read(echo, 0, echo.length);
            });
            if (n != length || !Arrays.equals(message, 0, length, echo, 0, n))
            {
                throw new AssertionError("seed " + seed + ": message " + i + " of " + length + " bytes came back as " +
                    n + " bytes" + (n == length ? " that differ" : ""));
            }
            total += length;
        }

        final long echoed = total;
        await().atMost(DEADLINE).until(() -> handlers.size() == 1 && handlers.peek().written.get() == echoed);
        final EchoHandler handler = handlers.peek();
        assertTrue(handler.connection.keepsMessageBoundaries(),
            "a connection whose peer keeps message boundaries does not say it keeps them");
        assertEquals(echoed, handler.echoed.get());
        assertTrue(handler.violations.isEmpty(), handler.violations::toString);
        assertNoErrors();
    }

    /**
     * The peer sends a few MiB and closes: every byte is delivered, then {@code REMOTE_CLOSED}.
     *
     * @throws Exception on failure.
     */
    @Test
    public void shouldDeliverEveryByteThenRemoteClosedWhenThePeerCloses() throws Exception
    {
        assumeFeature(Feature.PEER_CLOSE);
        final CompletableFuture<RecordingHandler> accepted = listenRecording(true, false, (handler) -> { });
        final byte[] data = randomBytes(3 * 1024 * 1024 + 17);
        final RawPeer peer = closeAfterTest(connectPeer(listener));
        within(() ->
        {
            peer.write(data, 0, data.length);
            peer.close();
            return null;
        });

        final RecordingHandler handler = accepted.get(DEADLINE_SECONDS, TimeUnit.SECONDS);
        assertTrue(handler.awaitClosed(DEADLINE_SECONDS));
        assertEquals(CloseReason.REMOTE_CLOSED, handler.closeReason);
        assertEquals(data.length, handler.receivedAtClose);
        assertArrayEquals(data, handler.bytes());
        assertNoViolations(handler);
    }

    /**
     * The transport writes several MiB in random pieces as the broker's sender does (never more than a window ahead
     * of {@code onWritten}, flushing now and then), then closes: the peer reads every byte, then the end of the
     * stream; the handler sees {@code LOCAL_CLOSED} with every byte reported written.
     *
     * @throws Exception on failure.
     */
    @Test
    public void shouldSendEveryWrittenByteThenLocalClosedWhenClosed() throws Exception
    {
        assumeFeature(Feature.PEER_CLOSE);
        final long total = 8L * 1024 * 1024 + 3;
        final CompletableFuture<RecordingHandler> accepted = listenRecording(false, false, (handler) -> { });
        final RawPeer peer = connectOpenedPeer(listener);
        final Future<Long> reader = threads.submit(() -> readPatternToEnd(peer));
        final RecordingHandler handler = accepted.get(DEADLINE_SECONDS, TimeUnit.SECONDS);

        writePatternAsTheSender(handler, total);
        // Whatever is written but not flushed goes out before the close.
        handler.connection.close();
        handler.connection.close();

        assertEquals(total, reader.get(DEADLINE_SECONDS, TimeUnit.SECONDS));
        assertTrue(handler.awaitClosed(DEADLINE_SECONDS));
        assertEquals(CloseReason.LOCAL_CLOSED, handler.closeReason);
        assertEquals(total, handler.writtenAtClose);
        assertNoViolations(handler);
    }

    /**
     * An abort reports the reason of the first abort, and the peer sees the end.
     *
     * @throws Exception on failure.
     */
    @Test
    public void shouldReportTheGivenReasonWhenAborted() throws Exception
    {
        final CompletableFuture<RecordingHandler> accepted = listenRecording(false, false, (handler) -> { });
        final RawPeer peer = connectOpenedPeer(listener);
        final RecordingHandler handler = accepted.get(DEADLINE_SECONDS, TimeUnit.SECONDS);
        handler.connection.abort(CloseReason.TIMEOUT);
        handler.connection.abort(CloseReason.PROTOCOL_ERROR);
        handler.connection.close();

        assertTrue(handler.awaitClosed(DEADLINE_SECONDS));
        assertEquals(CloseReason.TIMEOUT, handler.closeReason);
        if (has(Feature.PEER_CLOSE))
        {
            assertPeerSeesTheEnd(peer);
        }
        assertNoViolations(handler);
    }

    /**
     * The handler pauses reading from {@code onData} once it has 64 KiB; the peer writes far more than the sockets'
     * buffers hold. Nothing is delivered while paused, the peer is held back (so the transport holds no more than
     * the sockets do), and after resuming every byte arrives, in order.
     *
     * @throws Exception on failure.
     */
    @Test
    public void shouldHoldTheWritingPeerBackWhileReadingIsPausedAndLoseNoByte() throws Exception
    {
        assumeFeature(Feature.BACK_PRESSURE);
        final long total = BACK_PRESSURE_BYTES;
        final CompletableFuture<RecordingHandler> accepted =
            listenRecording(false, true, (handler) -> handler.pauseAt = PAUSE_AT);
        final RawPeer peer = closeAfterTest(connectPeer(listener));
        final AtomicLong sent = new AtomicLong();
        final Future<?> writer = threads.submit(() ->
        {
            writePattern(peer, total, sent);
            return null;
        });

        final RecordingHandler handler = accepted.get(DEADLINE_SECONDS, TimeUnit.SECONDS);
        await().atMost(DEADLINE).until(() -> handler.paused);
        final long atPause = handler.receivedAtPause;
        awaitSteady(sent::get);

        assertEquals(atPause, handler.received.get(), "bytes delivered while paused");
        assertTrue(sent.get() < total, "the peer should be held back, but it wrote all " + total + " bytes");
        assertFalse(writer.isDone());

        handler.resume();
        writer.get(DEADLINE_SECONDS, TimeUnit.SECONDS);
        await().atMost(DEADLINE).until(() -> handler.received.get() == total);
        if (has(Feature.PEER_CLOSE))
        {
            peer.close();
            assertTrue(handler.awaitClosed(DEADLINE_SECONDS));
            assertEquals(CloseReason.REMOTE_CLOSED, handler.closeReason);
            assertEquals(total, handler.receivedAtClose);
            assertNoViolations(handler);
        }
        else
        {
            assertTrue(handler.violations.isEmpty(), handler.violations::toString);
            assertNoErrors();
        }
    }

    /**
     * The transport writes, within a window, to a peer that does not read: {@code onWritten} stops short of the
     * total, so a writer that waits for it stops too. Once the peer reads, every byte arrives in order.
     *
     * @throws Exception on failure.
     */
    @Test
    public void shouldStopReportingWrittenBytesWhileThePeerDoesNotRead() throws Exception
    {
        assumeFeature(Feature.BACK_PRESSURE);
        final long total = BACK_PRESSURE_BYTES;
        final CompletableFuture<RecordingHandler> accepted = listenRecording(false, false, (handler) -> { });
        final RawPeer peer = connectOpenedPeer(listener);
        final RecordingHandler handler = accepted.get(DEADLINE_SECONDS, TimeUnit.SECONDS);
        final Future<?> writer = threads.submit(() ->
        {
            writePatternAsTheSender(handler, total);
            handler.connection.close();
            return null;
        });

        // Possibly none at all: bytes are reported per flush once all of it is written, and on a loaded machine
        // the sender's writes can pile up into one flush larger than the socket's buffers.
        awaitSteady(handler.written::get);
        assertTrue(handler.written.get() < total, "every byte reported written to a peer that does not read");
        assertFalse(writer.isDone());

        if (has(Feature.PEER_CLOSE))
        {
            assertEquals(total, within(() -> readPatternToEnd(peer)));
        }
        else
        {
            assertEquals(total, within(() -> readPattern(peer, total)));
        }
        writer.get(DEADLINE_SECONDS, TimeUnit.SECONDS);
        assertTrue(handler.awaitClosed(DEADLINE_SECONDS));
        assertEquals(CloseReason.LOCAL_CLOSED, handler.closeReason);
        assertEquals(total, handler.writtenAtClose);
        assertNoViolations(handler);
    }

    /**
     * An outbound connection to the transport's own listener carries bytes both ways; when one side closes, it sees
     * {@code LOCAL_CLOSED} and the other {@code REMOTE_CLOSED}.
     *
     * @param closer which side closes.
     * @throws Exception on failure.
     */
    @ParameterizedTest(name = "closed by the {0} side")
    @ValueSource(strings = { CONNECTING, ACCEPTING })
    public void shouldCarryBytesBothWaysOverAnOutboundConnectionAndReportEachSidesClose(final String closer)
        throws Exception
    {
        assumeFeature(Feature.CONNECT);
        final CompletableFuture<RecordingHandler> accepted = listenRecording(true, false, (handler) -> { });
        final RecordingConnectHandler connectHandler = new RecordingConnectHandler();
        transport.connect(connectUri(listener), connectHandler);
        final TransportConnection outbound = connectHandler.connected.get(DEADLINE_SECONDS, TimeUnit.SECONDS);
        assertTrue(connectHandler.thread.get().startsWith(prefix), connectHandler.thread::get);
        assertEquals(transportType(), outbound.localEndpoint().type());
        assertEquals(transportType(), outbound.remoteEndpoint().type());

        final RecordingHandler connecting = new RecordingHandler(prefix, true, false).attach(outbound);
        final RecordingHandler accepting = accepted.get(DEADLINE_SECONDS, TimeUnit.SECONDS);
        final byte[] there = randomBytes(100 * 1024 + 1);
        final byte[] back = randomBytes(50 * 1024 + 3);
        writeAndFlush(connecting.connection, there);
        await().atMost(DEADLINE).until(() -> accepting.received.get() == there.length);
        assertArrayEquals(there, accepting.bytes());
        writeAndFlush(accepting.connection, back);
        await().atMost(DEADLINE).until(() -> connecting.received.get() == back.length);
        assertArrayEquals(back, connecting.bytes());

        final RecordingHandler closing = CONNECTING.equals(closer) ? connecting : accepting;
        final RecordingHandler other = CONNECTING.equals(closer) ? accepting : connecting;
        closing.connection.close();
        assertTrue(closing.awaitClosed(DEADLINE_SECONDS));
        assertEquals(CloseReason.LOCAL_CLOSED, closing.closeReason);
        if (!has(Feature.PEER_CLOSE))
        {
            // No end of stream (a serial line): the other side hears nothing, and closes too.
            other.connection.close();
        }
        assertTrue(other.awaitClosed(DEADLINE_SECONDS));
        assertEquals(
            has(Feature.PEER_CLOSE) ? CloseReason.REMOTE_CLOSED : CloseReason.LOCAL_CLOSED, other.closeReason);
        assertEquals(there.length, connecting.writtenAtClose);
        assertEquals(back.length, accepting.writtenAtClose);
        assertNoViolations(connecting);
        assertNoViolations(accepting);
        assertEquals(1, connectHandler.calls.get());
    }

    /**
     * A connect to where nothing listens is reported to the handler once, as a failure.
     *
     * @throws Exception on failure.
     */
    @Test
    public void shouldCallOnConnectFailedOnceWhenNothingListens() throws Exception
    {
        assumeFeature(Feature.CONNECT);
        final RecordingConnectHandler connectHandler = new RecordingConnectHandler();
        transport.connect(unreachableUri(), connectHandler);

        final Throwable cause = connectHandler.failed.get(DEADLINE_SECONDS, TimeUnit.SECONDS);
        assertNotNull(cause);
        assertFalse(connectHandler.connected.isDone());
        assertEquals(1, connectHandler.calls.get());
        assertNoErrors();
    }

    /**
     * Closing a listener stops accepting, but the connections it accepted go on.
     *
     * @throws Exception on failure.
     */
    @Test
    public void shouldKeepAcceptedConnectionsWhenTheListenerCloses() throws Exception
    {
        final CompletableFuture<RecordingHandler> accepted = listenRecording(true, false, (handler) -> { });
        final RawPeer peer = connectOpenedPeer(listener);
        final RecordingHandler handler = accepted.get(DEADLINE_SECONDS, TimeUnit.SECONDS);
        listener.close();
        listener.close();

        final byte[] data = randomBytes(1000);
        within(() ->
        {
            peer.write(data, 0, data.length);
            return null;
        });
        final long expected = firstMessageLength(peer) + data.length;
        await().atMost(DEADLINE).until(() -> handler.received.get() == expected);
        writeAndFlush(handler.connection, data);
        final byte[] echoed = new byte[data.length];
        assertEquals(data.length, within(() -> readFully(peer, echoed)));
        assertArrayEquals(data, echoed);
        assertEquals(0, handler.closeCount.get());
        assertTrue(handler.violations.isEmpty(), handler.violations::toString);
    }

    /**
     * A listener whose endpoint is there (a bound socket, a present device) is ready, and is not once closed: what
     * {@code ManCom.awaitService} waits for. A peer is connected first, since for some transports (USB) the peer is
     * the device, whose presence makes the listener ready.
     *
     * @throws Exception on failure.
     */
    @Test
    public void shouldBeReadyWhileListeningAndNotOnceClosed() throws Exception
    {
        final CompletableFuture<RecordingHandler> accepted = listenRecording(true, false, (handler) -> { });
        final TransportListener ready = listener;
        connectOpenedPeer(ready);
        accepted.get(DEADLINE_SECONDS, TimeUnit.SECONDS);
        await().atMost(DEADLINE).until(ready::isReady);
        ready.close();
        assertFalse(ready.isReady(), "a closed listener is not ready");
    }

    /**
     * Closing the transport closes its connections with {@code BROKER_SHUTDOWN}, stops its threads, and refuses
     * listening and connecting afterwards.
     *
     * @throws Exception on failure.
     */
    @Test
    public void shouldCloseConnectionsWithBrokerShutdownAndStopItsThreadsWhenClosed() throws Exception
    {
        final CompletableFuture<RecordingHandler> accepted = listenRecording(false, false, (handler) -> { });
        final RawPeer peer = connectOpenedPeer(listener);
        final RecordingHandler handler = accepted.get(DEADLINE_SECONDS, TimeUnit.SECONDS);
        final List<Thread> ioThreads = threadsNamed(prefix);
        assertFalse(ioThreads.isEmpty());

        transport.close();
        transport.close();

        assertTrue(handler.awaitClosed(DEADLINE_SECONDS));
        assertEquals(CloseReason.BROKER_SHUTDOWN, handler.closeReason);
        await().atMost(DEADLINE).until(() -> ioThreads.stream().noneMatch(Thread::isAlive));
        assertTrue(threadsNamed(prefix).isEmpty());
        if (has(Feature.PEER_CLOSE))
        {
            assertPeerSeesTheEnd(peer);
        }

        final TransportUri another = listenUri();
        final TransportException error = assertThrows(TransportException.class, () ->
            transport.listen(another, (connection) -> { }));
        assertTrue(error.getMessage().contains("closed"), error::getMessage);
        if (has(Feature.CONNECT))
        {
            final RecordingConnectHandler connectHandler = new RecordingConnectHandler();
            transport.connect(connectUri(listener), connectHandler);
            assertNotNull(connectHandler.failed.get(DEADLINE_SECONDS, TimeUnit.SECONDS));
        }
        assertNoViolations(handler);
    }

    /**
     * Each bad URI is refused by validate, listen and connect, with a {@link TransportException} that names the URI
     * and the part of it that is wrong.
     *
     * @return one test per URI.
     */
    @TestFactory
    public Stream<DynamicTest> shouldRefuseBadUrisNamingWhatIsWrong()
    {
        return badUris().stream().map((bad) -> DynamicTest.dynamicTest(
            bad.uri() + " is wrong in " + bad.key(),
            () ->
            {
                final TransportUri uri = TransportUri.parse(bad.uri());
                final TransportException validateError =
                    assertThrows(TransportException.class, () -> transport.validate(uri));
                assertEquals(bad.key(), validateError.key(), validateError::getMessage);
                assertTrue(validateError.getMessage().contains(uri.toString()), validateError::getMessage);

                final TransportException listenError = assertThrows(TransportException.class, () ->
                    transport.listen(uri, (connection) -> { }));
                assertEquals(bad.key(), listenError.key(), listenError::getMessage);

                final TransportException connectError = assertThrows(TransportException.class, () ->
                    transport.connect(uri, new RecordingConnectHandler()));
                assertEquals(bad.key(), connectError.key(), connectError::getMessage);
            }));
    }

    /**
     * {@link ServiceLoader} finds exactly one provider for the scheme, and the transport it creates listens.
     *
     * @throws Exception on failure.
     */
    @Test
    public void shouldBeFoundByServiceLoaderForItsScheme() throws Exception
    {
        final List<TransportProvider> providers = ServiceLoader.load(TransportProvider.class).stream()
            .map(ServiceLoader.Provider::get)
            .filter((provider) -> provider.schemes().contains(scheme()))
            .collect(Collectors.toList());
        assertEquals(1, providers.size(), providers::toString);

        final TransportContext context = new TransportContext(
            1, TransportTestSupport.uniquePrefix("kit-" + scheme() + "-provider"), errors::add);
        try (Transport created = providers.get(0).create(context))
        {
            final TransportUri uri = listenUri();
            created.validate(uri);
            try (TransportListener createdListener = created.listen(uri, (connection) -> { }))
            {
                assertEquals(transportType(), createdListener.localEndpoint().type());
            }
        }
        assertNoErrors();
    }

    /**
     * Listen on a fresh URI; the listener is closed after the test.
     *
     * @param acceptHandler receives the connections.
     * @return the listener.
     * @throws IOException when no URI can be made.
     */
    protected final TransportListener listen(final AcceptHandler acceptHandler) throws IOException
    {
        listener = closeAfterTest(transport.listen(listenUri(), acceptHandler));
        return listener;
    }

    /**
     * Open a raw peer connected to the listener of the test ({@link #connectPeer(TransportListener)}), and when the
     * transport opens a connection only on the peer's first message ({@link RawPeer#opensOnFirstMessage()}), write
     * one, of {@link #firstMessageLength(RawPeer)} bytes, so that the listener accepts the connection.
     *
     * @param listener the listener.
     * @return the peer; the suite closes it after the test.
     * @throws Exception when it cannot connect or write.
     */
    protected final RawPeer connectOpenedPeer(final TransportListener listener) throws Exception
    {
        final RawPeer peer = closeAfterTest(connectPeer(listener));
        if (peer.opensOnFirstMessage())
        {
            within(() ->
            {
                peer.write(FIRST_MESSAGE, 0, FIRST_MESSAGE.length);
                return null;
            });
        }
        return peer;
    }

    /**
     * How many bytes {@link #connectOpenedPeer(TransportListener)} wrote to open the peer's connection.
     *
     * @param peer the peer.
     * @return 0 unless the peer {@link RawPeer#opensOnFirstMessage() opens its connection with a message}.
     */
    protected static int firstMessageLength(final RawPeer peer)
    {
        return peer.opensOnFirstMessage() ? FIRST_MESSAGE.length : 0;
    }

    /**
     * Whether the transport has a feature.
     *
     * @param feature the feature.
     * @return true when {@link #features()} has it.
     */
    protected final boolean has(final Feature feature)
    {
        return features().contains(feature);
    }

    /**
     * Fail unless the test saw no breach of the contract, exactly one onClosed, and no error reported.
     *
     * @param handler the handler.
     */
    protected final void assertNoViolations(final RecordingHandler handler)
    {
        assertTrue(handler.violations.isEmpty(), handler.violations::toString);
        assertEquals(1, handler.closeCount.get());
        assertNoErrors();
    }

    /**
     * Fail if the transport reported an error to the broker's error handler.
     */
    protected final void assertNoErrors()
    {
        assertTrue(errors.isEmpty(), errors::toString);
    }

    /**
     * Run something that blocks on a peer, at most for the deadline.
     *
     * @param task the task.
     * @param <T>  its result.
     * @return its result.
     * @throws Exception when it fails or takes too long.
     */
    protected final <T> T within(final Callable<T> task) throws Exception
    {
        return threads.submit(task).get(DEADLINE_SECONDS, TimeUnit.SECONDS);
    }

    private void assumeFeature(final Feature feature)
    {
        Assumptions.assumeTrue(has(feature), () -> scheme() + " has no " + feature);
    }

    /**
     * Listen; each accepted connection gets a {@link RecordingHandler} and starts reading.
     */
    private CompletableFuture<RecordingHandler> listenRecording(
        final boolean capture, final boolean checkPattern, final Consumer<RecordingHandler> setUp) throws IOException
    {
        final CompletableFuture<RecordingHandler> accepted = new CompletableFuture<>();
        listen((connection) ->
        {
            final RecordingHandler handler = new RecordingHandler(prefix, capture, checkPattern);
            setUp.accept(handler);
            accepted.complete(handler.attach(connection));
        });
        return accepted;
    }

    /**
     * Echo random data over a new peer; returns whether the peer keeps message boundaries.
     */
    private boolean echoPeer(final TransportListener listener, final long seed) throws Exception
    {
        final Random random = new Random(seed);
        final byte[] data = new byte[ECHO_BYTES];
        random.nextBytes(data);

        final RawPeer peer = closeAfterTest(connectPeer(listener));
        if (peer.keepsMessageBoundaries())
        {
            echoMessages(peer, random, data, seed);
            peer.close();
            return true;
        }
        final Future<?> writing = threads.submit(() ->
        {
            int position = 0;
            while (position < data.length)
            {
                final int length = Math.min(1 + random.nextInt(MAX_CHUNK), data.length - position);
                peer.write(data, position, length);
                position += length;
            }
            return null;
        });

        final byte[] echoed = new byte[data.length];
        final int length = readFully(peer, echoed);
        writing.get(DEADLINE_SECONDS, TimeUnit.SECONDS);
        if (length != data.length || !Arrays.equals(data, echoed))
        {
            throw new AssertionError("seed " + seed + ": the echo of " + length + " bytes differs from the data at " +
                Arrays.mismatch(data, echoed));
        }
        peer.close();
        return false;
    }

    /**
     * Send the data as messages of random lengths, each after the echo of the last: one message in flight, so that a
     * transport that drops what overflows its buffers (UDP) has nothing to drop. Each echo must be the message, whole
     * and alone.
     */
    private void echoMessages(final RawPeer peer, final Random random, final byte[] data, final long seed)
        throws IOException
    {
        final int maxLength = maxMessageLength();
        final byte[] echo = new byte[MAX_CHUNK + 1];
        int position = 0;
        int count = 0;
        while (position < data.length)
        {
            final int length = Math.min(1 + random.nextInt(Math.min(MAX_CHUNK, maxLength)), data.length - position);
            peer.write(data, position, length);
            final int n = peer.read(echo, 0, echo.length);
            if (n != length || !Arrays.equals(data, position, position + length, echo, 0, n))
            {
                throw new AssertionError("seed " + seed + ": message " + count + " of " + length + " bytes came " +
                    "back as " + n + " bytes" + (n == length ? " that differ" : ""));
            }
            position += length;
            count++;
        }
    }

    /**
     * Play the broker's sender: write the pattern in random pieces, flush now and then, never more than the window
     * ahead of onWritten.
     */
    private static void writePatternAsTheSender(final RecordingHandler handler, final long total)
        throws InterruptedException
    {
        handler.credit.release(WINDOW);
        final TransportConnection connection = handler.connection;
        final Random random = new Random();
        final byte[] chunk = new byte[32 * 1024];
        final UnsafeBuffer view = new UnsafeBuffer(chunk);
        long position = 0;
        while (position < total)
        {
            final int length = (int)Math.min(1 + random.nextInt(chunk.length), total - position);
            if (!handler.credit.tryAcquire(length))
            {
                // Credit comes back only for bytes that were flushed.
                connection.flush();
                if (!handler.credit.tryAcquire(length, DEADLINE_SECONDS, TimeUnit.SECONDS))
                {
                    throw new AssertionError("no credit for " + DEADLINE + " after " + position + " bytes");
                }
            }
            fillPattern(chunk, position, length);
            connection.write(view, 0, length);
            position += length;
            if (random.nextInt(4) == 0)
            {
                connection.flush();
            }
        }
        connection.flush();
    }

    private static long readPattern(final RawPeer peer, final long total) throws IOException
    {
        final byte[] chunk = new byte[64 * 1024];
        long position = 0;
        while (position < total)
        {
            final int n = peer.read(chunk, 0, (int)Math.min(chunk.length, total - position));
            if (n < 0)
            {
                break;
            }
            for (int i = 0; i < n; i++)
            {
                if (chunk[i] != TransportTestSupport.pattern(position + i))
                {
                    throw new IOException("byte " + (position + i) + " is wrong");
                }
            }
            position += n;
        }
        return position;
    }

    private static void writeAndFlush(final TransportConnection connection, final byte[] bytes)
    {
        connection.write(new UnsafeBuffer(bytes), 0, bytes.length);
        connection.flush();
    }

    /**
     * Wait until a count stops moving: unchanged over five looks 100 ms apart.
     */
    private static void awaitSteady(final LongSupplier count)
    {
        final long[] last = { -1 };
        final int[] unchanged = { 0 };
        await().atMost(DEADLINE).pollInterval(Duration.ofMillis(100)).until(() ->
        {
            final long now = count.getAsLong();
            unchanged[0] = now == last[0] ? unchanged[0] + 1 : 0;
            last[0] = now;
            return unchanged[0] >= 5;
        });
    }

    private void assertPeerSeesTheEnd(final RawPeer peer) throws Exception
    {
        final int read = within(() ->
        {
            try
            {
                return peer.read(new byte[1], 0, 1);
            }
            catch (final IOException ex)
            {
                // A reset is an end too.
                return -1;
            }
        });
        assertEquals(-1, read);
    }

    private static byte[] randomBytes(final int length)
    {
        final byte[] data = new byte[length];
        new Random().nextBytes(data);
        return data;
    }

    private static List<Thread> threadsNamed(final String prefix)
    {
        return Thread.getAllStackTraces().keySet().stream()
            .filter((thread) -> thread.getName().startsWith(prefix))
            .collect(Collectors.toList());
    }

    /**
     * Counts the calls of a {@link ConnectHandler}; the first one completes a future.
     */
    private static final class RecordingConnectHandler implements ConnectHandler
    {
        final CompletableFuture<TransportConnection> connected = new CompletableFuture<>();
        final CompletableFuture<Throwable> failed = new CompletableFuture<>();
        final AtomicInteger calls = new AtomicInteger();
        final AtomicReference<String> thread = new AtomicReference<>();

        public void onConnected(final TransportConnection connection)
        {
            calls.incrementAndGet();
            thread.set(Thread.currentThread().getName());
            connected.complete(connection);
        }

        public void onConnectFailed(final Throwable cause)
        {
            calls.incrementAndGet();
            thread.set(Thread.currentThread().getName());
            failed.complete(cause);
        }
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
        private final Thread thread = new Thread(this, "kit-sender");

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
