package dev.moe4j.tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;

import jdk.incubator.vector.VectorSpecies;

/** Seeded random weights in off-heap memory, in the on-disk layouts {@link Matrices#of} reads. */
final class TestWeights {

    private TestWeights() {
    }

    /** The weight kinds of the tests: dtype of weight and scale. */
    enum Kind {
        FP8_E8M0, FP8_F32, FP4_E8M0, FP4_F32, BF16, F32;

        boolean fp4() {
            return this == FP4_E8M0 || this == FP4_F32;
        }
    }

    /** A random matrix of {@code rows × cols} (cols a multiple of 32 for FP4); species null = preferred. */
    static Matrix matrix(Arena arena, Kind kind, int rows, int cols, Random rnd, VectorSpecies<Float> species) {
        Tensor[] t = tensors(arena, kind, rows, cols, rnd);
        return species == null ? Matrices.of(t[0], t[1]) : Matrices.of(t[0], t[1], species);
    }

    /** {weight, scale or null}. FP8 codes avoid the NaN codes 0x7F/0xFF (see {@link Fp8Matrix}). */
    static Tensor[] tensors(Arena arena, Kind kind, int rows, int cols, Random rnd) {
        return switch (kind) {
            case FP8_E8M0, FP8_F32 -> {
                byte[] w = new byte[rows * cols];
                for (int i = 0; i < w.length; i++) {
                    int c;
                    do {
                        c = rnd.nextInt(256);
                    } while ((c & 0x7F) == 0x7F);
                    w[i] = (byte) c;
                }
                long[] sShape = {(rows + 127) / 128, (cols + 127) / 128};
                yield new Tensor[] {tensor(arena, "fp8.weight", DType.F8_E4M3, new long[] {rows, cols}, w),
                        scale(arena, "fp8.scale", kind == Kind.FP8_F32, false, sShape, rnd)};
            }
            case FP4_E8M0, FP4_F32 -> {
                byte[] w = new byte[rows * cols / 2];
                rnd.nextBytes(w);
                long[] sShape = {rows, cols / 32};
                yield new Tensor[] {tensor(arena, "fp4.weight", DType.I8, new long[] {rows, cols / 2}, w),
                        scale(arena, "fp4.scale", kind == Kind.FP4_F32, true, sShape, rnd)};
            }
            case BF16 -> {
                byte[] w = new byte[rows * cols * 2];
                for (int i = 0; i < rows * cols; i++) {
                    short b = Formats.floatToBf16((float) rnd.nextGaussian());
                    w[2 * i] = (byte) b;
                    w[2 * i + 1] = (byte) (b >> 8);
                }
                yield new Tensor[] {tensor(arena, "bf16.weight", DType.BF16, new long[] {rows, cols}, w), null};
            }
            case F32 -> {
                byte[] w = new byte[rows * cols * 4];
                for (int i = 0; i < rows * cols; i++) {
                    putFloat(w, i, (float) rnd.nextGaussian());
                }
                yield new Tensor[] {tensor(arena, "f32.weight", DType.F32, new long[] {rows, cols}, w), null};
            }
        };
    }

    /**
     * Scales around 2^-8 (E8M0 bytes 115..126); F32 ones are the same powers of two for FP4 (which must be
     * powers of two) and arbitrary positive floats for FP8.
     */
    private static Tensor scale(Arena arena, String name, boolean f32, boolean pow2, long[] shape, Random rnd) {
        int n = (int) (shape[0] * shape[1]);
        if (!f32) {
            byte[] b = new byte[n];
            for (int i = 0; i < n; i++) {
                b[i] = (byte) (115 + rnd.nextInt(12));
            }
            return tensor(arena, name, DType.F8_E8M0, shape, b);
        }
        byte[] b = new byte[4 * n];
        for (int i = 0; i < n; i++) {
            float e = Math.scalb(1f, rnd.nextInt(12) - 12);
            putFloat(b, i, pow2 ? e : e * (1 + rnd.nextFloat()));
        }
        return tensor(arena, name, DType.F32, shape, b);
    }

    static Tensor tensor(Arena arena, String name, DType dtype, long[] shape, byte[] data) {
        MemorySegment seg = arena.allocate(Math.max(1, data.length), 64).asSlice(0, data.length);
        MemorySegment.copy(data, 0, seg, ValueLayout.JAVA_BYTE, 0, data.length);
        return new Tensor(name, dtype, shape, seg);
    }

    static void putFloat(byte[] b, int i, float v) {
        int bits = Float.floatToRawIntBits(v);
        for (int k = 0; k < 4; k++) {
            b[4 * i + k] = (byte) (bits >> 8 * k);
        }
    }

    static float[] gaussian(Random rnd, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) rnd.nextGaussian();
        }
        return x;
    }
}
