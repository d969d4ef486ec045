package dev.mancom.transport.testkit;

import java.io.File;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.awaitility.Awaitility.await;

/**
 * Two pseudo-terminals joined by {@code socat}, as a null-modem cable between two serial ports: what is written to
 * one end is read from the other, in raw mode. Each end is a symbolic link in a directory of the test's own
 * ({@code A} for the transport, {@code B} for the test's {@link #peer()}), to the {@code /dev/pts/N} that socat
 * made. Stopping socat is the device going away (reads and writes of the ends fail, and socat removes the links);
 * {@link #start()} again is the device coming back, under the same names.
 * <p>
 * {@code socat} is installed by {@code scripts/ensure-packages} when missing (as root), which the first pair calls.
 */
public final class PtyPair implements AutoCloseable
{
    private static volatile boolean socatChecked;

    private final Path a;
    private final Path b;
    private final Path log;
    private Process socat;

    /**
     * A pair whose ends will be {@code DIR/NAME-a} and {@code DIR/NAME-b}; nothing runs until {@link #start()}.
     *
     * @param dir  a directory of the test's own.
     * @param name distinguishes pairs in one directory.
     */
    public PtyPair(final Path dir, final String name)
    {
        this.a = dir.resolve(name + "-a");
        this.b = dir.resolve(name + "-b");
        this.log = dir.resolve(name + "-socat.log");
    }

    /**
     * Start a pair and wait until both ends are there.
     *
     * @param dir  a directory of the test's own.
     * @param name distinguishes pairs in one directory.
     * @return the running pair.
     * @throws IOException when socat cannot be started.
     */
    public static PtyPair open(final Path dir, final String name) throws IOException
    {
        final PtyPair pair = new PtyPair(dir, name);
        pair.start();
        return pair;
    }

    /**
     * The end a transport opens.
     *
     * @return the path of the link.
     */
    public Path a()
    {
        return a;
    }

    /**
     * The end the test drives.
     *
     * @return the path of the link.
     */
    public Path b()
    {
        return b;
    }

    /**
     * Start socat (again) and wait until both ends are there.
     *
     * @throws IOException when socat cannot be started or does not make the ends within the deadline.
     */
    public synchronized void start() throws IOException
    {
        ensureSocat();
        if (null != socat && socat.isAlive())
        {
            throw new IllegalStateException("socat runs already for " + a);
        }
        socat = new ProcessBuilder(
            "socat", "-d", "-d", "pty,raw,echo=0,link=" + a, "pty,raw,echo=0,link=" + b)
            .redirectErrorStream(true)
            .redirectOutput(ProcessBuilder.Redirect.to(log.toFile()))
            .start();
        final Process started = socat;
        // socat links the ends before it enters its transfer loop; the log says when it has.
        await().atMost(TransportTestSupport.DEADLINE).until(() ->
        {
            if (!started.isAlive())
            {
                throw new IOException("socat exited with " + started.exitValue() + ": " + readLog());
            }
            return Files.exists(a) && Files.exists(b) && readLog().contains("starting data transfer loop");
        });
    }

    /**
     * Stop socat, as a device that goes away: the ends fail and their links go. Waits until socat has exited.
     *
     * @throws InterruptedException when interrupted.
     */
    public synchronized void stop() throws InterruptedException
    {
        if (null != socat)
        {
            socat.destroy();
            if (!socat.waitFor(TransportTestSupport.DEADLINE_SECONDS, TimeUnit.SECONDS))
            {
                socat.destroyForcibly().waitFor();
            }
            socat = null;
        }
    }

    /**
     * Open the test's end ({@code B}) as a raw peer.
     *
     * @return the peer; closing it does not stop socat.
     * @throws IOException when the end cannot be opened.
     */
    public PtyPeer peer() throws IOException
    {
        // Two channels: a file channel's reads and writes share a lock, and a read blocks until bytes come.
        final FileChannel in = FileChannel.open(b, StandardOpenOption.READ);
        try
        {
            return new PtyPeer(in, FileChannel.open(b, StandardOpenOption.WRITE));
        }
        catch (final IOException ex)
        {
            in.close();
            throw ex;
        }
    }

    /**
     * Stop socat. Idempotent.
     */
    public void close()
    {
        try
        {
            stop();
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
        }
    }

    private String readLog() throws IOException
    {
        return Files.exists(log) ? Files.readString(log, StandardCharsets.UTF_8).trim() : "";
    }

    /**
     * Make sure socat is installed, through {@code scripts/ensure-packages} of the repository that the working
     * directory is in.
     *
     * @throws IOException when it is missing and cannot be installed, saying what to do.
     */
    public static void ensureSocat() throws IOException
    {
        if (socatChecked)
        {
            return;
        }
        Path dir = Path.of("").toAbsolutePath();
        while (null != dir && !Files.isExecutable(dir.resolve("scripts/ensure-packages")))
        {
            dir = dir.getParent();
        }
        if (null == dir)
        {
            throw new IOException("no scripts/ensure-packages above " + Path.of("").toAbsolutePath() +
                "; install socat");
        }
        final File output = File.createTempFile("ensure-packages", ".log");
        try
        {
            final Process process = new ProcessBuilder(List.of(dir.resolve("scripts/ensure-packages").toString(),
                "socat")).redirectErrorStream(true).redirectOutput(output).start();
            final int status = process.waitFor();
            if (0 != status)
            {
                throw new IOException("scripts/ensure-packages socat failed (" + status + "): " +
                    Files.readString(output.toPath(), StandardCharsets.UTF_8).trim());
            }
            socatChecked = true;
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while installing socat", ex);
        }
        finally
        {
            Files.deleteIfExists(output.toPath());
        }
    }

    /**
     * A pseudo-terminal end as a {@link RawPeer}: blocking reads and writes on its file; a close from another thread
     * ends a blocked read or write. A pseudo-terminal has no end of stream, so {@link #read} returns -1 only when
     * the device has gone (socat stopped).
     */
    public static final class PtyPeer implements RawPeer
    {
        private final FileChannel in;
        private final FileChannel out;

        PtyPeer(final FileChannel in, final FileChannel out)
        {
            this.in = in;
            this.out = out;
        }

        /**
         * {@inheritDoc}
         */
        public void write(final byte[] bytes, final int offset, final int length) throws IOException
        {
            final ByteBuffer buffer = ByteBuffer.wrap(bytes, offset, length);
            while (buffer.hasRemaining())
            {
                out.write(buffer);
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
            int n;
            do
            {
                try
                {
                    n = in.read(ByteBuffer.wrap(bytes, offset, length));
                }
                catch (final IOException ex)
                {
                    if (in.isOpen() && String.valueOf(ex.getMessage()).contains("Input/output error"))
                    {
                        // The other end has gone: the end of this one.
                        return -1;
                    }
                    throw ex;
                }
            }
            while (0 == n);
            return n;
        }

        /**
         * {@inheritDoc}
         */
        public void close() throws IOException
        {
            try
            {
                in.close();
            }
            finally
            {
                out.close();
            }
        }
    }
}
