package dev.mancom.tools;

import java.io.File;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;

/**
 * Builds the command line of another JVM of this installation, with the same class path and the JVM flags
 * ManCom needs.
 */
public final class JavaProcess
{
    /** System property holding the JVM flags (set by the launcher and the build). */
    public static final String JVM_FLAGS_PROP_NAME = "mancom.jvm.flags";

    /** Environment variable holding the JVM flags (set by the launcher). */
    public static final String JVM_FLAGS_ENV_NAME = "MANCOM_JVM_FLAGS";

    private JavaProcess()
    {
    }

    /**
     * The JVM flags ManCom needs on this JDK.
     *
     * @return the flags, possibly empty.
     */
    public static List<String> jvmFlags()
    {
        String flags = System.getProperty(JVM_FLAGS_PROP_NAME);
        if (null == flags || flags.isBlank())
        {
            flags = System.getenv(JVM_FLAGS_ENV_NAME);
        }
        final List<String> result = new ArrayList<>();
        if (null != flags)
        {
            for (final String flag : flags.trim().split("\\s+"))
            {
                if (!flag.isEmpty())
                {
                    result.add(flag);
                }
            }
        }
        return result;
    }

    /**
     * The command line that runs a main class in a new JVM.
     *
     * @param mainClass the class.
     * @param jvmArgs   extra JVM arguments (such as -Xmx).
     * @param args      the program's arguments.
     * @return the command.
     */
    public static List<String> command(final String mainClass, final List<String> jvmArgs, final List<String> args)
    {
        final List<String> command = new ArrayList<>();
        command.add(Paths.get(System.getProperty("java.home"), "bin", "java").toString());
        command.addAll(jvmFlags());
        command.addAll(jvmArgs);
        command.add("-cp");
        command.add(classPath());
        command.add(mainClass);
        command.addAll(args);
        return command;
    }

    /**
     * The class path of this JVM (under Surefire, the test class path).
     *
     * @return the class path.
     */
    public static String classPath()
    {
        final String surefire = System.getProperty("surefire.test.class.path");
        if (null != surefire && !surefire.isEmpty())
        {
            return surefire;
        }
        return System.getProperty("java.class.path", "." + File.pathSeparator);
    }
}
