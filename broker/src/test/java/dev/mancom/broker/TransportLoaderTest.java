package dev.mancom.broker;

import dev.mancom.broker.config.BrokerConfig;
import dev.mancom.broker.config.ConfigException;
import dev.mancom.broker.config.ConfigLoader;
import dev.mancom.transport.Transport;
import dev.mancom.transport.TransportContext;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Plug-ins from a directory: jars and directories of jars, each compiled here so that no class of theirs is on the
 * test's class path, and every way a plug-in directory can be wrong.
 */
class TransportLoaderTest
{
    private static final String SERVICE_FILE = "META-INF/services/dev.mancom.transport.TransportProvider";

    @TempDir
    Path tempDir;

    private Path plugins;
    private BrokerConfig config;
    private TransportContext context;

    @BeforeEach
    void setUp() throws IOException
    {
        plugins = Files.createDirectory(tempDir.resolve("plugins"));
        final Path file = tempDir.resolve("mancom.toml");
        Files.writeString(file, "[broker]\nio_threads = 1\nplugins = \"" + plugins + "\"\n");
        config = ConfigLoader.load(file);
        context = new TransportContext(1, "loader-test-", (ex) -> { });
    }

    @Test
    void shouldLoadAJarPluginAndADirectoryPluginWithItsOwnLibrary() throws Exception
    {
        writeJar(plugins.resolve("fake.jar"), compile("p1", "FakeProvider", providerSource("p1", "FakeProvider",
            "\"fake\"", "")), "p1.FakeProvider");
        final Path other = Files.createDirectory(plugins.resolve("other"));
        writeJar(other.resolve("helper.jar"), compile("lib", "Helper",
            "package lib; public final class Helper { public static String scheme() { return \"other\"; } }"), null);
        writeJar(other.resolve("other.jar"), compile("p2", "OtherProvider", providerSource("p2", "OtherProvider",
            "lib.Helper.scheme()", "")), "p2.OtherProvider");
        Files.writeString(plugins.resolve("README.txt"), "not a plug-in");

        final TransportLoader loader = TransportLoader.load(
            TransportLoaderTest.class.getClassLoader(), plugins, config, context);
        try
        {
            final Map<String, Transport> transports = loader.transports();
            assertNotNull(transports.get("tcp"), transports::toString);
            assertNotNull(transports.get("fake"), transports::toString);
            assertNotNull(transports.get("other"), transports::toString);
            assertEquals(TransportLoader.CLASS_PATH_ORIGIN, loader.origins().get("tcp"));
            assertEquals("the plug-in " + plugins.resolve("fake.jar"), loader.origins().get("fake"));
            assertEquals("the plug-in " + other, loader.origins().get("other"));
            assertEquals(2, loader.classLoaders().size());
            final ClassLoader pluginLoader = transports.get("fake").getClass().getClassLoader();
            assertNotSame(TransportLoaderTest.class.getClassLoader(), pluginLoader);
            assertEquals(TransportLoaderTest.class.getClassLoader(), pluginLoader.getParent());
            // Parent first: the SPI is the broker's own.
            assertEquals(Transport.class, pluginLoader.loadClass(Transport.class.getName()));
        }
        finally
        {
            loader.close();
        }
    }

    @Test
    void shouldRefuseAMissingDirectoryNamingTheKeyAndTheDirectory()
    {
        final Path missing = tempDir.resolve("nowhere");
        final ConfigException error = assertThrows(ConfigException.class, () ->
            TransportLoader.load(TransportLoaderTest.class.getClassLoader(), missing, config, context));
        assertMessage(error, "broker.plugins", missing.toString(), "does not exist");
    }

    @Test
    void shouldRefuseAFileInsteadOfADirectory() throws IOException
    {
        final Path file = Files.writeString(tempDir.resolve("file"), "x");
        final ConfigException error = assertThrows(ConfigException.class, () ->
            TransportLoader.load(TransportLoaderTest.class.getClassLoader(), file, config, context));
        assertMessage(error, "broker.plugins", file.toString(), "is not a directory");
    }

    @Test
    void shouldRefuseAJarThatCannotBeRead() throws IOException
    {
        final Path broken = Files.writeString(plugins.resolve("broken.jar"), "this is not a zip file");
        final ConfigException error = assertThrows(ConfigException.class, () ->
            TransportLoader.load(TransportLoaderTest.class.getClassLoader(), plugins, config, context));
        assertMessage(error, "broker.plugins", broken.toString(), "cannot read the plug-in jar");
    }

    @Test
    void shouldRefuseAPluginThatClaimsASchemeTheClassPathServesNamingBoth() throws Exception
    {
        final Path jar = plugins.resolve("clash.jar");
        writeJar(jar, compile("p3", "TcpProvider", providerSource("p3", "TcpProvider", "\"tcp\"", "")),
            "p3.TcpProvider");
        final ConfigException error = assertThrows(ConfigException.class, () ->
            TransportLoader.load(TransportLoaderTest.class.getClassLoader(), plugins, config, context));
        assertMessage(error, "broker.plugins", jar.toString(), "p3.TcpProvider", "'tcp'",
            TransportLoader.CLASS_PATH_ORIGIN);
    }

    @Test
    void shouldRefuseTwoPluginsServingTheSameSchemeNamingBoth() throws Exception
    {
        final Path first = plugins.resolve("a.jar");
        final Path second = plugins.resolve("b.jar");
        writeJar(first, compile("p4", "AProvider", providerSource("p4", "AProvider", "\"same\"", "")),
            "p4.AProvider");
        writeJar(second, compile("p5", "BProvider", providerSource("p5", "BProvider", "\"same\"", "")),
            "p5.BProvider");
        final ConfigException error = assertThrows(ConfigException.class, () ->
            TransportLoader.load(TransportLoaderTest.class.getClassLoader(), plugins, config, context));
        assertMessage(error, "broker.plugins", first.toString(), second.toString(), "'same'");
    }

    @Test
    void shouldRefuseAProviderThatFailsToLoad() throws Exception
    {
        final Path jar = plugins.resolve("failing.jar");
        writeJar(jar, compile("p6", "FailingProvider", providerSource("p6", "FailingProvider", "\"failing\"",
            "if (true) { throw new IllegalStateException(\"no licence\"); }")), "p6.FailingProvider");
        final ConfigException error = assertThrows(ConfigException.class, () ->
            TransportLoader.load(TransportLoaderTest.class.getClassLoader(), plugins, config, context));
        assertMessage(error, "broker.plugins", jar.toString(), "cannot be loaded", "no licence");
    }

    @Test
    void shouldRefuseAJarListingAProviderItDoesNotHold() throws Exception
    {
        final Path jar = plugins.resolve("missing-class.jar");
        writeJar(jar, List.of(), "p7.Absent");
        final ConfigException error = assertThrows(ConfigException.class, () ->
            TransportLoader.load(TransportLoaderTest.class.getClassLoader(), plugins, config, context));
        assertMessage(error, "broker.plugins", jar.toString(), "cannot be loaded", "p7.Absent");
    }

    @Test
    void shouldRefuseAPluginWithNoProviderAndADirectoryWithNoJar() throws Exception
    {
        final Path jar = plugins.resolve("library.jar");
        writeJar(jar, compile("lib2", "Helper", "package lib2; public final class Helper { }"), null);
        final ConfigException noProvider = assertThrows(ConfigException.class, () ->
            TransportLoader.load(TransportLoaderTest.class.getClassLoader(), plugins, config, context));
        assertMessage(noProvider, "broker.plugins", jar.toString(), "holds no transport provider");

        Files.delete(jar);
        final Path empty = Files.createDirectory(plugins.resolve("empty"));
        final ConfigException noJar = assertThrows(ConfigException.class, () ->
            TransportLoader.load(TransportLoaderTest.class.getClassLoader(), plugins, config, context));
        assertMessage(noJar, "broker.plugins", empty.toString(), "holds no jar");
    }

    private static void assertMessage(final ConfigException error, final String... parts)
    {
        for (final String part : parts)
        {
            assertTrue(error.getMessage().contains(part), () -> "'" + part + "' not in: " + error.getMessage());
        }
    }

    private static String providerSource(
        final String pkg, final String name, final String schemeExpression, final String constructorBody)
    {
        return "package " + pkg + ";\n" +
            "import dev.mancom.transport.*;\n" +
            "public final class " + name + " implements TransportProvider {\n" +
            "  public " + name + "() { " + constructorBody + " }\n" +
            "  public java.util.Set<String> schemes() { return java.util.Set.of(" + schemeExpression + "); }\n" +
            "  public Transport create(final TransportContext context) {\n" +
            "    return new Transport() {\n" +
            "      public void validate(final TransportUri uri) { throw new TransportException(null, \"test\"); }\n" +
            "      public TransportListener listen(final TransportUri uri, final AcceptHandler handler) {\n" +
            "        throw new TransportException(null, \"test\"); }\n" +
            "      public void connect(final TransportUri uri, final ConnectHandler handler) {\n" +
            "        handler.onConnectFailed(new IllegalStateException(\"test\")); }\n" +
            "      public void close() { }\n" +
            "    };\n" +
            "  }\n" +
            "}\n";
    }

    /**
     * Compile one class (and its nested ones) against the test's class path; return the class files.
     */
    private List<Path> compile(final String pkg, final String name, final String source) throws IOException
    {
        final Path src = Files.createDirectories(tempDir.resolve("src").resolve(pkg));
        final Path file = Files.writeString(src.resolve(name + ".java"), source);
        final Path out = Files.createDirectories(tempDir.resolve("classes-" + pkg));
        final String classPath = System.getProperty("surefire.test.class.path",
            System.getProperty("java.class.path")) + java.io.File.pathSeparator + tempDir.resolve("classes-lib");
        final JavaCompiler compiler = ToolProvider.getSystemJavaCompiler();
        assertNotNull(compiler, "the tests need a JDK");
        final ByteArrayOutputStream errors = new ByteArrayOutputStream();
        final int rc = compiler.run(null, null, errors,
            "-d", out.toString(), "-cp", classPath, "-proc:none", file.toString());
        assertEquals(0, rc, () -> errors.toString(StandardCharsets.UTF_8));
        final List<Path> classes = new ArrayList<>();
        try (Stream<Path> walk = Files.walk(out))
        {
            walk.filter((p) -> p.toString().endsWith(".class")).forEach(classes::add);
        }
        classes.add(0, out);
        return classes;
    }

    private static void writeJar(final Path jar, final List<Path> classes, final String provider) throws IOException
    {
        try (OutputStream file = Files.newOutputStream(jar); JarOutputStream out = new JarOutputStream(file))
        {
            if (!classes.isEmpty())
            {
                final Path root = classes.get(0);
                for (final Path clazz : classes.subList(1, classes.size()))
                {
                    out.putNextEntry(new JarEntry(root.relativize(clazz).toString().replace('\\', '/')));
                    out.write(Files.readAllBytes(clazz));
                    out.closeEntry();
                }
            }
            if (null != provider)
            {
                out.putNextEntry(new JarEntry(SERVICE_FILE));
                out.write((provider + "\n").getBytes(StandardCharsets.UTF_8));
                out.closeEntry();
            }
        }
    }
}
