package dev.mancom.transport.websocket;

import dev.mancom.protocol.codecs.CloseReason;
import dev.mancom.transport.ConnectHandler;
import dev.mancom.transport.TransportConnection;
import dev.mancom.transport.TransportContext;
import dev.mancom.transport.TransportListener;
import dev.mancom.transport.TransportUri;
import dev.mancom.transport.testkit.RecordingHandler;
import dev.mancom.transport.testkit.TransportTestSupport;
import dev.mancom.transport.testkit.WebSocketPeer;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

import static dev.mancom.transport.testkit.TransportTestSupport.DEADLINE;
import static dev.mancom.transport.testkit.TransportTestSupport.DEADLINE_SECONDS;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What only WebSocket does: message boundaries both ways, text messages, fragments, the message size limit, and an
 * outbound handshake that the server refuses.
 */
class WebSocketTransportTest
{
    private final Queue<Throwable> errors = new ConcurrentLinkedQueue<>();
    private final List<AutoCloseable> toClose = new CopyOnWriteArrayList<>();
    private String prefix;
    private String listenerUri;
    private WebSocketTransport transport;

    @BeforeEach
    void setUp()
    {
        prefix = TransportTestSupport.uniquePrefix("ws-test");
        transport = new WebSocketTransport(new TransportContext(1, prefix, errors::add));
    }

    @AfterEach
    void tearDown() throws Exception
    {
        for (final AutoCloseable closeable : toClose)
        {
            closeable.close();
        }
        transport.close();
    }

    @Test
    void shouldDeliverEachMessageWholeWhetherBinaryTextOrFragmented() throws Exception
    {
        final Queue<byte[]> messages = new ConcurrentLinkedQueue<>();
        final CompletableFuture<RecordingHandler> accepted = listen("ws://127.0.0.1:0/m", messages);
        final WebSocketPeer peer = peer();
        final RecordingHandler handler = accepted.get(DEADLINE_SECONDS, TimeUnit.SECONDS);
        assertTrue(handler.connection.keepsMessageBoundaries());

        final byte[] binary = new byte[1000];
        binary[999] = 7;
        final byte[] text = "h\u00e9llo".getBytes(StandardCharsets.UTF_8);
        peer.send(binary, false, true);
        peer.send(text, true, true);
        peer.send(new byte[] { 1, 2, 3 }, false, false);
        peer.send(new byte[] { 4, 5 }, false, true);
        peer.send(new byte[0], false, true);

        await().atMost(DEADLINE).until(() -> messages.size() == 3);
        final List<byte[]> received = List.copyOf(messages);
        assertArrayEquals(binary, received.get(0));
        assertArrayEquals(text, received.get(1));
        assertArrayEquals(new byte[] { 1, 2, 3, 4, 5 }, received.get(2));
        assertTrue(handler.violations.isEmpty(), handler.violations::toString);
        assertTrue(errors.isEmpty(), errors::toString);
    }

    @Test
    void shouldSendEachWriteAsOneBinaryMessage() throws Exception
    {
        final CompletableFuture<RecordingHandler> accepted = listen("ws://127.0.0.1:0/w", new ConcurrentLinkedQueue<>());
        final WebSocketPeer peer = peer();
        final RecordingHandler handler = accepted.get(DEADLINE_SECONDS, TimeUnit.SECONDS);
        final UnsafeBuffer bytes = new UnsafeBuffer(new byte[] { 10, 20, 30, 40, 50 });
        handler.connection.write(bytes, 0, 2);
        handler.connection.write(bytes, 2, 1);
        handler.connection.write(bytes, 3, 2);
        handler.connection.flush();

        final byte[] read = new byte[5];
        assertEquals(5, TransportTestSupport.readFully(peer, read));
        assertArrayEquals(new byte[] { 10, 20, 30, 40, 50 }, read);
        assertEquals(3, peer.messagesReceived());
        await().atMost(DEADLINE).until(() -> handler.written.get() == 5);
    }

    @Test
    void shouldCloseWithProtocolErrorAndStatus1009WhenAMessageExceedsMaxMessage() throws Exception
    {
        final CompletableFuture<RecordingHandler> accepted =
            listen("ws://127.0.0.1:0/big?max_message=1000", new ConcurrentLinkedQueue<>());
        final WebSocketPeer peer = peer();
        final RecordingHandler handler = accepted.get(DEADLINE_SECONDS, TimeUnit.SECONDS);
        peer.send(new byte[600], false, false);
        peer.send(new byte[600], false, true);

        assertTrue(handler.awaitClosed(DEADLINE_SECONDS));
        assertEquals(CloseReason.PROTOCOL_ERROR, handler.closeReason);
        assertTrue(handler.closeDetail.contains("max_message"), handler.closeDetail);
        assertEquals(1009, peer.serverClose().get(DEADLINE_SECONDS, TimeUnit.SECONDS));
        assertEquals(0, handler.received.get());
    }

    @Test
    void shouldReportARefusedHandshakeOnceNamingTheStatus() throws Exception
    {
        final TransportListener listener = transport.listen(TransportUri.parse("ws://127.0.0.1:0/here"), (c) -> { });
        toClose.add(listener);
        final String elsewhere = listener.localEndpoint().toString().replace("/here", "/elsewhere");
        final CompletableFuture<Throwable> failed = new CompletableFuture<>();
        transport.connect(TransportUri.parse(elsewhere), new ConnectHandler()
        {
            public void onConnected(final TransportConnection connection)
            {
                failed.completeExceptionally(new AssertionError("connected to " + elsewhere));
            }

            public void onConnectFailed(final Throwable cause)
            {
                failed.complete(cause);
            }
        });
        final Throwable cause = failed.get(DEADLINE_SECONDS, TimeUnit.SECONDS);
        assertTrue(cause.getMessage().contains("404"), cause::getMessage);
        assertTrue(cause.getMessage().contains(elsewhere), cause::getMessage);
    }

    private CompletableFuture<RecordingHandler> listen(final String uri, final Queue<byte[]> messages)
    {
        final CompletableFuture<RecordingHandler> accepted = new CompletableFuture<>();
        final TransportListener listener = transport.listen(TransportUri.parse(uri), (connection) ->
        {
            final RecordingHandler handler = new RecordingHandler(prefix, false, false)
            {
                public void onData(final DirectBuffer buffer, final int offset, final int length)
                {
                    final byte[] message = new byte[length];
                    buffer.getBytes(offset, message);
                    messages.add(message);
                    super.onData(buffer, offset, length);
                }
            };
            accepted.complete(handler.attach(connection));
        });
        toClose.add(listener);
        this.listenerUri = listener.localEndpoint().toString();
        return accepted;
    }

    private WebSocketPeer peer() throws Exception
    {
        final WebSocketPeer peer = WebSocketPeer.connect(URI.create(listenerUri), 1024, 1);
        toClose.add(0, peer);
        return peer;
    }
}
