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
 * FP4 e2m1 weights, two per byte (low nibble = even column), with one UE8M0 scale per 32 columns of a row
 * (docs/v4-architecture.md §3.2): {@code W[i,j] = e2m1(nibble) · 2^(scale[i][j/32] − 127)}.
 *
 * <p>Vector decode: each int lane gets the byte of its column ({@link Lanes#dupLow()}/{@link Lanes#dupHigh()}),
 * shifted right by 0 or 4, and that nibble indexes the 16-entry value table, pre-multiplied by the block's
 * scale, with one permute (wrap-around indexing ignores the bits above the nibble).
 */
public final class Fp4Matrix implements Matrix {

    /** Columns per scale. */
    public static final int BLOCK = 32;

    private static final int SIGN = 0x80000000;

    private final int rows, cols;
    private final MemorySegment w;
    /** E8M0 bytes [rows, cols/32] */
    private final MemorySegment scale;
    private final Lanes lanes;

    Fp4Matrix(int rows, int cols, MemorySegment w, MemorySegment scale, Lanes lanes) {
        this.rows = rows;
        this.cols = cols;
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
        return DType.I8;
    }

    @Override
    public long bytes() {
        return (long) rows * cols / 2 + (long) rows * (cols / BLOCK);
    }

    @Override
    public void matvec(float[] x, int xOff, float[] y, int yOff, int r0, int r1) {
        Matrices.checkMatvec(this, x, xOff, y, yOff, r0, r1);
        for (int r = r0; r < r1; r++) {
            y[yOff + r] = dot(lanes, w, (long) r * (cols / 2), cols, scale, (long) r * (cols / BLOCK), x, xOff);
        }
    }

    @Override
    public void matmul(float[] x, int n, float[] y, int r0, int r1) {
        Matrices.checkMatmul(this, x, n, y, r0, r1);
        float[] row = new float[cols];
        int tile = Matrices.tileRows(cols);
        for (int t0 = 0; t0 < n; t0 += tile) {
            int t1 = Math.min(n, t0 + tile);
            for (int r = r0; r < r1; r++) {
                decode(lanes, w, (long) r * (cols / 2), cols, scale, (long) r * (cols / BLOCK), row);
                for (int t = t0; t < t1; t++) {
                    y[t * rows + r] = Dot.plain(lanes, row, cols, x, t * cols);
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
        return nibble(w, (long) r * (cols / 2), c) * scale(r, c / BLOCK);
    }

    private float scale(int r, int b) {
        return Formats.e8m0ToFloat(scale.get(ValueLayout.JAVA_BYTE, (long) r * (cols / BLOCK) + b));
    }

    private static float nibble(MemorySegment w, long rowOff, int c) {
        int packed = w.get(ValueLayout.JAVA_BYTE, rowOff + c / 2);
        return Formats.e2m1ToFloat(packed >> 4 * (c & 1));
    }

    /** The plain reference: per 32-column block a float sum of e2m1 · x, times the scale, summed over blocks. */
    public static void matvecScalar(Fp4Matrix m, float[] x, int xOff, float[] y, int yOff, int r0, int r1) {
        Matrices.checkMatvec(m, x, xOff, y, yOff, r0, r1);
        for (int r = r0; r < r1; r++) {
            long off = (long) r * (m.cols / 2);
            float sum = 0f;
            for (int b = 0; b < m.cols / BLOCK; b++) {
                float part = 0f;
                for (int c = b * BLOCK; c < (b + 1) * BLOCK; c++) {
                    part += nibble(m.w, off, c) * x[xOff + c];
                }
                sum += part * m.scale(r, b);
            }
            y[yOff + r] = sum;
        }
    }

    /**
     * One row. The block scale, a power of two, is folded into the 16-entry table once per 32 columns
     * (exact: e2m1 · 2^k is a float for every UE8M0 k), so the scaled weights of the whole row go into two
     * accumulators, even vectors to acc0 and odd ones to acc1, as {@link Dot#plain} sums them.
     */
    static float dot(Lanes v, MemorySegment w, long off, int cols, MemorySegment s, long sOff, float[] x,
            int xOff) {
        VectorSpecies<Float> fs = v.floats();
        VectorSpecies<Integer> is = v.ints();
        VectorSpecies<Byte> bs = v.bytes();
        int lanes = fs.length(), parts = bs.length() / lanes, perLoad = 2 * bs.length();
        FloatVector acc0 = FloatVector.zero(fs), acc1 = acc0;
        for (int b0 = 0; b0 < cols; b0 += BLOCK) {
            float blockScale = Formats.e8m0ToFloat(s.get(ValueLayout.JAVA_BYTE, sOff + b0 / BLOCK));
            IntVector ta = v.e2m1A().reinterpretAsFloats().mul(blockScale).reinterpretAsInts();
            IntVector tb = v.e2m1B().reinterpretAsFloats().mul(blockScale).reinterpretAsInts();
            for (int c = b0; c < b0 + BLOCK; c += perLoad) {
                ByteVector packed = ByteVector.fromMemorySegment(bs, w, off + c / 2, ByteOrder.LITTLE_ENDIAN);
                for (int p = 0; p < parts; p++) {
                    IntVector bytes = (IntVector) packed.convertShape(VectorOperators.B2I, is, p);
                    IntVector lo = bytes.rearrange(v.dupLow()).lanewise(VectorOperators.LSHR, v.nibbleShift());
                    IntVector hi = bytes.rearrange(v.dupHigh()).lanewise(VectorOperators.LSHR, v.nibbleShift());
                    IntVector w0 = lo.selectFrom(ta, tb);
                    IntVector w1 = hi.selectFrom(ta, tb);
                    if (lanes == 4) {                    // magnitude table: the sign is nibble bit 3
                        w0 = w0.or(lo.lanewise(VectorOperators.LSHL, 28).and(SIGN));
                        w1 = w1.or(hi.lanewise(VectorOperators.LSHL, 28).and(SIGN));
                    }
                    int cp = xOff + c + 2 * p * lanes;
                    acc0 = w0.reinterpretAsFloats().fma(FloatVector.fromArray(fs, x, cp), acc0);
                    acc1 = w1.reinterpretAsFloats().fma(FloatVector.fromArray(fs, x, cp + lanes), acc1);
                }
            }
        }
        FloatVector acc = acc0.add(acc1);
        float sum = 0f;
        for (int i = 0; i < lanes; i++) {
            sum += acc.lane(i);                  // fixed order: the JIT's reduceLanes is not the interpreter's
        }
        return sum;
    }

    /** The scaled weights of one row into {@code out[0, cols)}, as {@link #dot} computes them. */
    static void decode(Lanes v, MemorySegment w, long off, int cols, MemorySegment s, long sOff, float[] out) {
        VectorSpecies<Integer> is = v.ints();
        VectorSpecies<Byte> bs = v.bytes();
        int lanes = is.length(), parts = bs.length() / lanes, perLoad = 2 * bs.length();
        for (int b0 = 0; b0 < cols; b0 += BLOCK) {
            float blockScale = Formats.e8m0ToFloat(s.get(ValueLayout.JAVA_BYTE, sOff + b0 / BLOCK));
            IntVector ta = v.e2m1A().reinterpretAsFloats().mul(blockScale).reinterpretAsInts();
            IntVector tb = v.e2m1B().reinterpretAsFloats().mul(blockScale).reinterpretAsInts();
            for (int c = b0; c < b0 + BLOCK; c += perLoad) {
                ByteVector packed = ByteVector.fromMemorySegment(bs, w, off + c / 2, ByteOrder.LITTLE_ENDIAN);
                for (int p = 0; p < parts; p++) {
                    IntVector bytes = (IntVector) packed.convertShape(VectorOperators.B2I, is, p);
                    IntVector lo = bytes.rearrange(v.dupLow()).lanewise(VectorOperators.LSHR, v.nibbleShift());
                    IntVector hi = bytes.rearrange(v.dupHigh()).lanewise(VectorOperators.LSHR, v.nibbleShift());
                    IntVector w0 = lo.selectFrom(ta, tb);
                    IntVector w1 = hi.selectFrom(ta, tb);
                    if (lanes == 4) {
                        w0 = w0.or(lo.lanewise(VectorOperators.LSHL, 28).and(SIGN));
                        w1 = w1.or(hi.lanewise(VectorOperators.LSHL, 28).and(SIGN));
                    }
                    w0.reinterpretAsFloats().intoArray(out, c + 2 * p * lanes);
                    w1.reinterpretAsFloats().intoArray(out, c + 2 * p * lanes + lanes);
                }
            }
        }
    }
}
