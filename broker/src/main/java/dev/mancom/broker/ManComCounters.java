package dev.mancom.broker;

/**
 * Type ids of the counters the broker keeps in the Aeron counters file.
 */
public final class ManComCounters
{
    /** Errors the broker recorded (protocol violations, agent errors). */
    public static final int ERRORS_TYPE_ID = 7001;

    /** Doorbell flags: the sender's and each client's (see {@link dev.mancom.protocol.Doorbell}). */
    public static final int DOORBELL_TYPE_ID = 7002;

    private ManComCounters()
    {
    }
}
