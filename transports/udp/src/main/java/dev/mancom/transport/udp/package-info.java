/**
 * The UDP transport: {@code udp://host:port}, on Netty ({@code EpollDatagramChannel} when native epoll is available,
 * {@code NioDatagramChannel} otherwise).
 *
 * <h2>Message boundaries</h2>
 * <ul>
 *     <li>Each datagram received is one {@code ConnectionHandler.onData} call, with the whole datagram. Through the
 *     broker it is one Data event to the application: the connection says it
 *     {@code keepsMessageBoundaries()}, so the broker waits for credit for the whole datagram rather than split it.
 *     Two limits of the broker remain: a datagram larger than the largest Data payload (65,452 bytes with the
 *     default 64 KiB IPC MTU) reaches the application as two Data events, and so does one larger than three
 *     quarters of the credit window (the window must be able to hold it).</li>
 *     <li>Each {@code write} call is one datagram, sent at the next {@code flush}. The broker's sender makes one
 *     write of each Send command, so one application send (one {@code tryClaim}, or one {@code offer} that took
 *     every byte) is one datagram. The client library splits a send larger than the largest Send payload (65,452
 *     bytes by default) or than the credit it has: keep datagrams below that.</li>
 *     <li>A write larger than {@code max_datagram} (default and most 65,507 bytes, the largest UDP payload over
 *     IPv4) is refused: it is not sent, not split; it is counted and still reported written, so that credit comes
 *     back. An inbound datagram larger than {@code max_datagram} is dropped and counted.</li>
 *     <li>Empty datagrams carry nothing: they are ignored both ways (an empty write sends nothing; an empty
 *     datagram received opens no connection and is not delivered).</li>
 * </ul>
 *
 * <h2>Connections</h2>
 * <ul>
 *     <li>A listener is one bound socket, served by one I/O thread. <b>Each remote address (IP and port) is a
 *     connection</b>: the first datagram from an address that has no connection opens one (the accept handler is
 *     told), and it and the later datagrams from that address are its data. Writes go to that address from the
 *     listener's socket. The local endpoint of these connections is the listener's bound address.</li>
 *     <li>An outbound {@code connect(udp://host:port)} is a connected datagram socket of its own, on an ephemeral
 *     port: it always succeeds when the host resolves (UDP has no handshake), and only datagrams from that address
 *     reach it. ICMP errors (port unreachable) are ignored: the peer may come later.</li>
 *     <li>UDP has no close: a connection with <b>no datagram either way for {@code idle_timeout}</b> (default 60 s)
 *     is closed with {@code CloseReason.TIMEOUT}. A connection whose application has not read every queued datagram
 *     is not idle. Closing a connection (time-out, close, abort) forgets its address: the next datagram from it
 *     opens a new connection.</li>
 *     <li>A listener keeps at most {@code max_connections} connections (default 1,024): datagrams from new
 *     addresses beyond that are dropped and counted. Closing the listener stops opening connections; those already
 *     open go on, on the same socket, which closes (freeing the port) with the last of them.</li>
 * </ul>
 *
 * <h2>Back pressure: none on the wire</h2>
 * UDP has no flow control, so the socket is always read. While the application does not read (the broker paused the
 * connection because its credit window is used up), datagrams are queued, copied, up to {@code queue_bytes} of
 * payload per connection (default 64 KiB), and delivered in order once reading resumes; <b>beyond that bound they
 * are dropped and counted</b>, never buffered without limit. Memory is therefore bounded by
 * {@code max_connections x queue_bytes} per listener (64 MiB at the defaults). Datagrams the kernel drops because
 * the socket's receive buffer is full are not seen and not counted. Counts of dropped datagrams are logged when a
 * connection that dropped any closes; tests read them through the package's {@code UdpConnection.droppedDatagrams()},
 * {@code UdpConnection.droppedWrites()} and {@code UdpListener.refusedDatagrams()}.
 *
 * <h2>URI parameters</h2>
 * <ul>
 *     <li>{@code idle_timeout}: a duration such as {@code 500ms}, {@code 30s}, {@code 5m}, {@code 1h} (a number alone
 *     is seconds); default 60 s.</li>
 *     <li>{@code max_connections}: connections a listener keeps open at once; default 1,024 (ignored by connect).</li>
 *     <li>{@code queue_bytes}: payload bytes queued per connection while it is not read; default 65,536.</li>
 *     <li>{@code max_datagram}: largest datagram sent or accepted, 1 to 65,507; default 65,507.</li>
 * </ul>
 * Any other parameter, a missing host or port, or a port outside 0..65535 is refused with a
 * {@code TransportException} naming it. Port 0 listens on an ephemeral port; connecting to port 0 is refused.
 */
package dev.mancom.transport.udp;
