package dev.mancom.bench;

import org.agrona.DirectBuffer;
import org.agrona.concurrent.IdleStrategy;

/**
 * A client's end of an echo over a polled API (raw Aeron, ManCom): offer bytes without blocking, poll to receive
 * the echo. {@link PipeLoads} runs the ping-pong and streaming loads over it. One thread polls; a second one may
 * offer.
 */
interface EchoPipe extends AutoCloseable
{
    /**
     * Receives the echoed bytes, on the polling thread.
     */
    @FunctionalInterface
    interface Receiver
    {
        /**
         * Bytes came back.
         *
         * @param buffer holds them, valid during the call only.
         * @param offset where they start.
         * @param length how many.
         */
        void onBytes(DirectBuffer buffer, int offset, int length);
    }

    /**
     * The target's name, for messages.
     *
     * @return the name.
     */
    String name();

    /**
     * Send bytes without blocking.
     *
     * @param buffer holds them.
     * @param offset where they start.
     * @param length how many.
     * @return bytes taken (1 to {@code length}), or 0 when back-pressured.
     * @throws BenchmarkException when the echo is gone.
     */
    int offer(DirectBuffer buffer, int offset, int length);

    /**
     * Hand what came back to a receiver.
     *
     * @param receiver gets the bytes.
     * @return the work done, 0 when there was nothing.
     */
    int poll(Receiver receiver);

    /**
     * Idle the polling thread after a {@link #poll(Receiver)}, as the target's profile does.
     *
     * @param workCount what the poll returned.
     */
    void idle(int workCount);

    /**
     * A new idle strategy for a thread that waits to offer again after being back-pressured.
     *
     * @return the strategy.
     */
    IdleStrategy newOfferIdleStrategy();

    /**
     * Stop: release the streams or the connection.
     */
    void close();
}
