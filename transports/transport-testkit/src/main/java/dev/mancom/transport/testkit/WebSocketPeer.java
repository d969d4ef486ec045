package dev.mancom.transport.testkit;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A {@link RawPeer} that is a WebSocket client, on Java's own {@link java.net.http.HttpClient}: what a browser would
 * be. Writes are cut into binary messages of random sizes (at most {@link #maxMessage()}), each sent whole; reads
 * give the bytes of the messages received, in order, as one stream (text messages as their UTF-8 bytes).
 * <p>
 * Back pressure both ways: a write waits until the client has sent the message (so a server that does not read holds
 * it back), and no further message is requested from the socket while more than {@value #READ_AHEAD_BYTES} bytes
 * wait to be read. {@link #close()} sends a close frame (1000), waits a little for the server's answer, then drops
 * the socket; reads return -1 once the server's close frame has come and every byte before it was read.
 */
public final class WebSocketPeer implements RawPeer
{
    /** Bytes received but not read beyond which no further message is requested. */
    public static final int READ_AHEAD_BYTES = 256 * 1024;

    private static final long POLL_MS = 100;
    private static final long CLOSE_WAIT_MS = 5_000;

    private final Object lock = new Object();
    private final ArrayDeque<ByteBuffer> received = new ArrayDeque<>();
    private final Random random;
    private final int maxMessage;
    private final CompletableFuture<Integer> serverClose = new CompletableFuture<>();
    private WebSocket webSocket;
    private long receivedBytes;
    private boolean requestWanted;
    private boolean ended;
    private boolean closed;
    private int closeStatus = -1;
    private Throwable error;
    private long messagesReceived;

    private WebSocketPeer(final Random random, final int maxMessage)
    {
        this.random = random;
        this.maxMessage = maxMessage;
    }

    /**
     * Open a WebSocket.
     *
     * @param uri        such as {@code ws://127.0.0.1:8080/echo}.
     * @param maxMessage the largest message a write sends; writes are cut into messages of 1 to this many bytes.
     * @param seed       seeds the message sizes.
     * @return the open peer.
     * @throws IOException when the handshake fails.
     */
    public static WebSocketPeer connect(final URI uri, final int maxMessage, final long seed) throws IOException
    {
        final WebSocketPeer peer = new WebSocketPeer(new Random(seed), maxMessage);
        final HttpClient client = HttpClient.newBuilder().connectTimeout(TransportTestSupport.DEADLINE).build();
        try
        {
            peer.webSocket = client.newWebSocketBuilder()
                .connectTimeout(TransportTestSupport.DEADLINE)
                .buildAsync(uri, peer.new Listener())
                .get(TransportTestSupport.DEADLINE_SECONDS, TimeUnit.SECONDS);
        }
        catch (final ExecutionException ex)
        {
            throw new IOException("cannot open a WebSocket to " + uri + ": " + ex.getCause(), ex.getCause());
        }
        catch (final InterruptedException | TimeoutException ex)
        {
            throw new IOException("cannot open a WebSocket to " + uri + ": " + ex, ex);
        }
        return peer;
    }

    /**
     * The largest message a write sends.
     *
     * @return bytes.
     */
    public int maxMessage()
    {
        return maxMessage;
    }

    /**
     * The client's WebSocket, for what only WebSocket tests do (text, fragments, pings).
     *
     * @return the WebSocket.
     */
    public WebSocket webSocket()
    {
        return webSocket;
    }

    /**
     * How many messages (or parts of messages, as the client delivers them) have been received.
     *
     * @return the count.
     */
    public long messagesReceived()
    {
        synchronized (lock)
        {
            return messagesReceived;
        }
    }

    /**
     * The status of the server's close frame, once it has come.
     *
     * @return the future status.
     */
    public CompletableFuture<Integer> serverClose()
    {
        return serverClose;
    }

    /**
     * {@inheritDoc}
     */
    public void write(final byte[] bytes, final int offset, final int length) throws IOException
    {
        int position = offset;
        final int end = offset + length;
        while (position < end)
        {
            final int size = Math.min(1 + random.nextInt(maxMessage), end - position);
            final ByteBuffer message = ByteBuffer.allocate(size).put(bytes, position, size).flip();
            await(webSocket.sendBinary(message, true));
            position += size;
        }
    }

    /**
     * Send one message as it is, binary or text.
     *
     * @param message the message.
     * @param text    true for a text message (UTF-8), false for binary.
     * @param last    false to send a fragment that later sends continue.
     * @throws IOException when the connection fails or the peer is closed.
     */
    public void send(final byte[] message, final boolean text, final boolean last) throws IOException
    {
        if (text)
        {
            await(webSocket.sendText(new String(message, StandardCharsets.UTF_8), last));
        }
        else
        {
            await(webSocket.sendBinary(ByteBuffer.wrap(message), last));
        }
    }

    /**
     * {@inheritDoc}
     */
    public int read(final byte[] bytes, final int offset, final int length) throws IOException
    {
        if (0 == length)
        {
            return 0;
        }
        final boolean request;
        final int n;
        synchronized (lock)
        {
            while (received.isEmpty())
            {
                if (null != error)
                {
                    throw new IOException("WebSocket failed: " + error, error);
                }
                if (ended || closed)
                {
                    return -1;
                }
                try
                {
                    lock.wait(POLL_MS);
                }
                catch (final InterruptedException ex)
                {
                    Thread.currentThread().interrupt();
                    throw new IOException("interrupted", ex);
                }
            }
            final ByteBuffer head = received.peekFirst();
            n = Math.min(length, head.remaining());
            head.get(bytes, offset, n);
            if (!head.hasRemaining())
            {
                received.pollFirst();
            }
            receivedBytes -= n;
            request = requestWanted && receivedBytes < READ_AHEAD_BYTES;
            if (request)
            {
                requestWanted = false;
            }
        }
        if (request)
        {
            webSocket.request(1);
        }
        return n;
    }

    /**
     * {@inheritDoc}
     */
    public void close()
    {
        synchronized (lock)
        {
            if (closed)
            {
                return;
            }
            closed = true;
            lock.notifyAll();
        }
        try
        {
            if (!webSocket.isOutputClosed())
            {
                webSocket.sendClose(WebSocket.NORMAL_CLOSURE, "").get(CLOSE_WAIT_MS, TimeUnit.MILLISECONDS);
            }
            // Keep reading so that the server's answer is seen, then drop the socket.
            webSocket.request(Long.MAX_VALUE);
            serverClose.get(CLOSE_WAIT_MS, TimeUnit.MILLISECONDS);
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
        }
        catch (final ExecutionException | TimeoutException | RuntimeException ignore)
        {
            // The server did not answer in time or the socket failed: it is dropped below either way.
        }
        finally
        {
            webSocket.abort();
        }
    }

    /**
     * The peer as its state.
     *
     * @return a description.
     */
    public String toString()
    {
        synchronized (lock)
        {
            return "WebSocketPeer{closeStatus=" + closeStatus + ", ended=" + ended + ", error=" + error + "}";
        }
    }

    private void await(final CompletableFuture<WebSocket> sent) throws IOException
    {
        while (true)
        {
            try
            {
                sent.get(POLL_MS, TimeUnit.MILLISECONDS);
                return;
            }
            catch (final TimeoutException ex)
            {
                synchronized (lock)
                {
                    if (closed || null != error)
                    {
                        throw new IOException("the WebSocket is closed", null == error ? ex : error);
                    }
                }
            }
            catch (final ExecutionException ex)
            {
                throw new IOException("cannot send: " + ex.getCause(), ex.getCause());
            }
            catch (final InterruptedException ex)
            {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted", ex);
            }
        }
    }

    private void onMessage(final WebSocket ws, final ByteBuffer data)
    {
        final boolean request;
        synchronized (lock)
        {
            messagesReceived++;
            if (data.hasRemaining() && !closed)
            {
                final ByteBuffer copy = ByteBuffer.allocate(data.remaining()).put(data).flip();
                received.addLast(copy);
                receivedBytes += copy.remaining();
            }
            request = receivedBytes < READ_AHEAD_BYTES || closed;
            requestWanted = !request;
            lock.notifyAll();
        }
        if (request)
        {
            ws.request(1);
        }
    }

    /**
     * Receives the client's events.
     */
    private final class Listener implements WebSocket.Listener
    {
        public void onOpen(final WebSocket ws)
        {
            ws.request(1);
        }

        public CompletionStage<?> onBinary(final WebSocket ws, final ByteBuffer data, final boolean last)
        {
            onMessage(ws, data);
            return null;
        }

        public CompletionStage<?> onText(final WebSocket ws, final CharSequence data, final boolean last)
        {
            onMessage(ws, StandardCharsets.UTF_8.encode(data.toString()));
            return null;
        }

        public CompletionStage<?> onPing(final WebSocket ws, final ByteBuffer message)
        {
            ws.request(1);
            return null;
        }

        public CompletionStage<?> onPong(final WebSocket ws, final ByteBuffer message)
        {
            ws.request(1);
            return null;
        }

        public CompletionStage<?> onClose(final WebSocket ws, final int statusCode, final String reason)
        {
            synchronized (lock)
            {
                ended = true;
                closeStatus = statusCode;
                lock.notifyAll();
            }
            serverClose.complete(statusCode);
            // Completing at once: the client answers with its own close frame.
            return null;
        }

        public void onError(final WebSocket ws, final Throwable error)
        {
            synchronized (lock)
            {
                WebSocketPeer.this.error = error;
                lock.notifyAll();
            }
            serverClose.completeExceptionally(error);
        }
    }
}
