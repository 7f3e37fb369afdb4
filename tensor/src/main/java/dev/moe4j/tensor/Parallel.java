package dev.moe4j.tensor;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;

/**
 * A persistent pool of worker threads that runs one range-splitting task at a time, for the kernels of
 * {@link Matrix}: {@code Parallel.forRange(m.rows(), (r0, r1) -> m.matvec(x, 0, y, 0, r0, r1))}. One region
 * may cover several independent matrices (say an expert's w1 and w3 rows), which halves the hand-offs.
 *
 * <p>{@link #run} splits [0, n) into contiguous ranges, claimed by the calling thread and the workers as they
 * come free, long ones first and ever shorter ones after ({@link #MIN_CLAIMS_PER_THREAD}), and returns when
 * all are done; the caller works too, so {@code threads} counts it. Hand-off costs no allocation: the task
 * sits in fields published by a volatile generation counter; idle workers spin on it for {@link #SPIN_NANOS},
 * then yield their core between checks up to {@link #YIELD_NANOS} (longer than the serial work between two
 * regions of a decode step, while an idle engine stops burning CPU soon) and then park until the next task
 * unparks them; the caller waits for the workers the same way.
 *
 * <p>One region at a time: a call made while the pool is busy (from a task body, or from another thread)
 * runs its whole range on the calling thread. An exception thrown by the body on any thread is rethrown to
 * the caller once every range has finished or been abandoned.
 */
public final class Parallel implements AutoCloseable {

    /** The body of a parallel region: processes indexes [from, to). */
    @FunctionalInterface
    public interface IntRangeConsumer {
        void accept(int from, int to);
    }

    /** Busy waiting (a spin hint between checks) before yielding. */
    private static final long SPIN_NANOS = 200_000;
    /**
     * Waiting with {@code Thread.yield()} between checks, before parking: a parked worker on this kind of VM (2
     * vCPUs, KVM) took 16-64 µs to wake, and a few times per decode step 1-4 ms, while its share of the region
     * waited. Parking after 0.2 ms, a v4-flash-slice2-v1k decode step (42 regions, two threads) parked the
     * worker about twice and started it late by ~1 ms in all (instrumented pool); waiting 3 ms it never parked
     * within a step. The median step was 22.3-22.9 against 23.2-27.3 ms in four alternating runs, though not
     * distinguishable from the noise in three later ones. Busy for all 3 ms, the worker also kept the JIT's
     * compiler threads off one of the two cores (a test's warm-up then ended before C2 had compiled the
     * kernels, in one run out of three); yielding leaves them the core.
     */
    private static final long YIELD_NANOS = 3_000_000;
    /**
     * Guided claims: each takes the unclaimed rest divided by the thread count, but at least 1/(threads ·
     * this) of the range. The first claims are long (a thread streams a long run of weight rows, which the
     * prefetchers like) and the last short (threads finish together): a v4-flash-slice2-v1k decode step
     * took ~7 % less time than with four equal chunks per thread (23.3 against 25.0 ms, 10th percentile of
     * the steps, two threads).
     */
    private static final int MIN_CLAIMS_PER_THREAD = 16;

    private static final class Shared {
        static final Parallel POOL = new Parallel(configuredThreads());
    }

    /**
     * The process-wide pool: system property {@code moe4j.threads}, else one thread per physical core the
     * process may use ({@link #physicalCores}).
     */
    public static Parallel shared() {
        return Shared.POOL;
    }

    /** {@code shared().run(n, body)}. */
    public static void forRange(int n, IntRangeConsumer body) {
        shared().run(n, body);
    }

    /** {@code shared().runEach(n, body)}. */
    public static void forEach(int n, IntRangeConsumer body) {
        shared().runEach(n, body);
    }

    static int configuredThreads() {
        String p = System.getProperty("moe4j.threads");
        if (p == null || p.isBlank()) {
            return physicalCores(Runtime.getRuntime().availableProcessors(), siblingLists());
        }
        try {
            int t = Integer.parseInt(p.strip());
            if (t >= 1) {
                return t;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new IllegalArgumentException("system property moe4j.threads must be a positive integer, got '" + p
                + "'");
    }

    /**
     * Threads for the kernels: the available processors divided by the hardware threads per core. The
     * decode step streams weights and the prefill keeps the FMA units busy: two threads on one core's SMT
     * siblings share both, so they add hand-offs and cache pressure, not speed.
     *
     * @param available processors this process may use (affinity and container limits applied)
     * @param siblings  each online CPU's list of hardware threads of its core (Linux
     *                  {@code topology/thread_siblings_list}, e.g. "0,8" or "0-1"); empty when unknown
     */
    static int physicalCores(int available, List<String> siblings) {
        if (siblings.isEmpty()) {
            return available;
        }
        long cores = siblings.stream().map(String::strip).distinct().count();
        int perCore = (int) Math.max(1, Math.round((double) siblings.size() / cores));
        return Math.max(1, available / perCore);
    }

    /** Linux's per-CPU sibling lists; empty elsewhere or when unreadable. */
    private static List<String> siblingLists() {
        List<String> out = new ArrayList<>();
        Path cpus = Path.of("/sys/devices/system/cpu");
        try (var dirs = Files.newDirectoryStream(cpus, "cpu[0-9]*")) {
            for (Path d : dirs) {
                Path f = d.resolve("topology/thread_siblings_list");
                if (Files.isReadable(f)) {
                    out.add(Files.readString(f));
                }
            }
        } catch (IOException | RuntimeException e) {
            return List.of();
        }
        return out;
    }

    private final Worker[] workers;
    private final AtomicBoolean busy = new AtomicBoolean();
    private final AtomicInteger claimed = new AtomicInteger();
    private final AtomicInteger pending = new AtomicInteger();
    private final AtomicReference<Throwable> failure = new AtomicReference<>();

    // the current task: written before the volatile increment of generation, read after reading it
    private IntRangeConsumer body;
    private int size, grain, share;
    private Thread caller;

    private volatile int generation;
    private volatile boolean callerParked;
    private volatile boolean closed;

    /** A pool of {@code threads} including the caller, so {@code threads − 1} daemon workers. */
    public Parallel(int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        }
        workers = new Worker[threads - 1];
        for (int i = 0; i < workers.length; i++) {
            workers[i] = new Worker("moe4j-parallel-" + (i + 1));
            workers[i].start();
        }
    }

    public int threads() {
        return workers.length + 1;
    }

    /** Calls {@code body} on disjoint contiguous ranges that together cover [0, n), in parallel. */
    public void run(int n, IntRangeConsumer body) {
        run(n, body, false);
    }

    /**
     * As {@link #run}, but the indexes are claimed one at a time (ranges of one, or the whole range when
     * the call runs on the caller alone): for items of uneven size (the experts of a prompt chunk), where a
     * thread that finishes early should take the next item rather than wait for a share of them.
     */
    public void runEach(int n, IntRangeConsumer body) {
        run(n, body, true);
    }

    private void run(int n, IntRangeConsumer body, boolean each) {
        if (n < 0) {
            throw new IllegalArgumentException("negative range size " + n);
        }
        if (closed) {
            throw new IllegalStateException("Parallel pool is closed");
        }
        if (n == 0) {
            return;
        }
        if (n == 1 || workers.length == 0 || !busy.compareAndSet(false, true)) {
            body.accept(0, n);
            return;
        }
        try {
            this.body = body;
            this.size = n;
            this.grain = each ? 1 : Math.max(1, n / (threads() * MIN_CLAIMS_PER_THREAD));
            this.share = each ? Integer.MAX_VALUE : threads();
            this.caller = Thread.currentThread();
            claimed.set(0);
            pending.set(workers.length);
            failure.set(null);
            generation++;                                    // publishes the task (volatile write)
            for (Worker w : workers) {
                if (w.parked) {
                    LockSupport.unpark(w);
                }
            }
            work();
            awaitWorkers();
            this.body = null;
            Throwable t = failure.getAndSet(null);
            if (t instanceof RuntimeException e) {
                throw e;
            }
            if (t instanceof Error e) {
                throw e;
            }
            if (t != null) {
                throw new RuntimeException(t);
            }
        } finally {
            busy.set(false);
        }
    }

    private void work() {
        IntRangeConsumer b = body;
        int n = size, g = grain, s = share;
        for (int from; (from = claimed.get()) < n; ) {
            int take = Math.min(n - from, Math.max(g, (n - from) / s));
            if (!claimed.compareAndSet(from, from + take)) {
                continue;
            }
            try {
                b.accept(from, from + take);
            } catch (Throwable t) {
                failure.compareAndSet(null, t);
                claimed.set(n);                            // abandon the ranges nobody has claimed
            }
        }
    }

    /** One turn of a wait that began at {@code since}: a spin hint, or a yield, or false when it is time to park. */
    private static boolean waitTurn(long since) {
        long waited = System.nanoTime() - since;
        if (waited < SPIN_NANOS) {
            Thread.onSpinWait();
        } else if (waited < YIELD_NANOS) {
            Thread.yield();
        } else {
            return false;
        }
        return true;
    }

    private void awaitWorkers() {
        long since = System.nanoTime();
        while (pending.get() != 0) {
            if (!waitTurn(since)) {
                callerParked = true;                         // then re-check: a worker reads it after its decrement
                if (pending.get() != 0) {
                    LockSupport.park(this);
                }
                callerParked = false;
            }
        }
    }

    /** Stops the workers (they finish nothing: call it only when no {@link #run} is in progress). */
    @Override
    public void close() {
        closed = true;
        for (Worker w : workers) {
            LockSupport.unpark(w);
        }
    }

    private final class Worker extends Thread {
        volatile boolean parked;

        Worker(String name) {
            super(name);
            setDaemon(true);
        }

        @Override
        public void run() {
            int seen = 0;
            while (true) {
                seen = awaitTask(seen);
                if (closed) {
                    return;
                }
                work();
                if (pending.decrementAndGet() == 0 && callerParked) {
                    LockSupport.unpark(caller);
                }
            }
        }

        private int awaitTask(int seen) {
            long since = System.nanoTime();
            int g;
            while ((g = generation) == seen && !closed) {
                if (!waitTurn(since)) {
                    parked = true;                           // then re-check: run() reads it after publishing
                    if (generation == seen && !closed) {
                        LockSupport.park(this);
                    }
                    parked = false;
                }
            }
            return g;
        }
    }
}
