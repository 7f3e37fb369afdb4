package dev.moe4j.tensor;

/**
 * A weight matrix W of shape [rows = output features, cols = input features] over its stored bytes
 * (FP8 e4m3 with block scales, FP4 e2m1 with 1×32 scales, BF16, F32), dequantised on the fly with
 * float32 accumulation. The implementation is chosen once, at load, by {@link Matrices#of}.
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

    /** Rows {@code [r0, r1)} only: {@code y[yOff + r] = Σ_c W[r][c] · x[xOff + c]} (absolute row index r). */
    void matvec(float[] x, int xOff, float[] y, int yOff, int r0, int r1);

    /** {@code Y[n, rows] = X[n, cols] · Wᵀ}, both row-major starting at index 0. */
    default void matmul(float[] x, int n, float[] y) {
        for (int t = 0; t < n; t++) {
            matvec(x, t * cols(), y, t * rows());
        }
    }

    /** Writes the dequantised row r (cols values) to {@code out[off ...]}. */
    void row(int r, float[] out, int off);

    /** One dequantised element (slow; for tests and diagnostics). */
    default float get(int r, int c) {
        float[] tmp = new float[cols()];
        row(r, tmp, 0);
        return tmp[c];
    }
}
