package dev.mancom.tests;

import dev.mancom.tests.kit.CountingEchoApp;
import dev.mancom.tests.kit.ForkedBroker;
import dev.mancom.tests.kit.ForkedJvm;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Stream;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The broker's threads are fixed: 50 application processes on one service and 5,000 TCP connections at once (100 per
 * process, handed out round robin) add no thread to the broker, and after they are gone it has the same threads
 * and still serves.
 * <p>
 * The broker's threads are counted from {@code /proc/PID/task} (every thread of the process, the JVM's own included)
 * and cross-checked with the Java threads {@code jcmd PID Thread.print} lists. Each count is read once it is stable.
 * Two helper threads the broker's JVM may or may not have at a given moment are left out of both counts, because
 * they come and go on their own and not with the load (at most one of each, which is asserted): {@code JNA Cleaner},
 * which JNA starts when the broker reads a client's peer credentials and which ends once JNA has had nothing to
 * clean for 30 s, and {@code process reaper}, the JDK's thread that waited for the {@code ldconfig -p} that JNA runs
 * once when it first loads libc, and which ends 60 s later. The JVM's compiler threads are made fixed
 * ({@code -XX:-UseDynamicNumberOfCompilerThreads}) and its attach listener is started with it
 * ({@code -XX:+StartAttachListener}; else the first jcmd would add it).
 * <p>
 * The count "before" is read twice, with no application and after a warm-up (the first of the 50 applications and
 * one connection), and both must be the same: the broker starts no thread lazily on first use (only the helpers
 * above appear then).
 * <p>
 * Needs about 5,100 file descriptors in the test's JVM and in the broker's ({@code ulimit -n}), checked first.
 */
class BrokerThreadCountSystemTest
{
    private static final String SERVICE = "svc";
    private static final String CONFIG = "[service." + SERVICE + "]\nlisten = [\"tcp://127.0.0.1:0\"]\n";
    private static final int APPS = 50;
    private static final int CONNECTIONS = 5_000;
    private static final int MESSAGE_LENGTH = 16;
    private static final long FD_HEADROOM = CONNECTIONS + 1_000;
    private static final Duration DEADLINE = Duration.ofSeconds(90);
    private static final Set<String> LINGERING_THREADS = Set.of("JNA Cleaner", "process reaper");

    /**
     * The broker's JVM: the default {@code max_connections} (65536) is far above 5,000; 256 MiB of heap is plenty.
     */
    private static final List<String> BROKER_JVM_ARGS = List.of(
        "-Xmx256m", "-XX:-UseDynamicNumberOfCompilerThreads", "-XX:+StartAttachListener");

    /**
     * Small and quick to start: 50 of them start, a few at a time, on maybe 2 cores, and each only echoes 100 x 16
     * bytes.
     */
    private static final List<String> APP_JVM_ARGS = List.of(
        "-Xmx48m", "-Xss256k", "-XX:TieredStopAtLevel=1", "-XX:CICompilerCount=1", "-XX:-UsePerfData");

    @TempDir
    Path tempDir;

    private record ThreadCount(int proc, int java, List<String> procNames, List<String> javaNames)
    {
        public String toString()
        {
            return proc + " threads in /proc " + procNames + ", " + java + " Java threads " + javaNames;
        }
    }

    private static final class Peer
    {
        final int index;
        final SocketChannel channel;
        final byte[] message;
        final ByteBuffer echo = ByteBuffer.allocate(MESSAGE_LENGTH);

        Peer(final int index, final SocketChannel channel)
        {
            this.index = index;
            this.channel = channel;
            this.message = String.format("conn %010d\n", index).getBytes(StandardCharsets.US_ASCII);
        }
    }

    @Test
    void shouldServe50ProcessesAnd5000ConnectionsWithTheSameBrokerThreads() throws Exception
    {
        final long startNs = System.nanoTime();
        assertFileDescriptorHeadroom("the test's JVM", ProcessHandle.current().pid());
        final List<ForkedJvm> apps = new ArrayList<>();
        final List<Peer> peers = new ArrayList<>();
        try (ForkedBroker broker = ForkedBroker.start(tempDir, CONFIG, BROKER_JVM_ARGS))
        {
            final long brokerPid = broker.jvm().pid();
            assertFileDescriptorHeadroom("the broker's JVM", brokerPid);
            final InetSocketAddress address = broker.tcpAddress(SERVICE);
            final ThreadCount idle = settledThreadCount(brokerPid);

            // Warm-up: the first application and one connection.
            apps.add(startApp(broker, 0));
            apps.get(0).awaitLine("registered"::equals, DEADLINE);
            TcpEchoSystemTest.assertEchoes(address, "warm-up");
            final ThreadCount before = settledThreadCount(brokerPid);
            assertSameThreads(idle, before, "with the first application and its first connection");
            progress(startNs, "broker threads before: " + before);

            // The other 49, a few at a time: the next starts as soon as one is registered. (All 49 at once on
            // 2 cores starve each other and the broker of CPU for tens of seconds, and take longer in all.)
            final int startingAtOnce = Math.max(4, 2 * Runtime.getRuntime().availableProcessors());
            for (int i = 1; i < APPS && i <= startingAtOnce; i++)
            {
                apps.add(startApp(broker, i));
            }
            for (int i = 1; i < APPS; i++)
            {
                apps.get(i).awaitLine("registered"::equals, DEADLINE);
                if (apps.size() < APPS)
                {
                    apps.add(startApp(broker, apps.size()));
                }
            }

            progress(startNs, APPS + " applications registered");
            openAndEcho(address, peers);
            progress(startNs, CONNECTIONS + " connections echoed");
            final ThreadCount during = settledThreadCount(brokerPid);
            progress(startNs, "broker threads during: " + during);
            assertSameThreads(before, during, "with " + APPS + " applications and " + CONNECTIONS + " connections");
            assertRoundRobin(apps, peers);

            for (final Peer peer : peers)
            {
                peer.channel.close();
            }
            await("every application told of its connections' close").atMost(DEADLINE)
                .until(() -> countLines(apps, "closed ") >= CONNECTIONS + 1);
            assertEquals(CONNECTIONS + 1, countLines(apps, "closed "));
            progress(startNs, "connections closed");

            // All applications but the first go; the broker notices each.
            for (int i = 1; i < APPS; i++)
            {
                apps.get(i).process().destroy();
            }
            for (int i = 1; i < APPS; i++)
            {
                final String pid = "pid=" + apps.get(i).pid() + " ";
                apps.get(i).close();
                broker.jvm().awaitLine((line) -> line.contains(pid) && line.contains(" gone: "), DEADLINE);
            }

            TcpEchoSystemTest.assertEchoes(address, "a new connection afterwards");
            final ThreadCount after = settledThreadCount(brokerPid);
            progress(startNs, "broker threads after: " + after);
            assertSameThreads(before, after, "after the connections and 49 applications are gone");
            assertTrue(broker.jvm().process().isAlive(), "the broker died");
            System.out.println("broker threads (in /proc / Java, lingering helpers left out): idle " + idle.proc() +
                " / " + idle.java() + ", before " + before.proc() + " / " + before.java() + ", during " +
                during.proc() + " / " + during.java() + ", after " + after.proc() + " / " + after.java());
        }
        finally
        {
            for (final Peer peer : peers)
            {
                peer.channel.close();
            }
            for (final ForkedJvm app : apps)
            {
                app.process().destroy();
            }
            for (final ForkedJvm app : apps)
            {
                app.close();
            }
        }
    }

    private static void progress(final long startNs, final String what)
    {
        System.out.printf("%.1f s: %s%n", (System.nanoTime() - startNs) / 1e9, what);
    }

    private ForkedJvm startApp(final ForkedBroker broker, final int index) throws IOException
    {
        return ForkedJvm.start("counting-echo-" + index, tempDir.resolve("logs"), CountingEchoApp.class,
            APP_JVM_ARGS, List.of(broker.dir().toString(), SERVICE));
    }

    /**
     * Open the connections, each sends its 16 bytes, and wait until each has its own 16 bytes back; all stay open.
     */
    private static void openAndEcho(final InetSocketAddress address, final List<Peer> peers) throws IOException
    {
        try (Selector selector = Selector.open())
        {
            for (int i = 0; i < CONNECTIONS; i++)
            {
                final Peer peer = new Peer(i, SocketChannel.open(address));
                peers.add(peer);
                final ByteBuffer out = ByteBuffer.wrap(peer.message);
                while (out.hasRemaining())
                {
                    peer.channel.write(out);
                }
                peer.channel.configureBlocking(false);
                peer.channel.register(selector, SelectionKey.OP_READ, peer);
            }

            final long deadlineNs = System.nanoTime() + DEADLINE.toNanos();
            int remaining = CONNECTIONS;
            while (remaining > 0)
            {
                assertTrue(System.nanoTime() - deadlineNs < 0, remaining + " connections not echoed in time");
                selector.select(100);
                final Iterator<SelectionKey> keys = selector.selectedKeys().iterator();
                while (keys.hasNext())
                {
                    final SelectionKey key = keys.next();
                    keys.remove();
                    final Peer peer = (Peer)key.attachment();
                    final int n = peer.channel.read(peer.echo);
                    assertTrue(n >= 0, "connection " + peer.index + " closed after " + peer.echo.position() +
                        " bytes");
                    if (!peer.echo.hasRemaining())
                    {
                        assertArrayEquals(peer.message, peer.echo.array(), "echo of connection " + peer.index);
                        key.cancel();
                        remaining--;
                    }
                }
            }
        }
    }

    /**
     * Each application printed {@code accepted PORT} for each connection it got: each got its 100 (the first also
     * got the warm-up connection, before all others), and each connection went to exactly one.
     */
    private static void assertRoundRobin(final List<ForkedJvm> apps, final List<Peer> peers) throws IOException
    {
        await("every application told of its connections").atMost(DEADLINE)
            .until(() -> countLines(apps, "accepted ") >= CONNECTIONS + 1);
        final Map<Integer, Integer> appOfPort = new HashMap<>();
        final Map<Integer, Integer> connectionsOfApp = new TreeMap<>();
        for (int i = 0; i < apps.size(); i++)
        {
            boolean warmUp = 0 == i;
            for (final String line : apps.get(i).lines())
            {
                if (line.startsWith("accepted "))
                {
                    if (warmUp)
                    {
                        warmUp = false;
                        continue;
                    }
                    final Integer previous = appOfPort.put(Integer.parseInt(line.substring(9)), i);
                    assertEquals(null, previous, "port of " + line + " accepted by applications " + previous +
                        " and " + i);
                    connectionsOfApp.merge(i, 1, Integer::sum);
                }
            }
        }
        for (final Peer peer : peers)
        {
            final int port = ((InetSocketAddress)peer.channel.getLocalAddress()).getPort();
            assertTrue(appOfPort.containsKey(port), "no application accepted connection " + peer.index);
        }
        assertEquals(CONNECTIONS, appOfPort.size());
        for (int i = 0; i < apps.size(); i++)
        {
            assertEquals(CONNECTIONS / APPS, connectionsOfApp.getOrDefault(i, 0),
                "connections of application " + i + "; all: " + connectionsOfApp);
        }
    }

    private static int countLines(final List<ForkedJvm> apps, final String prefix)
    {
        int count = 0;
        for (final ForkedJvm app : apps)
        {
            for (final String line : app.lines())
            {
                if (line.startsWith(prefix))
                {
                    count++;
                }
            }
        }
        return count;
    }

    private static void assertSameThreads(final ThreadCount before, final ThreadCount now, final String when)
    {
        assertEquals(before.proc(), now.proc(), "broker threads in /proc " + when + ": " + now.procNames() +
            "; before: " + before.procNames());
        assertEquals(before.java(), now.java(), "broker Java threads " + when + ": " + now.javaNames() +
            "; before: " + before.javaNames());
    }

    /**
     * Read the broker's thread counts until the /proc count is the same three reads in a row, then cross-check it
     * with jcmd (and read /proc once more, so that both describe the same moment of a settled broker).
     */
    private static ThreadCount settledThreadCount(final long pid) throws Exception
    {
        final int[] last = {-1, 0};
        await("a stable thread count of the broker").atMost(DEADLINE).pollInterval(Duration.ofMillis(200))
            .until(() ->
            {
                final int count = counted(procThreadNames(pid)).size();
                last[1] = count == last[0] ? last[1] + 1 : 0;
                last[0] = count;
                return last[1] >= 2;
            });
        final List<String> javaNames = JvmProbe.javaThreadNames(pid);
        final List<String> procNames = procThreadNames(pid);
        final List<String> countedJava = counted(javaNames);
        final List<String> countedProc = counted(procNames);
        return new ThreadCount(countedProc.size(), countedJava.size(), procNames, javaNames);
    }

    /**
     * The threads that count: all but the lingering helpers, of which there must be at most one each.
     */
    private static List<String> counted(final List<String> names)
    {
        final List<String> counted = new ArrayList<>();
        for (final String name : names)
        {
            if (!LINGERING_THREADS.contains(name))
            {
                counted.add(name);
            }
        }
        for (final String lingering : LINGERING_THREADS)
        {
            assertTrue(Collections.frequency(names, lingering) <= 1, "threads " + names);
        }
        return counted;
    }

    /**
     * The names of a process's threads, as the kernel has them (cut to 15 characters), sorted.
     */
    private static List<String> procThreadNames(final long pid) throws IOException
    {
        final List<String> names = new ArrayList<>();
        try (Stream<Path> tasks = Files.list(Paths.get("/proc", String.valueOf(pid), "task")))
        {
            for (final Path task : (Iterable<Path>)tasks::iterator)
            {
                try
                {
                    names.add(Files.readString(task.resolve("comm")).trim());
                }
                catch (final NoSuchFileException ex)
                {
                    // the thread ended between the listing and the read
                }
            }
        }
        Collections.sort(names);
        return names;
    }

    /**
     * Fail at once, and say why, when a process may not open enough file descriptors for the connections.
     */
    private static void assertFileDescriptorHeadroom(final String what, final long pid) throws IOException
    {
        for (final String line : Files.readAllLines(Paths.get("/proc", String.valueOf(pid), "limits")))
        {
            if (line.startsWith("Max open files"))
            {
                final String[] fields = line.substring("Max open files".length()).trim().split("\\s+");
                final long soft = "unlimited".equals(fields[0]) ? Long.MAX_VALUE : Long.parseLong(fields[0]);
                assertTrue(soft >= FD_HEADROOM, what + " may open " + soft + " files, the test needs " +
                    FD_HEADROOM + " (raise ulimit -n): " + Arrays.toString(fields));
                return;
            }
        }
        throw new AssertionError("no open-files limit in /proc/" + pid + "/limits");
    }
}
