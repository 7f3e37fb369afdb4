package dev.moe4j.cli;

import java.io.PrintStream;
import java.util.concurrent.Callable;

/**
 * A progress bar over the steps of loading a model, on standard error: redrawn in place on a terminal,
 * one line per step otherwise (logs). The steps have no finer progress to show, so the bar moves per
 * step and the clock shows that it is still working.
 */
final class LoadProgress {

    private static final int WIDTH = 30;

    private final PrintStream out;
    private final int steps;
    private final boolean terminal;
    private final long t0 = System.nanoTime();
    private int done;

    LoadProgress(PrintStream out, int steps) {
        this.out = out;
        this.steps = steps;
        this.terminal = System.console() != null && System.console().isTerminal();
    }

    <T> T step(String what, Callable<T> work) throws Exception {
        if (!terminal) {
            draw(what, "\n");
            T r = work.call();
            done++;
            return r;
        }
        Thread ticker = Thread.ofVirtual().start(() -> {
            while (!Thread.currentThread().isInterrupted()) {
                draw(what, "");
                try {
                    Thread.sleep(200);
                } catch (InterruptedException e) {
                    return;
                }
            }
        });
        try {
            return work.call();
        } finally {
            ticker.interrupt();
            ticker.join();
            done++;
        }
    }

    void done() {
        draw("ready", "\n");
    }

    private synchronized void draw(String what, String end) {
        int filled = WIDTH * done / steps;
        out.printf("%smoe4j: loading [%s%s] %d/%d %-10s %5.1f s%s", terminal ? "\r" : "", "#".repeat(filled),
                ".".repeat(WIDTH - filled), done, steps, what, (System.nanoTime() - t0) / 1e9, end);
        out.flush();
    }
}
