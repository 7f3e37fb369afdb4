package dev.moe4j.engine;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Picks the next token from logits: greedy at temperature 0 (ties → the lowest id), otherwise
 * softmax(logits / T) restricted to the top-k and then to the smallest set whose probability reaches
 * top-p, drawn from a seeded generator so that a seed reproduces a run. Buffers are sized once for
 * the vocabulary and reused across requests ({@link #configure}); sampling allocates nothing.
 */
public final class Sampler {

    private float temperature, topP;
    private int topK;
    private SplittableRandom random;
    private final long[] keys;
    private final double[] probs;

    public Sampler(int vocab) {
        this.keys = new long[vocab];
        this.probs = new double[vocab];
    }

    public Sampler(int vocab, float temperature, float topP, int topK, long seed) {
        this(vocab);
        configure(temperature, topP, topK, seed);
    }

    /** Settings for the next request; validated by {@link GenerationParams}. */
    public Sampler configure(float temperature, float topP, int topK, long seed) {
        new GenerationParams(0, temperature, topP, topK, seed, false);
        this.temperature = temperature;
        this.topP = topP;
        this.topK = topK;
        this.random = new SplittableRandom(seed);
        return this;
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

    /** log Σ exp(logits): the normaliser of the model's log-probabilities. */
    public static double logSumExp(float[] logits, int off, int n) {
        double max = Double.NEGATIVE_INFINITY;
        for (int i = off; i < off + n; i++) {
            max = Math.max(max, logits[i]);
        }
        double s = 0;
        for (int i = off; i < off + n; i++) {
            s += Math.exp(logits[i] - max);
        }
        return max + Math.log(s);
    }

    /** The {@code ids.length} largest logits' ids, descending (ties: lower id first). O(n·k), k ≤ 20. */
    public static void top(float[] logits, int off, int n, int[] ids) {
        int k = ids.length;
        for (int s = 0; s < k; s++) {
            int best = -1;
            for (int i = 0; i < n; i++) {
                if ((best < 0 || logits[off + i] > logits[off + best]) && !chosen(ids, s, i)) {
                    best = i;
                }
            }
            ids[s] = best;
        }
    }

    private static boolean chosen(int[] ids, int s, int i) {
        for (int q = 0; q < s; q++) {
            if (ids[q] == i) {
                return true;
            }
        }
        return false;
    }
}
