package dev.moe4j.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.util.Arrays;
import java.util.Random;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import dev.moe4j.tensor.TestWeights.Kind;

/**
 * {@link Matrices#reference}: matvec and matmul are the class's scalar reference exactly (so within the
 * parity tolerance of the vector kernels), everything else is the wrapped matrix's.
 */
class ReferenceMatrixTest {

    /** The parity tolerance of {@link MatrixKernelTest}, relative to Σ_c |W[r][c]·x[c]|. */
    private static final double REL_TOL = 1e-5;

    /** (rows, cols): a single element, non-multiples of the vector length and of 128. */
    private static final int[][] SIZES = {{1, 1}, {3, 7}, {130, 256}, {67, 300}};
    /** FP4 needs cols % 32 == 0. */
    private static final int[][] FP4_SIZES = {{1, 32}, {3, 64}, {130, 256}, {67, 288}};

    @ParameterizedTest
    @EnumSource(Kind.class)
    void matvecIsTheScalarReference(Kind kind) {
        Random rnd = new Random(4321 + kind.ordinal());
        try (Arena arena = Arena.ofConfined()) {
            for (int[] size : kind.fp4() ? FP4_SIZES : SIZES) {
                int rows = size[0], cols = size[1], xOff = 3, yOff = 5;
                Matrix fast = TestWeights.matrix(arena, kind, rows, cols, rnd, null);
                Matrix ref = Matrices.reference(fast);
                float[] x = TestWeights.gaussian(rnd, xOff + cols + 2);
                float[] want = new float[yOff + rows + 1], got = new float[want.length], vec = new float[rows];
                Arrays.fill(want, Float.NaN);
                Arrays.fill(got, Float.NaN);
                MatrixKernelTest.scalar(fast, x, xOff, want, yOff, 0, rows);
                ref.matvec(x, xOff, got, yOff);
                String at = kind + " " + rows + "×" + cols;
                assertArrayEquals(want, got, at + ": the scalar reference, bit for bit, nothing else written");
                fast.matvec(x, xOff, vec, 0);
                float[] w = new float[cols];
                for (int r = 0; r < rows; r++) {
                    fast.row(r, w, 0);
                    double mag = 0;
                    for (int c = 0; c < cols; c++) {
                        mag += Math.abs((double) w[c] * x[xOff + c]);
                    }
                    assertTrue(mag > 0, "random weights and inputs are not all zero");
                    assertEquals(vec[r], got[yOff + r], REL_TOL * mag, at + " row " + r + " vs the vector kernel");
                }
            }
        }
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void matmulIsOneScalarMatvecPerInputRow(Kind kind) {
        Random rnd = new Random(77 + kind.ordinal());
        try (Arena arena = Arena.ofConfined()) {
            int rows = 9, cols = kind.fp4() ? 288 : 300, n = 4;
            Matrix fast = TestWeights.matrix(arena, kind, rows, cols, rnd, null);
            Matrix ref = Matrices.reference(fast);
            float[] x = TestWeights.gaussian(rnd, n * cols);
            float[] want = new float[n * rows];
            for (int t = 0; t < n; t++) {
                MatrixKernelTest.scalar(fast, x, t * cols, want, t * rows, 0, rows);
            }
            float[] got = new float[n * rows];
            ref.matmul(x, n, got);
            assertArrayEquals(want, got, kind + " all rows");

            float[] part = new float[n * rows];
            Arrays.fill(part, Float.NaN);
            ref.matmul(x, n, part, 2, 7);
            for (int t = 0; t < n; t++) {
                for (int r = 0; r < rows; r++) {
                    assertEquals(r >= 2 && r < 7 ? want[t * rows + r] : Float.NaN, part[t * rows + r],
                            kind + " t=" + t + " row " + r);
                }
            }
            float[] short1 = new float[n * rows - 1];
            assertThrows(IndexOutOfBoundsException.class, () -> ref.matmul(x, n, short1));
        }
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void everythingElseIsTheWrappedMatrix(Kind kind) {
        Random rnd = new Random(11);
        try (Arena arena = Arena.ofConfined()) {
            int rows = 5, cols = kind.fp4() ? 64 : 70;
            Matrix fast = TestWeights.matrix(arena, kind, rows, cols, rnd, null);
            Matrix ref = Matrices.reference(fast);
            assertEquals(fast.rows(), ref.rows());
            assertEquals(fast.cols(), ref.cols());
            assertEquals(fast.dtype(), ref.dtype());
            assertEquals(fast.bytes(), ref.bytes());
            float[] a = new float[cols + 1], b = new float[cols + 1];
            fast.row(3, a, 1);
            ref.row(3, b, 1);
            assertArrayEquals(a, b);
            assertEquals(fast.get(4, cols - 1), ref.get(4, cols - 1));
            assertThrows(IllegalArgumentException.class, () -> Matrices.reference(ref), "no reference of a reference");
        }
    }
}
