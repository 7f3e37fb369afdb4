package dev.moe4j.tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Objects;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * FP8 e4m3 weights with one scale per 128×128 block (docs/v4-architecture.md §3.2):
 * {@code W[i,j] = e4m3(code[i,j]) · scale[i/128][j/128]}. Rows and columns need not be multiples of 128.
 *
 * <p>Vector decode: the code's sign goes to bit 31 and its 7 exponent+mantissa bits to bits 20..26, i.e. the
 * e4m3 fields land in the float fields with the exponent 120 too small; times 2^120 (exact) that is the value,
 * subnormals included (an e4m3 subnormal becomes a float subnormal, which the multiply normalises). Two
 * caveats: a subnormal input makes the multiply slow on x86 (the matvec takes 2× as long with uniformly random
 * codes, a sixteenth of them subnormal, but quantised trained weights have few: 1.5e-4 of the codes in
 * shared/fixtures/v4-tiny), and the vector path decodes the NaN codes 0x7F/0xFF as ±480: quantisers
 * saturate at ±448 and never write them.
 */
public final class Fp8Matrix implements Matrix {

    /** Edge of a scale block. */
    public static final int BLOCK = 128;

    private static final float E4M3_UNBIAS = 0x1p120f;
    private static final int E4M3_FIELDS = 0x87F00000;

    private final int rows, cols, scaleCols;
    private final MemorySegment w;
    /** [⌈rows/128⌉][⌈cols/128⌉] row-major, decoded at load */
    private final float[] scale;
    private final Lanes lanes;

    Fp8Matrix(int rows, int cols, MemorySegment w, float[] scale, Lanes lanes) {
        this.rows = rows;
        this.cols = cols;
        this.scaleCols = (cols + BLOCK - 1) / BLOCK;
        this.w = w;
        this.scale = scale;
        this.lanes = lanes;
    }

    @Override
    public int rows() {
        return rows;
    }

    @Override
    public int cols() {
        return cols;
    }

    @Override
    public DType dtype() {
        return DType.F8_E4M3;
    }

    @Override
    public long bytes() {
        return (long) rows * cols + 4L * scale.length;
    }

    @Override
    public void matvec(float[] x, int xOff, float[] y, int yOff, int r0, int r1) {
        Matrices.checkMatvec(this, x, xOff, y, yOff, r0, r1);
        for (int r = r0; r < r1; r++) {
            y[yOff + r] = dot(lanes, w, (long) r * cols, cols, scale, r / BLOCK * scaleCols, x, xOff);
        }
    }

    @Override
    public void matmul(float[] x, int n, float[] y, int r0, int r1) {
        Matrices.checkMatmul(this, x, n, y, r0, r1);
        float[] raw = new float[cols];
        int tile = Matrices.tileRows(cols);
        for (int t0 = 0; t0 < n; t0 += tile) {
            int t1 = Math.min(n, t0 + tile);
            for (int r = r0; r < r1; r++) {
                decode(lanes, w, (long) r * cols, cols, raw);
                for (int t = t0; t < t1; t++) {
                    y[t * rows + r] = dotDecoded(lanes, raw, cols, scale, r / BLOCK * scaleCols, x, t * cols);
                }
            }
        }
    }

    @Override
    public void row(int r, float[] out, int off) {
        Objects.checkIndex(r, rows);
        Objects.checkFromIndexSize(off, cols, out.length);
        for (int c = 0; c < cols; c++) {
            out[off + c] = value(r, c);
        }
    }

    @Override
    public float get(int r, int c) {
        Objects.checkIndex(r, rows);
        Objects.checkIndex(c, cols);
        return value(r, c);
    }

    private float value(int r, int c) {
        return Formats.e4m3ToFloat(w.get(ValueLayout.JAVA_BYTE, (long) r * cols + c))
                * scale[r / BLOCK * scaleCols + c / BLOCK];
    }

    /**
     * The plain reference: per block a float sum of e4m3 · x in column order, times the block scale, summed
     * over blocks.
     */
    public static void matvecScalar(Fp8Matrix m, float[] x, int xOff, float[] y, int yOff, int r0, int r1) {
        Matrices.checkMatvec(m, x, xOff, y, yOff, r0, r1);
        for (int r = r0; r < r1; r++) {
            long off = (long) r * m.cols;
            float sum = 0f;
            for (int b0 = 0; b0 < m.cols; b0 += BLOCK) {
                float part = 0f;
                for (int c = b0; c < Math.min(m.cols, b0 + BLOCK); c++) {
                    part += Formats.e4m3ToFloat(m.w.get(ValueLayout.JAVA_BYTE, off + c)) * x[xOff + c];
                }
                sum += part * m.scale[r / BLOCK * m.scaleCols + b0 / BLOCK];
            }
            y[yOff + r] = sum;
        }
    }

    /**
     * One row: per block, two vector accumulators over pairs of vectors (even → acc0, odd → acc1), their sum
     * times the block scale into {@code total}; the columns after the last whole pair of a block go to a
     * scalar sum. {@link #dotDecoded} repeats this order exactly.
     */
    static float dot(Lanes v, MemorySegment w, long off, int cols, float[] s, int sOff, float[] x, int xOff) {
        VectorSpecies<Float> fs = v.floats();
        VectorSpecies<Integer> is = v.ints();
        VectorSpecies<Byte> bs = v.bytes();
        int lanes = fs.length(), step = 2 * lanes, parts = bs.length() / lanes;
        FloatVector total = FloatVector.zero(fs);
        float tail = 0f;
        for (int b0 = 0; b0 < cols; b0 += BLOCK) {
            int b1 = Math.min(cols, b0 + BLOCK), c = b0;
            FloatVector acc0 = FloatVector.zero(fs), acc1 = acc0;
            for (; c <= b1 - step; c += step) {
                // two loads of one vector each, or with 4 lanes one 8-byte load in two parts
                ByteVector c0 = ByteVector.fromMemorySegment(bs, w, off + c, ByteOrder.LITTLE_ENDIAN);
                ByteVector c1 = parts == 2 ? c0
                        : ByteVector.fromMemorySegment(bs, w, off + c + lanes, ByteOrder.LITTLE_ENDIAN);
                FloatVector w0 = ((IntVector) c0.convertShape(VectorOperators.B2I, is, 0))
                        .lanewise(VectorOperators.LSHL, 20).and(E4M3_FIELDS).reinterpretAsFloats().mul(E4M3_UNBIAS);
                FloatVector w1 = ((IntVector) c1.convertShape(VectorOperators.B2I, is, parts - 1))
                        .lanewise(VectorOperators.LSHL, 20).and(E4M3_FIELDS).reinterpretAsFloats().mul(E4M3_UNBIAS);
                acc0 = w0.fma(FloatVector.fromArray(fs, x, xOff + c), acc0);
                acc1 = w1.fma(FloatVector.fromArray(fs, x, xOff + c + lanes), acc1);
            }
            float blockScale = s[sOff + b0 / BLOCK];
            total = acc0.add(acc1).fma(FloatVector.broadcast(fs, blockScale), total);
            if (c < b1) {
                float part = 0f;
                for (; c < b1; c++) {
                    part += Formats.e4m3ToFloat(w.get(ValueLayout.JAVA_BYTE, off + c)) * x[xOff + c];
                }
                tail += part * blockScale;
            }
        }
        float sum = 0f;
        for (int i = 0; i < lanes; i++) {
            sum += total.lane(i);            // fixed order: the JIT's reduceLanes is not the interpreter's
        }
        return sum + tail;
    }

    /** {@link #dot} over a row already decoded by {@link #decode}: the same operations in the same order. */
    static float dotDecoded(Lanes v, float[] w, int cols, float[] s, int sOff, float[] x, int xOff) {
        VectorSpecies<Float> fs = v.floats();
        int lanes = fs.length(), step = 2 * lanes;
        FloatVector total = FloatVector.zero(fs);
        float tail = 0f;
        for (int b0 = 0; b0 < cols; b0 += BLOCK) {
            int b1 = Math.min(cols, b0 + BLOCK), c = b0;
            FloatVector acc0 = FloatVector.zero(fs), acc1 = acc0;
            for (; c <= b1 - step; c += step) {
                acc0 = FloatVector.fromArray(fs, w, c).fma(FloatVector.fromArray(fs, x, xOff + c), acc0);
                acc1 = FloatVector.fromArray(fs, w, c + lanes)
                        .fma(FloatVector.fromArray(fs, x, xOff + c + lanes), acc1);
            }
            float blockScale = s[sOff + b0 / BLOCK];
            total = acc0.add(acc1).fma(FloatVector.broadcast(fs, blockScale), total);
            if (c < b1) {
                float part = 0f;
                for (; c < b1; c++) {
                    part += w[c] * x[xOff + c];
                }
                tail += part * blockScale;
            }
        }
        float sum = 0f;
        for (int i = 0; i < lanes; i++) {
            sum += total.lane(i);
        }
        return sum + tail;
    }

    /** Unscaled e4m3 values of one row into {@code out[0, cols)}, as {@link #dot} decodes them. */
    static void decode(Lanes v, MemorySegment w, long off, int cols, float[] out) {
        VectorSpecies<Integer> is = v.ints();
        VectorSpecies<Byte> bs = v.bytes();
        int lanes = is.length(), step = 2 * lanes, parts = bs.length() / lanes;
        for (int b0 = 0; b0 < cols; b0 += BLOCK) {
            int b1 = Math.min(cols, b0 + BLOCK), c = b0;
            for (; c <= b1 - step; c += step) {
                ByteVector c0 = ByteVector.fromMemorySegment(bs, w, off + c, ByteOrder.LITTLE_ENDIAN);
                ByteVector c1 = parts == 2 ? c0
                        : ByteVector.fromMemorySegment(bs, w, off + c + lanes, ByteOrder.LITTLE_ENDIAN);
                ((IntVector) c0.convertShape(VectorOperators.B2I, is, 0)).lanewise(VectorOperators.LSHL, 20)
                        .and(E4M3_FIELDS).reinterpretAsFloats().mul(E4M3_UNBIAS).intoArray(out, c);
                ((IntVector) c1.convertShape(VectorOperators.B2I, is, parts - 1)).lanewise(VectorOperators.LSHL, 20)
                        .and(E4M3_FIELDS).reinterpretAsFloats().mul(E4M3_UNBIAS).intoArray(out, c + lanes);
            }
            for (; c < b1; c++) {
                out[c] = Formats.e4m3ToFloat(w.get(ValueLayout.JAVA_BYTE, off + c));
            }
        }
    }
}
