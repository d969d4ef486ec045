package dev.mancom.transport.unix;

import com.sun.security.auth.module.UnixSystem;
import dev.mancom.protocol.Endpoint;
import dev.mancom.protocol.codecs.TransportType;
import dev.mancom.transport.ConnectHandler;
import dev.mancom.transport.TransportConnection;
import dev.mancom.transport.TransportContext;
import dev.mancom.transport.TransportException;
import dev.mancom.transport.TransportListener;
import dev.mancom.transport.TransportUri;
import dev.mancom.transport.testkit.RecordingHandler;
import dev.mancom.transport.testkit.TransportTestSupport;
import io.netty.channel.epoll.Epoll;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ConnectException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;

import static dev.mancom.transport.testkit.TransportTestSupport.DEADLINE;
import static dev.mancom.transport.testkit.TransportTestSupport.DEADLINE_SECONDS;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * What is particular to Unix domain sockets: the peer's credentials from the kernel, the socket file's life (a stale
 * one replaced, one in use or any other file refused, a missing directory, removal on close), and good URIs. Tests
 * that do not depend on epoll run on NIO as well.
 */
class UnixTransportTest
{
    private static final String EPOLL = "epoll";
    private static final String NIO = "nio";

    @TempDir
    Path tempDir;

    private final Queue<Throwable> errors = new ConcurrentLinkedQueue<>();
    private final List<AutoCloseable> closeables = new ArrayList<>();
    private UnixTransport transport;
    private String prefix;

    @AfterEach
    void tearDown() throws Exception
    {
        for (final AutoCloseable closeable : closeables)
        {
            closeable.close();
        }
        if (null != transport)
        {
            transport.close();
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {
        "unix:///run/mancom/echo.sock",
        "unix:///echo.sock",
        "unix:///run/a/../echo.sock",
        "UNIX:///tmp/echo.sock?backlog=5&connect_timeout_ms=100" })
    void shouldAcceptAGoodUri(final String text)
    {
        start(NIO);
        transport.validate(TransportUri.parse(text));
    }

    @Test
    void shouldGiveTheRemoteEndpointThePeersPidUidAndGidFromTheKernel() throws Exception
    {
        start(EPOLL);
        final Path path = tempDir.resolve("credentials.sock");
        final CompletableFuture<TransportConnection> accepted = new CompletableFuture<>();
        final TransportListener listener = listen(path, accepted);
        assertEquals(Endpoint.unix(path.toString(), Endpoint.UNKNOWN, Endpoint.UNKNOWN, Endpoint.UNKNOWN),
            listener.localEndpoint());

        try (SocketChannel client = SocketChannel.open(UnixDomainSocketAddress.of(path)))
        {
            assertTrue(client.isConnected());
            final TransportConnection connection = accepted.get(DEADLINE_SECONDS, TimeUnit.SECONDS);
            final Endpoint remote = connection.remoteEndpoint();
            final UnixSystem self = new UnixSystem();
            assertEquals(TransportType.UNIX, remote.type());
            assertEquals("unix", remote.scheme());
            assertEquals(ProcessHandle.current().pid(), remote.pid());
            assertEquals(self.getUid(), remote.uid());
            assertEquals(self.getGid(), remote.gid());
            assertEquals(path.toString(), connection.localEndpoint().path());
            assertEquals(Endpoint.UNKNOWN, connection.localEndpoint().pid());
        }
        assertTrue(errors.isEmpty(), errors::toString);
    }

    @Test
    void shouldGiveAnOutboundConnectionTheListeningProcesssCredentials() throws Exception
    {
        start(EPOLL);
        final Path path = tempDir.resolve("server.sock");
        try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX))
        {
            server.bind(UnixDomainSocketAddress.of(path));
            final Connected connected = new Connected();
            transport.connect(uri(path), connected);
            try (SocketChannel peer = server.accept())
            {
                final TransportConnection connection = connected.connection.get(DEADLINE_SECONDS, TimeUnit.SECONDS);
                final Endpoint remote = connection.remoteEndpoint();
                assertEquals(TransportType.UNIX, remote.type());
                assertEquals(path.toString(), remote.path());
                assertEquals(ProcessHandle.current().pid(), remote.pid());
                assertEquals(new UnixSystem().getUid(), remote.uid());

                final RecordingHandler handler = new RecordingHandler(prefix, true, false).attach(connection);
                final byte[] hello = "hello".getBytes(StandardCharsets.US_ASCII);
                connection.write(new UnsafeBuffer(hello), 0, hello.length);
                connection.flush();
                assertArrayEquals(hello, read(peer, hello.length));
                peer.write(ByteBuffer.wrap(hello));
                await().atMost(DEADLINE).until(() -> handler.received.get() == hello.length);
                assertArrayEquals(hello, handler.bytes());
            }
        }
        finally
        {
            Files.deleteIfExists(path);
        }
    }

    @Test
    void shouldLeaveThePeersCredentialsUnknownOnNio() throws Exception
    {
        start(NIO);
        final Path path = tempDir.resolve("nio.sock");
        final CompletableFuture<TransportConnection> accepted = new CompletableFuture<>();
        listen(path, accepted);
        try (SocketChannel client = SocketChannel.open(UnixDomainSocketAddress.of(path)))
        {
            assertTrue(client.isConnected());
            final Endpoint remote = accepted.get(DEADLINE_SECONDS, TimeUnit.SECONDS).remoteEndpoint();
            assertEquals(TransportType.UNIX, remote.type());
            assertEquals(Endpoint.UNKNOWN, remote.pid());
            assertEquals(Endpoint.UNKNOWN, remote.uid());
            assertEquals(Endpoint.UNKNOWN, remote.gid());
        }
    }

    @ParameterizedTest
    @ValueSource(strings = { EPOLL, NIO })
    void shouldReplaceASocketFileThatNoProcessListensOn(final String io) throws Exception
    {
        start(io);
        final Path path = tempDir.resolve("stale.sock");
        // Java leaves the socket file behind when a server socket closes, as a process that dies does.
        try (ServerSocketChannel dead = ServerSocketChannel.open(StandardProtocolFamily.UNIX))
        {
            dead.bind(UnixDomainSocketAddress.of(path));
        }
        assertTrue(Files.exists(path, LinkOption.NOFOLLOW_LINKS));

        final CompletableFuture<TransportConnection> accepted = new CompletableFuture<>();
        listen(path, accepted);
        try (SocketChannel client = SocketChannel.open(UnixDomainSocketAddress.of(path)))
        {
            final RecordingHandler handler = new RecordingHandler(prefix, true, false)
                .attach(accepted.get(DEADLINE_SECONDS, TimeUnit.SECONDS));
            final byte[] bytes = "still here".getBytes(StandardCharsets.US_ASCII);
            client.write(ByteBuffer.wrap(bytes));
            await().atMost(DEADLINE).until(() -> handler.received.get() == bytes.length);
            assertArrayEquals(bytes, handler.bytes());
        }
        assertTrue(errors.isEmpty(), errors::toString);
    }

    @ParameterizedTest
    @ValueSource(strings = { EPOLL, NIO })
    void shouldRefuseAPathAnotherProcessListensOn(final String io) throws Exception
    {
        start(io);
        final Path path = tempDir.resolve("taken.sock");
        try (ServerSocketChannel other = ServerSocketChannel.open(StandardProtocolFamily.UNIX))
        {
            other.bind(UnixDomainSocketAddress.of(path));
            final TransportException error = assertThrows(TransportException.class, () ->
                transport.listen(uri(path), (connection) -> { }));
            assertEquals("path", error.key());
            assertEquals("cannot listen on " + uri(path) + ": " + path + " is in use: another process listens on it",
                error.getMessage());

            // Left alone: the other listener still has its file and takes connections.
            try (SocketChannel client = SocketChannel.open(UnixDomainSocketAddress.of(path));
                SocketChannel probe = other.accept();
                SocketChannel next = other.accept())
            {
                assertNotNull(probe);
                assertNotNull(next);
                assertTrue(client.isConnected());
            }
        }
        finally
        {
            Files.deleteIfExists(path);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = { EPOLL, NIO })
    void shouldRefuseToListenTwiceOnOnePath(final String io)
    {
        start(io);
        final Path path = tempDir.resolve("twice.sock");
        transport.listen(uri(path), (connection) -> fail("the second listen connected to the first listener"));
        final TransportException error = assertThrows(TransportException.class, () ->
            transport.listen(uri(path), (connection) -> { }));
        assertEquals("path", error.key());
        assertTrue(error.getMessage().contains("is in use: this transport already listens on it"),
            error::getMessage);
        assertTrue(errors.isEmpty(), errors::toString);
    }

    @ParameterizedTest
    @ValueSource(strings = { EPOLL, NIO })
    void shouldRefuseAPathThatIsNotASocket(final String io) throws Exception
    {
        start(io);
        final Path file = tempDir.resolve("notes.txt");
        Files.writeString(file, "keep me");
        final TransportException fileError = assertThrows(TransportException.class, () ->
            transport.listen(uri(file), (connection) -> { }));
        assertEquals("path", fileError.key());
        assertEquals("cannot listen on " + uri(file) + ": " + file + " exists and is not a socket (a regular file)",
            fileError.getMessage());
        assertEquals("keep me", Files.readString(file));

        final Path directory = Files.createDirectory(tempDir.resolve("dir.sock"));
        final TransportException directoryError = assertThrows(TransportException.class, () ->
            transport.listen(uri(directory), (connection) -> { }));
        assertTrue(directoryError.getMessage().endsWith("exists and is not a socket (a directory)"),
            directoryError::getMessage);
        assertTrue(Files.isDirectory(directory));
    }

    @ParameterizedTest
    @ValueSource(strings = { EPOLL, NIO })
    void shouldRefuseToListenInADirectoryThatDoesNotExist(final String io)
    {
        start(io);
        final Path missing = tempDir.resolve("missing");
        final Path path = missing.resolve("echo.sock");
        final TransportException error = assertThrows(TransportException.class, () ->
            transport.listen(uri(path), (connection) -> { }));
        assertEquals("path", error.key());
        assertEquals("cannot listen on " + uri(path) + ": the directory " + missing + " does not exist",
            error.getMessage());
        assertFalse(Files.exists(missing));
    }

    @ParameterizedTest
    @ValueSource(strings = { EPOLL, NIO })
    void shouldRemoveTheSocketFileWhenTheListenerClosesAndListenAgain(final String io) throws Exception
    {
        start(io);
        final Path path = tempDir.resolve("again.sock");
        final TransportListener first = transport.listen(uri(path), (connection) -> { });
        assertEquals(0140000, (Integer)Files.getAttribute(path, "unix:mode", LinkOption.NOFOLLOW_LINKS) & 0170000);
        first.close();
        first.close();
        assertFalse(Files.exists(path, LinkOption.NOFOLLOW_LINKS));

        final CompletableFuture<TransportConnection> accepted = new CompletableFuture<>();
        listen(path, accepted);
        try (SocketChannel client = SocketChannel.open(UnixDomainSocketAddress.of(path)))
        {
            assertTrue(client.isConnected());
            assertNotNull(accepted.get(DEADLINE_SECONDS, TimeUnit.SECONDS));
        }
        transport.close();
        assertFalse(Files.exists(path, LinkOption.NOFOLLOW_LINKS));
    }

    @ParameterizedTest
    @ValueSource(strings = { EPOLL, NIO })
    void shouldReportAMissingOrStaleSocketToTheConnectHandler(final String io) throws Exception
    {
        start(io);
        final Connected connected = new Connected();
        transport.connect(uri(tempDir.resolve("nobody.sock")), connected);
        final Throwable cause = connected.failed.get(DEADLINE_SECONDS, TimeUnit.SECONDS);
        assertInstanceOf(ConnectException.class, cause);
        assertEquals("No such file or directory", cause.getMessage());

        final Path stale = tempDir.resolve("stale.sock");
        try (ServerSocketChannel dead = ServerSocketChannel.open(StandardProtocolFamily.UNIX))
        {
            dead.bind(UnixDomainSocketAddress.of(stale));
        }
        final Connected refused = new Connected();
        transport.connect(uri(stale), refused);
        final Throwable refusal = refused.failed.get(DEADLINE_SECONDS, TimeUnit.SECONDS);
        assertInstanceOf(ConnectException.class, refusal);
        assertEquals("Connection refused", refusal.getMessage());
        assertTrue(errors.isEmpty(), errors::toString);
    }

    private void start(final String io)
    {
        final boolean epoll = EPOLL.equals(io);
        if (epoll)
        {
            assumeTrue(Epoll.isAvailable(), "native epoll is not available here");
        }
        prefix = TransportTestSupport.uniquePrefix("unix-" + io);
        transport = new UnixTransport(new TransportContext(1, prefix, errors::add), epoll);
    }

    private TransportListener listen(final Path path, final CompletableFuture<TransportConnection> accepted)
    {
        final TransportListener listener = transport.listen(uri(path), accepted::complete);
        closeables.add(listener);
        return listener;
    }

    /**
     * Read so many bytes from a blocking channel, within the deadline (the channel is closed when it passes).
     */
    private static byte[] read(final SocketChannel channel, final int length) throws Exception
    {
        final CompletableFuture<byte[]> result = CompletableFuture.supplyAsync(() ->
        {
            final ByteBuffer buffer = ByteBuffer.allocate(length);
            try
            {
                while (buffer.hasRemaining() && channel.read(buffer) >= 0)
                {
                    // Blocking reads until the bytes are in.
                }
            }
            catch (final IOException ex)
            {
                throw new UncheckedIOException(ex);
            }
            return buffer.array();
        });
        try
        {
            return result.get(DEADLINE_SECONDS, TimeUnit.SECONDS);
        }
        finally
        {
            if (!result.isDone())
            {
                channel.close();
            }
        }
    }

    private static TransportUri uri(final Path path)
    {
        return TransportUri.parse("unix://" + path);
    }

    private static void fail(final String message)
    {
        throw new AssertionError(message);
    }

    /**
     * The result of one connect.
     */
    private static final class Connected implements ConnectHandler
    {
        final CompletableFuture<TransportConnection> connection = new CompletableFuture<>();
        final CompletableFuture<Throwable> failed = new CompletableFuture<>();

        public void onConnected(final TransportConnection connection)
        {
            this.connection.complete(connection);
        }

        public void onConnectFailed(final Throwable cause)
        {
            failed.complete(cause);
        }
    }
}
