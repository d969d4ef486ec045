package dev.mancom.bench;

import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.UnixDomainSocketAddress;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * ManCom's echo as the benchmarks run it: a broker ({@code mancom broker}) with the service {@value #SERVICE},
 * which a service needs a transport for, on an ephemeral TCP port, and the echo application ({@code mancom echo
 * echo}) accepting it; their command lines and the lines they print when ready.
 */
final class ManComEchoService
{
    /** The service the broker serves and the echo application accepts. */
    static final String SERVICE = "echo";

    /** The broker's configuration: the {@code [service.echo]} table, listening on TCP. */
    static final String CONFIG_TOML = configToml("tcp://127.0.0.1:0");

    /** The broker's line once it is ready. */
    static final Pattern BROKER_READY = Pattern.compile("ManCom broker ready");

    /** The broker's line with the address of the service's TCP listener, right after it is ready. */
    static final Pattern BROKER_LISTENING = Pattern.compile(
        "service '" + SERVICE + "' listening on tcp://([^:]+):(\\d+)");

    /** The broker's line with the URI of the service's listener, of any transport. */
    static final Pattern BROKER_LISTENING_URI = Pattern.compile(
        "service '" + SERVICE + "' listening on ((?:tcp|udp|unix)://\\S+)");

    /** The echo application's line once it accepts the service. */
    static final Pattern ECHO_READY = Pattern.compile("^echoing service");

    private static final Pattern INET_URI = Pattern.compile("(?:tcp|udp)://([^:/]+):(\\d+)");
    private static final String UNIX_PREFIX = "unix://";

    private ManComEchoService()
    {
    }

    /**
     * The environment variable whose value, TOML lines such as {@code credit_window = "1m"}, goes into the broker's
     * {@code [broker]} table: to measure a setting other than the default.
     */
    static final String BROKER_SETTINGS_ENV = "MANCOM_BENCH_BROKER_SETTINGS";

    /**
     * The broker's configuration with the service listening on a URI, and the settings of
     * {@link #BROKER_SETTINGS_ENV} if it is set.
     *
     * @param listenUri such as {@code udp://127.0.0.1:0}.
     * @return the {@code [broker]} table, if any, and the {@code [service.echo]} table.
     */
    static String configToml(final String listenUri)
    {
        final String settings = System.getenv(BROKER_SETTINGS_ENV);
        final String broker = null == settings || settings.isBlank() ? "" :
            "[broker]\n" + settings.replace(';', '\n').trim() + "\n\n";
        return broker + "[service." + SERVICE + "]\nlisten = [\"" + listenUri + "\"]\n";
    }

    /**
     * The address of a {@code tcp://HOST:PORT}, {@code udp://HOST:PORT} or {@code unix:///PATH} URI.
     *
     * @param uri the URI.
     * @return an {@link InetSocketAddress}, or a {@link UnixDomainSocketAddress} for {@code unix}.
     * @throws BenchmarkException when it is none of these.
     */
    static SocketAddress address(final String uri)
    {
        final Matcher inet = INET_URI.matcher(uri);
        if (inet.matches())
        {
            return new InetSocketAddress(inet.group(1), Integer.parseInt(inet.group(2)));
        }
        if (uri.startsWith(UNIX_PREFIX))
        {
            return UnixDomainSocketAddress.of(uri.substring(UNIX_PREFIX.length()));
        }
        throw new BenchmarkException("not a tcp, udp or unix URI: " + uri);
    }

    /**
     * The arguments of {@code mancom} that run the broker.
     *
     * @param configFile its configuration, {@link #CONFIG_TOML}.
     * @param brokerDir  its directory.
     * @return the arguments.
     */
    static List<String> brokerArgs(final Path configFile, final Path brokerDir)
    {
        return List.of("broker", "--config", configFile.toString(), "--dir", brokerDir.toString());
    }

    /**
     * The arguments of {@code mancom} that run the echo application.
     *
     * @param brokerDir the broker's directory.
     * @return the arguments.
     */
    static List<String> echoArgs(final Path brokerDir)
    {
        return List.of("echo", SERVICE, "--dir", brokerDir.toString());
    }

    /**
     * The address of the service's TCP listener.
     *
     * @param listening the broker's line, matched by {@link #BROKER_LISTENING}.
     * @return the address.
     */
    static InetSocketAddress listeningAddress(final Matcher listening)
    {
        return new InetSocketAddress(listening.group(1), Integer.parseInt(listening.group(2)));
    }
}
