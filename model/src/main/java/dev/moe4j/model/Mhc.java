package dev.moe4j.model;

/**
 * Manifold-constrained hyper-connections: the coefficients of one mHC site from its 24 mixes
 * ({@code hc_split_sinkhorn} of the official kernel). Computed in double; the caller rounds.
 */
public final class Mhc {

    private Mhc() {
    }

    /**
     * {@code pre_j = σ(m_j·s0 + b_j) + eps}; {@code post_j = 2σ(m_{hc+j}·s1 + b_{hc+j})};
     * {@code C = rowsoftmax(m·s2 + b) + eps}, column-normalised, then (iters − 1) × (rows, columns),
     * every denominator + eps. {@code comb[cOff + j*hc + k]} = C[j][k].
     */
    public static void split(float[] mixes, int mOff, float[] scale, float[] base, int hc, int iters, double eps,
                             double[] pre, double[] post, int postOff, double[] comb, int cOff) {
        for (int j = 0; j < hc; j++) {
            pre[j] = sigmoid(mixes[mOff + j] * (double) scale[0] + base[j]) + eps;
            post[postOff + j] = 2 * sigmoid(mixes[mOff + hc + j] * (double) scale[1] + base[hc + j]);
        }
        for (int j = 0; j < hc; j++) {
            double max = Double.NEGATIVE_INFINITY;
            for (int k = 0; k < hc; k++) {
                int i = j * hc + k;
                comb[cOff + i] = mixes[mOff + 2 * hc + i] * (double) scale[2] + base[2 * hc + i];
                max = Math.max(max, comb[cOff + i]);
            }
            double sum = 0;
            for (int k = 0; k < hc; k++) {
                comb[cOff + j * hc + k] = Math.exp(comb[cOff + j * hc + k] - max);
                sum += comb[cOff + j * hc + k];
            }
            for (int k = 0; k < hc; k++) {
                comb[cOff + j * hc + k] = comb[cOff + j * hc + k] / sum + eps;
            }
        }
        normalizeColumns(comb, cOff, hc, eps);
        for (int it = 1; it < iters; it++) {
            for (int j = 0; j < hc; j++) {
                double sum = 0;
                for (int k = 0; k < hc; k++) {
                    sum += comb[cOff + j * hc + k];
                }
                for (int k = 0; k < hc; k++) {
                    comb[cOff + j * hc + k] /= sum + eps;
                }
            }
            normalizeColumns(comb, cOff, hc, eps);
        }
    }

    private static void normalizeColumns(double[] comb, int cOff, int hc, double eps) {
        for (int k = 0; k < hc; k++) {
            double sum = 0;
            for (int j = 0; j < hc; j++) {
                sum += comb[cOff + j * hc + k];
            }
            for (int j = 0; j < hc; j++) {
                comb[cOff + j * hc + k] /= sum + eps;
            }
        }
    }

    static double sigmoid(double z) {
        return 1 / (1 + Math.exp(-z));
    }
}
