package dev.mancom.protocol;

import dev.mancom.protocol.codecs.AcceptorRegisteredDecoder;
import dev.mancom.protocol.codecs.AcceptorRegisteredEncoder;
import dev.mancom.protocol.codecs.AttachDecoder;
import dev.mancom.protocol.codecs.AttachEncoder;
import dev.mancom.protocol.codecs.CloseDecoder;
import dev.mancom.protocol.codecs.CloseEncoder;
import dev.mancom.protocol.codecs.CloseReason;
import dev.mancom.protocol.codecs.CommandOkDecoder;
import dev.mancom.protocol.codecs.CommandOkEncoder;
import dev.mancom.protocol.codecs.ConnectDecoder;
import dev.mancom.protocol.codecs.ConnectEncoder;
import dev.mancom.protocol.codecs.ConnectionClosedDecoder;
import dev.mancom.protocol.codecs.ConnectionClosedEncoder;
import dev.mancom.protocol.codecs.ConnectionOpenedDecoder;
import dev.mancom.protocol.codecs.ConnectionOpenedEncoder;
import dev.mancom.protocol.codecs.CreditDecoder;
import dev.mancom.protocol.codecs.CreditEncoder;
import dev.mancom.protocol.codecs.DataDecoder;
import dev.mancom.protocol.codecs.DataEncoder;
import dev.mancom.protocol.codecs.EndpointRole;
import dev.mancom.protocol.codecs.ErrorCode;
import dev.mancom.protocol.codecs.ErrorDecoder;
import dev.mancom.protocol.codecs.ErrorEncoder;
import dev.mancom.protocol.codecs.HelloDecoder;
import dev.mancom.protocol.codecs.HelloEncoder;
import dev.mancom.protocol.codecs.MessageHeaderDecoder;
import dev.mancom.protocol.codecs.MessageHeaderEncoder;
import dev.mancom.protocol.codecs.QueryServiceDecoder;
import dev.mancom.protocol.codecs.QueryServiceEncoder;
import dev.mancom.protocol.codecs.RefusedDecoder;
import dev.mancom.protocol.codecs.RefusedEncoder;
import dev.mancom.protocol.codecs.RegisterAcceptorDecoder;
import dev.mancom.protocol.codecs.ReloadDecoder;
import dev.mancom.protocol.codecs.ReloadEncoder;
import dev.mancom.protocol.codecs.ReloadResultDecoder;
import dev.mancom.protocol.codecs.ReloadResultEncoder;
import dev.mancom.protocol.codecs.ReloadStatus;
import dev.mancom.protocol.codecs.RegisterAcceptorEncoder;
import dev.mancom.protocol.codecs.SendCreditDecoder;
import dev.mancom.protocol.codecs.SendCreditEncoder;
import dev.mancom.protocol.codecs.SendDecoder;
import dev.mancom.protocol.codecs.SendEncoder;
import dev.mancom.protocol.codecs.ServiceReadiness;
import dev.mancom.protocol.codecs.ServiceStatusDecoder;
import dev.mancom.protocol.codecs.ServiceStatusEncoder;
import dev.mancom.protocol.codecs.TransportType;
import dev.mancom.protocol.codecs.UnregisterAcceptorDecoder;
import dev.mancom.protocol.codecs.UnregisterAcceptorEncoder;
import dev.mancom.protocol.codecs.WelcomeDecoder;
import dev.mancom.protocol.codecs.WelcomeEncoder;
import org.agrona.ExpandableArrayBuffer;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import java.net.InetSocketAddress;
import java.nio.ByteOrder;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Every message of the schema, encoded and decoded back.
 */
class CodecRoundTripTest
{
    private final ExpandableArrayBuffer buffer = new ExpandableArrayBuffer(1024);
    private final MessageHeaderEncoder headerEncoder = new MessageHeaderEncoder();
    private final MessageHeaderDecoder headerDecoder = new MessageHeaderDecoder();

    private int body(final int templateId)
    {
        headerDecoder.wrap(buffer, 0);
        assertEquals(templateId, headerDecoder.templateId());
        assertEquals(MessageHeaderDecoder.SCHEMA_ID, headerDecoder.schemaId());
        return MessageHeaderDecoder.ENCODED_LENGTH;
    }

    @Test
    void shouldRoundTripTheServiceQueryOfVersion2()
    {
        new QueryServiceEncoder().wrapAndApplyHeader(buffer, 0, headerEncoder)
            .correlationId(77).service("modem");
        final QueryServiceDecoder query = new QueryServiceDecoder().wrap(buffer,
            body(QueryServiceDecoder.TEMPLATE_ID), QueryServiceDecoder.BLOCK_LENGTH,
            QueryServiceDecoder.SCHEMA_VERSION);
        assertEquals(77, query.correlationId());
        assertEquals("modem", query.service());

        new ServiceStatusEncoder().wrapAndApplyHeader(buffer, 0, headerEncoder)
            .correlationId(77)
            .readiness(ServiceReadiness.NOT_READY)
            .listeners(2)
            .readyListeners(1)
            .detail("'serial:///dev/ttyUSB0' waits for its device");
        final ServiceStatusDecoder status = new ServiceStatusDecoder().wrap(buffer,
            body(ServiceStatusDecoder.TEMPLATE_ID), ServiceStatusDecoder.BLOCK_LENGTH,
            ServiceStatusDecoder.SCHEMA_VERSION);
        assertEquals(77, status.correlationId());
        assertEquals(ServiceReadiness.NOT_READY, status.readiness());
        assertEquals(2, status.listeners());
        assertEquals(1, status.readyListeners());
        assertEquals("'serial:///dev/ttyUSB0' waits for its device", status.detail());
        assertEquals(2, ProtocolVersion.MINOR);
    }

    @Test
    void shouldRoundTripHandshakeMessages()
    {
        new HelloEncoder().wrapAndApplyHeader(buffer, 0, headerEncoder)
            .protocolMajor(1).protocolMinor(2).pid(4242).clientName("app");
        final HelloDecoder hello = new HelloDecoder().wrap(buffer, body(HelloDecoder.TEMPLATE_ID),
            HelloDecoder.BLOCK_LENGTH, HelloDecoder.SCHEMA_VERSION);
        assertEquals(1, hello.protocolMajor());
        assertEquals(2, hello.protocolMinor());
        assertEquals(4242, hello.pid());
        assertEquals("app", hello.clientName());

        new WelcomeEncoder().wrapAndApplyHeader(buffer, 0, headerEncoder)
            .clientId(7).brokerPid(99).commandStreamId(4110).eventStreamId(4111).creditWindowLength(262144)
            .protocolMajor(1).protocolMinor(0).channel("aeron:ipc").aeronDirectory("/dev/shm/x/aeron");
        final WelcomeDecoder welcome = new WelcomeDecoder().wrap(buffer, body(WelcomeDecoder.TEMPLATE_ID),
            WelcomeDecoder.BLOCK_LENGTH, WelcomeDecoder.SCHEMA_VERSION);
        assertEquals(7, welcome.clientId());
        assertEquals(99, welcome.brokerPid());
        assertEquals(4110, welcome.commandStreamId());
        assertEquals(4111, welcome.eventStreamId());
        assertEquals(262144, welcome.creditWindowLength());
        assertEquals("aeron:ipc", welcome.channel());
        assertEquals("/dev/shm/x/aeron", welcome.aeronDirectory());

        new RefusedEncoder().wrapAndApplyHeader(buffer, 0, headerEncoder)
            .code(ErrorCode.PROTOCOL_VERSION_MISMATCH).protocolMajor(1).protocolMinor(0).message("no");
        final RefusedDecoder refused = new RefusedDecoder().wrap(buffer, body(RefusedDecoder.TEMPLATE_ID),
            RefusedDecoder.BLOCK_LENGTH, RefusedDecoder.SCHEMA_VERSION);
        assertEquals(ErrorCode.PROTOCOL_VERSION_MISMATCH, refused.code());
        assertEquals("no", refused.message());

        new AttachEncoder().wrapAndApplyHeader(buffer, 0, headerEncoder).aeronClientId(123456789L);
        assertEquals(123456789L, new AttachDecoder().wrap(buffer, body(AttachDecoder.TEMPLATE_ID),
            AttachDecoder.BLOCK_LENGTH, AttachDecoder.SCHEMA_VERSION).aeronClientId());
    }

    @Test
    void shouldRoundTripAdministrationMessages()
    {
        new ReloadEncoder().wrapAndApplyHeader(buffer, 0, headerEncoder).protocolMajor(1).protocolMinor(1);
        final ReloadDecoder reload = new ReloadDecoder().wrap(buffer, body(ReloadDecoder.TEMPLATE_ID),
            ReloadDecoder.BLOCK_LENGTH, ReloadDecoder.SCHEMA_VERSION);
        assertEquals(1, reload.protocolMajor());
        assertEquals(1, reload.protocolMinor());

        new ReloadResultEncoder().wrapAndApplyHeader(buffer, 0, headerEncoder)
            .status(ReloadStatus.REFUSED).message("mancom.toml:2: service.echo.listen: bad port");
        final ReloadResultDecoder result = new ReloadResultDecoder().wrap(buffer,
            body(ReloadResultDecoder.TEMPLATE_ID), ReloadResultDecoder.BLOCK_LENGTH,
            ReloadResultDecoder.SCHEMA_VERSION);
        assertEquals(ReloadStatus.REFUSED, result.status());
        assertEquals("mancom.toml:2: service.echo.listen: bad port", result.message());
    }

    @Test
    void shouldRoundTripCommands()
    {
        new RegisterAcceptorEncoder().wrapAndApplyHeader(buffer, 0, headerEncoder).correlationId(5).service("echo");
        final RegisterAcceptorDecoder register = new RegisterAcceptorDecoder().wrap(buffer,
            body(RegisterAcceptorDecoder.TEMPLATE_ID), RegisterAcceptorDecoder.BLOCK_LENGTH,
            RegisterAcceptorDecoder.SCHEMA_VERSION);
        assertEquals(5, register.correlationId());
        assertEquals("echo", register.service());

        new UnregisterAcceptorEncoder().wrapAndApplyHeader(buffer, 0, headerEncoder).correlationId(6).acceptorId(3);
        final UnregisterAcceptorDecoder unregister = new UnregisterAcceptorDecoder().wrap(buffer,
            body(UnregisterAcceptorDecoder.TEMPLATE_ID), UnregisterAcceptorDecoder.BLOCK_LENGTH,
            UnregisterAcceptorDecoder.SCHEMA_VERSION);
        assertEquals(6, unregister.correlationId());
        assertEquals(3, unregister.acceptorId());

        new ConnectEncoder().wrapAndApplyHeader(buffer, 0, headerEncoder).correlationId(8).target("tcp://h:1");
        final ConnectDecoder connect = new ConnectDecoder().wrap(buffer, body(ConnectDecoder.TEMPLATE_ID),
            ConnectDecoder.BLOCK_LENGTH, ConnectDecoder.SCHEMA_VERSION);
        assertEquals(8, connect.correlationId());
        assertEquals("tcp://h:1", connect.target());

        new CloseEncoder().wrapAndApplyHeader(buffer, 0, headerEncoder).correlationId(9).connectionId(77);
        final CloseDecoder close = new CloseDecoder().wrap(buffer, body(CloseDecoder.TEMPLATE_ID),
            CloseDecoder.BLOCK_LENGTH, CloseDecoder.SCHEMA_VERSION);
        assertEquals(9, close.correlationId());
        assertEquals(77, close.connectionId());

        new CreditEncoder().wrapAndApplyHeader(buffer, 0, headerEncoder).connectionId(77).length(65536);
        final CreditDecoder credit = new CreditDecoder().wrap(buffer, body(CreditDecoder.TEMPLATE_ID),
            CreditDecoder.BLOCK_LENGTH, CreditDecoder.SCHEMA_VERSION);
        assertEquals(77, credit.connectionId());
        assertEquals(65536, credit.length());
    }

    @Test
    void shouldPlaceThePayloadOfSendAndDataWhereFramesSays()
    {
        final byte[] payload = {1, 2, 3, 4, 5};
        new SendEncoder().wrapAndApplyHeader(buffer, 0, headerEncoder).connectionId(11)
            .putPayload(payload, 0, payload.length);
        final SendDecoder send = new SendDecoder().wrap(buffer, body(SendDecoder.TEMPLATE_ID),
            SendDecoder.BLOCK_LENGTH, SendDecoder.SCHEMA_VERSION);
        assertEquals(11, send.connectionId());
        assertEquals(payload.length, buffer.getInt(Frames.DATA_LENGTH_OFFSET, ByteOrder.LITTLE_ENDIAN));
        final byte[] inPlace = new byte[payload.length];
        buffer.getBytes(Frames.DATA_HEADER_LENGTH, inPlace);
        assertArrayEquals(payload, inPlace);

        new DataEncoder().wrapAndApplyHeader(buffer, 0, headerEncoder).connectionId(12)
            .putPayload(payload, 0, payload.length);
        final DataDecoder data = new DataDecoder().wrap(buffer, body(DataDecoder.TEMPLATE_ID),
            DataDecoder.BLOCK_LENGTH, DataDecoder.SCHEMA_VERSION);
        assertEquals(12, data.connectionId());
        final byte[] decoded = new byte[payload.length];
        data.getPayload(decoded, 0, decoded.length);
        assertArrayEquals(payload, decoded);
        assertEquals(Frames.DATA_HEADER_LENGTH + payload.length, data.limit());
    }

    @Test
    void shouldRoundTripEvents()
    {
        new AcceptorRegisteredEncoder().wrapAndApplyHeader(buffer, 0, headerEncoder)
            .correlationId(1).acceptorId(2).service("echo");
        final AcceptorRegisteredDecoder registered = new AcceptorRegisteredDecoder().wrap(buffer,
            body(AcceptorRegisteredDecoder.TEMPLATE_ID), AcceptorRegisteredDecoder.BLOCK_LENGTH,
            AcceptorRegisteredDecoder.SCHEMA_VERSION);
        assertEquals(1, registered.correlationId());
        assertEquals(2, registered.acceptorId());
        assertEquals("echo", registered.service());

        new ConnectionClosedEncoder().wrapAndApplyHeader(buffer, 0, headerEncoder)
            .connectionId(3).reason(CloseReason.OWNER_EXITED).detail("gone");
        final ConnectionClosedDecoder closed = new ConnectionClosedDecoder().wrap(buffer,
            body(ConnectionClosedDecoder.TEMPLATE_ID), ConnectionClosedDecoder.BLOCK_LENGTH,
            ConnectionClosedDecoder.SCHEMA_VERSION);
        assertEquals(3, closed.connectionId());
        assertEquals(CloseReason.OWNER_EXITED, closed.reason());
        assertEquals("gone", closed.detail());

        new SendCreditEncoder().wrapAndApplyHeader(buffer, 0, headerEncoder).connectionId(4).length(1000);
        final SendCreditDecoder sendCredit = new SendCreditDecoder().wrap(buffer,
            body(SendCreditDecoder.TEMPLATE_ID), SendCreditDecoder.BLOCK_LENGTH, SendCreditDecoder.SCHEMA_VERSION);
        assertEquals(4, sendCredit.connectionId());
        assertEquals(1000, sendCredit.length());

        new ErrorEncoder().wrapAndApplyHeader(buffer, 0, headerEncoder)
            .correlationId(5).code(ErrorCode.UNKNOWN_SERVICE).message("unknown service 'x'");
        final ErrorDecoder error = new ErrorDecoder().wrap(buffer, body(ErrorDecoder.TEMPLATE_ID),
            ErrorDecoder.BLOCK_LENGTH, ErrorDecoder.SCHEMA_VERSION);
        assertEquals(5, error.correlationId());
        assertEquals(ErrorCode.UNKNOWN_SERVICE, error.code());
        assertEquals("unknown service 'x'", error.message());

        new CommandOkEncoder().wrapAndApplyHeader(buffer, 0, headerEncoder).correlationId(6);
        assertEquals(6, new CommandOkDecoder().wrap(buffer, body(CommandOkDecoder.TEMPLATE_ID),
            CommandOkDecoder.BLOCK_LENGTH, CommandOkDecoder.SCHEMA_VERSION).correlationId());
    }

    @Test
    void shouldRoundTripConnectionOpenedWithBothEndpoints() throws Exception
    {
        final Endpoint local = Endpoint.ip(TransportType.TCP, new InetSocketAddress("127.0.0.1", 7007));
        final Endpoint remote = Endpoint.usb(1, "1-2.3", 0x1234, 0x5678, "SN42");
        final ConnectionOpenedEncoder encoder = new ConnectionOpenedEncoder()
            .wrapAndApplyHeader(buffer, 0, headerEncoder)
            .correlationId(1).acceptorId(2).connectionId(3).sendWindowLength(4096);
        final ConnectionOpenedEncoder.EndpointsEncoder endpoints = encoder.endpointsCount(2);
        encode(endpoints.next(), EndpointRole.LOCAL, local);
        encode(endpoints.next(), EndpointRole.REMOTE, remote);
        encoder.service("echo");

        final ConnectionOpenedDecoder decoder = new ConnectionOpenedDecoder().wrap(buffer,
            body(ConnectionOpenedDecoder.TEMPLATE_ID), ConnectionOpenedDecoder.BLOCK_LENGTH,
            ConnectionOpenedDecoder.SCHEMA_VERSION);
        assertEquals(1, decoder.correlationId());
        assertEquals(2, decoder.acceptorId());
        assertEquals(3, decoder.connectionId());
        assertEquals(4096, decoder.sendWindowLength());
        final Endpoint[] decoded = new Endpoint[2];
        int i = 0;
        for (final ConnectionOpenedDecoder.EndpointsDecoder endpoint : decoder.endpoints())
        {
            assertEquals(0 == i ? EndpointRole.LOCAL : EndpointRole.REMOTE, endpoint.role());
            final TransportType type = endpoint.transportType();
            final int port = endpoint.port();
            final long pid = endpoint.pid();
            final int uid = endpoint.uid();
            final int gid = endpoint.gid();
            final int bus = endpoint.usbBus();
            final int vendorId = endpoint.vendorId();
            final int productId = endpoint.productId();
            final String scheme = endpoint.scheme();
            final byte[] address = new byte[endpoint.addressLength()];
            endpoint.getAddress(address, 0, address.length);
            final String path = endpoint.path();
            final String serial = endpoint.serialNumber();
            decoded[i++] = Endpoint.of(type, scheme, address.length == 0 ? null : address, port,
                path.isEmpty() ? null : path, serial.isEmpty() ? null : serial, pid, uid, gid, bus, vendorId,
                productId);
        }
        assertEquals("echo", decoder.service());
        assertEquals(local, decoded[0]);
        assertEquals(remote, decoded[1]);
    }

    private static void encode(
        final ConnectionOpenedEncoder.EndpointsEncoder encoder, final EndpointRole role, final Endpoint endpoint)
    {
        encoder.role(role).transportType(endpoint.type()).port(endpoint.port()).pid(endpoint.pid())
            .uid(endpoint.uid()).gid(endpoint.gid()).usbBus(endpoint.usbBus()).vendorId(endpoint.vendorId())
            .productId(endpoint.productId());
        encoder.scheme(endpoint.scheme());
        final byte[] address = null == endpoint.opaqueAddress() ? new byte[0] : endpoint.opaqueAddress();
        encoder.putAddress(new UnsafeBuffer(address), 0, address.length);
        encoder.path(null == endpoint.path() ? "" : endpoint.path());
        encoder.serialNumber(null == endpoint.serialNumber() ? "" : endpoint.serialNumber());
    }
}
