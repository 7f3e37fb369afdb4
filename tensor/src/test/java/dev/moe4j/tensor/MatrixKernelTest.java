package dev.moe4j.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import dev.moe4j.tensor.TestWeights.Kind;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The vector kernels of every implementation against their scalar references and the dequantised rows, with
 * every vector width forced in turn; matmul against matvec.
 */
class MatrixKernelTest {

    /**
     * Parity tolerance, relative to Σ_c |W[r][c]·x[c]|: both sides accumulate in float32 in different orders,
     * each rounding costing at most 2^-24 (6e-8) of a partial sum; the largest difference measured over these
     * cases is 3.7e-7, and one wrong weight in a row of up to 1056 columns moves the sum by far more than 1e-5.
     */
    private static final double REL_TOL = 1e-5;

    /** (rows, cols): ones, non-multiples of the vector length and of 128, partial scale blocks on both axes. */
    private static final int[][] SIZES = {{1, 1}, {3, 7}, {130, 256}, {67, 300}, {129, 389}, {2, 1000}};
    /** FP4 needs cols % 32 == 0. */
    private static final int[][] FP4_SIZES = {{1, 32}, {3, 64}, {130, 256}, {67, 288}, {5, 1056}};

    static List<Arguments> kindsAndWidths() {
        List<Arguments> out = new ArrayList<>();
        for (Kind k : Kind.values()) {
            for (int bits : new int[] {0, 128, 256, 512}) {
                out.add(Arguments.of(k, bits));
            }
        }
        return out;
    }

    /** 0 = the preferred species. */
    static VectorSpecies<Float> species(int bits) {
        return switch (bits) {
            case 0 -> null;
            case 128 -> FloatVector.SPECIES_128;
            case 256 -> FloatVector.SPECIES_256;
            default -> FloatVector.SPECIES_512;
        };
    }

    static void scalar(Matrix m, float[] x, int xOff, float[] y, int yOff, int r0, int r1) {
        switch (m) {
            case Fp8Matrix f -> Fp8Matrix.matvecScalar(f, x, xOff, y, yOff, r0, r1);
            case Fp4Matrix f -> Fp4Matrix.matvecScalar(f, x, xOff, y, yOff, r0, r1);
            case Bf16Matrix f -> Bf16Matrix.matvecScalar(f, x, xOff, y, yOff, r0, r1);
            case F32Matrix f -> F32Matrix.matvecScalar(f, x, xOff, y, yOff, r0, r1);
            default -> throw new AssertionError(m.getClass());
        }
    }

    @ParameterizedTest(name = "{0}, {1} bits")
    @MethodSource("kindsAndWidths")
    void vectorMatchesScalarReference(Kind kind, int bits) {
        Random rnd = new Random(1234 + kind.ordinal() * 31L + bits);
        try (Arena arena = Arena.ofConfined()) {
            for (int[] size : kind.fp4() ? FP4_SIZES : SIZES) {
                int rows = size[0], cols = size[1], xOff = 3, yOff = 5;
                Matrix m = TestWeights.matrix(arena, kind, rows, cols, rnd, species(bits));
                assertEquals(rows, m.rows());
                assertEquals(cols, m.cols());
                float[] x = TestWeights.gaussian(rnd, xOff + cols + 2);
                float[] yVec = new float[yOff + rows + 1], yRef = new float[yVec.length];
                Arrays.fill(yVec, Float.NaN);
                Arrays.fill(yRef, Float.NaN);
                m.matvec(x, xOff, yVec, yOff);
                scalar(m, x, xOff, yRef, yOff, 0, rows);
                float[] w = new float[cols];
                for (int r = 0; r < rows; r++) {
                    m.row(r, w, 0);
                    double exact = 0, mag = 0;
                    for (int c = 0; c < cols; c++) {
                        exact += (double) w[c] * x[xOff + c];
                        mag += Math.abs((double) w[c] * x[xOff + c]);
                    }
                    assertTrue(mag > 0, "random weights and inputs are not all zero");
                    String at = kind + " " + rows + "×" + cols + " row " + r;
                    assertEquals(yRef[yOff + r], yVec[yOff + r], REL_TOL * mag, at + " vector vs scalar");
                    assertEquals(exact, yVec[yOff + r], REL_TOL * mag, at + " vector vs row() in double");
                }
                for (int i = 0; i < yOff; i++) {
                    assertTrue(Float.isNaN(yVec[i]), "y before yOff untouched");
                }
                assertTrue(Float.isNaN(yVec[yOff + rows]), "y after the last row untouched");
            }
        }
    }

    @ParameterizedTest(name = "{0}, {1} bits")
    @MethodSource("kindsAndWidths")
    void rowRangeWritesOnlyItsRows(Kind kind, int bits) {
        Random rnd = new Random(99);
        try (Arena arena = Arena.ofConfined()) {
            int rows = 40, cols = kind.fp4() ? 96 : 100;
            Matrix m = TestWeights.matrix(arena, kind, rows, cols, rnd, species(bits));
            float[] x = TestWeights.gaussian(rnd, cols);
            float[] all = new float[rows], part = new float[rows];
            m.matvec(x, 0, all, 0);
            Arrays.fill(part, Float.NaN);
            m.matvec(x, 0, part, 0, 7, 29);
            for (int r = 0; r < rows; r++) {
                assertEquals(r >= 7 && r < 29 ? all[r] : Float.NaN, part[r], "row " + r);
            }
        }
    }

    /**
     * matmul dequantises each row once and repeats matvec's accumulation order: bit-identical results. The FP8
     * and FP4 tiles take the inputs in groups of at most 256 KB (32 rows of 2000 columns), and past one group go
     * over blocks of 32 rows: with 71 rows and 40 inputs, two whole blocks and one of 7, its last row alone.
     */
    @ParameterizedTest(name = "{0}, {1} bits")
    @MethodSource("kindsAndWidths")
    void matmulEqualsMatvecPerInputRow(Kind kind, int bits) {
        Random rnd = new Random(5);
        try (Arena arena = Arena.ofConfined()) {
            // 2000 columns: tiles of 32 input rows (Matrices.tileRows), so n = 40 spans two tiles
            int cols = kind.fp4() ? 2016 : 2000;
            assertEquals(32, Matrices.tileRows(cols));
            for (int rows : new int[] {9, 71}) {
                Matrix m = TestWeights.matrix(arena, kind, rows, cols, rnd, species(bits));
                for (int n : rows == 9 ? new int[] {1, 2, 3, 5, 6, 7, 40} : new int[] {4, 9, 40}) {
                    float[] x = TestWeights.gaussian(rnd, n * cols);
                    float[] want = new float[n * rows];
                    for (int t = 0; t < n; t++) {
                        m.matvec(x, t * cols, want, t * rows);
                    }
                    float[] got = new float[n * rows];
                    m.matmul(x, n, got);
                    assertArrayEquals(want, got, kind + " rows=" + rows + " n=" + n);

                    float[] part = new float[n * rows];
                    Arrays.fill(part, Float.NaN);
                    m.matmul(x, n, part, 2, 7);
                    for (int t = 0; t < n; t++) {
                        for (int r = 0; r < rows; r++) {
                            assertEquals(r >= 2 && r < 7 ? want[t * rows + r] : Float.NaN, part[t * rows + r],
                                    "rows=" + rows + " n=" + n + " t=" + t + " row " + r);
                        }
                    }
                }
            }
        }
    }

}
