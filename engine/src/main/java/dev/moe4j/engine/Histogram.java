package dev.moe4j.engine;

import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.DoubleAdder;

/** A Prometheus-style cumulative histogram of seconds: fixed upper bounds, thread-safe. */
public final class Histogram {

    private final double[] bounds;
    private final AtomicLongArray counts;
    private final DoubleAdder sum = new DoubleAdder();

    public Histogram(double... bounds) {
        this.bounds = bounds.clone();
        this.counts = new AtomicLongArray(bounds.length + 1);
    }

    public void observe(double seconds) {
        int i = 0;
        while (i < bounds.length && seconds > bounds[i]) {
            i++;
        }
        counts.incrementAndGet(i);
        sum.add(seconds);
    }

    public double[] bounds() {
        return bounds.clone();
    }

    /** Cumulative counts per bound, the last one (+Inf) being the total. */
    public long[] cumulative() {
        long[] c = new long[bounds.length + 1];
        long run = 0;
        for (int i = 0; i < c.length; i++) {
            run += counts.get(i);
            c[i] = run;
        }
        return c;
    }

    public double sum() {
        return sum.sum();
    }
}
