package dev.mancom.broker.internal;

import dev.mancom.broker.config.ConfigLoader;
import dev.mancom.broker.config.ServiceConfig;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ProgramSupervisorTest
{
    @Test
    void shouldDoubleTheRestartBackOffUpToItsMaximum()
    {
        assertEquals(100, ProgramSupervisor.restartDelayMs(1));
        assertEquals(200, ProgramSupervisor.restartDelayMs(2));
        assertEquals(800, ProgramSupervisor.restartDelayMs(4));
        assertEquals(ProgramSupervisor.MAX_RESTART_DELAY_MS, ProgramSupervisor.restartDelayMs(20));
        assertEquals(ProgramSupervisor.MAX_RESTART_DELAY_MS, ProgramSupervisor.restartDelayMs(Integer.MAX_VALUE));
    }

    @Test
    void shouldCountOnlyStartsWithinTheInterval()
    {
        final ServiceProgram program = new ServiceProgram();
        program.recordStart(1_000);
        program.recordStart(2_000);
        program.recordStart(30_000);
        assertEquals(3, program.recentStarts(30_000, 60_000));
        assertEquals(1, program.recentStarts(62_000, 60_000));
        program.gaveUp(true);
        program.gaveUp(false);
        assertEquals(0, program.recentStarts(62_000, 60_000), "re-arming forgets the starts");
    }

    @Test
    void shouldStartTheProgramWithTheBrokerDirectoryAndServiceInItsEnvironmentAndReportItsExit() throws Exception
    {
        // The test's program checks its environment with a shell; the broker itself never uses one.
        final ServiceConfig config = service("exec = [\"" + program("sh") + "\", \"-c\", " +
            "\"test \\\"$MANCOM_DIR\\\" = /some/dir && test \\\"$MANCOM_SERVICE\\\" = svc && exit 7\"]");
        final CompletableFuture<Integer> exit = new CompletableFuture<>();
        final ProgramSupervisor supervisor = new ProgramSupervisor(Paths.get("/some/dir"), Runnable::run);
        final Process process = supervisor.start(config, (p, status) -> exit.complete(status));
        assertEquals(7, exit.get(30, TimeUnit.SECONDS), "exit 7 means the environment was right");
        assertFalse(process.isAlive());
    }

    @Test
    void shouldStopItsProgramsAndStartNoneAfterwards() throws Exception
    {
        final ServiceConfig config = service("exec = [\"" + program("sleep") + "\", \"600\"]");
        final CompletableFuture<Integer> exit = new CompletableFuture<>();
        final ProgramSupervisor supervisor = new ProgramSupervisor(Paths.get("/tmp"), Runnable::run);
        final Process process = supervisor.start(config, (p, status) -> exit.complete(status));
        assertTrue(process.isAlive());

        supervisor.stopAll();
        assertFalse(process.isAlive());
        assertEquals(128 + 15, exit.get(30, TimeUnit.SECONDS), "ended by SIGTERM");
        assertTrue(supervisor.isStopping());
        assertThrows(IllegalStateException.class, () -> supervisor.start(config, (p, status) -> { }));
    }

    @Test
    void shouldKillAProgramThatIgnoresSigtermAndItsChildrenAfterTheGraceTime() throws Exception
    {
        // The test's program ignores SIGTERM (a shell, to set that up; its child inherits it).
        final ServiceConfig config = service("exec = [\"" + program("sh") + "\", \"-c\", " +
            "\"trap '' TERM; " + program("sleep") + " 600; echo never\"]");
        final ProgramSupervisor supervisor = new ProgramSupervisor(Paths.get("/tmp"), Runnable::run);
        final Process process = supervisor.start(config, (p, status) -> { });
        final long deadlineNs = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (process.descendants().findAny().isEmpty() && System.nanoTime() - deadlineNs < 0)
        {
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1)); // polls until the shell has started its child
        }
        final List<ProcessHandle> children = process.descendants().toList();
        assertFalse(children.isEmpty());

        supervisor.stopAll();
        assertTrue(process.waitFor(30, TimeUnit.SECONDS));
        assertEquals(128 + 9, process.exitValue(), "killed after the grace time");
        for (final ProcessHandle child : children)
        {
            assertTrue(child.onExit().get(30, TimeUnit.SECONDS).pid() > 0);
            assertFalse(child.isAlive(), "child " + child.pid());
        }
    }

    private static ServiceConfig service(final String exec)
    {
        return ConfigLoader.parse("[service.svc]\nlisten = [\"tcp://127.0.0.1:0\"]\n" + exec + "\n", "test")
            .services().get("svc");
    }

    private static String program(final String name)
    {
        final Path bin = Paths.get("/bin", name);
        return Files.isExecutable(bin) ? bin.toString() : Paths.get("/usr/bin", name).toString();
    }
}
