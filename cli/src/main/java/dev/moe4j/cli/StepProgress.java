package dev.moe4j.cli;

import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.DelegatingProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarConsumer;
import me.tongfei.progressbar.ProgressBarStyle;

import java.io.PrintStream;
import java.util.concurrent.Callable;

/**
 * A progress bar over a few named steps (loading a model, benchmark runs) on standard error, drawn by
 * progressbar. On a terminal it is redrawn in place and its clock ticks through a long step; elsewhere
 * (logs, pipes) it prints one line as each step starts and one when all are done.
 */
final class StepProgress implements AutoCloseable {

    /**
     * Width of the drawn line: one column short of 80, so it never wraps. Fixed, because asking the
     * terminal goes through jline, which loads a native library and runs stty on every draw.
     */
    private static final int WIDTH = 79;

    private ProgressBar bar;

    private StepProgress(ProgressBar bar) {
        this.bar = bar;
    }

    /** A bar of {@code steps} steps named {@code task} on standard error; none at all when {@code on} is false. */
    static StepProgress start(String task, int steps, boolean on) {
        if (!on) {
            return new StepProgress(null);
        }
        PrintStream err = System.err;
        ProgressBarBuilder b = new ProgressBarBuilder().setTaskName(task).setInitialMax(steps)
                .setStyle(ProgressBarStyle.ASCII)                      // no colour codes, no glyphs a log may mangle
                .hideEta();                                            // the steps' lengths differ too much for one
        // Java can only tell whether stdin and stdout are a terminal; stderr is taken to be one with them
        if (System.console() != null && System.console().isTerminal()) {
            // redrawn every second as well, so the clock shows that a long step is still working
            b.setConsumer(new ConsoleProgressBarConsumer(err, WIDTH)).continuousUpdate();
        } else {
            // One line per step: refresh always draws, the timer never fires after the start, and the
            // library's own draws (on its thread: at the start, maybe before the first step has a name,
            // and at close) are dropped.
            Thread caller = Thread.currentThread();
            ProgressBarConsumer lines = new DelegatingProgressBarConsumer(line -> {
                if (Thread.currentThread() == caller) {
                    err.println(line);
                }
            }, WIDTH);
            b.setConsumer(lines).continuousUpdate().setUpdateIntervalMillis(Integer.MAX_VALUE);
        }
        return new StepProgress(b.build());
    }

    /** Runs one step under its name and counts it done. */
    <T> T step(String name, Callable<T> work) throws Exception {
        if (bar == null) {
            return work.call();
        }
        bar.setExtraMessage(name).refresh();
        T r = work.call();
        bar.step();
        return r;
    }

    /** Shows every step done and ends the bar; {@link #close} alone leaves it where a failure stopped it. */
    void done() {
        if (bar != null) {
            bar.stepTo(bar.getMax()).setExtraMessage("done").refresh();
            close();
        }
    }

    /** Ends the bar (once: closing a ProgressBar again would draw it again). */
    @Override
    public void close() {
        if (bar != null) {
            bar.close();
            bar = null;
        }
    }
}
