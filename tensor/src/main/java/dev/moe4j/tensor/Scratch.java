package dev.moe4j.tensor;

import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * Float arrays lent to the kernels for the rearranged input they build on every call (FP4 and FP8 matvec
 * and matmul), shared by all matrices: a matvec allocates nothing once the pool holds an array big enough,
 * and concurrent calls (row ranges on the workers of {@link Parallel}, or other threads) each get their own.
 *
 * <p>Lock-free: a fixed set of slots, each empty or holding one free array; {@link #take} empties the first
 * slot with a big enough array, {@link #give} fills an empty slot or replaces a smaller array. When every
 * array is lent (more concurrent calls than slots) or too small, {@code take} allocates, and {@code give}
 * drops what does not fit: correct, only not allocation-free. Arrays above {@link #MAX_KEPT} floats, which
 * only big matmuls ask for, are never kept, so the pool holds at most {@code SLOTS × 4 MiB}.
 */
final class Scratch {

    private Scratch() {
    }

    /** Largest array kept: 1 Mi floats (4 MiB), a matmul of 256 inputs of 4096 columns. */
    static final int MAX_KEPT = 1 << 20;

    private static final int SLOTS = Math.max(16, 2 * Runtime.getRuntime().availableProcessors() + 4);
    private static final AtomicReferenceArray<float[]> FREE = new AtomicReferenceArray<>(SLOTS);

    /** An array of at least {@code size} floats, with arbitrary contents; hand it back with {@link #give}. */
    static float[] take(int size) {
        for (int i = 0; i < SLOTS; i++) {
            float[] a = FREE.get(i);
            if (a != null && a.length >= size && FREE.compareAndSet(i, a, null)) {
                return a;
            }
        }
        // at least a 4096-column row, so that the first small matrix does not fill the pool with tiny arrays
        return new float[Math.max(size, Math.min(MAX_KEPT, 4096))];
    }

    /** Returns an array obtained from {@link #take}; the caller must not use it afterwards. */
    static void give(float[] a) {
        if (a.length > MAX_KEPT) {
            return;
        }
        for (int i = 0; i < SLOTS; i++) {
            if (FREE.get(i) == null && FREE.compareAndSet(i, null, a)) {
                return;
            }
        }
        for (int i = 0; i < SLOTS; i++) {
            float[] b = FREE.get(i);
            if (b != null && b.length < a.length && FREE.compareAndSet(i, b, a)) {
                return;
            }
        }
    }
}
