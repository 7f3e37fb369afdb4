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
 * e4m3 fields land in the float fields with the exponent 120 too small: that float is the value times 2^-120
 * exactly, subnormals included. Rather than multiplying each weight by 2^120, each call copies the input
 * times 2^60 into an array lent by {@link Scratch} and the block scales are kept times 2^60 as well, so the
 * products and sums are those of the true values times 2^-60, exactly, and a row costs a widening load, a
 * shift, a mask and an FMA per lanes weights. The sums stay far from float's limits unless the input holds a
 * value beyond ±2^67 (or a scale is above 2^67): the call then takes {@link #dotExact}, which multiplies each
 * weight by 2^120 instead, for that input. Per block, four accumulators take one vector each in turn, summed
 * as (a0 + a1) + (a2 + a3) times the block scale into the row's total; the columns after the last whole
 * group of four vectors of a block go to a scalar sum.
 *
 * <p>Two caveats: a subnormal e4m3 code gives a subnormal float, which makes the FMA slow on x86 (uniformly
 * random codes, a sixteenth of them subnormal, halve the speed, but quantised trained weights have few:
 * 1.5e-4 of the codes in shared/fixtures/v4-tiny), and the vector path decodes the NaN codes 0x7F/0xFF as
 * ±480: quantisers saturate at ±448 and never write them.
 */
public final class Fp8Matrix implements Matrix {

    /** Edge of a scale block. */
    public static final int BLOCK = 128;

    private static final float E4M3_UNBIAS = 0x1p120f;
    private static final int E4M3_FIELDS = 0x87F00000;
    /** The input and the scales are multiplied by 2^60 on the fast path, the products come out times 2^-60. */
    private static final float UP = 0x1p60f, DOWN = 0x1p-60f;
    /** Largest |input| the fast path takes: 2^67 · 2^60 stays below float's 2^128. */
    private static final float MAX_INPUT = 0x1p67f;
    /** Input rows per matmul tile ({@link #dot4}). */
    private static final int TILE = 4;

    private final int rows, cols, scaleCols;
    private final MemorySegment w;
    /** [⌈rows/128⌉][⌈cols/128⌉] row-major, decoded at load */
    private final float[] scale;
    /** scale · 2^60, or null when one of them overflows (only {@link #dotExact} then) */
    private final float[] scaleUp;
    private final Lanes lanes;

    Fp8Matrix(int rows, int cols, MemorySegment w, float[] scale, Lanes lanes) {
        this.rows = rows;
        this.cols = cols;
        this.scaleCols = (cols + BLOCK - 1) / BLOCK;
        this.w = w;
        this.scale = scale;
        this.lanes = lanes;
        float[] up = new float[scale.length];
        for (int i = 0; i < up.length; i++) {
            up[i] = scale[i] * UP;
            if (!Float.isFinite(up[i]) && Float.isFinite(scale[i])) {
                up = null;
                break;
            }
        }
        this.scaleUp = up;
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
        if (r0 == r1) {
            return;
        }
        float[] xs = Scratch.take(cols);
        if (scaleUp != null && scaleInput(lanes, x, xOff, cols, xs, 0)) {
            for (int r = r0; r < r1; r++) {
                y[yOff + r] = dot(lanes, w, (long) r * cols, cols, scaleUp, scale, r / BLOCK * scaleCols, xs, 0);
            }
        } else {
            for (int r = r0; r < r1; r++) {
                y[yOff + r] = dotExact(lanes, w, (long) r * cols, cols, scale, r / BLOCK * scaleCols, x, xOff);
            }
        }
        Scratch.give(xs);
    }

    /**
     * Each weight row is decoded once per {@value #TILE} input rows and multiplied into all of them at once
     * ({@link #dot4}), with, for each input row, exactly the operations of {@link #dot}: the results are bit
     * for bit those of matvec.
     */
    @Override
    public void matmul(float[] x, int n, float[] y, int r0, int r1) {
        Matrices.checkMatmul(this, x, n, y, r0, r1);
        if (r0 == r1 || n == 0) {
            return;
        }
        float[] xs = Scratch.take(n * cols);
        // the inputs the fast path takes first, in their order; then those it does not (very rare)
        int fast = 0;
        for (int t = 0; t < n; t++) {
            if (scaleUp != null && scaleInput(lanes, x, t * cols, cols, xs, fast * cols)) {
                fast++;
            }
        }
        int[] order = fast == n ? null : new int[n];
        if (order != null) {
            for (int t = 0, k = 0, slow = fast; t < n; t++) {
                boolean ok = scaleUp != null && scaleInput(lanes, x, t * cols, cols, xs, k * cols);
                order[ok ? k++ : slow++] = t;
            }
        }
        for (int r = r0; r < r1; r++) {
            long off = (long) r * cols;
            int sOff = r / BLOCK * scaleCols, k = 0;
            for (; k + TILE <= fast; k += TILE) {
                if (order == null) {
                    dot4(lanes, w, off, cols, scaleUp, scale, sOff, xs, k * cols, y, k * rows + r, rows);
                } else {
                    for (int j = k; j < k + TILE; j++) {
                        y[order[j] * rows + r] = dot(lanes, w, off, cols, scaleUp, scale, sOff, xs, j * cols);
                    }
                }
            }
            for (; k < fast; k++) {
                int t = order == null ? k : order[k];
                y[t * rows + r] = dot(lanes, w, off, cols, scaleUp, scale, sOff, xs, k * cols);
            }
            for (; k < n; k++) {
                int t = order[k];
                y[t * rows + r] = dotExact(lanes, w, off, cols, scale, sOff, x, t * cols);
            }
        }
        Scratch.give(xs);
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
     * {@code xs[pOff + c] = x[xOff + c] · 2^60} for c in [0, cols), exact; whether every |x| is at most 2^67
     * (false for NaN), i.e. whether {@link #dot} may take the input.
     */
    static boolean scaleInput(Lanes v, float[] x, int xOff, int cols, float[] xs, int pOff) {
        VectorSpecies<Float> fs = v.floats();
        int lanes = fs.length(), c = 0;
        FloatVector max = FloatVector.zero(fs);
        for (; c <= cols - lanes; c += lanes) {
            FloatVector xv = FloatVector.fromArray(fs, x, xOff + c);
            max = max.max(xv.abs());
            xv.mul(UP).intoArray(xs, pOff + c);
        }
        float m = max.reduceLanes(VectorOperators.MAX);
        for (; c < cols; c++) {
            m = Math.max(m, Math.abs(x[xOff + c]));
            xs[pOff + c] = x[xOff + c] * UP;
        }
        return m <= MAX_INPUT;
    }

    /**
     * One row against an input {@link #scaleInput scaled} into {@code xs[pOff ..]}, with the block scales
     * times 2^60 ({@code sUp}): per whole block, four accumulators taking the block's vectors in turn (groups
     * of 8 vectors, one pass for 16 lanes), (a0 + a1) + (a2 + a3) times the block scale into {@code total};
     * a last partial block in a scalar sum of the true values (e4m3 · x in column order, times the block
     * scale), as the reference computes it. Then the lanes of total in order, plus that sum.
     */
    static float dot(Lanes v, MemorySegment w, long off, int cols, float[] sUp, float[] s, int sOff, float[] xs,
            int pOff) {
        VectorSpecies<Float> fs = v.floats();
        VectorSpecies<Integer> is = v.ints();
        VectorSpecies<Byte> bs = v.bytes();
        int lanes = fs.length(), parts = bs.length() / lanes, groups = BLOCK / (8 * lanes);
        int full = cols - cols % BLOCK;
        FloatVector total = FloatVector.zero(fs);
        for (int b0 = 0; b0 < full; b0 += BLOCK) {
            FloatVector a0 = FloatVector.zero(fs), a1 = a0, a2 = a0, a3 = a0;
            for (int g = 0; g < groups; g++) {
                int c = b0 + g * 8 * lanes, p = pOff + c;
                // one load per vector, or with 4 lanes one 8-byte load for two (the API has no 32-bit shape)
                ByteVector q0 = ByteVector.fromMemorySegment(bs, w, off + c, ByteOrder.LITTLE_ENDIAN);
                ByteVector q1 = parts == 2 ? q0
                        : ByteVector.fromMemorySegment(bs, w, off + c + lanes, ByteOrder.LITTLE_ENDIAN);
                ByteVector q2 = ByteVector.fromMemorySegment(bs, w, off + c + 2 * lanes, ByteOrder.LITTLE_ENDIAN);
                ByteVector q3 = parts == 2 ? q2
                        : ByteVector.fromMemorySegment(bs, w, off + c + 3 * lanes, ByteOrder.LITTLE_ENDIAN);
                ByteVector q4 = ByteVector.fromMemorySegment(bs, w, off + c + 4 * lanes, ByteOrder.LITTLE_ENDIAN);
                ByteVector q5 = parts == 2 ? q4
                        : ByteVector.fromMemorySegment(bs, w, off + c + 5 * lanes, ByteOrder.LITTLE_ENDIAN);
                ByteVector q6 = ByteVector.fromMemorySegment(bs, w, off + c + 6 * lanes, ByteOrder.LITTLE_ENDIAN);
                ByteVector q7 = parts == 2 ? q6
                        : ByteVector.fromMemorySegment(bs, w, off + c + 7 * lanes, ByteOrder.LITTLE_ENDIAN);
                a0 = ((IntVector) q0.convertShape(VectorOperators.B2I, is, 0))
                        .lanewise(VectorOperators.LSHL, 20).and(E4M3_FIELDS).reinterpretAsFloats()
                        .fma(FloatVector.fromArray(fs, xs, p), a0);
                a1 = ((IntVector) q1.convertShape(VectorOperators.B2I, is, parts - 1))
                        .lanewise(VectorOperators.LSHL, 20).and(E4M3_FIELDS).reinterpretAsFloats()
                        .fma(FloatVector.fromArray(fs, xs, p + lanes), a1);
                a2 = ((IntVector) q2.convertShape(VectorOperators.B2I, is, 0))
                        .lanewise(VectorOperators.LSHL, 20).and(E4M3_FIELDS).reinterpretAsFloats()
                        .fma(FloatVector.fromArray(fs, xs, p + 2 * lanes), a2);
                a3 = ((IntVector) q3.convertShape(VectorOperators.B2I, is, parts - 1))
                        .lanewise(VectorOperators.LSHL, 20).and(E4M3_FIELDS).reinterpretAsFloats()
                        .fma(FloatVector.fromArray(fs, xs, p + 3 * lanes), a3);
                a0 = ((IntVector) q4.convertShape(VectorOperators.B2I, is, 0))
                        .lanewise(VectorOperators.LSHL, 20).and(E4M3_FIELDS).reinterpretAsFloats()
                        .fma(FloatVector.fromArray(fs, xs, p + 4 * lanes), a0);
                a1 = ((IntVector) q5.convertShape(VectorOperators.B2I, is, parts - 1))
                        .lanewise(VectorOperators.LSHL, 20).and(E4M3_FIELDS).reinterpretAsFloats()
                        .fma(FloatVector.fromArray(fs, xs, p + 5 * lanes), a1);
                a2 = ((IntVector) q6.convertShape(VectorOperators.B2I, is, 0))
                        .lanewise(VectorOperators.LSHL, 20).and(E4M3_FIELDS).reinterpretAsFloats()
                        .fma(FloatVector.fromArray(fs, xs, p + 6 * lanes), a2);
                a3 = ((IntVector) q7.convertShape(VectorOperators.B2I, is, parts - 1))
                        .lanewise(VectorOperators.LSHL, 20).and(E4M3_FIELDS).reinterpretAsFloats()
                        .fma(FloatVector.fromArray(fs, xs, p + 7 * lanes), a3);
            }
            total = a0.add(a1).add(a2.add(a3)).fma(FloatVector.broadcast(fs, sUp[sOff + b0 / BLOCK]), total);
        }
        float sum = 0f;
        for (int i = 0; i < lanes; i++) {
            sum += total.lane(i);            // fixed order: the JIT's reduceLanes is not the interpreter's
        }
        return full == cols ? sum : sum + partialBlock(w, off, full, cols, xs, pOff) * s[sOff + full / BLOCK];
    }

    /** Σ e4m3 · x over columns [c, b1) in order, x read back from the scaled input (exact). */
    private static float partialBlock(MemorySegment w, long off, int c, int b1, float[] xs, int pOff) {
        float part = 0f;
        for (; c < b1; c++) {
            part += Formats.e4m3ToFloat(w.get(ValueLayout.JAVA_BYTE, off + c)) * (xs[pOff + c] * DOWN);
        }
        return part;
    }

    /**
     * {@link #dot} of one row with the {@value #TILE} scaled inputs at {@code xs[p0 + t·cols ..]}, each weight
     * decoded once for the four, every input getting exactly dot's operations; result t goes to
     * {@code y[y0 + t·yStride]}.
     */
    static void dot4(Lanes v, MemorySegment w, long off, int cols, float[] sUp, float[] s, int sOff, float[] xs,
            int p0, float[] y, int y0, int yStride) {
        VectorSpecies<Float> fs = v.floats();
        VectorSpecies<Integer> is = v.ints();
        VectorSpecies<Byte> bs = v.bytes();
        int lanes = fs.length(), parts = bs.length() / lanes, groups = BLOCK / (8 * lanes);
        int full = cols - cols % BLOCK;
        int p1 = p0 + cols, p2 = p0 + 2 * cols, p3 = p0 + 3 * cols;
        FloatVector s0 = FloatVector.zero(fs), s1 = s0, s2 = s0, s3 = s0;
        for (int b0 = 0; b0 < full; b0 += BLOCK) {
            FloatVector z = FloatVector.zero(fs);
            FloatVector a00 = z, a01 = z, a02 = z, a03 = z, a10 = z, a11 = z, a12 = z, a13 = z;
            FloatVector a20 = z, a21 = z, a22 = z, a23 = z, a30 = z, a31 = z, a32 = z, a33 = z;
            for (int g = 0; g < groups; g++) {
                int c = b0 + g * 8 * lanes, d;
                FloatVector wv;
                ByteVector q0 = ByteVector.fromMemorySegment(bs, w, off + c, ByteOrder.LITTLE_ENDIAN);
                ByteVector q1 = parts == 2 ? q0
                        : ByteVector.fromMemorySegment(bs, w, off + c + lanes, ByteOrder.LITTLE_ENDIAN);
                ByteVector q2 = ByteVector.fromMemorySegment(bs, w, off + c + 2 * lanes, ByteOrder.LITTLE_ENDIAN);
                ByteVector q3 = parts == 2 ? q2
                        : ByteVector.fromMemorySegment(bs, w, off + c + 3 * lanes, ByteOrder.LITTLE_ENDIAN);
                ByteVector q4 = ByteVector.fromMemorySegment(bs, w, off + c + 4 * lanes, ByteOrder.LITTLE_ENDIAN);
                ByteVector q5 = parts == 2 ? q4
                        : ByteVector.fromMemorySegment(bs, w, off + c + 5 * lanes, ByteOrder.LITTLE_ENDIAN);
                ByteVector q6 = ByteVector.fromMemorySegment(bs, w, off + c + 6 * lanes, ByteOrder.LITTLE_ENDIAN);
                ByteVector q7 = parts == 2 ? q6
                        : ByteVector.fromMemorySegment(bs, w, off + c + 7 * lanes, ByteOrder.LITTLE_ENDIAN);
                wv = ((IntVector) q0.convertShape(VectorOperators.B2I, is, 0))
                        .lanewise(VectorOperators.LSHL, 20).and(E4M3_FIELDS).reinterpretAsFloats();
                d = c;
                a00 = wv.fma(FloatVector.fromArray(fs, xs, p0 + d), a00);
                a10 = wv.fma(FloatVector.fromArray(fs, xs, p1 + d), a10);
                a20 = wv.fma(FloatVector.fromArray(fs, xs, p2 + d), a20);
                a30 = wv.fma(FloatVector.fromArray(fs, xs, p3 + d), a30);
                wv = ((IntVector) q1.convertShape(VectorOperators.B2I, is, parts - 1))
                        .lanewise(VectorOperators.LSHL, 20).and(E4M3_FIELDS).reinterpretAsFloats();
                d = c + lanes;
                a01 = wv.fma(FloatVector.fromArray(fs, xs, p0 + d), a01);
                a11 = wv.fma(FloatVector.fromArray(fs, xs, p1 + d), a11);
                a21 = wv.fma(FloatVector.fromArray(fs, xs, p2 + d), a21);
                a31 = wv.fma(FloatVector.fromArray(fs, xs, p3 + d), a31);
                wv = ((IntVector) q2.convertShape(VectorOperators.B2I, is, 0))
                        .lanewise(VectorOperators.LSHL, 20).and(E4M3_FIELDS).reinterpretAsFloats();
                d = c + 2 * lanes;
                a02 = wv.fma(FloatVector.fromArray(fs, xs, p0 + d), a02);
                a12 = wv.fma(FloatVector.fromArray(fs, xs, p1 + d), a12);
                a22 = wv.fma(FloatVector.fromArray(fs, xs, p2 + d), a22);
                a32 = wv.fma(FloatVector.fromArray(fs, xs, p3 + d), a32);
                wv = ((IntVector) q3.convertShape(VectorOperators.B2I, is, parts - 1))
                        .lanewise(VectorOperators.LSHL, 20).and(E4M3_FIELDS).reinterpretAsFloats();
                d = c + 3 * lanes;
                a03 = wv.fma(FloatVector.fromArray(fs, xs, p0 + d), a03);
                a13 = wv.fma(FloatVector.fromArray(fs, xs, p1 + d), a13);
                a23 = wv.fma(FloatVector.fromArray(fs, xs, p2 + d), a23);
                a33 = wv.fma(FloatVector.fromArray(fs, xs, p3 + d), a33);
                wv = ((IntVector) q4.convertShape(VectorOperators.B2I, is, 0))
                        .lanewise(VectorOperators.LSHL, 20).and(E4M3_FIELDS).reinterpretAsFloats();
                d = c + 4 * lanes;
                a00 = wv.fma(FloatVector.fromArray(fs, xs, p0 + d), a00);
                a10 = wv.fma(FloatVector.fromArray(fs, xs, p1 + d), a10);
                a20 = wv.fma(FloatVector.fromArray(fs, xs, p2 + d), a20);
                a30 = wv.fma(FloatVector.fromArray(fs, xs, p3 + d), a30);
                wv = ((IntVector) q5.convertShape(VectorOperators.B2I, is, parts - 1))
                        .lanewise(VectorOperators.LSHL, 20).and(E4M3_FIELDS).reinterpretAsFloats();
                d = c + 5 * lanes;
                a01 = wv.fma(FloatVector.fromArray(fs, xs, p0 + d), a01);
                a11 = wv.fma(FloatVector.fromArray(fs, xs, p1 + d), a11);
                a21 = wv.fma(FloatVector.fromArray(fs, xs, p2 + d), a21);
                a31 = wv.fma(FloatVector.fromArray(fs, xs, p3 + d), a31);
                wv = ((IntVector) q6.convertShape(VectorOperators.B2I, is, 0))
                        .lanewise(VectorOperators.LSHL, 20).and(E4M3_FIELDS).reinterpretAsFloats();
                d = c + 6 * lanes;
                a02 = wv.fma(FloatVector.fromArray(fs, xs, p0 + d), a02);
                a12 = wv.fma(FloatVector.fromArray(fs, xs, p1 + d), a12);
                a22 = wv.fma(FloatVector.fromArray(fs, xs, p2 + d), a22);
                a32 = wv.fma(FloatVector.fromArray(fs, xs, p3 + d), a32);
                wv = ((IntVector) q7.convertShape(VectorOperators.B2I, is, parts - 1))
                        .lanewise(VectorOperators.LSHL, 20).and(E4M3_FIELDS).reinterpretAsFloats();
                d = c + 7 * lanes;
                a03 = wv.fma(FloatVector.fromArray(fs, xs, p0 + d), a03);
                a13 = wv.fma(FloatVector.fromArray(fs, xs, p1 + d), a13);
                a23 = wv.fma(FloatVector.fromArray(fs, xs, p2 + d), a23);
                a33 = wv.fma(FloatVector.fromArray(fs, xs, p3 + d), a33);
            }
            FloatVector sc = FloatVector.broadcast(fs, sUp[sOff + b0 / BLOCK]);
            s0 = a00.add(a01).add(a02.add(a03)).fma(sc, s0);
            s1 = a10.add(a11).add(a12.add(a13)).fma(sc, s1);
            s2 = a20.add(a21).add(a22.add(a23)).fma(sc, s2);
            s3 = a30.add(a31).add(a32.add(a33)).fma(sc, s3);
        }
        float u0 = 0f, u1 = 0f, u2 = 0f, u3 = 0f;
        for (int i = 0; i < lanes; i++) {
            u0 += s0.lane(i);
            u1 += s1.lane(i);
            u2 += s2.lane(i);
            u3 += s3.lane(i);
        }
        if (full != cols) {
            float bsc = s[sOff + full / BLOCK];
            u0 += partialBlock(w, off, full, cols, xs, p0) * bsc;
            u1 += partialBlock(w, off, full, cols, xs, p1) * bsc;
            u2 += partialBlock(w, off, full, cols, xs, p2) * bsc;
            u3 += partialBlock(w, off, full, cols, xs, p3) * bsc;
        }
        y[y0] = u0;
        y[y0 + yStride] = u1;
        y[y0 + 2 * yStride] = u2;
        y[y0 + 3 * yStride] = u3;
    }

    /**
     * The path for inputs beyond ±2^67 (or scales beyond 2^67): each weight decoded times 2^120 to its true
     * value, two accumulators per block (even vectors → acc0, odd → acc1), their sum times the block scale
     * into {@code total}; the columns after the last whole pair of a block in a scalar sum.
     */
    static float dotExact(Lanes v, MemorySegment w, long off, int cols, float[] s, int sOff, float[] x,
            int xOff) {
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

}
