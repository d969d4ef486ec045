package dev.mancom.broker.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.provider.Arguments;

/**
 * Bad input, key by key: every key the parser knows (read from {@link ConfigParser}'s source, so that a key added
 * later without a test fails here) has a wrong-type case and a wrong-value case in {@link ConfigErrorsTest}; a file
 * with every key wrong at once reports every one, each naming file, line and key; unknown keys at every level are
 * warned about by name.
 */
class ConfigEveryKeyTest
{
    private static final Path PARSER_SOURCE = Path.of("src/main/java/dev/mancom/broker/config/ConfigParser.java");
    private static final Pattern CASE_LABEL = Pattern.compile("case \"([a-z_]+)\" ->");

    /** Keys with no wrong value other than a wrong type: a boolean is true or false. */
    private static final Set<String> TYPE_ONLY = Set.of("service.echo.record");

    @TempDir
    Path tempDir;

    @Test
    void shouldHaveAWrongTypeAndAWrongValueCaseForEveryKeyOfTheParser() throws Exception
    {
        final Set<String> keys = parserKeys();
        assertTrue(keys.contains("broker.io_threads") && keys.contains("service.echo.listen"), keys.toString());

        final Set<String> typeCases = keysOf(ConfigErrorsTest.wrongTypes().collect(Collectors.toList()));
        final Set<String> valueCases = keysOf(ConfigErrorsTest.wrongValues().collect(Collectors.toList()));
        final List<String> missing = new ArrayList<>();
        for (final String key : keys)
        {
            if (!typeCases.contains(key))
            {
                missing.add(key + " (wrong type)");
            }
            if (!valueCases.contains(key) && !TYPE_ONLY.contains(key))
            {
                missing.add(key + " (wrong value)");
            }
        }
        assertTrue(missing.isEmpty(), "keys with no bad-input case in ConfigErrorsTest: " + missing);
    }

    @Test
    void shouldReportEveryWrongKeyOfOneFileNamingFileLineAndKey() throws Exception
    {
        final String toml =
            "[broker]\n" +                                        // 1
            "dir = 1\n" +                                         // 2
            "journal = \"\"\n" +                                  // 3
            "io_threads = \"2\"\n" +                              // 4
            "credit_window = \"1k\"\n" +                          // 5
            "term_length = \"100k\"\n" +                          // 6
            "max_connections = 0\n" +                             // 7
            "idle = \"busy\"\n" +                                 // 8
            "plugins = [\"/a\"]\n" +                              // 9
            "group = [\"wheel\"]\n" +                             // 10
            "\n" +                                                // 11
            "[service.echo]\n" +                                  // 12
            "listen = [\"127.0.0.1:7000\"]\n" +                   // 13
            "on_owner_exit = \"keep\"\n" +                        // 14
            "queue_when_unowned = \"-1s\"\n" +                    // 15
            "record = \"yes\"\n" +                                // 16
            "allow_users = \"alice\"\n" +                         // 17
            "allow_groups = [\"a b\"]\n" +                        // 18
            "exec = []\n" +                                       // 19
            "restart = \"sometimes\"\n" +                         // 20
            "\n" +                                                // 21
            "[service.out]\n" +                                   // 22
            "connect = 7\n";                                      // 23
        final Path file = tempDir.resolve("all-wrong.toml");
        Files.writeString(file, toml, StandardCharsets.UTF_8);

        final ConfigException ex = assertThrows(ConfigException.class, () -> ConfigLoader.load(file));

        final String[] expected = {
            "2: broker.dir: ", "3: broker.journal: ", "4: broker.io_threads: ", "5: broker.credit_window: ",
            "6: broker.term_length: ", "7: broker.max_connections: ", "8: broker.idle: ", "9: broker.plugins: ",
            "10: broker.group: ", "13: service.echo.listen: ", "14: service.echo.on_owner_exit: ",
            "15: service.echo.queue_when_unowned: ", "16: service.echo.record: ", "17: service.echo.allow_users: ",
            "18: service.echo.allow_groups: ", "19: service.echo.exec: ", "20: service.echo.restart: ",
            "23: service.out.connect: "};
        final Set<String> covered = new TreeSet<>();
        for (final String line : expected)
        {
            final String key = line.substring(line.indexOf(' ') + 1, line.length() - 2);
            covered.add(key.replace("service.out.", "service.echo."));
        }
        assertEquals(parserKeys(), covered, "every key of the parser must be wrong in this file");
        assertEquals(expected.length, ex.errors().size(), String.join("\n", ex.errors()));
        for (int i = 0; i < expected.length; i++)
        {
            assertTrue(ex.errors().get(i).startsWith(file + ":" + expected[i]),
                "expected " + file + ":" + expected[i] + " in " + ex.errors().get(i));
        }
        assertTrue(ex.getMessage().startsWith(file + ":2: broker.dir: "), ex.getMessage());
    }

    @Test
    void shouldWarnAboutEveryUnknownKeyByNameAndLine() throws Exception
    {
        final Set<String> keys = parserKeys();
        final String toml =
            "colour = \"blue\"\n" +
            "[broker]\n" +
            "io_thread = 2\n" +
            "[service.echo]\n" +
            "listen = [\"tcp://127.0.0.1:7000\"]\n" +
            "on_owner_exits = \"hold\"\n" +
            "allow_user = [\"alice\"]\n";
        final Path file = tempDir.resolve("unknown.toml");
        Files.writeString(file, toml, StandardCharsets.UTF_8);

        final BrokerConfig config = ConfigLoader.load(file);

        assertEquals(List.of(
            file + ":1: unknown key 'colour' (ignored)",
            file + ":3: unknown key 'broker.io_thread' (ignored)",
            file + ":6: unknown key 'service.echo.on_owner_exits' (ignored)",
            file + ":7: unknown key 'service.echo.allow_user' (ignored)"),
            config.warnings());
        assertFalse(keys.contains("broker.io_thread"));
    }

    /**
     * The keys of {@code [broker]} and of a service, as {@code broker.KEY} and {@code service.echo.KEY}, read from
     * the case labels of the parser's {@code broker} and {@code service} methods.
     */
    private static Set<String> parserKeys() throws Exception
    {
        final String source = Files.readString(PARSER_SOURCE, StandardCharsets.UTF_8);
        final int brokerStart = source.indexOf("private void broker(");
        final int servicesStart = source.indexOf("private void services(");
        final int serviceStart = source.indexOf("private ServiceConfig service(");
        final int serviceEnd = source.indexOf("final boolean hasListen", serviceStart);
        assertTrue(brokerStart > 0 && servicesStart > brokerStart && serviceStart > servicesStart &&
            serviceEnd > serviceStart, "the layout of " + PARSER_SOURCE + " changed: update this test");

        final Set<String> keys = new TreeSet<>();
        addLabels(source.substring(brokerStart, servicesStart), "broker.", keys);
        addLabels(source.substring(serviceStart, serviceEnd), "service.echo.", keys);
        return keys;
    }

    private static void addLabels(final String code, final String prefix, final Set<String> keys)
    {
        final Matcher matcher = CASE_LABEL.matcher(code);
        while (matcher.find())
        {
            keys.add(prefix + matcher.group(1));
        }
    }

    private static Set<String> keysOf(final List<Arguments> cases)
    {
        final Set<String> keys = new TreeSet<>();
        for (final Arguments arguments : cases)
        {
            keys.add((String)arguments.get()[2]);
        }
        return keys;
    }
}
