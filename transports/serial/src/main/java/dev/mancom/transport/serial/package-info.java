/**
 * The serial-port transport, on jSerialComm (whose types stay in this package).
 * <pre>
 * serial:///dev/ttyUSB0[?baud=115200][&amp;data_bits=8][&amp;parity=none][&amp;stop_bits=1][&amp;flow_control=none]
 * </pre>
 * <ul>
 *     <li>{@code baud}: 50 to 4000000, default 115200 (rates without a termios constant are set as custom rates,
 *     where the driver allows).</li>
 *     <li>{@code data_bits}: 5 to 8, default 8.</li>
 *     <li>{@code parity}: {@code none} (default), {@code even}, {@code odd}, {@code mark}, {@code space}.</li>
 *     <li>{@code stop_bits}: {@code 1} (default), {@code 2}, or {@code 1.5} with {@code data_bits=5}.</li>
 *     <li>{@code flow_control}: {@code none} (default), {@code rts_cts}, {@code xon_xoff}.</li>
 * </ul>
 * Any other parameter, or a value out of range, is refused with a
 * {@link dev.mancom.transport.TransportException} whose key is the parameter's name.
 * <p>
 * <b>Listen</b>: the port is one connection. If the device is there, it is opened at once (a device that is there
 * but cannot be opened is refused: permission, in use, not a serial port). If it is not there, the listener waits
 * for it to appear, looking every 250 ms, and logs one line saying so. When the device goes away (a read or write
 * fails, as when a USB adapter is pulled or the process behind a pseudo-terminal ends) the connection closes with
 * {@code DEVICE_GONE} and the listener waits for the device to come back, then opens a new connection. A connection
 * closed for any other reason is followed by a new one too, while the listener is open; one the broker refused
 * (no application accepts the service) is followed by the next after a back-off that grows to 2 s, so that an
 * unowned service does not churn its port. Closing the listener stops this; a connection already open goes on until
 * it is closed.
 * <p>
 * <b>Connect</b> opens the device and reports the connection, or why it cannot be opened (such as
 * {@code no such device /dev/ttyUSB0}), once.
 * <p>
 * <b>Back pressure</b>: a paused connection does not read its port. A pseudo-terminal then holds its writer back; a
 * real line holds the far end back only with {@code rts_cts} or {@code xon_xoff}. Without flow control, bytes that
 * arrive once the kernel's tty buffer is full are lost by the driver. Writes block until the kernel takes the bytes
 * (its output buffer for a UART is a few KiB), so {@code onWritten} follows the line's speed; a close waits until the
 * kernel has sent them before it closes the port (closing discards what is left). A serial line has no
 * end of stream: there is no {@code REMOTE_CLOSED}.
 * <p>
 * <b>Threads</b>: each open port has a reader and a writer thread; one watcher thread per transport opens ports and
 * waits for devices. jSerialComm's native library, loaded on the first open, makes the process ignore
 * {@code SIGHUP} and a few other signals; the transport saves their actions before and puts them back after.
 */
package dev.mancom.transport.serial;
