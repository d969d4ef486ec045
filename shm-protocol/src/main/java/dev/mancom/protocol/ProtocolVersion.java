package dev.mancom.protocol;

import dev.mancom.protocol.codecs.MessageHeaderDecoder;

/**
 * The protocol version spoken by this build. Clients and brokers of different major versions refuse each other
 * at handshake; a different minor version is compatible.
 */
public final class ProtocolVersion
{
    /** Major version: incompatible changes. */
    public static final int MAJOR = 1;

    /** Minor version: compatible additions. Equal to the SBE schema version. */
    public static final int MINOR = MessageHeaderDecoder.SCHEMA_VERSION;

    private ProtocolVersion()
    {
    }

    /**
     * The version as {@code major.minor}.
     *
     * @param major major version.
     * @param minor minor version.
     * @return printable form.
     */
    public static String toString(final int major, final int minor)
    {
        return major + "." + minor;
    }
}
