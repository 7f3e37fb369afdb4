package dev.moe4j.model;

import dev.moe4j.tensor.KeySort;

/**
 * The lightning indexer's scoring and selection: {@code score_j = Σ_h w_h · relu(q_h · K_j)} with the
 * official bf16 rounding after the dot, after the weighting and after the head sum, then the top-k
 * entries in descending score order, ties to the lower entry index (torch.topk on CUDA).
 */
public final class Indexer {

    private Indexer() {
    }

    /** Score of entry row {@code K[kOff ..]} for the query heads {@code q[qOff ..]} [heads, dim]. */
    public static float score(float[] q, int qOff, float[] w, int wOff, int heads, int dim, float[] k, int kOff,
                              Numerics num) {
        double sum = 0;
        for (int h = 0; h < heads; h++) {
            float dot = 0;
            for (int i = 0; i < dim; i++) {
                dot += q[qOff + h * dim + i] * k[kOff + i];
            }
            sum += num.round(Math.max(num.round(dot), 0f) * w[wOff + h]);
        }
        float s = num.round(sum);
        return s == 0f ? 0f : s;                                                 // −0 ties with +0
    }

    /** A sort key that orders by descending score, then ascending index. */
    public static long key(float score, int index) {
        return KeySort.descending(score, index);
    }

    public static int index(long key) {
        return (int) key;
    }
}
