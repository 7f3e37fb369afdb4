package dev.moe4j.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.util.Random;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import dev.moe4j.tensor.TestWeights.Kind;

class ParallelTest {

    @Test
    void coversEveryIndexOnceInContiguousRanges() {
        for (int threads : new int[] {1, 2, 3, 8}) {
            try (Parallel p = new Parallel(threads)) {
                assertEquals(threads, p.threads());
                for (int n : new int[] {0, 1, 2, 7, 64, 1000, 100_003}) {
                    for (int rep = 0; rep < 3; rep++) {
                        AtomicIntegerArray hits = new AtomicIntegerArray(n);
                        AtomicInteger calls = new AtomicInteger();
                        p.run(n, (from, to) -> {
                            assertTrue(from < to, "non-empty range");
                            calls.incrementAndGet();
                            for (int i = from; i < to; i++) {
                                hits.incrementAndGet(i);
                            }
                        });
                        for (int i = 0; i < n; i++) {
                            assertEquals(1, hits.get(i), "threads " + threads + ", n " + n + ", index " + i);
                        }
                        assertTrue(calls.get() <= Math.max(1, 4 * threads));
                    }
                }
            }
        }
    }

    @Test
    void onePoolThreadPerPhysicalCore() {
        assertEquals(2, Parallel.physicalCores(2, List.of("0", "1")), "no SMT");
        assertEquals(4, Parallel.physicalCores(8, List.of("0,4", "1,5", "2,6", "3,7", "0,4", "1,5", "2,6", "3,7")));
        assertEquals(8, Parallel.physicalCores(16, List.of("0-1", "0-1", "2-3", "2-3", "4-5", "4-5", "6-7", "6-7",
                "8-9", "8-9", "10-11", "10-11", "12-13", "12-13", "14-15", "14-15")));
        assertEquals(2, Parallel.physicalCores(4, List.of("0,4", "1,5", "2,6", "3,7", "0,4", "1,5", "2,6", "3,7")),
                "a container allowed 4 of 8 hardware threads");
        assertEquals(1, Parallel.physicalCores(1, List.of("0,1", "0,1")));
        assertEquals(6, Parallel.physicalCores(6, List.of()), "topology unknown: the available processors");
    }

    /**
     * Guided claims: each the unclaimed rest over the thread count, at least n/32 with two threads. The sizes
     * depend only on where each claim starts, so whichever thread takes them they are these.
     */
    @Test
    void claimsShrinkFromHalfTheRangeToAGrain() {
        try (Parallel p = new Parallel(2)) {
            List<Integer> sizes = java.util.Collections.synchronizedList(new java.util.ArrayList<>());
            p.run(1000, (from, to) -> sizes.add(to - from));
            List<Integer> sorted = new java.util.ArrayList<>(sizes);
            sorted.sort(java.util.Comparator.reverseOrder());
            assertEquals(List.of(500, 250, 125, 62, 31, 31, 1), sorted);
        }
    }

    @Test
    void runEachHandsOutOneIndexAtATime() {
        try (Parallel p = new Parallel(2)) {
            for (int n : new int[] {0, 1, 2, 5, 300}) {
                AtomicIntegerArray hits = new AtomicIntegerArray(n);
                AtomicInteger calls = new AtomicInteger();
                p.runEach(n, (from, to) -> {
                    assertEquals(1, to - from, "one index per claim");
                    calls.incrementAndGet();
                    hits.incrementAndGet(from);
                });
                for (int i = 0; i < n; i++) {
                    assertEquals(1, hits.get(i), "index " + i);
                }
                assertEquals(n, calls.get());
            }
        }
    }

    @Test
    void usesTheWorkers() {
        try (Parallel p = new Parallel(4)) {
            var names = ConcurrentHashMap.<String>newKeySet();
            for (int rep = 0; rep < 200 && names.size() < 2; rep++) {
                p.run(64, (from, to) -> {
                    names.add(Thread.currentThread().getName());
                    long until = System.nanoTime() + 200_000;     // long enough for a worker to claim a chunk
                    while (System.nanoTime() < until) {
                        Thread.onSpinWait();
                    }
                });
            }
            assertTrue(names.size() >= 2, "ran on " + names);
        }
    }

    @Test
    void rethrowsTheBodysExceptionAndStaysUsable() {
        try (Parallel p = new Parallel(3)) {
            IllegalStateException boom = new IllegalStateException("boom");
            IllegalStateException got = assertThrows(IllegalStateException.class, () -> p.run(100, (from, to) -> {
                if (from <= 50 && 50 < to) {
                    throw boom;
                }
            }));
            assertSame(boom, got);
            assertThrows(AssertionError.class, () -> p.run(10, (from, to) -> {
                throw new AssertionError("error");
            }));
            AtomicInteger sum = new AtomicInteger();
            p.run(100, (from, to) -> sum.addAndGet(to - from));
            assertEquals(100, sum.get());
        }
    }

    @Test
    void nestedAndConcurrentCallsRunOnTheCaller() throws Exception {
        try (Parallel p = new Parallel(3)) {
            AtomicInteger inner = new AtomicInteger(), outer = new AtomicInteger();
            p.run(8, (from, to) -> {
                outer.incrementAndGet();
                p.run(10, (a, b) -> inner.addAndGet(b - a));
            });
            assertEquals(outer.get() * 10, inner.get(), "each outer range running a nested range of 10 inline");

            AtomicInteger total = new AtomicInteger();
            Thread[] callers = new Thread[4];
            for (int k = 0; k < callers.length; k++) {
                callers[k] = new Thread(() -> {
                    for (int rep = 0; rep < 200; rep++) {
                        p.run(1000, (from, to) -> total.addAndGet(to - from));
                    }
                });
                callers[k].start();
            }
            for (Thread t : callers) {
                t.join();
            }
            assertEquals(4 * 200 * 1000, total.get());
        }
    }

    @Test
    void closedPoolRefusesWork() {
        Parallel p = new Parallel(2);
        p.close();
        assertThrows(IllegalStateException.class, () -> p.run(4, (from, to) -> { }));
        assertThrows(IllegalArgumentException.class, () -> new Parallel(0));
    }

    @Test
    void threadCountProperty() {
        String old = System.getProperty("moe4j.threads");
        try {
            System.clearProperty("moe4j.threads");
            assertEquals(Runtime.getRuntime().availableProcessors(), Parallel.configuredThreads());
            System.setProperty("moe4j.threads", " 3 ");
            assertEquals(3, Parallel.configuredThreads());
            for (String bad : new String[] {"0", "-2", "four"}) {
                System.setProperty("moe4j.threads", bad);
                assertThrows(IllegalArgumentException.class, Parallel::configuredThreads, bad);
            }
        } finally {
            if (old == null) {
                System.clearProperty("moe4j.threads");
            } else {
                System.setProperty("moe4j.threads", old);
            }
        }
    }

    /** Rows are independent dot products: any split gives the single-thread bits. */
    @ParameterizedTest
    @EnumSource(Kind.class)
    void parallelMatvecAndMatmulEqualSingleThread(Kind kind) {
        Random rnd = new Random(21);
        try (Arena arena = Arena.ofShared(); Parallel p = new Parallel(4)) {   // shared: workers read it
            int rows = 301, cols = kind.fp4() ? 544 : 520, n = 3;
            Matrix m = TestWeights.matrix(arena, kind, rows, cols, rnd, null);
            float[] x = TestWeights.gaussian(rnd, n * cols);
            float[] want = new float[rows], got = new float[rows];
            m.matvec(x, 0, want, 0);
            for (int rep = 0; rep < 5; rep++) {
                p.run(rows, (r0, r1) -> m.matvec(x, 0, got, 0, r0, r1));
                assertArrayEquals(want, got);
            }
            float[] wantMm = new float[n * rows], gotMm = new float[n * rows];
            m.matmul(x, n, wantMm);
            p.run(rows, (r0, r1) -> m.matmul(x, n, gotMm, r0, r1));
            assertArrayEquals(wantMm, gotMm);
        }
    }
}
