package dev.mancom.tests;

import com.sun.security.auth.module.UnixSystem;
import dev.mancom.protocol.MarkFileDescriptor;
import dev.mancom.tests.kit.AccessProbeApp;
import dev.mancom.tests.kit.ForkedBroker;
import dev.mancom.tests.kit.ForkedJvm;
import dev.mancom.tools.JavaProcess;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Access control with real users: a broker run by root with {@code [broker] group}, and applications run as other
 * users ({@code setpriv} sets their uid, gid and supplementary groups) in JVMs of their own. Creates the groups
 * {@code mancom-acl} and {@code mancom-acl-x} and the users {@code mancom-acl-a} and {@code mancom-acl-b} when
 * they do not exist; needs root, and is skipped otherwise.
 */
class AccessControlSystemTest
{
    private static final Duration DEADLINE = Duration.ofSeconds(60);
    private static final String BROKER_GROUP = "mancom-acl";
    private static final String EXTRA_GROUP = "mancom-acl-x";
    private static final String USER_A = "mancom-acl-a";
    private static final String USER_B = "mancom-acl-b";

    @TempDir
    static Path tempDir;

    private static ForkedBroker broker;
    private static ServerSocket outTarget;
    private static Path config;
    private static String classPath;
    private static int brokerGid;
    private static int extraGid;
    private static int uidA;
    private static int uidB;
    private static int nobody;
    private static int nogroup;

    @BeforeAll
    static void startBroker() throws Exception
    {
        assumeTrue(0 == new UnixSystem().getUid(), "running applications as other users needs root");
        ensurePackages("util-linux", "passwd", "coreutils");
        brokerGid = ensureGroup(BROKER_GROUP);
        extraGid = ensureGroup(EXTRA_GROUP);
        uidA = ensureUser(USER_A);
        uidB = ensureUser(USER_B);
        nobody = Integer.parseInt(run("id", "-u", "nobody").trim());
        nogroup = Integer.parseInt(run("id", "-g", "nobody").trim());

        // Other users must reach the broker directory and the class path: the temporary directory is root's.
        Files.setPosixFilePermissions(tempDir, PosixFilePermissions.fromString("rwx--x--x"));
        classPath = shareClassPath(tempDir.resolve("cp"));
        final Path shared = Files.createDirectories(tempDir.resolve("tmp"));
        Files.setPosixFilePermissions(shared, PosixFilePermissions.fromString("rwxrwxrwx"));

        outTarget = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        config = tempDir.resolve("mancom.toml");
        broker = ForkedBroker.start(tempDir, configuration(List.of(USER_A)), List.of());
    }

    @AfterAll
    static void stopBroker() throws IOException
    {
        if (null != broker)
        {
            broker.close();
        }
        if (null != outTarget)
        {
            outTarget.close();
        }
    }

    private static String configuration(final List<String> openUsers)
    {
        final StringBuilder users = new StringBuilder();
        for (final String user : openUsers)
        {
            users.append(users.length() > 0 ? ", " : "").append('"').append(user).append('"');
        }
        return "[broker]\ngroup = \"" + BROKER_GROUP + "\"\n\n" +
            "[service.echo]\nlisten = [\"tcp://127.0.0.1:0\"]\nallow_users = [\"" + USER_A + "\"]\n" +
            "allow_groups = [\"" + EXTRA_GROUP + "\"]\n\n" +
            "[service.out]\nconnect = \"tcp://127.0.0.1:" + outTarget.getLocalPort() + "\"\n" +
            "allow_users = [\"" + USER_A + "\"]\n\n" +
            "[service.open]\nlisten = [\"tcp://127.0.0.1:0\"]\nallow_users = [" + users + "]\n";
    }

    @Test
    void shouldRefuseToRegisterAnAcceptorForAUserNotAllowedWithAccessDenied() throws Exception
    {
        try (ForkedJvm app = probe(uidB, List.of(brokerGid), "register", "echo"))
        {
            final String line = app.awaitLine((l) -> l.startsWith("error") || l.startsWith("registered"), DEADLINE);
            assertDenied(line, uidB);
            assertTrue(line.contains("may not register an acceptor for service 'echo'"), line);
            assertTrue(line.contains("service.echo.allow_users [" + USER_A + "]"), line);
            assertTrue(line.contains("service.echo.allow_groups [" + EXTRA_GROUP + "]"), line);
        }
    }

    @Test
    void shouldLetAnAllowedUserRegisterAndServeATcpConnection() throws Exception
    {
        try (ForkedJvm app = probe(uidA, List.of(brokerGid), "register", "echo"))
        {
            final String line = app.awaitLine((l) -> l.startsWith("error") || l.startsWith("registered"), DEADLINE);
            assertEquals("registered", line);
            assertEchoes(broker, "echo");
        }
    }

    @Test
    void shouldLetAMemberOfAnAllowedSupplementaryGroupRegister() throws Exception
    {
        try (ForkedJvm app = probe(uidB, List.of(brokerGid, extraGid), "register", "echo"))
        {
            final String line = app.awaitLine((l) -> l.startsWith("error") || l.startsWith("registered"), DEADLINE);
            assertEquals("registered", line);
            assertEchoes(broker, "echo");
        }
    }

    @Test
    void shouldRefuseToConnectByServiceNameForAUserNotAllowed() throws Exception
    {
        try (ForkedJvm denied = probe(uidB, List.of(brokerGid), "connect", "out"))
        {
            final String line = denied.awaitLine((l) -> l.startsWith("error") || l.startsWith("connected"), DEADLINE);
            assertDenied(line, uidB);
            assertTrue(line.contains("may not connect to service 'out'"), line);
            assertTrue(line.contains("service.out.allow_users [" + USER_A + "]"), line);
        }
        try (ForkedJvm allowed = probe(uidA, List.of(brokerGid), "connect", "out"))
        {
            final String line = allowed.awaitLine((l) -> l.startsWith("error") || l.startsWith("connected"),
                DEADLINE);
            assertTrue(line.startsWith("connected "), line);
        }

        // App to app: an application of user A accepts 'echo'; B may not connect to it.
        try (ForkedJvm server = probe(uidA, List.of(brokerGid), "register", "echo"))
        {
            assertEquals("registered", server.awaitLine((l) -> l.startsWith("error") || l.startsWith("registered"),
                DEADLINE));
            try (ForkedJvm denied = probe(uidB, List.of(brokerGid), "connect", "echo"))
            {
                final String line = denied.awaitLine((l) -> l.startsWith("error") || l.startsWith("connected"),
                    DEADLINE);
                assertDenied(line, uidB);
                assertTrue(line.contains("may not connect to service 'echo'"), line);
            }
        }
    }

    @Test
    void shouldApplyAChangedAllowListToNewRegistrationsOnReload() throws Exception
    {
        try (ForkedJvm before = probe(uidB, List.of(brokerGid), "register", "open"))
        {
            final String line = before.awaitLine((l) -> l.startsWith("error") || l.startsWith("registered"),
                DEADLINE);
            assertDenied(line, uidB);
        }
        Files.writeString(config, configuration(List.of(USER_A, USER_B)));
        final int seen = broker.jvm().lines().size();
        assertEquals(0, new ProcessBuilder("kill", "-HUP", Long.toString(broker.jvm().pid())).start().waitFor());
        broker.jvm().awaitLine((l) -> broker.jvm().lines().indexOf(l) >= seen &&
            l.contains("service 'open' settings changed"), DEADLINE);
        try (ForkedJvm after = probe(uidB, List.of(brokerGid), "register", "open"))
        {
            final String line = after.awaitLine((l) -> l.startsWith("error") || l.startsWith("registered"),
                DEADLINE);
            assertEquals("registered", line);
            assertEchoes(broker, "open");
        }
        finally
        {
            Files.writeString(config, configuration(List.of(USER_A)));
            new ProcessBuilder("kill", "-HUP", Long.toString(broker.jvm().pid())).start().waitFor();
        }
    }

    @Test
    void shouldKeepAUserOutsideTheBrokerGroupFromTheSharedMemory() throws Exception
    {
        final Path dir = broker.dir();
        assertEquals(02770, (Integer)Files.getAttribute(dir, "unix:mode") & 07777);
        assertEquals(brokerGid, (Integer)Files.getAttribute(dir, "unix:gid"));
        try (ForkedJvm app = probe(uidA, List.of(brokerGid), "register", "echo"))
        {
            assertEquals("registered", app.awaitLine((l) -> l.startsWith("error") || l.startsWith("registered"),
                DEADLINE));
            final Path aeronDir = dir.resolve(MarkFileDescriptor.AERON_DIR_NAME);
            final List<Path> shared = new ArrayList<>(List.of(
                dir.resolve(MarkFileDescriptor.MARK_FILE_NAME), aeronDir.resolve("cnc.dat")));
            try (Stream<Path> logs = Files.list(aeronDir.resolve("publications")))
            {
                logs.forEach(shared::add);
            }
            assertTrue(shared.size() > 2, "the application's streams have log buffers: " + shared);

            for (final Path file : shared)
            {
                final String output = runAs(nobody, List.of(), "cat", file.toString());
                assertTrue(output.contains("Permission denied"), file + ": " + output);
            }
            final String listing = runAs(nobody, List.of(), "ls", dir.toString());
            assertTrue(listing.contains("Permission denied"), listing);
            try (ForkedJvm outsider = probe(nobody, List.of(), "register", "echo"))
            {
                final String line = outsider.awaitLine((l) -> l.startsWith("error") || l.startsWith("failed") ||
                    l.startsWith("registered"), DEADLINE);
                assertEquals("error ACCESS_DENIED: cannot enter the broker directory " + dir + ": permission denied " +
                    "(it is open to the broker's user and its [broker] group only)", line);
            }

            // The limit of the model: every member of the group can read and write every stream's memory.
            assertEquals(0660, (Integer)Files.getAttribute(aeronDir.resolve("cnc.dat"), "unix:mode") & 07777);
            int checked = 0;
            for (final Path file : shared.subList(2, shared.size()))
            {
                final Map<String, Object> attributes;
                try
                {
                    attributes = Files.readAttributes(file, "unix:mode,gid");
                }
                catch (final NoSuchFileException ex)
                {
                    continue; // a publication the driver released since the listing
                }
                assertEquals(0660, (Integer)attributes.get("mode") & 07777, file.toString());
                assertEquals(brokerGid, (Integer)attributes.get("gid"), file.toString());
                checked++;
            }
            assertTrue(checked > 0, "no log buffer left to check of " + shared);
            final String member = runAs(uidB, List.of(brokerGid), "head", "-c", "0", aeronDir.resolve("cnc.dat")
                .toString());
            assertEquals("", member);
        }
    }

    private static void assertDenied(final String line, final int uid)
    {
        assertTrue(line.startsWith("error ACCESS_DENIED: "), line);
        assertTrue(line.contains(": uid " + uid + " (pid "), line);
    }

    private static void assertEchoes(final ForkedBroker broker, final String service) throws IOException
    {
        try (Socket socket = new Socket())
        {
            socket.connect(broker.tcpAddress(service), 10_000);
            socket.setSoTimeout(30_000);
            final byte[] hello = "hello, acceptor".getBytes(StandardCharsets.US_ASCII);
            final OutputStream out = socket.getOutputStream();
            out.write(hello);
            out.flush();
            final InputStream in = socket.getInputStream();
            final byte[] echoed = in.readNBytes(hello.length);
            assertArrayEquals(hello, echoed);
        }
    }

    private static ForkedJvm probe(final int uid, final List<Integer> groups, final String action, final String service)
        throws IOException
    {
        final List<String> java = JavaProcess.command(AccessProbeApp.class.getName(),
            List.of("-XX:+UseSerialGC", "-XX:-UsePerfData", "-Djava.io.tmpdir=" + tempDir.resolve("tmp"),
                "-Djna.tmpdir=" + tempDir.resolve("tmp")),
            List.of(broker.dir().toString(), action, service));
        java.set(java.indexOf("-cp") + 1, classPath);
        final List<String> command = new ArrayList<>(asUser(uid, groups));
        command.addAll(java);
        return ForkedJvm.startCommand("probe-" + uid + "-" + action + "-" + service, command);
    }

    private static List<String> asUser(final int uid, final List<Integer> groups)
    {
        final List<String> command = new ArrayList<>(List.of("setpriv", "--reuid=" + uid,
            "--regid=" + (groups.isEmpty() ? nogroup : groups.get(0))));
        if (groups.isEmpty())
        {
            command.add("--clear-groups");
        }
        else
        {
            final StringBuilder list = new StringBuilder();
            for (final int group : groups)
            {
                list.append(list.length() > 0 ? "," : "").append(group);
            }
            command.add("--groups=" + list);
        }
        return command;
    }

    private static String runAs(final int uid, final List<Integer> groups, final String... args) throws Exception
    {
        final List<String> command = new ArrayList<>(asUser(uid, groups));
        command.addAll(List.of(args));
        return runCommand(command).output;
    }

    /**
     * Copy the test class path's jars where other users can read them: the local Maven repository is often in
     * root's home, which nobody else may enter.
     */
    private static String shareClassPath(final Path target) throws IOException
    {
        Files.createDirectories(target);
        Files.setPosixFilePermissions(target, PosixFilePermissions.fromString("rwxr-xr-x"));
        final List<String> entries = new ArrayList<>();
        int index = 0;
        for (final String entry : JavaProcess.classPath().split(File.pathSeparator))
        {
            final Path path = Path.of(entry);
            if (Files.isRegularFile(path))
            {
                final Path copy = target.resolve((index++) + "-" + path.getFileName());
                Files.copy(path, copy, StandardCopyOption.REPLACE_EXISTING);
                Files.setPosixFilePermissions(copy, PosixFilePermissions.fromString("rw-r--r--"));
                entries.add(copy.toString());
            }
            else if (Files.isDirectory(path))
            {
                // The modules' classes directories too: the checkout may be in a directory only its owner can enter.
                final Path copy = target.resolve((index++) + "-" + path.getFileName());
                copyTree(path, copy);
                entries.add(copy.toString());
            }
        }
        return String.join(File.pathSeparator, entries);
    }

    private static void copyTree(final Path source, final Path target) throws IOException
    {
        try (java.util.stream.Stream<Path> paths = Files.walk(source))
        {
            for (final Path path : (Iterable<Path>)paths::iterator)
            {
                final Path copy = target.resolve(source.relativize(path).toString());
                if (Files.isDirectory(path))
                {
                    Files.createDirectories(copy);
                    Files.setPosixFilePermissions(copy, PosixFilePermissions.fromString("rwxr-xr-x"));
                }
                else
                {
                    Files.copy(path, copy, StandardCopyOption.REPLACE_EXISTING);
                    Files.setPosixFilePermissions(copy, PosixFilePermissions.fromString("rw-r--r--"));
                }
            }
        }
    }

    private static int ensureGroup(final String name)
    {
        // groupadd -f succeeds when another run created the group meanwhile; a busy /etc/group lock is tried again.
        return await().atMost(DEADLINE).until(() -> create(List.of("getent", "group", name),
            List.of("groupadd", "-f", "--system", name), (out) -> out.split(":")[2]), (id) -> id >= 0);
    }

    private static int ensureUser(final String name)
    {
        return await().atMost(DEADLINE).until(() -> create(List.of("id", "-u", name),
            List.of("useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "--gid", "nogroup",
            name), (out) -> out), (id) -> id >= 0);
    }

    /**
     * The id an account has, creating it first when it does not exist; -1 while it cannot be created yet.
     */
    private static int create(final List<String> lookUp, final List<String> add,
        final java.util.function.Function<String, String> idOf) throws Exception
    {
        Result existing = runCommand(lookUp);
        if (0 != existing.exitCode)
        {
            runCommand(add);
            existing = runCommand(lookUp);
        }
        return 0 == existing.exitCode ? Integer.parseInt(idOf.apply(existing.output.trim()).trim()) : -1;
    }

    private static String run(final String... command) throws Exception
    {
        final Result result = runCommand(List.of(command));
        assertEquals(0, result.exitCode, String.join(" ", command) + ": " + result.output);
        return result.output;
    }

    private record Result(int exitCode, String output)
    {
    }

    private static Result runCommand(final List<String> command) throws Exception
    {
        final Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        final String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(process.waitFor(DEADLINE.toSeconds(), TimeUnit.SECONDS), String.join(" ", command));
        return new Result(process.exitValue(), output);
    }

    private static void ensurePackages(final String... packages) throws Exception
    {
        Path script = Path.of("scripts", "ensure-packages").toAbsolutePath();
        if (!Files.exists(script))
        {
            script = Path.of("..", "scripts", "ensure-packages").toAbsolutePath().normalize();
        }
        final List<String> command = new ArrayList<>(List.of(script.toString()));
        command.addAll(List.of(packages));
        final Result result = runCommand(command);
        assumeTrue(0 == result.exitCode, "missing packages: " + result.output);
    }
}
