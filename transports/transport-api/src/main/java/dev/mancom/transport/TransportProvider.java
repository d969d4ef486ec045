package dev.mancom.transport;

import java.util.Set;

/**
 * Entry point of a transport plug-in, found by {@link java.util.ServiceLoader}: a jar lists its implementation in
 * {@code META-INF/services/dev.mancom.transport.TransportProvider}.
 */
public interface TransportProvider
{
    /**
     * The URI schemes this provider serves, such as {@code tcp}.
     *
     * @return the schemes, lower case.
     */
    Set<String> schemes();

    /**
     * Create the transport. The broker calls this once per scheme set, at start-up, and closes the transport when it
     * stops.
     *
     * @param context what the broker gives every transport.
     * @return a new transport.
     */
    Transport create(TransportContext context);
}
