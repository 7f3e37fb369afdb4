package dev.moe4j.bench;

import java.lang.foreign.Arena;

import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

import dev.moe4j.tensor.Matrix;
import dev.moe4j.tensor.Parallel;

/**
 * Copies of one weight matrix, enough of them (at least 96 MiB in all) that a benchmark cycling through them
 * reads its weights from memory rather than from the 32 MiB last-level cache, like a decode step does, and
 * the pool that splits each product by rows as the model does.
 */
@State(Scope.Benchmark)
public class KernelState {

    /** dtype_rowsxcols at V4-Flash shapes: attention/shared FP8, expert w1 and w2 FP4, a head row-subset. */
    @Param({"fp8_4096x4096", "fp4_2048x4096", "fp4_4096x2048", "bf16_16384x4096"})
    public String shape;

    /** Threads of the row split (the caller counts as one). */
    @Param({"1", "2"})
    public int threads;

    /** 0: the machine's preferred vector width, else 128, 256 or 512 bits. */
    @Param({"0"})
    public int vectorBits;

    /** Total weight bytes to cycle through. */
    @Param({"100663296"})
    public long workingSet;

    Matrix[] copies;
    Parallel pool;
    Arena arena;
    int next;

    @Setup(Level.Trial)
    public void setUp() {
        arena = Arena.ofShared();
        Matrix first = Weights.matrix(arena, shape, vectorBits, 1);
        int n = (int) Math.max(1, (workingSet + first.bytes() - 1) / first.bytes());
        copies = new Matrix[n];
        copies[0] = first;
        for (int i = 1; i < n; i++) {
            copies[i] = Weights.matrix(arena, shape, vectorBits, 1 + i);
        }
        pool = threads > 1 ? new Parallel(threads) : null;
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        if (pool != null) {
            pool.close();
        }
        arena.close();
    }

    Matrix nextMatrix() {
        Matrix m = copies[next];
        next = next + 1 == copies.length ? 0 : next + 1;
        return m;
    }

    /** Weight bytes one product reads. */
    long bytes() {
        return copies[0].bytes();
    }
}
