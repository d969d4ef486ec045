package dev.mancom.broker;

import dev.mancom.broker.config.BrokerConfig;
import dev.mancom.broker.config.ConfigException;
import dev.mancom.transport.Transport;
import dev.mancom.transport.TransportContext;
import dev.mancom.transport.TransportProvider;
import org.agrona.CloseHelper;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.MalformedURLException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;
import java.util.Set;
import java.util.TreeSet;
import java.util.jar.JarFile;

/**
 * Finds the broker's transports: the providers on the broker's own class path, then those of the plug-in
 * directory ({@code [broker] plugins}), and creates one transport per provider. Used once, at start-up.
 * <p>
 * <b>Layout of the plug-in directory.</b> Each entry, in name order, is one plug-in:
 * <ul>
 *     <li>a file {@code NAME.jar}: a plug-in that is that jar alone;</li>
 *     <li>a directory {@code NAME/}: a plug-in whose class path is every {@code *.jar} directly in it (the
 *     plug-in's own jar and the libraries it needs that the broker does not carry).</li>
 * </ul>
 * Entries whose names start with a dot, and files that are not jars, are ignored. Every plug-in must hold at least
 * one {@link TransportProvider} listed in its {@code META-INF/services/dev.mancom.transport.TransportProvider}.
 * <p>
 * <b>Class loading.</b> Each plug-in gets a class loader of its own whose parent is the broker's class loader, and
 * which asks its parent first: a class the broker carries (the transport SPI, shm-protocol, Agrona, SLF4J, and the
 * libraries of the built-in transports such as Netty) is always the broker's, whatever copy the plug-in brings;
 * the plug-in's jars provide only what the broker lacks. Plug-ins do not see each other's classes.
 * <p>
 * Every failure is a {@link ConfigException} about {@code broker.plugins} naming the file: a missing or unreadable
 * directory, a jar that cannot be read, a plug-in with no provider, a provider that fails to load or to start, and a
 * plug-in that claims a scheme another transport already serves (both are named).
 */
final class TransportLoader
{
    /** Where the class path's transports come from, in messages. */
    static final String CLASS_PATH_ORIGIN = "the broker's class path";

    private static final Logger LOG = LoggerFactory.getLogger(TransportLoader.class);
    private static final String KEY = "plugins";
    private static final String JAR_SUFFIX = ".jar";

    private final Map<String, Transport> transports = new LinkedHashMap<>();
    private final Map<String, String> origins = new LinkedHashMap<>();
    private final List<URLClassLoader> classLoaders = new ArrayList<>();

    private TransportLoader()
    {
    }

    /**
     * Create every transport: the class path's, then the plug-ins'. On failure whatever was created is closed.
     *
     * @param classLoader the broker's class loader, parent of the plug-ins'.
     * @param pluginsDir  the plug-in directory, or null for none.
     * @param config      the configuration, for messages about {@code broker.plugins}.
     * @param context     what every transport is given.
     * @return the transports by scheme, and the plug-ins' class loaders.
     * @throws ConfigException about {@code broker.plugins}, naming the file.
     */
    static TransportLoader load(
        final ClassLoader classLoader, final Path pluginsDir, final BrokerConfig config, final TransportContext context)
    {
        final TransportLoader loader = new TransportLoader();
        try
        {
            loader.loadClassPath(classLoader, context);
            if (null != pluginsDir)
            {
                loader.loadPlugins(classLoader, pluginsDir, config, context);
            }
            return loader;
        }
        catch (final RuntimeException | Error ex)
        {
            loader.close();
            throw ex;
        }
    }

    /**
     * The transports by scheme; one transport may serve several schemes.
     *
     * @return unmodifiable map, in load order.
     */
    Map<String, Transport> transports()
    {
        return Collections.unmodifiableMap(transports);
    }

    /**
     * Where the transport of each scheme came from: {@link #CLASS_PATH_ORIGIN} or the plug-in's path.
     *
     * @return unmodifiable map, in load order.
     */
    Map<String, String> origins()
    {
        return Collections.unmodifiableMap(origins);
    }

    /**
     * The plug-ins' class loaders, to close once their transports are closed.
     *
     * @return the class loaders.
     */
    List<URLClassLoader> classLoaders()
    {
        return classLoaders;
    }

    /**
     * Close every transport, then the plug-ins' class loaders. Idempotent.
     */
    void close()
    {
        closeTransports(transports);
        closeClassLoaders(classLoaders);
    }

    /**
     * Close transports once each (one may serve several schemes).
     *
     * @param transports by scheme.
     */
    static void closeTransports(final Map<String, Transport> transports)
    {
        final List<Transport> distinct = new ArrayList<>();
        for (final Transport transport : transports.values())
        {
            if (!distinct.contains(transport))
            {
                distinct.add(transport);
            }
        }
        for (final Transport transport : distinct)
        {
            CloseHelper.quietClose(transport::close);
        }
    }

    /**
     * Close plug-in class loaders, after their transports.
     *
     * @param classLoaders the class loaders.
     */
    static void closeClassLoaders(final List<URLClassLoader> classLoaders)
    {
        for (final URLClassLoader classLoader : classLoaders)
        {
            CloseHelper.quietClose(classLoader);
        }
    }

    private void loadClassPath(final ClassLoader classLoader, final TransportContext context)
    {
        for (final TransportProvider provider : ServiceLoader.load(TransportProvider.class, classLoader))
        {
            final Transport transport = provider.create(context);
            for (final String scheme : provider.schemes())
            {
                if (null == transports.putIfAbsent(scheme, transport))
                {
                    origins.put(scheme, CLASS_PATH_ORIGIN);
                }
            }
        }
    }

    private void loadPlugins(
        final ClassLoader parent, final Path dir, final BrokerConfig config, final TransportContext context)
    {
        if (!Files.exists(dir))
        {
            throw error(config, "the plug-in directory " + dir + " does not exist", null);
        }
        if (!Files.isDirectory(dir))
        {
            throw error(config, dir + " is not a directory", null);
        }

        final List<Path> entries = new ArrayList<>();
        try (DirectoryStream<Path> stream = Files.newDirectoryStream(dir))
        {
            for (final Path entry : stream)
            {
                entries.add(entry);
            }
        }
        catch (final IOException | SecurityException ex)
        {
            throw error(config, "cannot list the plug-in directory " + dir + ": " + ex, ex);
        }
        Collections.sort(entries);

        int plugins = 0;
        for (final Path entry : entries)
        {
            final String name = entry.getFileName().toString();
            if (name.startsWith("."))
            {
                continue;
            }
            if (Files.isDirectory(entry))
            {
                loadPlugin(parent, entry, jarsIn(entry, config), config, context);
                plugins++;
            }
            else if (name.endsWith(JAR_SUFFIX))
            {
                loadPlugin(parent, entry, List.of(entry), config, context);
                plugins++;
            }
            else
            {
                LOG.info("plug-in directory {}: {} is neither a jar nor a directory: ignored", dir, name);
            }
        }
        if (0 == plugins)
        {
            LOG.info("plug-in directory {} holds no plug-in", dir);
        }
    }

    private static List<Path> jarsIn(final Path pluginDir, final BrokerConfig config)
    {
        final List<Path> jars = new ArrayList<>();
        try (DirectoryStream<Path> stream = Files.newDirectoryStream(pluginDir, "*" + JAR_SUFFIX))
        {
            for (final Path jar : stream)
            {
                if (!jar.getFileName().toString().startsWith("."))
                {
                    jars.add(jar);
                }
            }
        }
        catch (final IOException | SecurityException ex)
        {
            throw error(config, "cannot list the plug-in " + pluginDir + ": " + ex, ex);
        }
        if (jars.isEmpty())
        {
            throw error(config, "the plug-in " + pluginDir + " holds no jar", null);
        }
        Collections.sort(jars);
        return jars;
    }

    private void loadPlugin(
        final ClassLoader parent,
        final Path plugin,
        final List<Path> jars,
        final BrokerConfig config,
        final TransportContext context)
    {
        final URL[] urls = new URL[jars.size()];
        for (int i = 0; i < urls.length; i++)
        {
            final Path jar = jars.get(i);
            checkReadable(jar, config);
            try
            {
                urls[i] = jar.toUri().toURL();
            }
            catch (final MalformedURLException ex)
            {
                throw error(config, "cannot use the plug-in jar " + jar + ": " + ex, ex);
            }
        }

        final URLClassLoader classLoader = new URLClassLoader("mancom-plugin-" + plugin.getFileName(), urls, parent);
        classLoaders.add(classLoader);

        final List<TransportProvider> providers = new ArrayList<>();
        try
        {
            for (final ServiceLoader.Provider<TransportProvider> provider :
                (Iterable<ServiceLoader.Provider<TransportProvider>>)
                    ServiceLoader.load(TransportProvider.class, classLoader).stream()::iterator)
            {
                // The service loader also sees the parent's providers: the class path's, loaded already.
                if (provider.type().getClassLoader() == classLoader)
                {
                    providers.add(provider.get());
                }
            }
        }
        catch (final ServiceConfigurationError | LinkageError | RuntimeException ex)
        {
            throw error(config, "the plug-in " + plugin + " has a transport provider that cannot be loaded: " +
                describe(ex), ex);
        }
        if (providers.isEmpty())
        {
            throw error(config, "the plug-in " + plugin + " holds no transport provider of its own (a jar listing " +
                "it in META-INF/services/" + TransportProvider.class.getName() + ", whose classes the broker " +
                "does not already carry)", null);
        }

        for (final TransportProvider provider : providers)
        {
            final String providerName = provider.getClass().getName();
            final Set<String> schemes;
            try
            {
                schemes = new TreeSet<>(provider.schemes());
            }
            catch (final RuntimeException | LinkageError ex)
            {
                throw error(config, "the plug-in " + plugin + ": " + providerName + ".schemes() failed: " +
                    describe(ex), ex);
            }
            if (schemes.isEmpty())
            {
                throw error(config, "the plug-in " + plugin + ": " + providerName + " serves no scheme", null);
            }
            for (final String scheme : schemes)
            {
                final String servedBy = origins.get(scheme);
                if (null != servedBy)
                {
                    throw error(config, "the plug-in " + plugin + " (" + providerName + ") serves the scheme '" +
                        scheme + "', which " + servedBy + " already serves", null);
                }
            }

            final Transport transport;
            try
            {
                transport = provider.create(context);
            }
            catch (final RuntimeException | LinkageError ex)
            {
                throw error(config, "the plug-in " + plugin + ": " + providerName + " failed to start: " +
                    describe(ex), ex);
            }
            for (final String scheme : schemes)
            {
                transports.put(scheme, transport);
                origins.put(scheme, "the plug-in " + plugin);
            }
            LOG.info("transport plug-in {}: {} serves {}", plugin, providerName, schemes);
        }
    }

    private static void checkReadable(final Path jar, final BrokerConfig config)
    {
        try
        {
            // Opened: its directory is readable.
            new JarFile(jar.toFile()).close();
        }
        catch (final IOException | SecurityException ex)
        {
            throw error(config, "cannot read the plug-in jar " + jar + ": " + ex, ex);
        }
    }

    private static String describe(final Throwable ex)
    {
        final Throwable cause = null != ex.getCause() && ex instanceof ServiceConfigurationError ? ex.getCause() : ex;
        return ex == cause ? ex.toString() : ex.getMessage() + ": " + cause;
    }

    private static ConfigException error(final BrokerConfig config, final String problem, final Throwable cause)
    {
        return new ConfigException(
            config.source(), config.line(KEY), "broker." + KEY, problem, cause);
    }
}
