package dev.moe4j.tensor;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.util.Objects;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/** bfloat16 weights (embedding, head, router, compressor projections): a bf16 is the top half of a float. */
public final class Bf16Matrix implements Matrix {

    /** Input rows per matmul tile ({@link #dot4}). */
    private static final int TILE = 4;

    private final int rows, cols;
    private final MemorySegment w;
    private final Lanes lanes;

    Bf16Matrix(int rows, int cols, MemorySegment w, Lanes lanes) {
        this.rows = rows;
        this.cols = cols;
        this.w = w;
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
        return DType.BF16;
    }

    @Override
    public long bytes() {
        return 2L * rows * cols;
    }

    @Override
    public void matvec(float[] x, int xOff, float[] y, int yOff, int r0, int r1) {
        Matrices.checkMatvec(this, x, xOff, y, yOff, r0, r1);
        for (int r = r0; r < r1; r++) {
            y[yOff + r] = dot(lanes, w, 2L * r * cols, cols, x, xOff);
        }
    }

    /**
     * Each weight row is decoded once per {@value #TILE} input rows and multiplied into all of them
     * ({@link #dot4}), each input getting exactly the operations of {@link #dot}: bit for bit matvec's results.
     */
    @Override
    public void matmul(float[] x, int n, float[] y, int r0, int r1) {
        Matrices.checkMatmul(this, x, n, y, r0, r1);
        for (int r = r0; r < r1; r++) {
            long off = 2L * r * cols;
            int t = 0;
            for (; t + TILE <= n; t += TILE) {
                dot4(lanes, w, off, cols, x, t * cols, y, t * rows + r, rows);
            }
            if (t + 1 < n) {                                  // a rest of 2 or 3 (a few sequences' decode step)
                dot2(lanes, w, off, cols, x, t * cols, y, t * rows + r, rows);
                t += 2;
            }
            for (; t < n; t++) {
                y[t * rows + r] = dot(lanes, w, off, cols, x, t * cols);
            }
        }
    }

    @Override
    public void row(int r, float[] out, int off) {
        Objects.checkIndex(r, rows);
        Objects.checkFromIndexSize(off, cols, out.length);
        decode(lanes, w, 2L * r * cols, cols, out, off);
    }

    @Override
    public float get(int r, int c) {
        Objects.checkIndex(r, rows);
        Objects.checkIndex(c, cols);
        return Formats.bf16ToFloat(w.get(Matrices.I16_LE, 2L * ((long) r * cols + c)));
    }

    /** The plain reference: a float sum in column order. */
    public static void matvecScalar(Bf16Matrix m, float[] x, int xOff, float[] y, int yOff, int r0, int r1) {
        Matrices.checkMatvec(m, x, xOff, y, yOff, r0, r1);
        for (int r = r0; r < r1; r++) {
            long base = 2L * r * m.cols;
            float sum = 0f;
            for (int c = 0; c < m.cols; c++) {
                sum += Formats.bf16ToFloat(m.w.get(Matrices.I16_LE, base + 2L * c)) * x[xOff + c];
            }
            y[yOff + r] = sum;
        }
    }

    /** One row: two accumulators over pairs of vectors, their lanes summed in order, the tail; off in bytes. */
    static float dot(Lanes v, MemorySegment w, long off, int cols, float[] x, int xOff) {
        VectorSpecies<Float> fs = v.floats();
        VectorSpecies<Integer> is = v.ints();
        VectorSpecies<Short> ss = v.shorts();
        int lanes = fs.length(), step = 2 * lanes, c = 0;
        FloatVector acc0 = FloatVector.zero(fs), acc1 = acc0;
        for (; c <= cols - step; c += step) {
            ShortVector b0 = ShortVector.fromMemorySegment(ss, w, off + 2L * c, ByteOrder.LITTLE_ENDIAN);
            ShortVector b1 = ShortVector.fromMemorySegment(ss, w, off + 2L * (c + lanes), ByteOrder.LITTLE_ENDIAN);
            FloatVector w0 = ((IntVector) b0.convertShape(VectorOperators.S2I, is, 0))
                    .lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
            FloatVector w1 = ((IntVector) b1.convertShape(VectorOperators.S2I, is, 0))
                    .lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
            acc0 = w0.fma(FloatVector.fromArray(fs, x, xOff + c), acc0);
            acc1 = w1.fma(FloatVector.fromArray(fs, x, xOff + c + lanes), acc1);
        }
        FloatVector acc = acc0.add(acc1);
        float sum = 0f;
        for (int i = 0; i < lanes; i++) {
            sum += acc.lane(i);              // fixed order: the JIT's reduceLanes is not the interpreter's
        }
        for (; c < cols; c++) {
            sum += Formats.bf16ToFloat(w.get(Matrices.I16_LE, off + 2L * c)) * x[xOff + c];
        }
        return sum;
    }

    /**
     * {@link #dot} of one row with the {@value #TILE} inputs at {@code x[x0 + t·cols ..]}, each weight decoded
     * once for the four; result t goes to {@code y[y0 + t·yStride]}.
     */
    static void dot4(Lanes v, MemorySegment w, long off, int cols, float[] x, int x0, float[] y, int y0,
            int yStride) {
        VectorSpecies<Float> fs = v.floats();
        VectorSpecies<Integer> is = v.ints();
        VectorSpecies<Short> ss = v.shorts();
        int lanes = fs.length(), step = 2 * lanes, c = 0;
        int x1 = x0 + cols, x2 = x0 + 2 * cols, x3 = x0 + 3 * cols;
        FloatVector z = FloatVector.zero(fs);
        FloatVector a00 = z, a01 = z, a10 = z, a11 = z, a20 = z, a21 = z, a30 = z, a31 = z;
        for (; c <= cols - step; c += step) {
            ShortVector b0 = ShortVector.fromMemorySegment(ss, w, off + 2L * c, ByteOrder.LITTLE_ENDIAN);
            ShortVector b1 = ShortVector.fromMemorySegment(ss, w, off + 2L * (c + lanes), ByteOrder.LITTLE_ENDIAN);
            FloatVector w0 = ((IntVector) b0.convertShape(VectorOperators.S2I, is, 0))
                    .lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
            FloatVector w1 = ((IntVector) b1.convertShape(VectorOperators.S2I, is, 0))
                    .lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
            a00 = w0.fma(FloatVector.fromArray(fs, x, x0 + c), a00);
            a10 = w0.fma(FloatVector.fromArray(fs, x, x1 + c), a10);
            a20 = w0.fma(FloatVector.fromArray(fs, x, x2 + c), a20);
            a30 = w0.fma(FloatVector.fromArray(fs, x, x3 + c), a30);
            a01 = w1.fma(FloatVector.fromArray(fs, x, x0 + c + lanes), a01);
            a11 = w1.fma(FloatVector.fromArray(fs, x, x1 + c + lanes), a11);
            a21 = w1.fma(FloatVector.fromArray(fs, x, x2 + c + lanes), a21);
            a31 = w1.fma(FloatVector.fromArray(fs, x, x3 + c + lanes), a31);
        }
        FloatVector s0 = a00.add(a01), s1 = a10.add(a11), s2 = a20.add(a21), s3 = a30.add(a31);
        float u0 = 0f, u1 = 0f, u2 = 0f, u3 = 0f;
        for (int i = 0; i < lanes; i++) {
            u0 += s0.lane(i);
            u1 += s1.lane(i);
            u2 += s2.lane(i);
            u3 += s3.lane(i);
        }
        for (; c < cols; c++) {
            float wc = Formats.bf16ToFloat(w.get(Matrices.I16_LE, off + 2L * c));
            u0 += wc * x[x0 + c];
            u1 += wc * x[x1 + c];
            u2 += wc * x[x2 + c];
            u3 += wc * x[x3 + c];
        }
        y[y0] = u0;
        y[y0 + yStride] = u1;
        y[y0 + 2 * yStride] = u2;
        y[y0 + 3 * yStride] = u3;
    }

    /**
     * {@link #dot} of one row with the two inputs at {@code x[x0 ..]} and {@code x[x0 + cols ..]}, each weight
     * decoded once for both; results to {@code y[y0]} and {@code y[y0 + yStride]}.
     */
    static void dot2(Lanes v, MemorySegment w, long off, int cols, float[] x, int x0, float[] y, int y0,
            int yStride) {
        VectorSpecies<Float> fs = v.floats();
        VectorSpecies<Integer> is = v.ints();
        VectorSpecies<Short> ss = v.shorts();
        int lanes = fs.length(), step = 2 * lanes, c = 0, x1 = x0 + cols;
        FloatVector z = FloatVector.zero(fs), a00 = z, a01 = z, a10 = z, a11 = z;
        for (; c <= cols - step; c += step) {
            ShortVector b0 = ShortVector.fromMemorySegment(ss, w, off + 2L * c, ByteOrder.LITTLE_ENDIAN);
            ShortVector b1 = ShortVector.fromMemorySegment(ss, w, off + 2L * (c + lanes), ByteOrder.LITTLE_ENDIAN);
            FloatVector w0 = ((IntVector) b0.convertShape(VectorOperators.S2I, is, 0))
                    .lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
            FloatVector w1 = ((IntVector) b1.convertShape(VectorOperators.S2I, is, 0))
                    .lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
            a00 = w0.fma(FloatVector.fromArray(fs, x, x0 + c), a00);
            a10 = w0.fma(FloatVector.fromArray(fs, x, x1 + c), a10);
            a01 = w1.fma(FloatVector.fromArray(fs, x, x0 + c + lanes), a01);
            a11 = w1.fma(FloatVector.fromArray(fs, x, x1 + c + lanes), a11);
        }
        FloatVector s0 = a00.add(a01), s1 = a10.add(a11);
        float u0 = 0f, u1 = 0f;
        for (int i = 0; i < lanes; i++) {
            u0 += s0.lane(i);
            u1 += s1.lane(i);
        }
        for (; c < cols; c++) {
            float wc = Formats.bf16ToFloat(w.get(Matrices.I16_LE, off + 2L * c));
            u0 += wc * x[x0 + c];
            u1 += wc * x[x1 + c];
        }
        y[y0] = u0;
        y[y0 + yStride] = u1;
    }

    /** One row's values into {@code out[off, off + cols)}; {@code rowOff} in bytes. */
    static void decode(Lanes v, MemorySegment w, long rowOff, int cols, float[] out, int off) {
        VectorSpecies<Integer> is = v.ints();
        VectorSpecies<Short> ss = v.shorts();
        int lanes = is.length(), c = 0;
        for (; c <= cols - lanes; c += lanes) {
            ShortVector bits = ShortVector.fromMemorySegment(ss, w, rowOff + 2L * c, ByteOrder.LITTLE_ENDIAN);
            ((IntVector) bits.convertShape(VectorOperators.S2I, is, 0)).lanewise(VectorOperators.LSHL, 16)
                    .reinterpretAsFloats().intoArray(out, off + c);
        }
        for (; c < cols; c++) {
            out[off + c] = Formats.bf16ToFloat(w.get(Matrices.I16_LE, rowOff + 2L * c));
        }
    }
}
