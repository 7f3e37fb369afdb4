package dev.moe4j.tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Objects;

import jdk.incubator.vector.VectorSpecies;

/** Builds the {@link Matrix} for a weight tensor, choosing the implementation once from its dtype. */
public final class Matrices {

    private Matrices() {
    }

    static final ValueLayout.OfFloat F32_LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfShort I16_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** {@link #of(Tensor, Tensor, VectorSpecies)} with the machine's preferred vector width. */
    public static Matrix of(Tensor weight, Tensor scaleOrNull) {
        return of(weight, scaleOrNull, Lanes.preferred());
    }

    /**
     * The matrix over {@code weight} (rank 2, [out, in] as stored):
     * <ul>
     * <li>F8_E4M3 [out, in] with a scale [⌈out/128⌉, ⌈in/128⌉] in F8_E8M0 or F32:
     *     W[i,j] = e4m3 · scale[i/128][j/128];
     * <li>I8 [out, in/2] of packed e2m1 pairs (low nibble = even column) with a scale [out, in/32] in F8_E8M0,
     *     or F32 holding powers of two: W[i,j] = e2m1 · scale[i][j/32]; the matrix has {@code in} columns;
     * <li>BF16 or F32 [out, in] without a scale.
     * </ul>
     * The data must stay readable for the matrix's lifetime, from every thread that runs its kernels (a
     * shared or global arena for use with {@link Parallel}).
     *
     * @param species the float vector width of the kernels: 128, 256 or 512 bits
     * @throws IllegalArgumentException naming the tensor when dtypes, shapes or sizes are inconsistent
     */
    public static Matrix of(Tensor weight, Tensor scaleOrNull, VectorSpecies<Float> species) {
        Objects.requireNonNull(species, "species");
        return of(weight, scaleOrNull, Lanes.of(species));
    }

    private static Matrix of(Tensor weight, Tensor scale, Lanes lanes) {
        Objects.requireNonNull(weight, "weight");
        if (weight.rank() != 2) {
            throw new IllegalArgumentException(weight + ": a weight matrix must have rank 2");
        }
        checkData(weight);
        int rows = dim(weight, 0), stored = dim(weight, 1);
        return switch (weight.dtype()) {
            case F8_E4M3 -> {
                long[] want = {ceilDiv(rows, Fp8Matrix.BLOCK), ceilDiv(stored, Fp8Matrix.BLOCK)};
                checkScale(weight, scale, want);
                yield new Fp8Matrix(rows, stored, weight.data(), fp8Scales(scale), lanes);
            }
            case I8 -> {
                if (stored > Integer.MAX_VALUE / 2 || stored * 2 % Fp4Matrix.BLOCK != 0) {
                    throw new IllegalArgumentException(weight + ": FP4 weights need a multiple of "
                            + Fp4Matrix.BLOCK + " input columns (2 per stored byte)");
                }
                int cols = stored * 2;
                checkScale(weight, scale, new long[] {rows, cols / Fp4Matrix.BLOCK});
                yield new Fp4Matrix(rows, cols, weight.data(), fp4Scales(scale), lanes);
            }
            case BF16, F32 -> {
                if (scale != null) {
                    throw new IllegalArgumentException(weight + ": a " + weight.dtype()
                            + " weight takes no scale, got " + scale);
                }
                yield weight.dtype() == DType.BF16 ? new Bf16Matrix(rows, stored, weight.data(), lanes)
                        : new F32Matrix(rows, stored, weight.data(), lanes);
            }
            default -> throw new IllegalArgumentException(weight + ": unsupported weight dtype "
                    + weight.dtype() + " (F8_E4M3, I8 = packed FP4, BF16 or F32)");
        };
    }

    /**
     * {@code m} computing with its class's plain scalar reference ({@code matvecScalar}) instead of the
     * vector kernels: matvec is that reference, matmul is one reference matvec per input row, and the other
     * methods are {@code m}'s own. The result is slow; it exists so that a whole model can be run on the
     * simplest code at run time (the {@code --reference} option), to check the fast kernels' output against
     * it on real weights without rebuilding anything.
     *
     * @param m a matrix built by {@link #of}
     * @throws IllegalArgumentException for any other implementation (including a matrix this returned)
     */
    public static Matrix reference(Matrix m) {
        Objects.requireNonNull(m, "m");
        ScalarKernel kernel = switch (m) {
            case Fp8Matrix f -> (x, xOff, y, yOff, r0, r1) -> Fp8Matrix.matvecScalar(f, x, xOff, y, yOff, r0, r1);
            case Fp4Matrix f -> (x, xOff, y, yOff, r0, r1) -> Fp4Matrix.matvecScalar(f, x, xOff, y, yOff, r0, r1);
            case Bf16Matrix f -> (x, xOff, y, yOff, r0, r1) -> Bf16Matrix.matvecScalar(f, x, xOff, y, yOff, r0, r1);
            case F32Matrix f -> (x, xOff, y, yOff, r0, r1) -> F32Matrix.matvecScalar(f, x, xOff, y, yOff, r0, r1);
            default -> throw new IllegalArgumentException("no scalar reference for " + m.getClass().getName()
                    + ": only the matrices Matrices.of builds have one");
        };
        return new ReferenceMatrix(m, kernel);
    }

    /** A {@code matvecScalar} bound to its matrix, chosen once in {@link #reference}. */
    @FunctionalInterface
    private interface ScalarKernel {
        void matvec(float[] x, int xOff, float[] y, int yOff, int r0, int r1);
    }

    /** See {@link #reference}. */
    private record ReferenceMatrix(Matrix m, ScalarKernel kernel) implements Matrix {

        @Override
        public int rows() {
            return m.rows();
        }

        @Override
        public int cols() {
            return m.cols();
        }

        @Override
        public DType dtype() {
            return m.dtype();
        }

        @Override
        public long bytes() {
            return m.bytes();
        }

        @Override
        public void matvec(float[] x, int xOff, float[] y, int yOff, int r0, int r1) {
            kernel.matvec(x, xOff, y, yOff, r0, r1);
        }

        @Override
        public void matmul(float[] x, int n, float[] y, int r0, int r1) {
            checkMatmul(this, x, n, y, r0, r1);
            int rows = m.rows(), cols = m.cols();
            for (int t = 0; t < n; t++) {
                kernel.matvec(x, t * cols, y, t * rows, r0, r1);
            }
        }

        @Override
        public void row(int r, float[] out, int off) {
            m.row(r, out, off);
        }

        @Override
        public float get(int r, int c) {
            return m.get(r, c);
        }
    }

    private static void checkScale(Tensor weight, Tensor scale, long[] want) {
        if (scale == null) {
            throw new IllegalArgumentException(weight + ": a " + weight.dtype() + " weight needs a scale tensor");
        }
        if (scale.dtype() != DType.F8_E8M0 && scale.dtype() != DType.F32) {
            throw new IllegalArgumentException(scale + ": scale of " + weight.name()
                    + " must be F8_E8M0 or F32, not " + scale.dtype());
        }
        if (!Arrays.equals(scale.shape(), want)) {
            throw new IllegalArgumentException(scale + ": scale of " + weight + " must have shape "
                    + Arrays.toString(want));
        }
        checkData(scale);
    }

    private static void checkData(Tensor t) {
        long want = t.numel() * t.dtype().byteSize();
        MemorySegment d = t.data();
        if (d.byteSize() != want) {
            throw new IllegalArgumentException(t + ": holds " + d.byteSize() + " bytes, its shape needs " + want);
        }
        // the vector loads read heap memory only from byte[] (jdk.incubator.vector fromMemorySegment)
        if (!d.isNative() && !(d.heapBase().orElse(null) instanceof byte[])) {
            throw new IllegalArgumentException(t + ": data must be native memory or a byte[] heap segment");
        }
    }

    private static int dim(Tensor t, int i) {
        long d = t.dim(i);
        if (d < 1 || d > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(t + ": dimension " + i + " must be in [1, 2^31), got " + d);
        }
        return (int) d;
    }

    private static long ceilDiv(int a, int b) {
        return (a + (long) b - 1) / b;
    }

    /** FP8 block scales as floats: one per 128×128 weights, so the copy is negligible (4096² → 4 KiB). */
    private static float[] fp8Scales(Tensor scale) {
        int n = Math.toIntExact(scale.numel());
        float[] out = new float[n];
        MemorySegment d = scale.data();
        for (int i = 0; i < n; i++) {
            out[i] = scale.dtype() == DType.F32 ? d.getAtIndex(F32_LE, i)
                    : Formats.e8m0ToFloat(d.get(ValueLayout.JAVA_BYTE, i));
        }
        return out;
    }

    /**
     * FP4 scales as E8M0 bytes. One scale per 32 weights is a sixteenth of the packed weight bytes, too much
     * to copy as floats (a quarter of the experts' size), so E8M0 scales stay where they are and F32 ones
     * are converted, exactly, to E8M0, in native memory like the mapped ones: a kernel that met heap and
     * native scale segments in one process would see two segment classes at its loads, and past C2's
     * inlining budget it then boxes its vectors (13 MB allocated per thousand matvecs, measured).
     */
    private static MemorySegment fp4Scales(Tensor scale) {
        if (scale.dtype() == DType.F8_E8M0) {
            return scale.data();
        }
        int n = Math.toIntExact(scale.numel());
        byte[] out = new byte[n];
        for (int i = 0; i < n; i++) {
            float v = scale.data().getAtIndex(F32_LE, i);
            int bits = Float.floatToRawIntBits(v), e = (bits >>> 23) & 0xFF;
            if (Float.isNaN(v)) {
                out[i] = (byte) 0xFF;
            } else if (bits == 0x00400000) {
                out[i] = 0;                                      // 2^-127, the only subnormal E8M0 value
            } else if (bits < 0 || e == 0 || e == 0xFF || (bits & 0x007FFFFF) != 0) {
                throw new IllegalArgumentException(scale + ": element " + i + " is " + v
                        + ", an FP4 scale must be a power of two in [2^-127, 2^127] (UE8M0)");
            } else {
                out[i] = (byte) e;                               // 2^(e-127) has E8M0 byte e
            }
        }
        MemorySegment seg = Arena.ofAuto().allocate(n);
        MemorySegment.copy(out, 0, seg, ValueLayout.JAVA_BYTE, 0, n);
        return seg;
    }

    /** Argument checks shared by the implementations; the kernels index without further checks. */
    static void checkMatvec(Matrix m, float[] x, int xOff, float[] y, int yOff, int r0, int r1) {
        Objects.checkFromToIndex(r0, r1, m.rows());
        Objects.checkFromIndexSize(xOff, m.cols(), x.length);
        if (r0 < r1) {
            Objects.checkFromToIndex(yOff + r0, yOff + r1, y.length);
        }
    }

    static void checkMatmul(Matrix m, float[] x, int n, float[] y, int r0, int r1) {
        Objects.checkFromToIndex(r0, r1, m.rows());
        if (n < 0 || (long) n * m.cols() > x.length || (long) n * m.rows() > y.length) {
            throw new IndexOutOfBoundsException("matmul of " + n + " rows needs x of " + (long) n * m.cols()
                    + " and y of " + (long) n * m.rows() + " floats, got " + x.length + " and " + y.length);
        }
    }

    /** Input rows per matmul tile: 64 Ki floats = 256 KiB of x, so a tile stays in a typical L2 cache. */
    static int tileRows(int cols) {
        return Math.max(1, 65536 / cols);
    }
}
