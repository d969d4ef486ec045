package dev.mancom.broker.internal;

import org.agrona.concurrent.ManyToOneConcurrentLinkedQueue;

import java.util.function.Consumer;

/**
 * Commands for an agent from other threads: any thread offers, the agent's own thread drains and runs them in
 * order. Unbounded; used on admin paths only (registration, client lifecycle), never per message.
 */
final class CommandQueue
{
    private final ManyToOneConcurrentLinkedQueue<Runnable> queue = new ManyToOneConcurrentLinkedQueue<>();

    /**
     * Add a command. Any thread.
     *
     * @param command the command.
     */
    void offer(final Runnable command)
    {
        queue.offer(command);
    }

    /**
     * Whether no command waits. Any thread.
     *
     * @return true when empty.
     */
    boolean isEmpty()
    {
        return queue.isEmpty();
    }

    /**
     * Run every waiting command. The agent's thread only.
     *
     * @param runner runs one command (and decides what to do with its failure).
     * @return how many commands ran.
     */
    int drain(final Consumer<Runnable> runner)
    {
        int count = 0;
        Runnable command;
        while (null != (command = queue.poll()))
        {
            runner.accept(command);
            count++;
        }
        return count;
    }
}
