/**
 * End-to-end benchmarks of ManCom, each figure printed beside its reference measured in the same run.
 * <p>
 * {@link dev.mancom.bench.TransportEchoBenchmark}: echo over TCP, a Unix domain socket or UDP through the broker and
 * an echo application against a plain Netty echo server on the same transport
 * ({@link dev.mancom.bench.NettyEchoServer}). Run it from the repository root with
 * {@code benchmarks/run transport-echo --transport tcp|unix|udp [options]}; {@code benchmarks/run tcp-echo} is the
 * TCP run.
 * <p>
 * {@link dev.mancom.bench.LocalEchoBenchmark}: an echo between two processes of one machine, ManCom's app-to-app
 * path (default and low-latency profiles) against loopback TCP, a Unix domain socket and raw Aeron IPC
 * ({@link dev.mancom.bench.LocalEchoServer}). Run it with {@code benchmarks/run local-echo [options]}.
 */
package dev.mancom.bench;
