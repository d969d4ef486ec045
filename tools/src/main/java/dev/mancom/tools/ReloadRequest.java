package dev.mancom.tools;

import dev.mancom.protocol.Frames;
import dev.mancom.protocol.MarkFileDescriptor;
import dev.mancom.protocol.ProtocolVersion;
import dev.mancom.protocol.codecs.MessageHeaderDecoder;
import dev.mancom.protocol.codecs.MessageHeaderEncoder;
import dev.mancom.protocol.codecs.RefusedDecoder;
import dev.mancom.protocol.codecs.ReloadEncoder;
import dev.mancom.protocol.codecs.ReloadResultDecoder;
import org.agrona.concurrent.UnsafeBuffer;

import java.io.IOException;
import java.net.ConnectException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

/**
 * Asks a running broker to reload its configuration over its control socket, as {@code mancom reload} does: one
 * {@code Reload} frame, one {@code ReloadResult} answer.
 */
public final class ReloadRequest
{
    /**
     * How a request ended.
     */
    public enum Outcome
    {
        /** The broker applied the configuration. */
        APPLIED,
        /** The broker refused the configuration and kept the running one. */
        REFUSED,
        /** The broker refused the requester: only root and the broker's own user may reload. */
        ACCESS_DENIED,
        /** No broker runs in the directory. */
        NO_BROKER,
        /** The broker did not answer in time, or the connection failed. */
        NO_ANSWER
    }

    /**
     * The answer.
     *
     * @param outcome how it ended.
     * @param message what changed, or why not, for a person.
     */
    public record Result(Outcome outcome, String message)
    {
    }

    private ReloadRequest()
    {
    }

    /**
     * Ask the broker in a directory to reload.
     *
     * @param dir     the broker directory.
     * @param timeout how long to wait for the answer.
     * @return the answer.
     */
    public static Result send(final Path dir, final Duration timeout)
    {
        final Path socketPath = dir.resolve(MarkFileDescriptor.CONTROL_SOCKET_NAME);
        try (SocketChannel channel = SocketChannel.open(StandardProtocolFamily.UNIX))
        {
            try
            {
                channel.connect(UnixDomainSocketAddress.of(socketPath));
            }
            catch (final IOException ex)
            {
                if (ex instanceof ConnectException || !Files.exists(socketPath))
                {
                    return new Result(Outcome.NO_BROKER, "no broker is running in " + dir +
                        " (start one with: mancom broker --dir " + dir + ")");
                }
                return new Result(Outcome.NO_BROKER, "cannot reach the broker's control socket " + socketPath +
                    ": " + ex.getMessage());
            }

            final UnsafeBuffer frame = new UnsafeBuffer(new byte[64]);
            final ReloadEncoder reload = new ReloadEncoder()
                .wrapAndApplyHeader(frame, Frames.CONTROL_LENGTH_PREFIX, new MessageHeaderEncoder())
                .protocolMajor(ProtocolVersion.MAJOR)
                .protocolMinor(ProtocolVersion.MINOR);
            final int length = MessageHeaderEncoder.ENCODED_LENGTH + reload.encodedLength();
            frame.putInt(0, length, ByteOrder.LITTLE_ENDIAN);
            final ByteBuffer out = ByteBuffer.wrap(frame.byteArray(), 0, Frames.CONTROL_LENGTH_PREFIX + length);
            while (out.hasRemaining())
            {
                channel.write(out);
            }

            final UnsafeBuffer answer = readFrame(channel, timeout);
            if (null == answer)
            {
                return new Result(Outcome.NO_ANSWER, "the broker in " + dir + " did not answer within " +
                    timeout.toMillis() + " ms");
            }
            return decode(answer);
        }
        catch (final IOException ex)
        {
            return new Result(Outcome.NO_ANSWER, "lost the connection to the broker in " + dir + ": " +
                ex.getMessage());
        }
    }

    private static Result decode(final UnsafeBuffer answer)
    {
        final MessageHeaderDecoder header = new MessageHeaderDecoder().wrap(answer, 0);
        if (header.schemaId() != MessageHeaderDecoder.SCHEMA_ID)
        {
            return new Result(Outcome.NO_ANSWER, "the broker answered with an unknown schema " + header.schemaId());
        }
        if (header.templateId() == RefusedDecoder.TEMPLATE_ID)
        {
            final RefusedDecoder refused = new RefusedDecoder().wrap(
                answer, MessageHeaderDecoder.ENCODED_LENGTH, header.blockLength(), header.version());
            return new Result(Outcome.REFUSED, refused.code() + ": " + refused.message());
        }
        if (header.templateId() != ReloadResultDecoder.TEMPLATE_ID)
        {
            return new Result(Outcome.NO_ANSWER, "unexpected answer " + header.templateId() + " from the broker");
        }
        final ReloadResultDecoder result = new ReloadResultDecoder().wrap(
            answer, MessageHeaderDecoder.ENCODED_LENGTH, header.blockLength(), header.version());
        final Outcome outcome = switch (result.status())
        {
            case APPLIED -> Outcome.APPLIED;
            case ACCESS_DENIED -> Outcome.ACCESS_DENIED;
            default -> Outcome.REFUSED;
        };
        return new Result(outcome, result.message());
    }

    /**
     * Read one length-prefixed frame within the time-out.
     *
     * @return the frame, starting with its SBE header, or null on time-out.
     * @throws IOException when the socket fails or the broker closes it first.
     */
    private static UnsafeBuffer readFrame(final SocketChannel channel, final Duration timeout) throws IOException
    {
        channel.configureBlocking(false);
        final long deadlineNs = System.nanoTime() + timeout.toNanos();
        final ByteBuffer prefix = ByteBuffer.allocate(Frames.CONTROL_LENGTH_PREFIX).order(ByteOrder.LITTLE_ENDIAN);
        ByteBuffer body = null;
        try (Selector selector = Selector.open())
        {
            channel.register(selector, SelectionKey.OP_READ);
            while (true)
            {
                final ByteBuffer target = null == body ? prefix : body;
                if (channel.read(target) < 0)
                {
                    throw new IOException("the broker closed the socket without an answer");
                }
                if (null == body && !prefix.hasRemaining())
                {
                    final int length = prefix.getInt(0);
                    if (length < MessageHeaderDecoder.ENCODED_LENGTH || length > Frames.MAX_CONTROL_FRAME_LENGTH)
                    {
                        throw new IOException("bad frame length " + length + " from the broker");
                    }
                    body = ByteBuffer.allocate(length);
                    continue;
                }
                if (null != body && !body.hasRemaining())
                {
                    return new UnsafeBuffer(body.array());
                }
                final long remainingMs = (deadlineNs - System.nanoTime()) / 1_000_000;
                if (remainingMs <= 0)
                {
                    return null;
                }
                selector.select(remainingMs);
                selector.selectedKeys().clear();
            }
        }
    }
}
