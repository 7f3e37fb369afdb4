package dev.moe4j.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Random;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

import jdk.incubator.vector.FloatVector;

/** {@link Matrices#of}: which implementation, and the rejection of inconsistent tensors. */
class MatricesTest {

    private final Arena arena = Arena.ofConfined();

    @AfterEach
    void close() {
        arena.close();
    }

    private Tensor t(String name, DType dtype, long... shape) {
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        return TestWeights.tensor(arena, name, dtype, shape, new byte[(int) (n * dtype.byteSize())]);
    }

    private static void rejects(String mustMention, Executable e) {
        IllegalArgumentException ex = assertThrows(IllegalArgumentException.class, e);
        assertTrue(ex.getMessage().contains(mustMention), "message '" + ex.getMessage() + "' names " + mustMention);
    }

    @Test
    void choosesTheImplementationByDtype() {
        Matrix fp8 = Matrices.of(t("a.weight", DType.F8_E4M3, 130, 300), t("a.scale", DType.F8_E8M0, 2, 3));
        assertInstanceOf(Fp8Matrix.class, fp8);
        assertEquals(DType.F8_E4M3, fp8.dtype());
        assertEquals(130L * 300 + 4 * 6, fp8.bytes());
        Matrix fp8Base = Matrices.of(t("a.weight", DType.F8_E4M3, 130, 300), t("a.scale", DType.F32, 2, 3));
        assertInstanceOf(Fp8Matrix.class, fp8Base);

        Matrix fp4 = Matrices.of(t("e.weight", DType.I8, 3, 32), t("e.scale", DType.F8_E8M0, 3, 2));
        assertInstanceOf(Fp4Matrix.class, fp4);
        assertEquals(3, fp4.rows());
        assertEquals(64, fp4.cols());
        assertEquals(DType.I8, fp4.dtype());
        assertEquals(3 * 32 + 3 * 2, fp4.bytes());

        Matrix bf16 = Matrices.of(t("b", DType.BF16, 5, 7), null);
        assertInstanceOf(Bf16Matrix.class, bf16);
        assertEquals(2 * 35, bf16.bytes());
        Matrix f32 = Matrices.of(t("f", DType.F32, 5, 7), null, FloatVector.SPECIES_128);
        assertInstanceOf(F32Matrix.class, f32);
        assertEquals(4 * 35, f32.bytes());
    }

    @Test
    void rejectsInconsistentTensorsNamingThem() {
        Tensor fp8 = t("L.wq.weight", DType.F8_E4M3, 130, 256);
        rejects("L.wq.weight", () -> Matrices.of(fp8, null));
        rejects("L.wq.scale", () -> Matrices.of(fp8, t("L.wq.scale", DType.F8_E8M0, 1, 2)));
        rejects("[2, 2]", () -> Matrices.of(fp8, t("L.wq.scale", DType.F8_E8M0, 2, 3)));
        rejects("L.wq.scale", () -> Matrices.of(fp8, t("L.wq.scale", DType.BF16, 2, 2)));

        Tensor fp4 = t("e.w1.weight", DType.I8, 4, 16);
        rejects("e.w1.scale", () -> Matrices.of(fp4, t("e.w1.scale", DType.F8_E8M0, 4, 2)));
        rejects("e.w1.weight", () -> Matrices.of(t("e.w1.weight", DType.I8, 4, 10), t("s", DType.F8_E8M0, 4, 1)));

        rejects("norm.weight", () -> Matrices.of(t("norm.weight", DType.BF16, 256), null));
        rejects("head.weight", () -> Matrices.of(t("head.weight", DType.BF16, 4, 4), t("x", DType.F32, 1, 1)));
        rejects("tid2eid", () -> Matrices.of(t("tid2eid", DType.I64, 4, 4), null));

        MemorySegment short1 = arena.allocate(7);
        rejects("w.short", () -> Matrices.of(new Tensor("w.short", DType.BF16, new long[] {2, 2}, short1), null));
        MemorySegment floats = MemorySegment.ofArray(new float[4]);
        rejects("w.heap", () -> Matrices.of(new Tensor("w.heap", DType.F32, new long[] {2, 2}, floats), null));

        assertThrows(IllegalArgumentException.class,
                () -> Matrices.of(t("f", DType.F32, 2, 2), null, FloatVector.SPECIES_64));
    }

    @Test
    void fp4F32ScalesMustBePowersOfTwo() {
        byte[] ones = new byte[32];
        java.util.Arrays.fill(ones, (byte) 0x22);                  // e2m1 code 2 = 1.0 in both nibbles
        Tensor w = TestWeights.tensor(arena, "e.weight", DType.I8, new long[] {1, 32}, ones);
        byte[] scales = new byte[8];
        TestWeights.putFloat(scales, 0, 0x1p-127f);                 // the extremes of E8M0
        TestWeights.putFloat(scales, 1, 0x1p127f);
        Matrix m = Matrices.of(w, TestWeights.tensor(arena, "e.scale", DType.F32, new long[] {1, 2}, scales));
        assertEquals(0x1p-127f, m.get(0, 0));
        assertEquals(0x1p127f, m.get(0, 63));
        for (float v : new float[] {0.3f, 0f, -0.5f, Float.POSITIVE_INFINITY, 0x1p-128f}) {
            byte[] bad = scales.clone();
            TestWeights.putFloat(bad, 1, v);
            rejects("e.scale", () -> Matrices.of(w, TestWeights.tensor(arena, "e.scale", DType.F32,
                    new long[] {1, 2}, bad)));
        }
    }

    /** F32 scales of FP4 weights are converted to E8M0 exactly: same values as the E8M0 tensor. */
    @Test
    void fp4F32ScalesDecodeLikeE8m0() {
        Random rnd = new Random(11);
        byte[] packed = new byte[4 * 32];
        rnd.nextBytes(packed);
        byte[] e8 = new byte[8], f32 = new byte[32];
        for (int i = 0; i < 8; i++) {
            int b = i == 0 ? 0 : i == 1 ? 254 : 100 + rnd.nextInt(50);
            e8[i] = (byte) b;
            TestWeights.putFloat(f32, i, Formats.e8m0ToFloat(b));
        }
        Tensor w = TestWeights.tensor(arena, "e.weight", DType.I8, new long[] {4, 32}, packed);
        Matrix a = Matrices.of(w, TestWeights.tensor(arena, "e.scale", DType.F8_E8M0, new long[] {4, 2}, e8));
        Matrix b = Matrices.of(w, TestWeights.tensor(arena, "e.scale", DType.F32, new long[] {4, 2}, f32));
        for (int r = 0; r < 4; r++) {
            for (int c = 0; c < 64; c++) {
                assertEquals(a.get(r, c), b.get(r, c), "W[" + r + "," + c + "]");
            }
        }
    }

    @Test
    void indexChecks() {
        Matrix m = Matrices.of(t("f", DType.F32, 3, 4), null);
        assertThrows(IndexOutOfBoundsException.class, () -> m.get(3, 0));
        assertThrows(IndexOutOfBoundsException.class, () -> m.get(0, 4));
        assertThrows(IndexOutOfBoundsException.class, () -> m.row(0, new float[5], 2));
        assertThrows(IndexOutOfBoundsException.class, () -> m.matvec(new float[3], 0, new float[3], 0));
        assertThrows(IndexOutOfBoundsException.class, () -> m.matvec(new float[4], 0, new float[2], 0));
        assertThrows(IndexOutOfBoundsException.class, () -> m.matvec(new float[4], 0, new float[3], 0, 2, 1));
        assertThrows(IndexOutOfBoundsException.class, () -> m.matmul(new float[8], 2, new float[5]));
        m.matvec(new float[4], 0, new float[0], 0, 1, 1);            // an empty range touches nothing
    }
}
