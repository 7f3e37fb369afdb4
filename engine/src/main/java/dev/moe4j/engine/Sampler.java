package dev.moe4j.engine;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Picks the next token from logits: greedy at temperature 0 (ties → the lowest id), otherwise
 * softmax(logits / T) restricted to the top-k and then to the smallest set whose probability reaches
 * top-p, drawn from a seeded generator so that a seed reproduces a run. Buffers are sized once for
 * the vocabulary; sampling allocates nothing.
 */
public final class Sampler {

    private final float temperature, topP;
    private final int topK;
    private final SplittableRandom random;
    private final long[] keys;
    private final double[] probs;

    public Sampler(int vocab, float temperature, float topP, int topK, long seed) {
        if (!(temperature >= 0) || !Float.isFinite(temperature)) {
            throw new IllegalArgumentException("temperature must be a finite number ≥ 0, got " + temperature);
        }
        if (!(topP > 0 && topP <= 1)) {
            throw new IllegalArgumentException("top_p must be in (0, 1], got " + topP);
        }
        if (topK < 0) {
            throw new IllegalArgumentException("top_k must be ≥ 0 (0 = off), got " + topK);
        }
        this.temperature = temperature;
        this.topP = topP;
        this.topK = topK;
        this.random = new SplittableRandom(seed);
        this.keys = new long[vocab];
        this.probs = new double[vocab];
    }

    public static int argmax(float[] logits, int off, int n) {
        int best = 0;
        for (int i = 1; i < n; i++) {
            if (logits[off + i] > logits[off + best]) {
                best = i;
            }
        }
        return best;
    }

    public int sample(float[] logits, int off, int n) {
        if (temperature == 0f) {
            return argmax(logits, off, n);
        }
        // candidates in descending logit order (ties: lower id first)
        for (int i = 0; i < n; i++) {
            int bits = Float.floatToIntBits(logits[off + i]);
            int asc = bits ^ ((bits >> 31) & 0x7FFFFFFF);
            keys[i] = ((long) ~asc << 32) | i;
        }
        int m = topK > 0 ? Math.min(topK, n) : n;
        Arrays.sort(keys, 0, n);
        double max = logits[off + (int) keys[0]];
        double sum = 0;
        for (int r = 0; r < m; r++) {
            probs[r] = Math.exp((logits[off + (int) keys[r]] - max) / temperature);
            sum += probs[r];
        }
        // nucleus: keep the smallest prefix whose mass reaches top_p
        double mass = 0;
        int keep = m;
        for (int r = 0; r < m; r++) {
            mass += probs[r] / sum;
            if (mass >= topP) {
                keep = r + 1;
                break;
            }
        }
        double kept = 0;
        for (int r = 0; r < keep; r++) {
            kept += probs[r];
        }
        double u = random.nextDouble() * kept;
        for (int r = 0; r < keep; r++) {
            u -= probs[r];
            if (u < 0) {
                return (int) keys[r];
            }
        }
        return (int) keys[keep - 1];
    }
}
