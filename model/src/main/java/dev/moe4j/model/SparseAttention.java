package dev.moe4j.model;

import dev.moe4j.tensor.Formats;

import java.util.Arrays;

/**
 * One head of one query over a list of K = V rows: {@code o = Σ_j e^(s_j − M) v_j / (Σ_j e^(s_j − M) +
 * e^(sink − M))} with {@code s_j = q·k_j · scale} and M the largest real score (the sink only enlarges
 * the denominator). Official numerics walk the rows in 64-wide tiles with an online softmax and round
 * the probabilities to bf16 before the P·V product, as the TileLang kernel of {@code kernel.py};
 * otherwise a plain softmax. A null row is a masked entry (official index −1).
 */
public final class SparseAttention {

    /** Tile width of the official sparse-attention kernel. */
    public static final int TILE = 64;

    private SparseAttention() {
    }

    /**
     * @param rows  K = V rows, one per column, null = masked; row j starts at {@code rowOff[j]}
     * @param s     scratch of at least {@code nc} floats from {@code sOff}
     * @param acc   scratch of at least {@code d} doubles from {@code accOff}
     */
    public static void attend(float[] q, int qOff, int d, float[][] rows, int[] rowOff, int nc, float scale,
                              float sink, boolean tilelang, float[] s, int sOff, double[] acc, int accOff,
                              float[] o, int oOff) {
        for (int c = 0; c < nc; c++) {
            float[] kv = rows[c];
            if (kv == null) {
                s[sOff + c] = Float.NEGATIVE_INFINITY;
                continue;
            }
            int ko = rowOff[c];
            float dot = 0;
            for (int i = 0; i < d; i++) {
                dot += q[qOff + i] * kv[ko + i];
            }
            s[sOff + c] = dot * scale;
        }
        Arrays.fill(acc, accOff, accOff + d, 0);
        double m = Double.NEGATIVE_INFINITY, l = 0;
        int tile = tilelang ? TILE : Math.max(nc, 1);
        for (int t0 = 0; t0 < nc; t0 += tile) {
            int t1 = Math.min(nc, t0 + tile);
            double mt = Double.NEGATIVE_INFINITY;
            for (int c = t0; c < t1; c++) {
                mt = Math.max(mt, s[sOff + c]);
            }
            double mNew = Math.max(m, mt);
            if (mNew == Double.NEGATIVE_INFINITY) {
                continue;                                                        // a tile of masked entries only
            }
            double alpha = m == Double.NEGATIVE_INFINITY ? 0 : Math.exp(m - mNew);
            l *= alpha;
            for (int i = 0; i < d; i++) {
                acc[accOff + i] *= alpha;
            }
            for (int c = t0; c < t1; c++) {
                if (rows[c] == null) {
                    continue;
                }
                double p = Math.exp(s[sOff + c] - mNew);
                l += p;
                double pv = tilelang ? Formats.bf16Round((float) p) : p;
                float[] kv = rows[c];
                int ko = rowOff[c];
                for (int i = 0; i < d; i++) {
                    acc[accOff + i] += pv * kv[ko + i];
                }
            }
            m = mNew;
        }
        l += Math.exp(sink - m);
        for (int i = 0; i < d; i++) {
            o[oOff + i] = (float) (acc[accOff + i] / l);
        }
    }
}
