package dev.mancom.broker.internal;

import dev.mancom.protocol.Endpoint;
import dev.mancom.protocol.Frames;
import dev.mancom.protocol.codecs.AcceptorRegisteredEncoder;
import dev.mancom.protocol.codecs.CloseReason;
import dev.mancom.protocol.codecs.CommandOkEncoder;
import dev.mancom.protocol.codecs.ConnectionClosedEncoder;
import dev.mancom.protocol.codecs.ConnectionOpenedEncoder;
import dev.mancom.protocol.codecs.DataEncoder;
import dev.mancom.protocol.codecs.EndpointRole;
import dev.mancom.protocol.codecs.Handover;
import dev.mancom.protocol.codecs.ErrorCode;
import dev.mancom.protocol.codecs.ErrorEncoder;
import dev.mancom.protocol.codecs.MessageHeaderEncoder;
import dev.mancom.protocol.codecs.SendCreditEncoder;
import dev.mancom.protocol.codecs.ServiceReadiness;
import dev.mancom.protocol.codecs.ServiceStatusEncoder;
import io.aeron.Publication;
import org.agrona.DirectBuffer;
import org.agrona.ExpandableArrayBuffer;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * Encoders of the events the broker sends to clients, one set per thread (the conductor, the sender and each
 * transport I/O thread publish events), so that no thread allocates or locks to publish.
 */
public final class EventEncoders
{
    /**
     * An offer that meets a term rotation is tried again at once, this many times in all.
     */
    private static final int MAX_OFFER_ATTEMPTS = 3;

    private static final ThreadLocal<EventEncoders> PER_THREAD = ThreadLocal.withInitial(EventEncoders::new);

    private final MessageHeaderEncoder headerEncoder = new MessageHeaderEncoder();
    private final ExpandableArrayBuffer buffer = new ExpandableArrayBuffer(1024);
    private final UnsafeBuffer dataHeader = new UnsafeBuffer(new byte[Frames.DATA_HEADER_LENGTH]);
    private final DataEncoder dataEncoder = new DataEncoder();
    private final SendCreditEncoder sendCreditEncoder = new SendCreditEncoder();
    private final ConnectionClosedEncoder closedEncoder = new ConnectionClosedEncoder();
    private final ConnectionOpenedEncoder openedEncoder = new ConnectionOpenedEncoder();
    private final AcceptorRegisteredEncoder acceptorRegisteredEncoder = new AcceptorRegisteredEncoder();
    private final ErrorEncoder errorEncoder = new ErrorEncoder();
    private final CommandOkEncoder commandOkEncoder = new CommandOkEncoder();
    private final ServiceStatusEncoder serviceStatusEncoder = new ServiceStatusEncoder();

    private EventEncoders()
    {
    }

    /**
     * The encoders of the calling thread.
     *
     * @return this thread's encoders.
     */
    public static EventEncoders current()
    {
        return PER_THREAD.get();
    }

    /**
     * Publish a Data event gathering its header and the payload, so the payload is copied once, into the log.
     *
     * @param publication  the client's event stream.
     * @param connectionId the connection.
     * @param payload      holds the bytes.
     * @param offset       where they start.
     * @param length       how many; at most the stream's largest unfragmented payload.
     * @return the result of {@link Publication#offer(DirectBuffer, int, int, DirectBuffer, int, int)}.
     */
    public long offerData(
        final Publication publication,
        final long connectionId,
        final DirectBuffer payload,
        final int offset,
        final int length)
    {
        dataEncoder.wrapAndApplyHeader(dataHeader, 0, headerEncoder).connectionId(connectionId);
        dataHeader.putInt(Frames.DATA_LENGTH_OFFSET, length);
        return offer(publication, dataHeader, 0, Frames.DATA_HEADER_LENGTH, payload, offset, length);
    }

    /**
     * Publish a SendCredit event.
     *
     * @param publication  the client's event stream.
     * @param connectionId the connection.
     * @param length       bytes written for the client.
     * @return the offer's result.
     */
    public long offerSendCredit(final Publication publication, final long connectionId, final int length)
    {
        sendCreditEncoder.wrapAndApplyHeader(buffer, 0, headerEncoder).connectionId(connectionId).length(length);
        return offer(publication, buffer, 0, MessageHeaderEncoder.ENCODED_LENGTH + sendCreditEncoder.encodedLength());
    }

    /**
     * Publish a ConnectionClosed event.
     *
     * @param publication  the client's event stream.
     * @param connectionId the connection.
     * @param reason       why.
     * @param detail       for a person.
     * @return the offer's result.
     */
    public long offerClosed(
        final Publication publication, final long connectionId, final CloseReason reason, final String detail)
    {
        closedEncoder.wrapAndApplyHeader(buffer, 0, headerEncoder)
            .connectionId(connectionId)
            .reason(reason)
            .detail(null == detail ? "" : detail);
        return offer(publication, buffer, 0, MessageHeaderEncoder.ENCODED_LENGTH + closedEncoder.encodedLength());
    }

    /**
     * Publish a ConnectionOpened event, of an app-to-app connection when {@code peer} is given.
     *
     * @param publication      the client's event stream.
     * @param correlationId    the Connect's correlation id, or 0 when accepted.
     * @param acceptorId       the acceptor's id, or 0.
     * @param connectionId     the connection.
     * @param sendWindowLength the client's initial send credit.
     * @param service          the service's name.
     * @param local            the local endpoint.
     * @param remote           the remote endpoint.
     * @param peer             the other application of an app-to-app connection, or null.
     * @return the offer's result.
     */
    public long offerOpened(
        final Publication publication,
        final long correlationId,
        final long acceptorId,
        final long connectionId,
        final int sendWindowLength,
        final String service,
        final Endpoint local,
        final Endpoint remote,
        final ClientSession peer,
        final Handover handover)
    {
        openedEncoder.wrapAndApplyHeader(buffer, 0, headerEncoder)
            .correlationId(correlationId)
            .acceptorId(acceptorId)
            .connectionId(connectionId)
            .sendWindowLength(sendWindowLength)
            .peerClientId(null == peer ? 0 : peer.clientId())
            .peerStreamId(null == peer ? 0 : peer.peerStreamId())
            .peerDoorbellCounterId(null == peer ? -1 : peer.doorbellCounterId())
            .handover(handover);
        final ConnectionOpenedEncoder.EndpointsEncoder endpoints = openedEncoder.endpointsCount(2);
        encodeEndpoint(endpoints.next(), EndpointRole.LOCAL, local);
        encodeEndpoint(endpoints.next(), EndpointRole.REMOTE, remote);
        openedEncoder.service(service);
        return offer(publication, buffer, 0, MessageHeaderEncoder.ENCODED_LENGTH + openedEncoder.encodedLength());
    }

    private static void encodeEndpoint(
        final ConnectionOpenedEncoder.EndpointsEncoder encoder, final EndpointRole role, final Endpoint endpoint)
    {
        encoder.role(role)
            .transportType(endpoint.type())
            .port(endpoint.port())
            .pid(endpoint.pid())
            .uid(endpoint.uid())
            .gid(endpoint.gid())
            .usbBus(endpoint.usbBus())
            .vendorId(endpoint.vendorId())
            .productId(endpoint.productId());
        encoder.scheme(endpoint.scheme());
        final byte[] address = endpoint.opaqueAddress();
        if (null == address)
        {
            encoder.putAddress(new byte[0], 0, 0);
        }
        else
        {
            encoder.putAddress(address, 0, address.length);
        }
        encoder.path(null == endpoint.path() ? "" : endpoint.path());
        encoder.serialNumber(null == endpoint.serialNumber() ? "" : endpoint.serialNumber());
    }

    /**
     * Publish an AcceptorRegistered event.
     *
     * @param publication   the client's event stream.
     * @param correlationId the command's correlation id.
     * @param acceptorId    the new acceptor.
     * @param service       the service's name.
     * @return the offer's result.
     */
    public long offerAcceptorRegistered(
        final Publication publication, final long correlationId, final long acceptorId, final String service)
    {
        acceptorRegisteredEncoder.wrapAndApplyHeader(buffer, 0, headerEncoder)
            .correlationId(correlationId)
            .acceptorId(acceptorId)
            .service(service);
        return offer(
            publication, buffer, 0, MessageHeaderEncoder.ENCODED_LENGTH + acceptorRegisteredEncoder.encodedLength());
    }

    /**
     * Publish an Error event.
     *
     * @param publication   the client's event stream.
     * @param correlationId the failed command's correlation id.
     * @param code          what kind of failure.
     * @param message       for a person.
     * @return the offer's result.
     */
    public long offerError(
        final Publication publication, final long correlationId, final ErrorCode code, final String message)
    {
        errorEncoder.wrapAndApplyHeader(buffer, 0, headerEncoder)
            .correlationId(correlationId)
            .code(code)
            .message(message);
        return offer(publication, buffer, 0, MessageHeaderEncoder.ENCODED_LENGTH + errorEncoder.encodedLength());
    }

    /**
     * Publish a CommandOk event.
     *
     * @param publication   the client's event stream.
     * @param correlationId the command's correlation id.
     * @return the offer's result.
     */
    public long offerCommandOk(final Publication publication, final long correlationId)
    {
        commandOkEncoder.wrapAndApplyHeader(buffer, 0, headerEncoder).correlationId(correlationId);
        return offer(publication, buffer, 0, MessageHeaderEncoder.ENCODED_LENGTH + commandOkEncoder.encodedLength());
    }

    /**
     * Publish a ServiceStatus event, the reply to QueryService.
     *
     * @param publication    the client's event stream.
     * @param correlationId  the query's correlation id.
     * @param ready          whether the service is ready.
     * @param listeners      the service's listeners.
     * @param readyListeners those of them ready.
     * @param detail         empty when ready, else what the service waits for.
     * @return the offer's result.
     */
    public long offerServiceStatus(
        final Publication publication,
        final long correlationId,
        final boolean ready,
        final int listeners,
        final int readyListeners,
        final String detail)
    {
        serviceStatusEncoder.wrapAndApplyHeader(buffer, 0, headerEncoder)
            .correlationId(correlationId)
            .readiness(ready ? ServiceReadiness.READY : ServiceReadiness.NOT_READY)
            .listeners(listeners)
            .readyListeners(readyListeners)
            .detail(detail);
        return offer(
            publication, buffer, 0, MessageHeaderEncoder.ENCODED_LENGTH + serviceStatusEncoder.encodedLength());
    }

    /**
     * Offer, retrying at once when the offer met a term rotation ({@link Publication#ADMIN_ACTION}): that is no
     * back pressure, and taking it for back pressure would stall the stream's writer once per term for nothing.
     */
    private static long offer(
        final Publication publication, final DirectBuffer buffer, final int offset, final int length)
    {
        long result = publication.offer(buffer, offset, length);
        for (int i = 1; Publication.ADMIN_ACTION == result && i < MAX_OFFER_ATTEMPTS; i++)
        {
            result = publication.offer(buffer, offset, length);
        }
        return result;
    }

    private static long offer(
        final Publication publication,
        final DirectBuffer bufferOne,
        final int offsetOne,
        final int lengthOne,
        final DirectBuffer bufferTwo,
        final int offsetTwo,
        final int lengthTwo)
    {
        long result = publication.offer(bufferOne, offsetOne, lengthOne, bufferTwo, offsetTwo, lengthTwo);
        for (int i = 1; Publication.ADMIN_ACTION == result && i < MAX_OFFER_ATTEMPTS; i++)
        {
            result = publication.offer(bufferOne, offsetOne, lengthOne, bufferTwo, offsetTwo, lengthTwo);
        }
        return result;
    }
}
