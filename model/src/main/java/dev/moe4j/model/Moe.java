package dev.moe4j.model;

/**
 * The router and expert activation of V4's MoE: sqrt-softplus scores, top-k selection on score + bias
 * (bias for selection only) or a fixed hash row, weights normalised × routed_scaling_factor, and the
 * clamped SwiGLU. Static kernels; {@code shared/fixtures/kernels} section {@code routing} pins them.
 */
public final class Moe {

    private Moe() {
    }

    /** In place: {@code s = sqrt(softplus(z))}, softplus with torch's threshold (z > 20 → z). */
    public static void sqrtSoftplus(float[] z, int off, int n) {
        for (int i = off; i < off + n; i++) {
            double v = z[i];
            z[i] = (float) Math.sqrt(v > 20 ? v : Math.log1p(Math.exp(v)));
        }
    }

    /**
     * The k experts with the largest {@code scores + bias}, descending, ties to the lower expert id
     * (torch.topk on CUDA), into {@code sel[selOff ..]}.
     */
    public static void topk(float[] scores, int off, float[] bias, int e, int k, int[] sel, int selOff) {
        for (int s = 0; s < k; s++) {
            int best = -1;
            float bestV = Float.NEGATIVE_INFINITY;
            for (int i = 0; i < e; i++) {
                if (taken(sel, selOff, s, i)) {
                    continue;
                }
                float v = scores[off + i] + bias[i];
                if (best < 0 || v > bestV) {
                    best = i;
                    bestV = v;
                }
            }
            sel[selOff + s] = best;
        }
    }

    private static boolean taken(int[] sel, int selOff, int s, int i) {
        for (int q = 0; q < s; q++) {
            if (sel[selOff + q] == i) {
                return true;
            }
        }
        return false;
    }

    /** Routing weights of the selected experts: their unbiased scores, normalised, × {@code routeScale}. */
    public static void weights(float[] scores, int off, int[] sel, int selOff, int k, float routeScale,
                               float[] w, int wOff) {
        double sum = 0;
        for (int s = 0; s < k; s++) {
            sum += scores[off + sel[selOff + s]];
        }
        for (int s = 0; s < k; s++) {
            w[wOff + s] = (float) (scores[off + sel[selOff + s]] / sum * routeScale);
        }
    }

    /** {@code silu(min(g, L)) · clamp(u, −L, L)}; {@code limit = 0} switches the clamp off. */
    public static double swiglu(double g, double u, float limit) {
        if (limit > 0) {
            u = Math.clamp(u, -limit, limit);
            g = Math.min(g, limit);
        }
        return g / (1 + Math.exp(-g)) * u;
    }
}
