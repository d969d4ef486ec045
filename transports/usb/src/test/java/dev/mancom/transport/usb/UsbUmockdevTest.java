package dev.mancom.transport.usb;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The REAL usb4java and libusb code path against a device EMULATED by umockdev (Debian's {@code umockdev}; there is
 * no USB bus on the build machines). Each test starts a child JVM running {@link UmockdevDriver} with umockdev's
 * preload library, which replaces {@code /sys} and {@code /dev} for that process only (so only these tests run that
 * way, never the rest of the suite):
 * <ul>
 *     <li>under {@code umockdev-run} with a device description and an ioctl script written here: libusb enumerates
 *     the device, the transport opens it, claims interface 0, sends 4 bytes with a bulk OUT transfer, reads the
 *     scripted 4-byte answer with a bulk IN transfer, closes ({@code LOCAL_CLOSED}) and releases the interface;
 *     a connect to ids no device has fails naming them;</li>
 *     <li>with umockdev's testbed API driven from Python (GObject introspection) under {@code umockdev-wrapper}: a
 *     listener runs, the device is added (libusb sees the uevent, or the transport's polling sees the device), it is
 *     opened and read from, then removed, and the connection closes with {@code DEVICE_GONE}.</li>
 * </ul>
 * The ioctl script replays transfers in a fixed order with fixed sizes (umockdev cannot echo live data, nor complete
 * a cancelled transfer), so the drivers stop reading once they have the scripted answer. Packages are installed by
 * the repository's {@code scripts/ensure-packages}; without them (not root) the tests are skipped, saying so.
 */
class UsbUmockdevTest
{
    private static final String DEVNODE = "/dev/bus/usb/001/002";
    private static final String SYSFS_PATH = "/sys/devices/pci0000:00/0000:00:14.0/usb1/1-1";
    private static final String PYTHON = "/usr/bin/python3";
    private static final long CHILD_TIMEOUT_SECONDS = 120;
    private static final String ENDPOINT = "ENDPOINT type=USB bus=1 port=1-1 vid=1234 pid=5678 serial=null";
    private static final String RELEASED = "released interface 0 of USB device 1-1@2: Success";

    @TempDir
    Path dir;

    @BeforeAll
    static void ensurePackages() throws Exception
    {
        final Path script = repositoryRoot().resolve("scripts").resolve("ensure-packages");
        final Process process = new ProcessBuilder(
            script.toString(), "umockdev", "gir1.2-umockdev-1.0", "python3-gi")
            .redirectErrorStream(true)
            .start();
        final String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(process.waitFor(600, TimeUnit.SECONDS), "ensure-packages did not finish");
        Assumptions.assumeTrue(3 != process.exitValue(), () -> "umockdev is not installed: " + output);
        assertEquals(0, process.exitValue(), output);
    }

    @Test
    void shouldEnumerateOpenClaimAndExchangeBulkTransfersThroughLibusb() throws Exception
    {
        final Path ioctl = write("exchange.ioctl",
            urb(0x02, 4, "01020304") + " " + urb(0x81, UsbConnection.READ_SIZE, "DEADBEEF"));
        final List<String> command = new ArrayList<>(List.of(
            "umockdev-run", "-d", description().toString(), "-i", DEVNODE + "=" + ioctl, "--"));
        command.addAll(driver("exchange", "usb://1234:5678", "01020304", "DEADBEEF"));

        final String output = run(command);
        assertTrue(output.contains(ENDPOINT), output);
        assertTrue(output.contains("WRITTEN 4"), output);
        assertTrue(output.contains("READ deadbeef"), output);
        assertTrue(output.contains(RELEASED), output);
        assertTrue(output.contains("CLOSED LOCAL_CLOSED"), output);
    }

    @Test
    void shouldFailToConnectNamingTheIdsWhenNoDeviceHasThem() throws Exception
    {
        final Path ioctl = write("none.ioctl", "");
        final List<String> command = new ArrayList<>(List.of(
            "umockdev-run", "-d", description().toString(), "-i", DEVNODE + "=" + ioctl, "--"));
        command.addAll(driver("exchange", "usb://1234:9999", "00", "00"));

        final Process process = start(command);
        final String output = awaitOutput(process);
        assertEquals(1, process.exitValue(), output);
        assertTrue(output.contains("no USB device 1234:9999 to open for 'usb://1234:9999'"), output);
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = { "usb://1234:5678", "usb://1234:5678?hotplug=false&poll_ms=50" })
    void shouldOpenADeviceThatArrivesAndCloseWithDeviceGoneWhenItLeaves(final String uri) throws Exception
    {
        final Path ioctl = write("hello.ioctl", urb(0x81, UsbConnection.READ_SIZE, "48454C4C4F"));
        final Path script = repositoryRoot().resolve("scripts/usb-emulation/umockdev-hotplug.py");
        final List<String> command = new ArrayList<>(List.of(
            "umockdev-wrapper", PYTHON, script.toString(), description().toString(), ioctl.toString(), SYSFS_PATH,
            DEVNODE));
        command.addAll(driver("listen", uri, "48454C4C4F"));

        final String output = run(command);
        assertTrue(output.contains("CHILD " + ENDPOINT), output);
        assertTrue(output.contains("CHILD READ 48454c4c4f"), output);
        assertTrue(output.contains("CHILD CLOSED DEVICE_GONE"), output);
        assertTrue(output.contains(RELEASED), output);
        assertTrue(output.indexOf("HOTPLUG removed") < output.indexOf("CHILD CLOSED DEVICE_GONE"), output);
        // libusb's own hotplug saw the uevents: with hotplug=true nothing polls once libusb says it has hotplug.
        assertTrue(output.contains("USB event thread started; libusb hotplug"), output);
    }

    /**
     * One line of an ioctl script: a bulk URB and, for IN, what the device answers.
     */
    private static String urb(final int endpoint, final int bufferLength, final String hex)
    {
        final int actual = hex.length() / 2;
        return "USBDEVFS_REAPURBNDELAY 0 3 " + endpoint + " 0 0 " + bufferLength + " " + actual + " 0 " + hex + "\n";
    }

    private static Path description()
    {
        return repositoryRoot().resolve("scripts/usb-emulation/device-1234-5678.umockdev");
    }

    private Path write(final String name, final String text) throws IOException
    {
        return Files.writeString(dir.resolve(name), text);
    }

    private static List<String> driver(final String... args)
    {
        final String classPath = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        final List<String> command = new ArrayList<>(List.of(
            Paths.get(System.getProperty("java.home"), "bin", "java").toString(),
            "--add-exports=java.base/jdk.internal.misc=ALL-UNNAMED",
            "-Dorg.slf4j.simpleLogger.log.dev.mancom.transport.usb.LibUsbBackend=debug",
            "-Dorg.slf4j.simpleLogger.log.dev.mancom.transport.usb.UsbTransport=debug",
            "-cp", classPath,
            UmockdevDriver.class.getName()));
        command.addAll(List.of(args));
        return command;
    }

    private String run(final List<String> command) throws Exception
    {
        final Process process = start(command);
        final String output = awaitOutput(process);
        assertEquals(0, process.exitValue(), output);
        return output;
    }

    private Process start(final List<String> command) throws IOException
    {
        return new ProcessBuilder(command)
            .directory(dir.toFile())
            .redirectErrorStream(true)
            .redirectOutput(dir.resolve("output.txt").toFile())
            .redirectInput(ProcessBuilder.Redirect.PIPE)
            .start();
    }

    private String awaitOutput(final Process process) throws Exception
    {
        final boolean ended = process.waitFor(CHILD_TIMEOUT_SECONDS, TimeUnit.SECONDS);
        if (!ended)
        {
            process.descendants().forEach(ProcessHandle::destroyForcibly);
            process.destroyForcibly();
            process.waitFor(CHILD_TIMEOUT_SECONDS, TimeUnit.SECONDS);
        }
        final String output = Files.readString(dir.resolve("output.txt"));
        assertTrue(ended, () -> "the emulation did not end within " + CHILD_TIMEOUT_SECONDS + " s:\n" + output);
        return output;
    }

    /**
     * The repository's root: where {@code scripts/ensure-packages} is, above the working directory.
     *
     * @return the root.
     */
    static Path repositoryRoot()
    {
        Path path = Paths.get(System.getProperty("user.dir")).toAbsolutePath();
        while (null != path)
        {
            if (Files.isExecutable(path.resolve("scripts").resolve("ensure-packages")))
            {
                return path;
            }
            path = path.getParent();
        }
        throw new IllegalStateException("no scripts/ensure-packages above " + System.getProperty("user.dir") +
            File.separator);
    }
}
