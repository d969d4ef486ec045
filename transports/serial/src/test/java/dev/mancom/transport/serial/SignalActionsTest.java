package dev.mancom.transport.serial;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static dev.mancom.transport.testkit.TransportTestSupport.DEADLINE_SECONDS;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Loading jSerialComm's native library makes the process ignore SIGHUP; the transport puts the action back. Checked
 * in a fresh JVM (this one may have loaded the library already): it handles SIGHUP, loads the library the way the
 * transport does, and sends itself a SIGHUP.
 */
class SignalActionsTest
{
    @Test
    void shouldStillHandleSigHupAfterLoadingTheNativeLibrary() throws Exception
    {
        final Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        final Process process = new ProcessBuilder(List.of(java.toString(), "-cp",
            System.getProperty("java.class.path"), HangUpProbe.class.getName()))
            .redirectErrorStream(true)
            .start();
        final String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(process.waitFor(DEADLINE_SECONDS, TimeUnit.SECONDS), output);
        assertEquals(0, process.exitValue(), output);
        assertTrue(output.contains("SIGHUP handled"), output);
    }

    /**
     * The fresh JVM's program.
     */
    static final class HangUpProbe
    {
        private HangUpProbe()
        {
        }

        public static void main(final String[] args) throws Exception
        {
            final CountDownLatch hangUp = new CountDownLatch(1);
            // Unsupported API, used here as a broker's reload handler would be.
            final Class<?> signal = Class.forName("sun.misc.Signal");
            final Class<?> handlerType = Class.forName("sun.misc.SignalHandler");
            final Object handler = java.lang.reflect.Proxy.newProxyInstance(
                HangUpProbe.class.getClassLoader(), new Class<?>[]{ handlerType }, (proxy, method, arguments) ->
                {
                    if ("handle".equals(method.getName()))
                    {
                        hangUp.countDown();
                    }
                    return null;
                });
            signal.getMethod("handle", signal, handlerType)
                .invoke(null, signal.getConstructor(String.class).newInstance("HUP"), handler);

            SerialPorts.ensureLoaded();
            new ProcessBuilder("kill", "-HUP", Long.toString(ProcessHandle.current().pid())).start().waitFor();
            if (hangUp.await(DEADLINE_SECONDS, TimeUnit.SECONDS))
            {
                System.out.println("SIGHUP handled");
            }
            else
            {
                System.out.println("SIGHUP ignored");
                System.exit(1);
            }
        }
    }
}
