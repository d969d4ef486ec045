package dev.mancom.broker;

/**
 * Type ids of the counters the broker keeps in the Aeron counters file.
 */
public final class ManComCounters
{
    /** Errors the broker recorded (protocol violations, agent errors). */
    public static final int ERRORS_TYPE_ID = 7001;

    private ManComCounters()
    {
    }
}
