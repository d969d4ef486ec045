package dev.mancom.transport.serial;

import com.fazecast.jSerialComm.SerialPort;
import com.fazecast.jSerialComm.SerialPortInvalidPortException;
import com.sun.jna.Function;
import com.sun.jna.Memory;
import com.sun.jna.NativeLibrary;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;

/**
 * Opens jSerialComm ports with the settings of a URI, turning its error numbers into messages, and loads its native
 * library in a way that keeps the process's {@code SIGHUP} handler. Thread safe.
 */
final class SerialPorts
{
    /**
     * Read time-out: a reader thread blocks in {@code read} at most this long (the tty's {@code VTIME} counts
     * tenths of a second), then looks at its flags. Bounds how long a close or a pause takes to be seen.
     */
    static final int READ_TIMEOUT_MS = 100;

    private static final Logger LOG = LoggerFactory.getLogger(SerialPorts.class);
    private static final int ENOENT = 2;
    private static final int EACCES = 13;
    private static final int EBUSY = 16;
    private static final int ENOTTY = 25;
    private static final int EWOULDBLOCK = 11;
    private static final Object LOAD_LOCK = new Object();
    private static volatile boolean loaded;

    private SerialPorts()
    {
    }

    /**
     * Open the device of a URI and apply its settings. Does not block for long: the device is opened without waiting
     * for a carrier.
     *
     * @param options the URI's settings.
     * @return the open port, reads blocking for at most {@link #READ_TIMEOUT_MS}, writes blocking until the kernel has
     *         taken the bytes (not until they are sent: a {@code tcdrain} after each write would halve throughput).
     * @throws IOException saying why the device cannot be opened, naming it.
     */
    static SerialPort open(final SerialOptions options) throws IOException
    {
        ensureLoaded();
        final String path = options.path;
        if (!Files.exists(Path.of(path)))
        {
            throw new IOException("no such device " + path);
        }
        final SerialPort port;
        try
        {
            port = SerialPort.getCommPort(path);
        }
        catch (final SerialPortInvalidPortException ex)
        {
            throw new IOException("no such device " + path, ex);
        }
        port.setComPortParameters(
            options.baud, options.dataBits, stopBits(options.stopBits), parity(options.parity), false);
        port.setFlowControl(flowControl(options.flowControl));
        port.setComPortTimeouts(
            SerialPort.TIMEOUT_READ_SEMI_BLOCKING, READ_TIMEOUT_MS, 0);
        if (!port.openPort())
        {
            throw new IOException("cannot open serial device " + path + ": " + reason(path, port.getLastErrorCode()));
        }
        return port;
    }

    /**
     * Words for an error number of a read or a write.
     *
     * @param errno the number jSerialComm reports.
     * @return such as {@code input/output error (errno 5)}.
     */
    static String describe(final int errno)
    {
        switch (errno)
        {
            case 5:
                return "input/output error, the device is gone (errno 5)";
            case 9:
                return "the port is closed (errno 9)";
            case 19:
                return "no such device (errno 19)";
            default:
                return "errno " + errno;
        }
    }

    private static String reason(final String path, final int errno)
    {
        switch (errno)
        {
            case ENOENT:
                return Files.exists(Path.of(path)) ?
                    "it is already open in this process" : "no such device (errno 2)";
            case EACCES:
                return "permission denied (errno 13): the broker's user needs read and write access, often by " +
                    "the group that owns the device, such as dialout";
            case EBUSY:
            case EWOULDBLOCK:
                return "it is in use by another process (errno " + errno + ")";
            case ENOTTY:
                return "it is not a serial port or terminal (errno 25)";
            default:
                return "errno " + errno;
        }
    }

    private static int stopBits(final SerialOptions.StopBits stopBits)
    {
        switch (stopBits)
        {
            case ONE_POINT_FIVE:
                // termios has no 1.5: two stop bits after 5-bit characters are 1.5 on the wire (checked by
                // SerialOptions).
            case TWO:
                return SerialPort.TWO_STOP_BITS;
            case ONE:
            default:
                return SerialPort.ONE_STOP_BIT;
        }
    }

    private static int parity(final SerialOptions.Parity parity)
    {
        switch (parity)
        {
            case EVEN:
                return SerialPort.EVEN_PARITY;
            case ODD:
                return SerialPort.ODD_PARITY;
            case MARK:
                return SerialPort.MARK_PARITY;
            case SPACE:
                return SerialPort.SPACE_PARITY;
            case NONE:
            default:
                return SerialPort.NO_PARITY;
        }
    }

    private static int flowControl(final SerialOptions.FlowControl flowControl)
    {
        switch (flowControl)
        {
            case RTS_CTS:
                return SerialPort.FLOW_CONTROL_RTS_ENABLED | SerialPort.FLOW_CONTROL_CTS_ENABLED;
            case XON_XOFF:
                return SerialPort.FLOW_CONTROL_XONXOFF_IN_ENABLED | SerialPort.FLOW_CONTROL_XONXOFF_OUT_ENABLED;
            case NONE:
            default:
                return SerialPort.FLOW_CONTROL_DISABLED;
        }
    }

    /**
     * Load jSerialComm's native library once. When it loads it sets {@code SIGHUP}, {@code SIGUSR1},
     * {@code SIGUSR2}, {@code SIGCONT}, {@code SIGTTIN}, {@code SIGTTOU} and {@code SIGIO} to be ignored for the whole
     * process. That would silence the broker's reload signal and the JVM's own handlers, and Java cannot undo it (the
     * JVM refuses to handle a hang-up that is ignored, as it must under {@code nohup}); so each signal's action is
     * saved before and put back after, through the C library's {@code sigaction}.
     */
    static void ensureLoaded()
    {
        if (loaded)
        {
            return;
        }
        synchronized (LOAD_LOCK)
        {
            if (loaded)
            {
                return;
            }
            final SignalActions saved = SignalActions.save();
            try
            {
                // Looking up a port needs the native library, which loads it.
                SerialPort.getCommPort("/dev/null");
            }
            catch (final SerialPortInvalidPortException ignore)
            {
                // Only the loading mattered.
            }
            finally
            {
                saved.restore();
                loaded = true;
            }
        }
    }

    /**
     * The actions of the signals jSerialComm changes, as the C library's {@code struct sigaction} bytes.
     */
    private static final class SignalActions
    {
        /**
         * SIGHUP, SIGUSR1, SIGUSR2, SIGCONT, SIGTTIN, SIGTTOU, SIGIO: the same numbers on Linux for x86, ARM and
         * RISC-V (not on MIPS, SPARC or Alpha, where nothing is saved).
         */
        private static final int[] SIGNALS = { 1, 10, 12, 18, 21, 22, 29 };
        private static final Set<String> ARCHES = Set.of("amd64", "x86_64", "aarch64", "arm", "riscv64", "x86");
        /** Larger than {@code struct sigaction} on any of those (152 bytes on x86-64). */
        private static final int ACTION_LENGTH = 256;

        private final Function sigaction;
        private final Memory[] actions;

        private SignalActions(final Function sigaction, final Memory[] actions)
        {
            this.sigaction = sigaction;
            this.actions = actions;
        }

        static SignalActions save()
        {
            if (!"Linux".equals(System.getProperty("os.name")) ||
                !ARCHES.contains(System.getProperty("os.arch")))
            {
                LOG.info("jSerialComm makes the process ignore SIGHUP here (signal actions are kept on Linux only)");
                return new SignalActions(null, new Memory[0]);
            }
            try
            {
                final Function sigaction = NativeLibrary.getInstance("c").getFunction("sigaction");
                final Memory[] actions = new Memory[SIGNALS.length];
                for (int i = 0; i < SIGNALS.length; i++)
                {
                    final Memory action = new Memory(ACTION_LENGTH);
                    if (0 == sigaction.invokeInt(new Object[]{ SIGNALS[i], null, action }))
                    {
                        actions[i] = action;
                    }
                }
                return new SignalActions(sigaction, actions);
            }
            catch (final RuntimeException | LinkageError ex)
            {
                LOG.warn("cannot keep signal actions across loading jSerialComm, SIGHUP will be ignored: {}",
                    ex.toString());
                return new SignalActions(null, new Memory[0]);
            }
        }

        void restore()
        {
            for (int i = 0; i < actions.length; i++)
            {
                if (null != actions[i] && 0 != sigaction.invokeInt(new Object[]{ SIGNALS[i], actions[i], null }))
                {
                    LOG.warn("cannot put back the action of signal {} after loading jSerialComm", SIGNALS[i]);
                }
            }
        }
    }
}
