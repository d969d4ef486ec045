package dev.mancom.broker.internal;

/**
 * A client's registration to accept the connections of a service. Conductor only.
 */
final class Acceptor
{
    private final long id;
    private final ClientSession owner;
    private final ServiceState service;

    Acceptor(final long id, final ClientSession owner, final ServiceState service)
    {
        this.id = id;
        this.owner = owner;
        this.service = service;
    }

    long id()
    {
        return id;
    }

    ClientSession owner()
    {
        return owner;
    }

    ServiceState service()
    {
        return service;
    }

    public String toString()
    {
        return "acceptor " + id + " of '" + service.name() + "' by " + owner;
    }
}
