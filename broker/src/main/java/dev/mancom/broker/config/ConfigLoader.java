package dev.mancom.broker.config;

import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Finds, reads, parses and validates the broker configuration.
 * <p>
 * {@link #resolve(Map)} decides which file(s) to read: the file named by {@value #CONFIG_ENV} if set; otherwise
 * {@code /etc/mancom/mancom.toml} and the drop-in files {@code /etc/mancom/conf.d/*.toml} (in name order) if the
 * main file exists; otherwise the {@link #builtInDefault() built-in default}. Drop-in files may add services but
 * not change {@code [broker]} settings.
 * <p>
 * Every problem is a {@link ConfigException} naming the file, the line and the dotted key; unknown keys are not
 * errors but {@link BrokerConfig#warnings() warnings}.
 */
public final class ConfigLoader
{
    /**
     * The environment variable naming the configuration file to use instead of {@code /etc/mancom/mancom.toml}.
     */
    public static final String CONFIG_ENV = "MANCOM_CONFIG";

    /**
     * The directory of the system configuration.
     */
    public static final Path DEFAULT_ETC_DIR = Path.of("/etc/mancom");

    /**
     * The name of the main configuration file in the configuration directory.
     */
    public static final String MAIN_FILE_NAME = "mancom.toml";

    /**
     * The name of the drop-in directory in the configuration directory; its {@code *.toml} files are merged.
     */
    public static final String DROP_IN_DIR_NAME = "conf.d";

    /**
     * The {@link BrokerConfig#source()} of the built-in default configuration.
     */
    public static final String BUILT_IN_SOURCE = "built-in default";

    /**
     * The built-in default configuration: the echo service on the loopback interface.
     */
    public static final String BUILT_IN_TOML =
        "[service.echo]\n" +
        "listen = [\"tcp://127.0.0.1:7007\"]\n";

    private ConfigLoader()
    {
    }

    /**
     * The configuration to run with, found as described in the class documentation, using
     * {@link System#getenv()} and {@link #DEFAULT_ETC_DIR}.
     *
     * @return the configuration.
     * @throws ConfigException if a file is wrong or cannot be read.
     */
    public static BrokerConfig resolve()
    {
        return resolve(System.getenv(), DEFAULT_ETC_DIR);
    }

    /**
     * The configuration to run with, found as described in the class documentation, in
     * {@link #DEFAULT_ETC_DIR}.
     *
     * @param env the environment, for {@value #CONFIG_ENV}.
     * @return the configuration.
     * @throws ConfigException if a file is wrong or cannot be read, or {@value #CONFIG_ENV} names a file that does
     *                         not exist.
     */
    public static BrokerConfig resolve(final Map<String, String> env)
    {
        return resolve(env, DEFAULT_ETC_DIR);
    }

    /**
     * The configuration to run with: the file named by {@value #CONFIG_ENV} if it is set (and not empty);
     * otherwise {@code etcDir/mancom.toml} merged with {@code etcDir/conf.d/*.toml} in name order if the main file
     * exists; otherwise the built-in default.
     *
     * @param env    the environment, for {@value #CONFIG_ENV}.
     * @param etcDir the configuration directory, {@link #DEFAULT_ETC_DIR} but for tests.
     * @return the configuration.
     * @throws ConfigException if a file is wrong or cannot be read, or {@value #CONFIG_ENV} names a file that does
     *                         not exist.
     */
    public static BrokerConfig resolve(final Map<String, String> env, final Path etcDir)
    {
        Objects.requireNonNull(env, "env");
        Objects.requireNonNull(etcDir, "etcDir");

        final String explicit = env.get(CONFIG_ENV);
        if (null != explicit && !explicit.isEmpty())
        {
            final Path file;
            try
            {
                file = Path.of(explicit);
            }
            catch (final InvalidPathException ex)
            {
                throw new ConfigException(explicit, 0, null, CONFIG_ENV + " is not a valid path: " + ex.getReason());
            }
            if (!Files.exists(file))
            {
                throw new ConfigException(explicit, 0, null, "no such file (named by " + CONFIG_ENV + ")");
            }

            return load(file);
        }

        final Path mainFile = etcDir.resolve(MAIN_FILE_NAME);
        final Path dropInDir = etcDir.resolve(DROP_IN_DIR_NAME);
        if (Files.exists(mainFile))
        {
            return loadMerged(mainFile, dropInFiles(dropInDir));
        }

        final BrokerConfig config = builtInDefault();
        if (Files.isDirectory(dropInDir) && !dropInFiles(dropInDir).isEmpty())
        {
            final List<String> warnings = new ArrayList<>(config.warnings());
            warnings.add(dropInDir + ": drop-in files ignored because " + mainFile + " does not exist; using the " +
                BUILT_IN_SOURCE);
            return config.merge(config.sources(), config.services(), warnings);
        }

        return config;
    }

    /**
     * The drop-in files of a directory: its regular files named {@code *.toml}, in name order.
     *
     * @param dropInDir the directory, such as {@code /etc/mancom/conf.d}.
     * @return the files, or an empty list if the directory does not exist.
     * @throws ConfigException if the directory cannot be read.
     */
    public static List<Path> dropInFiles(final Path dropInDir)
    {
        final List<Path> files = new ArrayList<>();
        if (!Files.exists(dropInDir))
        {
            return files;
        }

        try (DirectoryStream<Path> stream = Files.newDirectoryStream(dropInDir, "*.toml"))
        {
            for (final Path file : stream)
            {
                if (Files.isRegularFile(file))
                {
                    files.add(file);
                }
            }
        }
        catch (final IOException ex)
        {
            throw new ConfigException(
                dropInDir.toString(), 0, null, "cannot read drop-in directory: " + reason(ex), ex);
        }

        files.sort(Comparator.comparing(file -> file.getFileName().toString()));
        return files;
    }

    /**
     * Read, parse and validate one configuration file.
     *
     * @param file the file.
     * @return the configuration, with {@link BrokerConfig#source()} the file.
     * @throws ConfigException if the file cannot be read (line 0, naming the reason) or is wrong.
     */
    public static BrokerConfig load(final Path file)
    {
        return ConfigParser.parse(read(file), file.toString(), null);
    }

    /**
     * Read, parse, validate and merge a main configuration file and drop-in files. Drop-in files may add services
     * but not define a service again, nor set {@code [broker]} keys.
     *
     * @param mainFile   the main file, with the {@code [broker]} settings.
     * @param confDFiles the drop-in files, in the order to merge them (services keep this order).
     * @return the merged configuration, with {@link BrokerConfig#source()} the main file.
     * @throws ConfigException if a file cannot be read or is wrong, a drop-in file has {@code [broker]} keys, or a
     *                         service is defined twice (naming both files).
     */
    public static BrokerConfig loadMerged(final Path mainFile, final List<Path> confDFiles)
    {
        final BrokerConfig main = load(mainFile);
        final List<String> sources = new ArrayList<>(main.sources());
        final Map<String, ServiceConfig> services = new LinkedHashMap<>(main.services());
        final List<String> warnings = new ArrayList<>(main.warnings());

        for (final Path dropIn : confDFiles)
        {
            final BrokerConfig part = ConfigParser.parse(read(dropIn), dropIn.toString(), mainFile.toString());
            final List<ConfigException> errors = new ArrayList<>();
            for (final ServiceConfig service : part.services().values())
            {
                final ServiceConfig previous = services.putIfAbsent(service.name(), service);
                if (null != previous)
                {
                    errors.add(service.error(null, "is already defined at " + previous.source() +
                        (previous.line() > 0 ? ":" + previous.line() : "") + "; a service may be defined only once"));
                }
            }
            if (!errors.isEmpty())
            {
                throw ConfigException.combine(errors);
            }

            sources.addAll(part.sources());
            warnings.addAll(part.warnings());
        }

        return main.merge(sources, services, warnings);
    }

    /**
     * Parse and validate configuration text.
     *
     * @param toml       the TOML text.
     * @param sourceName the name to report in messages and as {@link BrokerConfig#source()}, such as a file name.
     * @return the configuration.
     * @throws ConfigException if the text is wrong.
     */
    public static BrokerConfig parse(final String toml, final String sourceName)
    {
        Objects.requireNonNull(toml, "toml");
        Objects.requireNonNull(sourceName, "sourceName");
        return ConfigParser.parse(toml, sourceName, null);
    }

    /**
     * The configuration used when there is no configuration file: the {@code echo} service listening on
     * {@code tcp://127.0.0.1:7007}, every other setting at its default.
     *
     * @return the configuration, with {@link BrokerConfig#source()} {@value #BUILT_IN_SOURCE}.
     */
    public static BrokerConfig builtInDefault()
    {
        return parse(BUILT_IN_TOML, BUILT_IN_SOURCE);
    }

    private static String read(final Path file)
    {
        try
        {
            return Files.readString(file, StandardCharsets.UTF_8);
        }
        catch (final IOException ex)
        {
            throw new ConfigException(file.toString(), 0, null, "cannot read file: " + reason(ex), ex);
        }
    }

    private static String reason(final IOException ex)
    {
        if (ex instanceof NoSuchFileException)
        {
            return "no such file or directory";
        }
        if (ex instanceof AccessDeniedException)
        {
            return "permission denied";
        }
        if (ex instanceof NotDirectoryException)
        {
            return "not a directory";
        }
        if (ex instanceof CharacterCodingException)
        {
            return "not valid UTF-8 text";
        }

        final String message = ex.getMessage();
        return null == message || message.isEmpty() ? ex.getClass().getSimpleName() : message;
    }
}
