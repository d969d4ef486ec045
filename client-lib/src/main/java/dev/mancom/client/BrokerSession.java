package dev.mancom.client;

import dev.mancom.protocol.Doorbell;
import dev.mancom.protocol.Frames;
import dev.mancom.protocol.ManComException;
import dev.mancom.protocol.MarkFileDescriptor;
import dev.mancom.protocol.ProtocolVersion;
import dev.mancom.protocol.codecs.AttachEncoder;
import dev.mancom.protocol.codecs.ErrorCode;
import dev.mancom.protocol.codecs.HelloEncoder;
import dev.mancom.protocol.codecs.MessageHeaderDecoder;
import dev.mancom.protocol.codecs.MessageHeaderEncoder;
import dev.mancom.protocol.codecs.RefusedDecoder;
import dev.mancom.protocol.codecs.WelcomeDecoder;
import io.aeron.Aeron;
import io.aeron.Publication;
import io.aeron.Subscription;
import io.aeron.exceptions.DriverTimeoutException;
import org.agrona.CloseHelper;
import org.agrona.ErrorHandler;
import org.agrona.concurrent.AgentInvoker;
import org.agrona.concurrent.AgentTerminationException;
import org.agrona.concurrent.UnsafeBuffer;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One attachment of a {@link ManCom} to one broker: the control socket, the Aeron client on that broker's media
 * driver, the command, event and peer streams, and the doorbells. Everything here belongs to one broker's life: when
 * that broker stops or dies, the session is marked lost and, after a linger, closed (its mappings and descriptors
 * released), and a later reconnection opens a new session on the next broker. The {@code ManCom}, its acceptors and
 * its listeners outlive sessions; connections belong to the session that opened them.
 * <p>
 * Threading: created and closed on the polling thread (with the client's poll lock held); read by any thread.
 */
final class BrokerSession implements AutoCloseable
{
    /**
     * How long a lost session stays mapped before it is closed. A thread that read the session just before it was
     * lost may still be offering into its log or blocked on its doorbell (a futex wait of at most 1 s); unmapping
     * under it would crash the process, so unmapping waits longer than any such use.
     */
    static final long LINGER_NS = TimeUnit.SECONDS.toNanos(2);

    final long epoch;
    final SocketChannel control;
    final ByteBuffer controlReadBuffer = ByteBuffer.allocate(256);
    final Aeron aeron;
    final AgentInvoker aeronInvoker;
    final Publication commands;
    final Subscription events;
    final Subscription peers;
    final String linkChannel;
    final long clientId;
    final int windowLength;
    final int protocolMinor;
    final int maxPayloadLength;
    final Doorbell brokerDoorbell;
    final Doorbell clientDoorbell;
    final ByteBuffer ringByte = ByteBuffer.allocateDirect(1);
    /** Threads blocked on the client doorbell (in the idle strategy): the session is not closed under them. */
    final AtomicInteger doorbellWaiters = new AtomicInteger();
    private final AtomicBoolean closed = new AtomicBoolean();
    volatile boolean live = true;
    /** Set by the Aeron client's error handler: the media driver stopped answering (a broker frozen or gone). */
    volatile boolean driverTimedOut;
    /** Re-registrations of acceptors still unanswered after a reconnection (polling thread). */
    int reregistrationsPending;
    /** Every acceptor the application kept is registered with this session's broker (or was refused by it). */
    volatile boolean restored;
    long lostAtNs;

    private BrokerSession(
        final long epoch,
        final SocketChannel control,
        final Aeron aeron,
        final Publication commands,
        final Subscription events,
        final Subscription peers,
        final Welcome welcome)
    {
        this.epoch = epoch;
        this.control = control;
        this.aeron = aeron;
        this.aeronInvoker = aeron.conductorAgentInvoker();
        this.commands = commands;
        this.events = events;
        this.peers = peers;
        this.clientId = welcome.clientId;
        this.windowLength = welcome.windowLength;
        this.protocolMinor = welcome.protocolMinor;
        this.maxPayloadLength = maxPayloadLength(welcome.channel);
        // Each link this client publishes has its client id as session id: a peer finds its image by it.
        this.linkChannel = welcome.channel + "|session-id=" + (int)welcome.clientId;
        this.brokerDoorbell = new Doorbell(aeron.countersReader().valuesBuffer(), welcome.brokerDoorbellCounterId);
        this.clientDoorbell = new Doorbell(aeron.countersReader().valuesBuffer(), welcome.clientDoorbellCounterId);
    }

    /**
     * Attach to the broker that serves the context's directory: handshake on its control socket, then an Aeron
     * client on its media driver, with the streams it names.
     *
     * @param ctx   the client's configuration.
     * @param epoch 1 for the first attachment, one more for each reconnection.
     * @return the live session.
     * @throws ManComException {@code NOT_CONNECTED}, {@code PROTOCOL_VERSION_MISMATCH}, {@code TIMEOUT}, ...
     */
    static BrokerSession attach(final ManCom.Context ctx, final long epoch)
    {
        SocketChannel control = null;
        Aeron aeron = null;
        final SessionErrorHandler errorHandler = new SessionErrorHandler(ctx.errorHandler());
        try
        {
            control = openControl(ctx.dir());
            final Welcome welcome = handshake(control, ctx);
            aeron = Aeron.connect(new Aeron.Context()
                .aeronDirectoryName(welcome.aeronDirectory)
                .clientName(ctx.clientName())
                .useConductorAgentInvoker(true)
                .errorHandler(errorHandler)
                .subscriberErrorHandler(errorHandler));
            final Publication commands = aeron.addPublication(welcome.channel, welcome.commandStreamId);
            final Subscription events = aeron.addSubscription(welcome.channel, welcome.eventStreamId);
            final Subscription peers = aeron.addSubscription(welcome.channel, welcome.peerStreamId);
            final AgentInvoker invoker = aeron.conductorAgentInvoker();
            final long deadlineNs = System.nanoTime() + ctx.timeout().toNanos();
            while (!commands.isConnected() || !events.isConnected())
            {
                if (System.nanoTime() - deadlineNs >= 0)
                {
                    throw new ManComException(ErrorCode.TIMEOUT, "the broker's streams did not connect within " +
                        ctx.timeout());
                }
                invoker.invoke();
                Thread.onSpinWait();
            }
            sendAttach(control, aeron.clientId());
            control.configureBlocking(false);
            final BrokerSession session = new BrokerSession(epoch, control, aeron, commands, events, peers, welcome);
            errorHandler.session = session;
            return session;
        }
        catch (final IOException ex)
        {
            CloseHelper.quietCloseAll(aeron, control);
            throw new ManComException(ErrorCode.NOT_CONNECTED, "cannot attach to the broker in " + ctx.dir() + ": " +
                ex.getMessage(), ex);
        }
        catch (final RuntimeException ex)
        {
            CloseHelper.quietCloseAll(aeron, control);
            throw ex;
        }
    }

    /**
     * Mark the session lost (the broker is gone, or the application closes its client) and wake the threads blocked
     * on its doorbell: they see it lost and leave it, before it is unmapped. Does nothing to a session already lost:
     * its doorbell may be unmapped by then.
     *
     * @return true when the session was live until now.
     */
    boolean markLost()
    {
        if (!live)
        {
            return false;
        }
        live = false;
        clientDoorbell.ring();
        return true;
    }

    /**
     * Whether this session may be closed now: lost for longer than the linger and no thread blocked on its
     * doorbell.
     *
     * @param nowNs the time.
     * @return true when it may be closed.
     */
    boolean canClose(final long nowNs)
    {
        return nowNs - lostAtNs >= LINGER_NS && 0 == doorbellWaiters.get();
    }

    /**
     * Release the control socket and the Aeron client (its mapped files and descriptors). The Aeron client of a
     * driver that is gone is closed without complaint: its errors go nowhere once the session is lost. Idempotent.
     */
    public void close()
    {
        if (!closed.compareAndSet(false, true))
        {
            return;
        }
        live = false;
        CloseHelper.quietCloseAll(control, aeron);
    }

    /**
     * The Aeron client's errors: passed on while the session is live, except the driver's time-out, which means the
     * broker is gone (or frozen) and is handled as such; dropped once the session is lost, so that closing the Aeron
     * client of a dead driver never reaches the application (nor, as Aeron's default handler would, ends the
     * process).
     */
    private static final class SessionErrorHandler implements ErrorHandler
    {
        private final ErrorHandler delegate;
        volatile BrokerSession session;

        SessionErrorHandler(final ErrorHandler delegate)
        {
            this.delegate = delegate;
        }

        public void onError(final Throwable error)
        {
            final BrokerSession session = this.session;
            if (error instanceof DriverTimeoutException || error instanceof AgentTerminationException)
            {
                if (null != session)
                {
                    session.driverTimedOut = true;
                }
                return;
            }
            if (null == session || session.live)
            {
                delegate.onError(error);
            }
        }
    }

    // ------------------------------------------------------------------ handshake

    private static SocketChannel openControl(final Path dir) throws IOException
    {
        final Path socketPath = dir.resolve(MarkFileDescriptor.CONTROL_SOCKET_NAME);
        final SocketChannel channel = SocketChannel.open(StandardProtocolFamily.UNIX);
        try
        {
            channel.connect(UnixDomainSocketAddress.of(socketPath));
            return channel;
        }
        catch (final IOException ex)
        {
            channel.close();
            throw new ManComException(ErrorCode.NOT_CONNECTED, "no broker is running in " + dir +
                " (start one with: mancom broker --dir " + dir + ")", ex);
        }
    }

    private static final class Welcome
    {
        long clientId;
        int commandStreamId;
        int eventStreamId;
        int windowLength;
        int protocolMinor;
        int brokerDoorbellCounterId;
        int clientDoorbellCounterId;
        int peerStreamId;
        String channel;
        String aeronDirectory;
    }

    private static Welcome handshake(final SocketChannel control, final ManCom.Context ctx) throws IOException
    {
        final UnsafeBuffer frame = new UnsafeBuffer(new byte[Frames.MAX_CONTROL_FRAME_LENGTH]);
        final MessageHeaderEncoder headerEncoder = new MessageHeaderEncoder();
        final HelloEncoder hello = new HelloEncoder().wrapAndApplyHeader(frame, 4, headerEncoder)
            .protocolMajor(ProtocolVersion.MAJOR)
            .protocolMinor(ProtocolVersion.MINOR)
            .pid(ProcessHandle.current().pid())
            .clientName(ctx.clientName());
        writeFrame(control, frame, MessageHeaderEncoder.ENCODED_LENGTH + hello.encodedLength());

        final UnsafeBuffer reply = readFrame(control, ctx.timeout());
        final MessageHeaderDecoder header = new MessageHeaderDecoder().wrap(reply, 0);
        if (header.schemaId() != MessageHeaderDecoder.SCHEMA_ID)
        {
            throw new ManComException(ErrorCode.PROTOCOL_VERSION_MISMATCH, "the broker answered with schema " +
                header.schemaId());
        }
        if (header.templateId() == RefusedDecoder.TEMPLATE_ID)
        {
            final RefusedDecoder refused = new RefusedDecoder().wrap(
                reply, MessageHeaderDecoder.ENCODED_LENGTH, header.blockLength(), header.version());
            final ErrorCode code = refused.code();
            throw new ManComException(code, "the broker refused this client: " + refused.message());
        }
        if (header.templateId() != WelcomeDecoder.TEMPLATE_ID)
        {
            throw new ManComException(ErrorCode.PROTOCOL_VERSION_MISMATCH, "unexpected answer " +
                header.templateId() + " from the broker");
        }
        final WelcomeDecoder decoder = new WelcomeDecoder().wrap(
            reply, MessageHeaderDecoder.ENCODED_LENGTH, header.blockLength(), header.version());
        final Welcome welcome = new Welcome();
        welcome.clientId = decoder.clientId();
        welcome.commandStreamId = decoder.commandStreamId();
        welcome.eventStreamId = decoder.eventStreamId();
        welcome.windowLength = decoder.creditWindowLength();
        welcome.protocolMinor = decoder.protocolMinor();
        welcome.brokerDoorbellCounterId = decoder.brokerDoorbellCounterId();
        welcome.clientDoorbellCounterId = decoder.clientDoorbellCounterId();
        welcome.peerStreamId = decoder.peerStreamId();
        welcome.channel = decoder.channel();
        welcome.aeronDirectory = decoder.aeronDirectory();
        return welcome;
    }

    private static void sendAttach(final SocketChannel control, final long aeronClientId) throws IOException
    {
        final UnsafeBuffer frame = new UnsafeBuffer(new byte[64]);
        final AttachEncoder attach = new AttachEncoder()
            .wrapAndApplyHeader(frame, 4, new MessageHeaderEncoder())
            .aeronClientId(aeronClientId);
        writeFrame(control, frame, MessageHeaderEncoder.ENCODED_LENGTH + attach.encodedLength());
    }

    private static void writeFrame(final SocketChannel channel, final UnsafeBuffer frame, final int length)
        throws IOException
    {
        frame.putInt(0, length, ByteOrder.LITTLE_ENDIAN);
        final ByteBuffer out = ByteBuffer.wrap(frame.byteArray(), 0, 4 + length);
        while (out.hasRemaining())
        {
            channel.write(out);
        }
    }

    private static UnsafeBuffer readFrame(final SocketChannel channel, final Duration timeout) throws IOException
    {
        channel.configureBlocking(false);
        try (Selector selector = Selector.open())
        {
            channel.register(selector, SelectionKey.OP_READ);
            final ByteBuffer lengthBuffer = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
            readFully(channel, selector, lengthBuffer, timeout);
            final int length = lengthBuffer.getInt(0);
            if (length < MessageHeaderDecoder.ENCODED_LENGTH || length > Frames.MAX_CONTROL_FRAME_LENGTH)
            {
                throw new ManComException(ErrorCode.MALFORMED_COMMAND, "bad frame length " + length +
                    " from the broker");
            }
            final ByteBuffer body = ByteBuffer.allocate(length);
            readFully(channel, selector, body, timeout);
            return new UnsafeBuffer(body.array());
        }
        finally
        {
            channel.configureBlocking(true);
        }
    }

    private static void readFully(
        final SocketChannel channel, final Selector selector, final ByteBuffer buffer, final Duration timeout)
        throws IOException
    {
        final long deadlineNs = System.nanoTime() + timeout.toNanos();
        while (buffer.hasRemaining())
        {
            final long remainingMs = TimeUnit.NANOSECONDS.toMillis(deadlineNs - System.nanoTime());
            if (remainingMs <= 0)
            {
                throw new ManComException(ErrorCode.TIMEOUT, "the broker did not answer within " + timeout);
            }
            selector.select(remainingMs);
            selector.selectedKeys().clear();
            final int read = channel.read(buffer);
            if (read < 0)
            {
                throw new ManComException(ErrorCode.NOT_CONNECTED, "the broker closed the control socket");
            }
        }
    }

    private static int maxPayloadLength(final String channel)
    {
        int mtu = 1408;
        for (final String param : channel.substring(channel.indexOf('?') + 1).split("\\|"))
        {
            if (param.startsWith("mtu="))
            {
                mtu = Integer.parseInt(param.substring(4));
            }
        }
        return mtu - io.aeron.protocol.DataHeaderFlyweight.HEADER_LENGTH - Frames.DATA_HEADER_LENGTH;
    }

    /**
     * {@inheritDoc}
     */
    public String toString()
    {
        return "BrokerSession{epoch=" + epoch + ", clientId=" + clientId + (live ? "" : ", lost") + '}';
    }
}
