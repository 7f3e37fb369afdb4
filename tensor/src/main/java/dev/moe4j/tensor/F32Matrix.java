package dev.moe4j.tensor;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.util.Objects;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/** float32 weights (the mHC {@code hc_*_fn} projections). */
public final class F32Matrix implements Matrix {

    private final int rows, cols;
    private final MemorySegment w;
    private final Lanes lanes;

    F32Matrix(int rows, int cols, MemorySegment w, Lanes lanes) {
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
        return DType.F32;
    }

    @Override
    public long bytes() {
        return 4L * rows * cols;
    }

    @Override
    public void matvec(float[] x, int xOff, float[] y, int yOff, int r0, int r1) {
        Matrices.checkMatvec(this, x, xOff, y, yOff, r0, r1);
        for (int r = r0; r < r1; r++) {
            y[yOff + r] = dot(lanes, w, 4L * r * cols, cols, x, xOff);
        }
    }

    /** No dequantisation to share: the row is re-read (from cache) for each input of the tile. */
    @Override
    public void matmul(float[] x, int n, float[] y, int r0, int r1) {
        Matrices.checkMatmul(this, x, n, y, r0, r1);
        int tile = Matrices.tileRows(cols);
        for (int t0 = 0; t0 < n; t0 += tile) {
            int t1 = Math.min(n, t0 + tile);
            for (int r = r0; r < r1; r++) {
                for (int t = t0; t < t1; t++) {
                    y[t * rows + r] = dot(lanes, w, 4L * r * cols, cols, x, t * cols);
                }
            }
        }
    }

    @Override
    public void row(int r, float[] out, int off) {
        Objects.checkIndex(r, rows);
        Objects.checkFromIndexSize(off, cols, out.length);
        MemorySegment.copy(w, Matrices.F32_LE, 4L * r * cols, out, off, cols);
    }

    @Override
    public float get(int r, int c) {
        Objects.checkIndex(r, rows);
        Objects.checkIndex(c, cols);
        return w.get(Matrices.F32_LE, 4L * ((long) r * cols + c));
    }

    /** The plain reference: a float sum in column order. */
    public static void matvecScalar(F32Matrix m, float[] x, int xOff, float[] y, int yOff, int r0, int r1) {
        Matrices.checkMatvec(m, x, xOff, y, yOff, r0, r1);
        for (int r = r0; r < r1; r++) {
            long base = 4L * r * m.cols;
            float sum = 0f;
            for (int c = 0; c < m.cols; c++) {
                sum += m.w.get(Matrices.F32_LE, base + 4L * c) * x[xOff + c];
            }
            y[yOff + r] = sum;
        }
    }

    /** One row: two accumulators over pairs of vectors, their lanes summed in order, the tail; off in bytes. */
    static float dot(Lanes v, MemorySegment w, long off, int cols, float[] x, int xOff) {
        VectorSpecies<Float> fs = v.floats();
        int lanes = fs.length(), step = 2 * lanes, c = 0;
        FloatVector acc0 = FloatVector.zero(fs), acc1 = acc0;
        for (; c <= cols - step; c += step) {
            FloatVector w0 = FloatVector.fromMemorySegment(fs, w, off + 4L * c, ByteOrder.LITTLE_ENDIAN);
            FloatVector w1 = FloatVector.fromMemorySegment(fs, w, off + 4L * (c + lanes), ByteOrder.LITTLE_ENDIAN);
            acc0 = w0.fma(FloatVector.fromArray(fs, x, xOff + c), acc0);
            acc1 = w1.fma(FloatVector.fromArray(fs, x, xOff + c + lanes), acc1);
        }
        FloatVector acc = acc0.add(acc1);
        float sum = 0f;
        for (int i = 0; i < lanes; i++) {
            sum += acc.lane(i);              // fixed order: the JIT's reduceLanes is not the interpreter's
        }
        for (; c < cols; c++) {
            sum += w.get(Matrices.F32_LE, off + 4L * c) * x[xOff + c];
        }
        return sum;
    }
}
