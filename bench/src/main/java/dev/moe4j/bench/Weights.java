package dev.moe4j.bench;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;

import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Formats;
import dev.moe4j.tensor.Matrices;
import dev.moe4j.tensor.Matrix;
import dev.moe4j.tensor.Tensor;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Random weights in the checkpoint layouts, with the value statistics of trained ones where that changes the
 * speed: FP8 codes are Gaussian values quantised to e4m3 (about 1e-4 of them subnormal, like the real
 * checkpoints), FP4 nibbles uniformly random, scales around 2^-8.
 */
final class Weights {

    private Weights() {
    }

    /** The benchmark shapes: {@code fp8_4096x4096} etc. (dtype, rows, columns). */
    static Matrix matrix(Arena arena, String shape, int vectorBits, long seed) {
        String[] p = shape.split("[_x]");
        int rows = Integer.parseInt(p[1]), cols = Integer.parseInt(p[2]);
        SplittableRandom rnd = new SplittableRandom(seed);
        Tensor w, s;
        switch (p[0]) {
            case "fp8" -> {
                w = tensor(arena, "fp8.weight", DType.F8_E4M3, (long) rows * cols, rows, cols);
                fillFp8(w.data(), rnd);
                s = tensor(arena, "fp8.scale", DType.F8_E8M0, (long) ceil(rows) * ceil(cols), ceil(rows), ceil(cols));
                fillScales(s.data(), rnd);
            }
            case "fp4" -> {
                w = tensor(arena, "fp4.weight", DType.I8, (long) rows * cols / 2, rows, cols / 2);
                fillBytes(w.data(), rnd);
                s = tensor(arena, "fp4.scale", DType.F8_E8M0, (long) rows * cols / 32, rows, cols / 32);
                fillScales(s.data(), rnd);
            }
            case "bf16" -> {
                w = tensor(arena, "bf16.weight", DType.BF16, 2L * rows * cols, rows, cols);
                MemorySegment d = w.data();
                for (long i = 0; i < (long) rows * cols; i++) {
                    d.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i,
                            Formats.floatToBf16((float) (0.02 * gaussian(rnd))));
                }
                s = null;
            }
            default -> throw new IllegalArgumentException("unknown shape " + shape + " (fp8_RxC, fp4_RxC, bf16_RxC)");
        }
        return vectorBits == 0 ? Matrices.of(w, s) : Matrices.of(w, s, species(vectorBits));
    }

    static VectorSpecies<Float> species(int bits) {
        return switch (bits) {
            case 128 -> FloatVector.SPECIES_128;
            case 256 -> FloatVector.SPECIES_256;
            case 512 -> FloatVector.SPECIES_512;
            default -> throw new IllegalArgumentException("vectorBits must be 0 (preferred), 128, 256 or 512");
        };
    }

    private static int ceil(int n) {
        return (n + 127) / 128;
    }

    private static Tensor tensor(Arena arena, String name, DType dtype, long bytes, long... shape) {
        return new Tensor(name, dtype, shape, arena.allocate(bytes, 4096));
    }

    private static void fillBytes(MemorySegment d, SplittableRandom rnd) {
        long n = d.byteSize(), i = 0;
        for (; i + 8 <= n; i += 8) {
            d.set(ValueLayout.JAVA_LONG_UNALIGNED, i, rnd.nextLong());
        }
        for (; i < n; i++) {
            d.set(ValueLayout.JAVA_BYTE, i, (byte) rnd.nextInt());
        }
    }

    /** E8M0 bytes 115..126: scales 2^-12 .. 2^-1. */
    private static void fillScales(MemorySegment d, SplittableRandom rnd) {
        for (long i = 0; i < d.byteSize(); i++) {
            d.set(ValueLayout.JAVA_BYTE, i, (byte) (115 + rnd.nextInt(12)));
        }
    }

    /** Codes of N(0, 112) values (a block's largest |value| near the e4m3 maximum 448), drawn from a table. */
    private static void fillFp8(MemorySegment d, SplittableRandom rnd) {
        byte[] table = new byte[1 << 16];
        for (int i = 0; i < table.length; i++) {
            table[i] = (byte) Formats.floatToE4m3((float) (112 * gaussian(rnd)));
        }
        for (long i = 0; i < d.byteSize(); i++) {
            d.set(ValueLayout.JAVA_BYTE, i, table[rnd.nextInt(1 << 16)]);
        }
    }

    private static double gaussian(SplittableRandom rnd) {
        double u = rnd.nextDouble(), v = rnd.nextDouble();
        return Math.sqrt(-2 * Math.log(1 - u)) * Math.cos(2 * Math.PI * v);
    }

    static float[] gaussian(long seed, int n) {
        SplittableRandom rnd = new SplittableRandom(seed);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) gaussian(rnd);
        }
        return x;
    }
}
