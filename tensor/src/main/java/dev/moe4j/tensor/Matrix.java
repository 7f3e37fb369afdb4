package dev.moe4j.tensor;

/**
 * A weight matrix W of shape [rows = output features, cols = input features] over its stored bytes
 * (FP8 e4m3 with block scales, FP4 e2m1 with 1×32 scales, BF16, F32), dequantised on the fly with
 * float32 accumulation. The implementation is chosen once, at load, by {@link Matrices#of}.
 *
 * <p>Every method is single-threaded and works on a range of rows, so disjoint ranges may run on different
 * threads at once. Parallelism is the caller's: {@code Parallel.forRange(m.rows(), (r0, r1) -> m.matvec(x, 0,
 * y, 0, r0, r1))} (see {@link Parallel}); one parallel region can also cover several independent matrices.
 *
 * <p>Results do not depend on how rows are split, nor on whether the JIT has compiled the kernel yet, and
 * {@link #matmul} gives bit for bit the same values as {@link #matvec} on each input row.
 */
public interface Matrix {

    int rows();

    int cols();

    /** Storage dtype of the weight values. */
    DType dtype();

    /** Bytes of weights and scales that one full {@link #matvec} reads. */
    long bytes();

    /** {@code y[yOff + r] = Σ_c W[r][c] · x[xOff + c]} for every row r. */
    default void matvec(float[] x, int xOff, float[] y, int yOff) {
        matvec(x, xOff, y, yOff, 0, rows());
    }

    /**
     * Rows {@code [r0, r1)} only: {@code y[yOff + r] = Σ_c W[r][c] · x[xOff + c]} (absolute row index r).
     * Allocation-free.
     */
    void matvec(float[] x, int xOff, float[] y, int yOff, int r0, int r1);

    /** {@code Y[n, rows] = X[n, cols] · Wᵀ}, both row-major starting at index 0. */
    default void matmul(float[] x, int n, float[] y) {
        matmul(x, n, y, 0, rows());
    }

    /**
     * Rows {@code [r0, r1)} of {@code Y[n, rows] = X[n, cols] · Wᵀ}: {@code y[t·rows + r] = Σ_c W[r][c] ·
     * x[t·cols + c]}. The quantised kernels decode each weight once per tile of input rows and multiply it
     * into all of them; scratch (the rearranged inputs) comes from a pool shared by concurrent calls, or is
     * allocated when the pool has none free or the inputs are large.
     */
    void matmul(float[] x, int n, float[] y, int r0, int r1);

    /** Writes the dequantised row r (cols values) to {@code out[off ...]}. */
    void row(int r, float[] out, int off);

    /** One dequantised element. */
    float get(int r, int c);
}
