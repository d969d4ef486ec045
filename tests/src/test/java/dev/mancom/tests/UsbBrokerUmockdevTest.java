package dev.mancom.tests;

import dev.mancom.tools.JavaProcess;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

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
 * A USB device that is plugged in and unplugged while a broker runs, through the real usb4java and libusb code path,
 * with the device EMULATED by umockdev (there is no USB bus on the build machines). A child JVM ({@link
 * UsbBrokerDriver}: an embedded broker with a {@code usb://1234:5678} service and an application that accepts its
 * connections) runs with umockdev's preload library under {@code umockdev-wrapper}; a Python script drives
 * umockdev's testbed API (GObject introspection) to add the device, which libusb's hotplug reports, and, once the
 * application has read the device's scripted 5 bytes, to remove it. The application sees the connection's endpoint
 * (bus, port path, ids) and then its close with {@code DEVICE_GONE}. Only this child JVM runs under umockdev, never
 * the rest of the suite (the preload replaces {@code /sys}). Packages come from {@code scripts/ensure-packages};
 * without root and without them the test is skipped, saying so.
 */
class UsbBrokerUmockdevTest
{
    private static final long TIMEOUT_SECONDS = 120;

    @TempDir
    Path dir;

    @BeforeAll
    static void ensurePackages() throws Exception
    {
        final Process process = new ProcessBuilder(
            repositoryRoot().resolve("scripts/ensure-packages").toString(),
            "umockdev", "gir1.2-umockdev-1.0", "python3-gi")
            .redirectErrorStream(true)
            .start();
        final String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(process.waitFor(600, TimeUnit.SECONDS), "ensure-packages did not finish");
        Assumptions.assumeTrue(3 != process.exitValue(), () -> "umockdev is not installed: " + output);
        assertEquals(0, process.exitValue(), output);
    }

    @Test
    void shouldHandADeviceThatArrivesToTheApplicationAndCloseItWithDeviceGoneWhenItLeaves() throws Exception
    {
        final Path emulation = repositoryRoot().resolve("scripts/usb-emulation");
        // The device answers one bulk IN transfer (16 KiB buffer) with "HELLO".
        final Path ioctl = Files.writeString(
            dir.resolve("hello.ioctl"), "USBDEVFS_REAPURBNDELAY 0 3 129 0 0 16384 5 0 48454C4C4F\n");
        final List<String> command = new ArrayList<>(List.of(
            "umockdev-wrapper", "/usr/bin/python3", emulation.resolve("umockdev-hotplug.py").toString(),
            emulation.resolve("device-1234-5678.umockdev").toString(), ioctl.toString(),
            "/sys/devices/pci0000:00/0000:00:14.0/usb1/1-1", "/dev/bus/usb/001/002"));
        command.addAll(JavaProcess.command(
            UsbBrokerDriver.class.getName(), List.of(),
            List.of(dir.resolve("broker").toString(), "usb://1234:5678", "5")));

        final Path log = dir.resolve("output.txt");
        final Process process = new ProcessBuilder(command)
            .directory(dir.toFile())
            .redirectErrorStream(true)
            .redirectOutput(log.toFile())
            .start();
        final boolean ended = process.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS);
        if (!ended)
        {
            process.descendants().forEach(ProcessHandle::destroyForcibly);
            process.destroyForcibly();
            process.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS);
        }
        final String output = Files.readString(log);
        assertTrue(ended, () -> "the emulation did not end within " + TIMEOUT_SECONDS + " s:\n" + output);
        assertEquals(0, process.exitValue(), output);
        assertTrue(output.contains("CHILD ENDPOINT type=USB bus=1 port=1-1 vid=1234 pid=5678 serial=null"), output);
        assertTrue(output.contains("CHILD READ 48454c4c4f"), output);
        assertTrue(output.contains("CHILD CLOSED DEVICE_GONE"), output);
        assertTrue(output.indexOf("HOTPLUG removed") < output.indexOf("CHILD CLOSED DEVICE_GONE"), output);
    }

    private static Path repositoryRoot()
    {
        Path path = Paths.get(System.getProperty("user.dir")).toAbsolutePath();
        while (null != path)
        {
            if (Files.isExecutable(path.resolve("scripts/ensure-packages")))
            {
                return path;
            }
            path = path.getParent();
        }
        throw new IllegalStateException("no scripts/ensure-packages above " + System.getProperty("user.dir"));
    }
}
