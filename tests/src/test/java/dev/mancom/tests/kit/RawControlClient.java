package dev.mancom.tests.kit;

import dev.mancom.protocol.MarkFileDescriptor;
import dev.mancom.protocol.codecs.AttachEncoder;
import dev.mancom.protocol.codecs.HelloEncoder;
import dev.mancom.protocol.codecs.MessageHeaderDecoder;
import dev.mancom.protocol.codecs.MessageHeaderEncoder;
import org.agrona.concurrent.UnsafeBuffer;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;

/**
 * Speaks the control-socket handshake by hand, to play clients the library would never be: another protocol
 * version, a client that then writes garbage.
 */
public final class RawControlClient implements AutoCloseable
{
    private final SocketChannel channel;

    /**
     * Connect to a broker's control socket.
     *
     * @param brokerDir the broker directory.
     * @throws IOException when no broker listens.
     */
    public RawControlClient(final Path brokerDir) throws IOException
    {
        channel = SocketChannel.open(StandardProtocolFamily.UNIX);
        channel.connect(UnixDomainSocketAddress.of(brokerDir.resolve(MarkFileDescriptor.CONTROL_SOCKET_NAME)));
    }

    /**
     * Send a Hello of the given protocol version.
     *
     * @param major major version.
     * @param minor minor version.
     * @throws IOException on a socket failure.
     */
    public void hello(final int major, final int minor) throws IOException
    {
        final UnsafeBuffer frame = new UnsafeBuffer(new byte[256]);
        final HelloEncoder hello = new HelloEncoder().wrapAndApplyHeader(frame, 4, new MessageHeaderEncoder())
            .protocolMajor(major)
            .protocolMinor(minor)
            .pid(ProcessHandle.current().pid())
            .clientName("raw test client");
        write(frame, MessageHeaderEncoder.ENCODED_LENGTH + hello.encodedLength());
    }

    /**
     * Send an Attach.
     *
     * @param aeronClientId the Aeron client id.
     * @throws IOException on a socket failure.
     */
    public void attach(final long aeronClientId) throws IOException
    {
        final UnsafeBuffer frame = new UnsafeBuffer(new byte[64]);
        final AttachEncoder attach = new AttachEncoder().wrapAndApplyHeader(frame, 4, new MessageHeaderEncoder())
            .aeronClientId(aeronClientId);
        write(frame, MessageHeaderEncoder.ENCODED_LENGTH + attach.encodedLength());
    }

    private void write(final UnsafeBuffer frame, final int length) throws IOException
    {
        frame.putInt(0, length, ByteOrder.LITTLE_ENDIAN);
        final ByteBuffer out = ByteBuffer.wrap(frame.byteArray(), 0, 4 + length);
        while (out.hasRemaining())
        {
            channel.write(out);
        }
    }

    /**
     * Read one frame (blocking).
     *
     * @return the frame, starting with its SBE message header, or null when the broker closed the socket.
     * @throws IOException on a socket failure.
     */
    public UnsafeBuffer readFrame() throws IOException
    {
        final ByteBuffer lengthBuffer = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
        if (!readFully(lengthBuffer))
        {
            return null;
        }
        final ByteBuffer body = ByteBuffer.allocate(lengthBuffer.getInt(0));
        if (!readFully(body))
        {
            return null;
        }
        return new UnsafeBuffer(body.array());
    }

    /**
     * The template id of a frame.
     *
     * @param frame the frame.
     * @return the template id.
     */
    public static int templateId(final UnsafeBuffer frame)
    {
        return new MessageHeaderDecoder().wrap(frame, 0).templateId();
    }

    /**
     * Whether the broker closed the socket: reads and discards until the end.
     *
     * @return true at the end of the stream.
     * @throws IOException on a socket failure other than a reset.
     */
    public boolean readToEnd() throws IOException
    {
        final ByteBuffer buffer = ByteBuffer.allocate(1024);
        try
        {
            while (channel.read(buffer.clear()) >= 0)
            {
                // discard
            }
        }
        catch (final IOException ex)
        {
            return true;
        }
        return true;
    }

    private boolean readFully(final ByteBuffer buffer) throws IOException
    {
        while (buffer.hasRemaining())
        {
            if (channel.read(buffer) < 0)
            {
                return false;
            }
        }
        return true;
    }

    /**
     * Close the socket.
     */
    public void close()
    {
        try
        {
            channel.close();
        }
        catch (final IOException ignore)
        {
            // closing
        }
    }
}
