package dev.mancom.broker.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.params.provider.Arguments.arguments;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every key, given the wrong type or a wrong value, is an error naming the file, the line and the dotted key.
 * Each case puts the wrong line at line 4 of a real file, after a prefix that makes it a [broker] key, a key of a
 * listening service, or a key of a service with nothing else set.
 */
class ConfigErrorsTest
{
    private static final String BROKER = "# test configuration\n\n[broker]\n";
    private static final String SERVICE = "# test configuration\n[service.echo]\nlisten = [\"tcp://127.0.0.1:7000\"]\n";
    private static final String BARE_SERVICE = "# test configuration\n\n[service.echo]\n";
    private static final String TOP = "# test configuration\n\n\n";
    private static final int LINE = 4;

    @TempDir
    Path tempDir;

    static Stream<Arguments> wrongTypes()
    {
        return Stream.of(
            arguments(BROKER, "dir = 1", "broker.dir", "must be a path string, not an integer"),
            arguments(BROKER, "journal = true", "broker.journal", "must be a path string, not a boolean"),
            arguments(BROKER, "io_threads = \"2\"", "broker.io_threads", "must be an integer, not a string"),
            arguments(BROKER, "io_threads = 2.0", "broker.io_threads", "must be an integer, not a float"),
            arguments(BROKER, "credit_window = true", "broker.credit_window", "must be a size such as 65536"),
            arguments(BROKER, "credit_window = 1.5", "broker.credit_window", ", not a float"),
            arguments(BROKER, "term_length = [1]", "broker.term_length", "must be a size such as 65536"),
            arguments(BROKER, "max_connections = \"10\"", "broker.max_connections", "must be an integer"),
            arguments(BROKER, "idle = 1", "broker.idle", "must be \"polite\" or \"spin\", not an integer"),
            arguments(BROKER, "plugins = [\"/a\"]", "broker.plugins", "must be a path string, not an array"),
            arguments(BROKER, "group = 0", "broker.group", "must be a group name (a string), not an integer"),
            arguments(BROKER, "group = [0]", "broker.group", "must be a group name (a string), not an array"),
            arguments(BROKER, "group = { name = \"wheel\" }", "broker.group", "must be a group name (a string), " +
                "not a table"),
            arguments(TOP, "broker = 1", "broker", "must be a table ([broker]), not an integer"),
            arguments(TOP, "service = \"echo\"", "service", "must be a table of services"),
            arguments(TOP, "service.echo = 1", "service.echo", "must be a table ([service.echo]), not an integer"),
            arguments(TOP, "[[service.echo]]", "service.echo", "must be a table ([service.echo]), not an array"),
            arguments(
                BARE_SERVICE,
                "listen = \"tcp://127.0.0.1:7000\"",
                "service.echo.listen",
                "must be an array of URI strings"),
            arguments(
                BARE_SERVICE,
                "listen = [\"tcp://127.0.0.1:7000\", 7001]",
                "service.echo.listen",
                "entry 2 must be a URI string such as \"tcp://127.0.0.1:7000\", not an integer"),
            arguments(
                BARE_SERVICE,
                "connect = [\"tcp://10.0.0.2:9000\"]",
                "service.echo.connect",
                "must be a URI string such as \"tcp://127.0.0.1:7000\", not an array"),
            arguments(SERVICE, "on_owner_exit = true", "service.echo.on_owner_exit", "not a boolean"),
            arguments(SERVICE, "queue_when_unowned = 5", "service.echo.queue_when_unowned", "must be a duration"),
            arguments(SERVICE, "record = \"yes\"", "service.echo.record", "must be true or false, not a string"),
            arguments(SERVICE, "record = 1", "service.echo.record", "must be true or false, not an integer"),
            arguments(SERVICE, "allow_users = \"alice\"", "service.echo.allow_users", "must be an array of user"),
            arguments(SERVICE, "allow_users = [1]", "service.echo.allow_users", "entry 1 must be a string"),
            arguments(SERVICE, "allow_groups = \"wheel\"", "service.echo.allow_groups", "must be an array of group"),
            arguments(SERVICE, "allow_groups = [\"a\", {}]", "service.echo.allow_groups", "entry 2 must be a string"),
            arguments(SERVICE, "exec = \"/usr/bin/app\"", "service.echo.exec", "must be an array of strings"),
            arguments(SERVICE, "exec = [\"/usr/bin/app\", 1]", "service.echo.exec", "entry 2 must be a string"),
            arguments(SERVICE, "restart = false", "service.echo.restart", "\"no\", \"on-failure\" or \"always\""));
    }

    static Stream<Arguments> wrongValues()
    {
        return Stream.of(
            arguments(BROKER, "dir = \"\"", "broker.dir", "must be a path, not an empty string"),
            arguments(BROKER, "dir = \"/a\\u0000b\"", "broker.dir", "is not a valid path"),
            arguments(BROKER, "journal = \"\"", "broker.journal", "must be a path, not an empty string"),
            arguments(BROKER, "io_threads = 0", "broker.io_threads", "must be at least 1, not 0"),
            arguments(BROKER, "io_threads = -1", "broker.io_threads", "must be at least 1, not -1"),
            arguments(BROKER, "io_threads = 3000000000", "broker.io_threads", "must be at most 2147483647"),
            arguments(BROKER, "credit_window = \"1k\"", "broker.credit_window", "must be from 4k to 64m, not \"1k\""),
            arguments(BROKER, "credit_window = \"65m\"", "broker.credit_window", "must be from 4k to 64m"),
            arguments(BROKER, "credit_window = 4095", "broker.credit_window", "must be from 4k to 64m, not 4095"),
            arguments(BROKER, "credit_window = -4096", "broker.credit_window", "must be from 4k to 64m"),
            arguments(BROKER, "credit_window = \"1g\"", "broker.credit_window", "must be from 4k to 64m, not \"1g\""),
            arguments(BROKER, "credit_window = \"256kb\"", "broker.credit_window", "not \"256kb\""),
            arguments(BROKER, "credit_window = \"256 k\"", "broker.credit_window", "must be a size such as"),
            arguments(BROKER, "credit_window = \"\"", "broker.credit_window", "must be a size such as"),
            arguments(BROKER, "credit_window = \"99999999999999999999g\"", "broker.credit_window", "from 4k to 64m"),
            arguments(BROKER, "term_length = \"100k\"", "broker.term_length", "must be a power of two"),
            arguments(BROKER, "term_length = \"32k\"", "broker.term_length", "must be from 64k to 64m, not \"32k\""),
            arguments(BROKER, "term_length = \"128m\"", "broker.term_length", "must be from 64k to 64m"),
            arguments(BROKER, "max_connections = 0", "broker.max_connections", "must be at least 1, not 0"),
            arguments(BROKER, "max_connections = 1048577", "broker.max_connections", "at most 1048576"),
            arguments(BROKER, "idle = \"busy\"", "broker.idle", "must be \"polite\" or \"spin\", not \"busy\""),
            arguments(BROKER, "idle = \"Spin\"", "broker.idle", "must be \"polite\" or \"spin\", not \"Spin\""),
            arguments(BROKER, "plugins = \"\"", "broker.plugins", "must be a path, not an empty string"),
            arguments(BROKER, "group = \"\"", "broker.group", "must be a group name, not an empty string"),
            arguments(TOP, "[service.\"bad name\"]", "service.\"bad name\"", "service name must be"),
            arguments(TOP, "[service.-echo]", "service.-echo", "service name must be"),
            arguments(TOP, "[service." + "x".repeat(64) + "]", "service." + "x".repeat(64), "service name must"),
            arguments(BARE_SERVICE, "listen = []", "service.echo.listen", "must not be empty"),
            arguments(BARE_SERVICE, "listen = [\"\"]", "service.echo.listen", "entry 1 must be a URI such as"),
            arguments(
                BARE_SERVICE,
                "listen = [\"127.0.0.1:7000\"]",
                "service.echo.listen",
                "entry 1 must be a URI with a scheme:// such as \"tcp://127.0.0.1:7000\", not \"127.0.0.1:7000\""),
            arguments(BARE_SERVICE, "listen = [\"tcp:/h:1\"]", "service.echo.listen", "not \"tcp:/h:1\""),
            arguments(BARE_SERVICE, "listen = [\" tcp://h:1\"]", "service.echo.listen", "not \" tcp://h:1\""),
            arguments(BARE_SERVICE, "listen = [\"tcp://h:1\", \"tcp://h:1\"]", "service.echo.listen", "repeats"),
            arguments(BARE_SERVICE, "connect = \"\"", "service.echo.connect", "must be a URI such as"),
            arguments(BARE_SERVICE, "connect = \"10.0.0.2:9000\"", "service.echo.connect", "with a scheme://"),
            arguments(
                SERVICE,
                "on_owner_exit = \"keep\"",
                "service.echo.on_owner_exit",
                "must be \"close\" or \"hold\", not \"keep\""),
            arguments(SERVICE, "queue_when_unowned = \"5\"", "service.echo.queue_when_unowned", "not \"5\""),
            arguments(SERVICE, "queue_when_unowned = \"-1s\"", "service.echo.queue_when_unowned", "not \"-1s\""),
            arguments(SERVICE, "queue_when_unowned = \"5 s\"", "service.echo.queue_when_unowned", "not \"5 s\""),
            arguments(SERVICE, "queue_when_unowned = \"5d\"", "service.echo.queue_when_unowned", "not \"5d\""),
            arguments(SERVICE, "queue_when_unowned = \"1.5s\"", "service.echo.queue_when_unowned", "not \"1.5s\""),
            arguments(SERVICE, "queue_when_unowned = \"\"", "service.echo.queue_when_unowned", "must be a duration"),
            arguments(
                SERVICE,
                "queue_when_unowned = \"9999999999999999999h\"",
                "service.echo.queue_when_unowned",
                "is too long"),
            arguments(SERVICE, "allow_users = [\"\"]", "service.echo.allow_users", "entry 1 must not be empty"),
            arguments(SERVICE, "allow_groups = [\"\"]", "service.echo.allow_groups", "entry 1 must not be empty"),
            arguments(SERVICE, "allow_users = [\"al ice\"]", "service.echo.allow_users", "must be a user name"),
            arguments(SERVICE, "allow_users = [\"a:b\"]", "service.echo.allow_users", "or a numeric uid, not \"a:b\""),
            arguments(SERVICE, "allow_users = [\"" + "u".repeat(33) + "\"]", "service.echo.allow_users", "at most 32"),
            arguments(SERVICE, "allow_groups = [\"-wheel\"]", "service.echo.allow_groups", "must be a group name"),
            arguments(SERVICE, "allow_groups = [\"a/b\"]", "service.echo.allow_groups", "numeric gid, not \"a/b\""),
            arguments(SERVICE, "exec = []", "service.echo.exec", "must not be empty"),
            arguments(SERVICE, "exec = [\"\", \"arg\"]", "service.echo.exec", "the program, must not be empty"),
            arguments(
                SERVICE,
                "restart = \"sometimes\"",
                "service.echo.restart",
                "must be \"no\", \"on-failure\" or \"always\", not \"sometimes\""),
            arguments(SERVICE, "connect = \"tcp://10.0.0.2:9000\"", "service.echo", "has both listen and connect"));
    }

    @ParameterizedTest(name = "[{index}] {1}")
    @MethodSource("wrongTypes")
    void shouldRejectAWrongTypeNamingFileLineAndKey(
        final String prefix, final String wrongLine, final String key, final String problem) throws Exception
    {
        assertRejected(prefix, wrongLine, key, problem);
    }

    @ParameterizedTest(name = "[{index}] {1}")
    @MethodSource("wrongValues")
    void shouldRejectAWrongValueNamingFileLineAndKey(
        final String prefix, final String wrongLine, final String key, final String problem) throws Exception
    {
        assertRejected(prefix, wrongLine, key, problem);
    }

    @ParameterizedTest(name = "[{index}] {1}")
    @MethodSource("wrongValues")
    void shouldRejectAWrongValueInParsedTextNamingSourceLineAndKey(
        final String prefix, final String wrongLine, final String key, final String problem)
    {
        final ConfigException ex = assertThrows(
            ConfigException.class, () -> ConfigLoader.parse(prefix + wrongLine + "\n", "/etc/mancom/mancom.toml"));

        assertTrue(
            ex.getMessage().startsWith("/etc/mancom/mancom.toml:" + LINE + ": " + key + ": "), ex.getMessage());
        assertTrue(ex.getMessage().contains(problem), ex.getMessage());
    }

    @ParameterizedTest(name = "[{index}] {0}")
    @MethodSource("multiLineArrays")
    void shouldNameTheLineOfTheWrongArrayEntry(final String field, final String wrongEntry, final String problem)
    {
        final boolean listen = field.equals("listen");
        final String toml =
            "[service.echo]\n" +
            (listen ? "# listen is below\n" : "listen = [\"tcp://127.0.0.1:7000\"]\n") +
            field + " = [\n" +
            "    " + (listen ? "\"tcp://127.0.0.1:7001\"" : "\"ok\"") + ",\n" +
            "    " + wrongEntry + ",\n" +
            "]\n";

        final ConfigException ex = assertThrows(ConfigException.class, () -> ConfigLoader.parse(toml, "a.toml"));

        final String key = "service.echo." + field;
        assertTrue(ex.getMessage().startsWith("a.toml:5: " + key + ": entry 2 "), ex.getMessage());
        assertTrue(ex.getMessage().contains(problem), ex.getMessage());
    }

    static Stream<Arguments> multiLineArrays()
    {
        return Stream.of(
            arguments("listen", "\"localhost:7000\"", "with a scheme://"),
            arguments("allow_users", "3", "must be a string"),
            arguments("allow_groups", "\"\"", "must not be empty"),
            arguments("exec", "false", "must be a string"));
    }

    private void assertRejected(final String prefix, final String wrongLine, final String key, final String problem)
        throws Exception
    {
        final Path file = tempDir.resolve("mancom.toml");
        Files.writeString(file, prefix + wrongLine + "\n", StandardCharsets.UTF_8);

        final ConfigException ex = assertThrows(ConfigException.class, () -> ConfigLoader.load(file));

        final String expectedStart = file + ":" + LINE + ": " + key + ": ";
        assertTrue(ex.getMessage().startsWith(expectedStart), "expected " + expectedStart + " in " + ex.getMessage());
        assertTrue(ex.getMessage().contains(problem), "expected '" + problem + "' in " + ex.getMessage());
        assertEquals(file.toString(), ex.file());
        assertEquals(LINE, ex.line());
        assertEquals(key, ex.key());
        assertEquals(1, ex.errors().size(), ex.errors().toString());
    }
}
