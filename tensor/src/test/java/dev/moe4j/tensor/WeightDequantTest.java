package dev.moe4j.tensor;

import static dev.moe4j.tensor.Fixtures.section;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;

import java.lang.foreign.Arena;
import java.util.List;
import java.util.Random;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import com.fasterxml.jackson.databind.JsonNode;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The {@code fp8_weight_dequant} and {@code fp4_weight_dequant} sections of kernels.json through
 * {@link Matrix#get} and {@link Matrix#row}, with the scales stored as F8_E8M0 (V4) and as F32 (the Base
 * layout), and matvec on those weights against a float64 product.
 */
class WeightDequantTest {

    @ParameterizedTest(name = "scale {0}")
    @ValueSource(strings = {"F8_E8M0", "F32"})
    void fp8ProbesAndChecksums(String scaleDtype) {
        JsonNode s = section("fp8_weight_dequant");
        int rows = s.get("shape").get(0).asInt(), cols = s.get("shape").get(1).asInt();
        assertEquals(130, rows, "the fixture's point: a partial 128-row block");
        try (Arena arena = Arena.ofConfined()) {
            Tensor w = TestWeights.tensor(arena, "fx.weight", DType.F8_E4M3, new long[] {rows, cols},
                    Fixtures.hexBytes(s.get("codes_hex").asText()));
            Tensor sc = scale(arena, "fx.scale", s.get("scale_bytes"), scaleDtype);
            Matrix m = Matrices.of(w, sc);
            assertInstanceOf(Fp8Matrix.class, m);
            for (JsonNode p : s.get("probes")) {
                int i = p.get("i").asInt(), j = p.get("j").asInt();
                assertEquals((float) p.get("value").asDouble(), m.get(i, j), "W[" + i + "," + j + "]");
            }
            // e4m3 · 2^k values span < 2^27, so 33280 of them sum exactly in double, in any order
            double sum = 0, sumAbs = 0;
            float[] row = new float[cols];
            for (int i = 0; i < rows; i++) {
                m.row(i, row, 0);
                for (float v : row) {
                    sum += v;
                    sumAbs += Math.abs(v);
                }
            }
            assertEquals(s.get("sum").asDouble(), sum, 0.0);
            assertEquals(s.get("sum_abs").asDouble(), sumAbs, 0.0);
            matvecMatchesFloat64(m, w, sc);
        }
    }

    @ParameterizedTest(name = "scale {0}")
    @ValueSource(strings = {"F8_E8M0", "F32"})
    void fp4FullDequant(String scaleDtype) {
        JsonNode s = section("fp4_weight_dequant");
        JsonNode want = s.get("dequant");
        int rows = want.size(), cols = want.get(0).size();
        try (Arena arena = Arena.ofConfined()) {
            Tensor w = TestWeights.tensor(arena, "fx4.weight", DType.I8, new long[] {rows, cols / 2},
                    Fixtures.hexBytes(s.get("packed_hex").asText()));
            Tensor sc = scale(arena, "fx4.scale", s.get("scale_bytes"), scaleDtype);
            Matrix m = Matrices.of(w, sc);
            assertInstanceOf(Fp4Matrix.class, m);
            assertEquals(cols, m.cols(), "two columns per stored byte");
            float[] row = new float[cols + 2];
            for (int i = 0; i < rows; i++) {
                m.row(i, row, 1);
                for (int j = 0; j < cols; j++) {
                    float v = (float) want.get(i).get(j).asDouble();
                    assertEquals(v, row[1 + j], "row(" + i + ")[" + j + "]");
                    assertEquals(v, m.get(i, j), "W[" + i + "," + j + "]");
                }
            }
            matvecMatchesFloat64(m, w, sc);
        }
    }

    /** Every vector width on the fixture weights, against Σ W·x in float64 (tolerance as MatrixKernelTest). */
    private static void matvecMatchesFloat64(Matrix m, Tensor w, Tensor scale) {
        Random rnd = new Random(3);
        float[] x = TestWeights.gaussian(rnd, m.cols());
        float[] row = new float[m.cols()];
        for (VectorSpecies<Float> sp : List.of(FloatVector.SPECIES_128, FloatVector.SPECIES_256,
                FloatVector.SPECIES_512)) {
            Matrix v = Matrices.of(w, scale, sp);
            float[] y = new float[m.rows()];
            v.matvec(x, 0, y, 0);
            for (int r = 0; r < m.rows(); r++) {
                m.row(r, row, 0);
                double exact = 0, mag = 0;
                for (int c = 0; c < row.length; c++) {
                    exact += (double) row[c] * x[c];
                    mag += Math.abs((double) row[c] * x[c]);
                }
                assertEquals(exact, y[r], 1e-5 * mag, sp + " row " + r);
            }
        }
    }

    /** The fixture's scale bytes as an E8M0 tensor, or as the F32 powers of two they stand for. */
    private static Tensor scale(Arena arena, String name, JsonNode bytes, String dtype) {
        int r = bytes.size(), c = bytes.get(0).size();
        long[] shape = {r, c};
        if (dtype.equals("F8_E8M0")) {
            byte[] b = new byte[r * c];
            for (int i = 0; i < r; i++) {
                for (int j = 0; j < c; j++) {
                    b[i * c + j] = (byte) bytes.get(i).get(j).asInt();
                }
            }
            return TestWeights.tensor(arena, name, DType.F8_E8M0, shape, b);
        }
        byte[] b = new byte[4 * r * c];
        for (int i = 0; i < r; i++) {
            for (int j = 0; j < c; j++) {
                TestWeights.putFloat(b, i * c + j, Math.scalb(1f, bytes.get(i).get(j).asInt() - 127));
            }
        }
        return TestWeights.tensor(arena, name, DType.F32, shape, b);
    }
}
