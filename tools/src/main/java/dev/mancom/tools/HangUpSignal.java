package dev.mancom.tools;

import java.lang.reflect.Constructor;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;

/**
 * Runs an action on each SIGHUP instead of letting the JVM exit (its default for SIGHUP). The JDK's signal API
 * ({@code sun.misc.Signal} of the {@code jdk.unsupported} module) is reached by reflection so that the build
 * stays free of its internal-API warning.
 */
final class HangUpSignal
{
    private HangUpSignal()
    {
    }

    /**
     * Install the handler.
     *
     * @param action what to run, on the JVM's signal thread, for each SIGHUP.
     * @return true when installed; false when this JVM has no signal API or SIGHUP is reserved (such as with
     * {@code -Xrs}).
     */
    static boolean install(final Runnable action)
    {
        try
        {
            final Class<?> signalClass = Class.forName("sun.misc.Signal");
            final Class<?> handlerClass = Class.forName("sun.misc.SignalHandler");
            final Constructor<?> constructor = signalClass.getConstructor(String.class);
            final Object hup = constructor.newInstance("HUP");
            final InvocationHandler invocation = (proxy, method, args) ->
            {
                if ("handle".equals(method.getName()))
                {
                    action.run();
                    return null;
                }
                return objectMethod(proxy, method, args);
            };
            final Object handler = Proxy.newProxyInstance(
                HangUpSignal.class.getClassLoader(), new Class<?>[]{handlerClass}, invocation);
            signalClass.getMethod("handle", signalClass, handlerClass).invoke(null, hup, handler);
            return true;
        }
        catch (final ReflectiveOperationException | RuntimeException ex)
        {
            return false;
        }
    }

    private static Object objectMethod(final Object proxy, final Method method, final Object[] args)
    {
        switch (method.getName())
        {
            case "equals":
                return proxy == args[0];
            case "hashCode":
                return System.identityHashCode(proxy);
            default:
                return "SIGHUP handler";
        }
    }
}
