package dev.mancom.bench;

import java.util.concurrent.TimeUnit;

/**
 * The settings of the rounds and of the ping-pong and streaming loads, as both echo benchmarks resolve them from
 * their options ({@link BenchmarkOptions}).
 *
 * @param rounds              interleaved rounds.
 * @param pingPongWarmupCount ping-pong round trips not recorded, per round and target.
 * @param pingPongCount       ping-pong round trips recorded, per round and target.
 * @param messageSizeBytes    ping-pong message size.
 * @param streamBufferBytes   size of each streaming write.
 * @param streamWarmupNs      streaming before measuring, per round and target.
 * @param streamDurationNs    streaming measured, per round and target.
 * @param quick               whether {@code --quick} chose the defaults.
 */
public record LoadSettings(
    int rounds,
    long pingPongWarmupCount,
    long pingPongCount,
    int messageSizeBytes,
    int streamBufferBytes,
    long streamWarmupNs,
    long streamDurationNs,
    boolean quick)
{
    /** How long an echo may stand still before a load fails. */
    static final long STALL_TIMEOUT_NS = TimeUnit.SECONDS.toNanos(15);

    /**
     * What each ping-pong run does.
     *
     * @return the plan: the warm-up and the round trips recorded, no pause.
     */
    PingPongLoad.Plan pingPongPlan()
    {
        return new PingPongLoad.Plan(messageSizeBytes, pingPongWarmupCount, pingPongCount, 0, STALL_TIMEOUT_NS);
    }

    /**
     * What each streaming run does.
     *
     * @return the plan.
     */
    StreamingLoad.Plan streamingPlan()
    {
        return new StreamingLoad.Plan(streamBufferBytes, streamWarmupNs, streamDurationNs, STALL_TIMEOUT_NS);
    }

    /**
     * The settings as the options that give them.
     *
     * @return such as {@code --rounds 3 --pingpong-warmup 20000 ...}.
     */
    public String toOptions()
    {
        return (quick ? "--quick " : "") +
            "--rounds " + rounds +
            " --pingpong-warmup " + pingPongWarmupCount +
            " --pingpong-count " + pingPongCount +
            " --message-size " + messageSizeBytes +
            " --warmup-seconds " + BenchmarkReport.plain(streamWarmupNs / 1e9) +
            " --stream-seconds " + BenchmarkReport.plain(streamDurationNs / 1e9);
    }
}
