package dev.mancom.bench;

import org.HdrHistogram.Histogram;

import java.util.List;
import java.util.function.Function;

/**
 * The round-trip times of one ping-pong run, as its percentiles, or the medians of several runs' percentiles.
 *
 * @param p50Ns  median round-trip time in nanoseconds.
 * @param p90Ns  90th percentile round-trip time in nanoseconds.
 * @param p99Ns  99th percentile round-trip time in nanoseconds.
 * @param p999Ns 99.9th percentile round-trip time in nanoseconds.
 * @param maxNs  longest round-trip time in nanoseconds.
 * @param count  round trips recorded.
 */
public record Percentiles(double p50Ns, double p90Ns, double p99Ns, double p999Ns, double maxNs, long count)
{
    /**
     * The percentiles of recorded round-trip times.
     *
     * @param histogram the round-trip times in nanoseconds.
     * @return their percentiles.
     */
    static Percentiles of(final Histogram histogram)
    {
        return new Percentiles(
            histogram.getValueAtPercentile(50.0),
            histogram.getValueAtPercentile(90.0),
            histogram.getValueAtPercentile(99.0),
            histogram.getValueAtPercentile(99.9),
            histogram.getMaxValue(),
            histogram.getTotalCount());
    }

    /**
     * The median of each percentile over rounds.
     *
     * @param rounds      the figures of each round.
     * @param percentiles which percentiles of a round's figures.
     * @param <T>         the type of a round's figures.
     * @return the medians; the maximum is the median of the rounds' maxima.
     */
    static <T> Percentiles median(final List<T> rounds, final Function<T, Percentiles> percentiles)
    {
        final List<Percentiles> values = rounds.stream().map(percentiles).toList();
        return new Percentiles(
            BenchmarkReport.median(values, Percentiles::p50Ns),
            BenchmarkReport.median(values, Percentiles::p90Ns),
            BenchmarkReport.median(values, Percentiles::p99Ns),
            BenchmarkReport.median(values, Percentiles::p999Ns),
            BenchmarkReport.median(values, Percentiles::maxNs),
            Math.round(BenchmarkReport.median(values, Percentiles::count)));
    }
}
