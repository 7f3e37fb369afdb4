package dev.moe4j.model;

import dev.moe4j.tensor.Formats;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

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

    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;

    /**
     * {@link #attend} on the Vector API: the same tiles and online softmax (scores, maxima and the
     * denominator in double as there), with the q·k dots and the P·V accumulation in float vectors. Only
     * the summation order differs from the scalar twin (lanes, then the lanes in order): relative
     * differences of ~1e-6 (KernelSectionsTest). {@code acc} holds {@code d} floats from {@code accOff}.
     */
    public static void attendVector(float[] q, int qOff, int d, float[][] rows, int[] rowOff, int nc, float scale,
                                    float sink, boolean tilelang, float[] s, int sOff, float[] acc, int accOff,
                                    float[] o, int oOff) {
        int lanes = F.length(), whole = d - d % lanes;
        for (int c = 0; c < nc; c++) {
            float[] kv = rows[c];
            if (kv == null) {
                s[sOff + c] = Float.NEGATIVE_INFINITY;
                continue;
            }
            int ko = rowOff[c];
            FloatVector sum = FloatVector.zero(F);
            for (int i = 0; i < whole; i += lanes) {
                sum = FloatVector.fromArray(F, q, qOff + i).fma(FloatVector.fromArray(F, kv, ko + i), sum);
            }
            float dot = 0;
            for (int i = 0; i < lanes; i++) {
                dot += sum.lane(i);                  // fixed order: the JIT's reduceLanes is not the interpreter's
            }
            for (int i = whole; i < d; i++) {
                dot += q[qOff + i] * kv[ko + i];
            }
            s[sOff + c] = dot * scale;
        }
        Arrays.fill(acc, accOff, accOff + d, 0f);
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
            if (m != Double.NEGATIVE_INFINITY && m != mNew) {
                float alpha = (float) Math.exp(m - mNew);
                for (int i = 0; i < whole; i += lanes) {
                    FloatVector.fromArray(F, acc, accOff + i).mul(alpha).intoArray(acc, accOff + i);
                }
                for (int i = whole; i < d; i++) {
                    acc[accOff + i] *= alpha;
                }
                l *= alpha;
            }
            for (int c = t0; c < t1; c++) {
                float[] kv = rows[c];
                if (kv == null) {
                    continue;
                }
                double p = Math.exp(s[sOff + c] - mNew);
                l += p;
                float pv = tilelang ? Formats.bf16Round((float) p) : (float) p;
                int ko = rowOff[c];
                FloatVector pvv = FloatVector.broadcast(F, pv);
                for (int i = 0; i < whole; i += lanes) {
                    FloatVector.fromArray(F, kv, ko + i).fma(pvv, FloatVector.fromArray(F, acc, accOff + i))
                            .intoArray(acc, accOff + i);
                }
                for (int i = whole; i < d; i++) {
                    acc[accOff + i] += pv * kv[ko + i];
                }
            }
            m = mNew;
        }
        l += Math.exp(sink - m);
        float inv = (float) (1 / l);
        for (int i = 0; i < d; i++) {
            o[oOff + i] = acc[accOff + i] * inv;
        }
    }
}
