package dev.mancom.broker.internal;

/**
 * An app-to-app connection: one application connected to a service that another application on this machine
 * accepts. Its bytes do not pass through the broker: each side publishes them straight into the other's peer
 * stream. The broker only introduced the two, and remembers the connection until both sides have closed it or one
 * has died, to tell the survivor. Conductor only.
 */
final class LocalLink
{
    private final long id;
    private final String service;
    private final ClientSession acceptorSide;
    private final ClientSession connectorSide;
    private boolean acceptorClosed;
    private boolean connectorClosed;

    LocalLink(final long id, final String service, final ClientSession acceptorSide, final ClientSession connectorSide)
    {
        this.id = id;
        this.service = service;
        this.acceptorSide = acceptorSide;
        this.connectorSide = connectorSide;
    }

    long id()
    {
        return id;
    }

    String service()
    {
        return service;
    }

    ClientSession acceptorSide()
    {
        return acceptorSide;
    }

    ClientSession connectorSide()
    {
        return connectorSide;
    }

    boolean isSide(final ClientSession client)
    {
        return client == acceptorSide || client == connectorSide;
    }

    ClientSession peerOf(final ClientSession client)
    {
        return client == acceptorSide ? connectorSide : acceptorSide;
    }

    /**
     * One side closed its end.
     *
     * @param client the side.
     * @return true when both sides have now closed.
     */
    boolean onClosedBy(final ClientSession client)
    {
        if (client == acceptorSide)
        {
            acceptorClosed = true;
        }
        if (client == connectorSide)
        {
            connectorClosed = true;
        }
        return acceptorClosed && connectorClosed;
    }

    boolean isClosedBy(final ClientSession client)
    {
        return client == acceptorSide ? acceptorClosed : connectorClosed;
    }

    public String toString()
    {
        return "app-to-app connection " + id + " of '" + service + "' from " + connectorSide + " to " + acceptorSide;
    }
}
