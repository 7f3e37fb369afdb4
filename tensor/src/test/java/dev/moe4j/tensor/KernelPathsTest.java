package dev.moe4j.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.management.ManagementFactory;
import java.util.Random;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

import dev.moe4j.tensor.TestWeights.Kind;

/**
 * The kernels' side paths, each against the scalar reference and with matmul equal to matvec bit for bit:
 * FP4 rows with the scale bytes 0 (2^-127) and 255 (NaN), FP8 inputs beyond ±2^67 and scales beyond 2^67,
 * matmul over several row blocks and tiles; and matvec allocating nothing.
 */
class KernelPathsTest {

    private static final double REL_TOL = 1e-5;

    private static void checkAgainstScalar(Matrix m, float[] x, String what) {
        int rows = m.rows(), cols = m.cols();
        float[] got = new float[rows], want = new float[rows];
        m.matvec(x, 0, got, 0);
        MatrixKernelTest.scalar(m, x, 0, want, 0, 0, rows);
        float[] w = new float[cols];
        for (int r = 0; r < rows; r++) {
            m.row(r, w, 0);
            double mag = 0;
            for (int c = 0; c < cols; c++) {
                mag += Math.abs((double) w[c] * x[c]);
            }
            if (Float.isNaN(want[r])) {
                assertTrue(Float.isNaN(got[r]), what + " row " + r + ": NaN expected, got " + got[r]);
            } else {
                assertEquals(want[r], got[r], REL_TOL * mag, what + " row " + r);
            }
        }
    }

    /** matmul of n copies-with-variations of x against matvec of each, bit for bit (NaN equal to NaN). */
    private static void checkMatmul(Matrix m, float[] xs, int n, String what) {
        int rows = m.rows(), cols = m.cols();
        float[] want = new float[n * rows], got = new float[n * rows];
        for (int t = 0; t < n; t++) {
            m.matvec(xs, t * cols, want, t * rows);
        }
        m.matmul(xs, n, got);
        assertArrayEquals(want, got, what + " n=" + n);
    }

    @ParameterizedTest(name = "{0} bits")
    @ValueSource(ints = {0, 128, 256, 512})
    void fp4ScaleBytesZeroAndNaN(int bits) {
        Random rnd = new Random(17);
        try (Arena arena = Arena.ofConfined()) {
            int rows = 7, cols = 288;
            Tensor[] t = TestWeights.tensors(arena, Kind.FP4_E8M0, rows, cols, rnd);
            MemorySegment s = t[1].data();
            s.set(ValueLayout.JAVA_BYTE, 2L * (cols / 32) + 3, (byte) 0);          // row 2: one block 2^-127
            s.set(ValueLayout.JAVA_BYTE, 4L * (cols / 32) + 8, (byte) 255);        // row 4: last block NaN
            s.set(ValueLayout.JAVA_BYTE, 5L * (cols / 32), (byte) 0);              // row 5: first block 2^-127
            for (int b = 0; b < cols / 32; b++) {
                s.set(ValueLayout.JAVA_BYTE, 6L * (cols / 32) + b, (byte) 0);      // row 6: every block 2^-127
            }
            Matrix m = bits == 0 ? Matrices.of(t[0], t[1]) : Matrices.of(t[0], t[1], MatrixKernelTest.species(bits));
            float[] x = TestWeights.gaussian(rnd, 5 * cols);
            checkAgainstScalar(m, x, "FP4 with odd scales");
            float[] y = new float[rows];
            m.matvec(x, 0, y, 0);
            assertTrue(Float.isNaN(y[4]), "a NaN scale gives NaN");
            // those rows take the reference's order, so its results bit for bit: row 6 is a sum of subnormal
            // products, which scales built from exponent bits alone (the vector kernels) would make 0
            float[] ref = new float[rows];
            Fp4Matrix.matvecScalar((Fp4Matrix) m, x, 0, ref, 0, 0, rows);
            assertNotEquals(0f, ref[6]);
            for (int r : new int[] {2, 4, 5, 6}) {
                assertEquals(ref[r], y[r], "row " + r);
            }
            for (int n : new int[] {4, 5}) {
                checkMatmul(m, x, n, "FP4 with odd scales");
            }
        }
    }

    @ParameterizedTest(name = "{0} bits")
    @ValueSource(ints = {0, 128, 256, 512})
    void fp8HugeInputsTakeTheExactPath(int bits) {
        Random rnd = new Random(23);
        try (Arena arena = Arena.ofConfined()) {
            int rows = 130, cols = 300, n = 9;
            Matrix m = TestWeights.matrix(arena, Kind.FP8_E8M0, rows, cols, rnd, MatrixKernelTest.species(bits));
            float[] xs = TestWeights.gaussian(rnd, n * cols);
            for (int k : new int[] {1, 4, 6}) {                       // inputs 1, 4 and 6 beyond 2^67
                xs[k * cols + 7 * k] = 0x1p90f;
            }
            float[] x1 = java.util.Arrays.copyOfRange(xs, cols, 2 * cols);
            checkAgainstScalar(m, x1, "FP8, input beyond 2^67");
            checkMatmul(m, xs, n, "FP8, some inputs beyond 2^67");
            xs[3 * cols] = Float.NaN;
            checkMatmul(m, xs, n, "FP8, a NaN input");
        }
    }

    @ParameterizedTest(name = "{0} bits")
    @ValueSource(ints = {0, 128, 256, 512})
    void fp8ScalesBeyondTheFastPath(int bits) {
        Random rnd = new Random(29);
        try (Arena arena = Arena.ofConfined()) {
            int rows = 3, cols = 256;
            Tensor[] t = TestWeights.tensors(arena, Kind.FP8_F32, rows, cols, rnd);
            t[1].data().setAtIndex(Matrices.F32_LE, 1, 0x1p80f);
            Matrix m = bits == 0 ? Matrices.of(t[0], t[1]) : Matrices.of(t[0], t[1], MatrixKernelTest.species(bits));
            float[] xs = TestWeights.gaussian(rnd, 5 * cols);
            checkAgainstScalar(m, xs, "FP8, a scale of 2^80");
            checkMatmul(m, xs, 5, "FP8, a scale of 2^80");
        }
    }

    /** Several row blocks (32 rows), odd row counts (a last single row) and tiles of 4 inputs plus a rest. */
    @ParameterizedTest
    @EnumSource(Kind.class)
    void matmulOverRowBlocksAndTiles(Kind kind) {
        Random rnd = new Random(31);
        try (Arena arena = Arena.ofConfined()) {
            int rows = 71, cols = kind.fp4() ? 1088 : 1100;
            Matrix m = TestWeights.matrix(arena, kind, rows, cols, rnd, null);
            for (int n : new int[] {7, 9}) {                           // tiles of 4 and a rest of 3 or 1
                float[] xs = TestWeights.gaussian(rnd, n * cols);
                checkMatmul(m, xs, n, kind.toString());
                float[] want = new float[n * rows], part = new float[n * rows];
                m.matmul(xs, n, want);
                java.util.Arrays.fill(part, Float.NaN);
                m.matmul(xs, n, part, 3, 68);
                for (int t = 0; t < n; t++) {
                    for (int r = 0; r < rows; r++) {
                        assertEquals(r >= 3 && r < 68 ? want[t * rows + r] : Float.NaN, part[t * rows + r],
                                kind + " n=" + n + " t=" + t + " row " + r);
                    }
                }
            }
        }
    }

    /**
     * The decode step calls matvec thousands of times: once warm it allocates nothing (scratch is pooled, no
     * vector is boxed). Measured in a fresh JVM: in this one, tests forcing other widths make the kernels'
     * call sites polymorphic, and the kernels then run unintrinsified, boxing every vector (see {@link Lanes}).
     */
    @org.junit.jupiter.api.Test
    void matvecAllocatesNothing() throws Exception {
        String javaBin = ProcessHandle.current().info().command().orElse("java");
        Process p = new ProcessBuilder(javaBin, "--add-modules", "jdk.incubator.vector", "-Xmx256m", "-cp",
                System.getProperty("java.class.path"), AllocationProbe.class.getName())
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), out);
        for (Kind kind : Kind.values()) {
            assertTrue(out.contains(kind + " 0\n") || out.contains(kind + " 0\r\n"),
                    kind + " allocated while running matvec:\n" + out);
        }
    }

    /** Prints "KIND bytes": the least allocated by 1000 warm matvecs of each kind over some rounds. */
    static final class AllocationProbe {
        public static void main(String[] args) {
            var mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
            Random rnd = new Random(37);
            try (Arena arena = Arena.ofConfined()) {
                for (Kind kind : Kind.values()) {
                    int rows = 64, cols = kind.fp4() ? 512 : 500;
                    Matrix m = TestWeights.matrix(arena, kind, rows, cols, rnd, null);
                    float[] x = TestWeights.gaussian(rnd, cols), y = new float[rows];
                    for (int i = 0; i < 20_000; i++) {
                        m.matvec(x, 0, y, 0, i % 7, rows);
                    }
                    long tid = Thread.currentThread().threadId(), least = Long.MAX_VALUE;
                    // the least of several rounds: one-off allocations aside, and on a busy machine the JIT's
                    // compilation of the kernel may land rounds later (until then the vectors are boxed)
                    for (int rep = 0; rep < 40 && least > 0; rep++) {
                        long before = mx.getThreadAllocatedBytes(tid);
                        for (int i = 0; i < 1000; i++) {
                            m.matvec(x, 0, y, 0, i % 7, rows);
                        }
                        least = Math.min(least, mx.getThreadAllocatedBytes(tid) - before);
                    }
                    System.out.println(kind + " " + least);
                }
            }
        }
    }
}
