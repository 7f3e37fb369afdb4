package dev.moe4j.engine;

import dev.moe4j.tensor.KeySort;

import java.util.SplittableRandom;

/**
 * Picks the next token from logits: greedy at temperature 0 (ties → the lowest id), otherwise
 * softmax(logits / T) restricted to the top-k and then to the smallest set whose probability reaches
 * top-p (top-p 1: every candidate), drawn from a seeded generator so that a seed reproduces a run. Buffers
 * are sized once for the vocabulary and reused across requests ({@link #configure}); sampling allocates
 * nothing.
 *
 * <p>Only as many candidates are put in order as the draw needs: the first 256 in one pass over the logits
 * through a heap ({@link KeySort#offer}), more only when the nucleus or the draw walks past them
 * ({@link #order}). The whole vocabulary is summed for the softmax in id order,
 * but the nucleus and the draw walk down from the most likely token and usually stop within the first few
 * dozen. Sorting all 129,280 keys of the V4 vocabulary, as this did before, took ~7-9 ms a token; a draw now
 * costs about one pass for the selection and one exp per token for the sum. With top-k, the k candidates are
 * sorted and summed in order.
 */
public final class Sampler {

    /** Candidates put in order by the first pass of a draw; past {@code DEEP} in order, the rest is sorted. */
    private static final int FIRST = 256, DEEP = 4096;

    private float temperature, topP;
    private int topK;
    private SplittableRandom random;
    /** Candidate keys ({@link KeySort#descending}), best first from index 0 up to {@link #sorted}. */
    private final long[] keys;
    /** exp((logit − max) / T) of the sorted candidates, in their order */
    private final double[] probs;
    /** Per draw: keys[0, sorted) in order with their probs, of the first {@code candidates} keys; the largest logit. */
    private int sorted, candidates, vocab;
    private double max;

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
        vocab = n;
        candidates = topK > 0 ? Math.min(topK, n) : n;
        sorted = 0;
        order(1, logits, off);
        double sum = 0;
        if (candidates < n) {
            order(candidates, logits, off);
            for (int r = 0; r < candidates; r++) {
                sum += probs[r];
            }
        } else {
            for (int i = 0; i < n; i++) {
                sum += Math.exp((logits[off + i] - max) / temperature);
            }
        }
        // nucleus: keep the smallest prefix whose mass reaches top_p (top_p = 1 keeps every candidate)
        int keep = candidates;
        double kept = sum;
        if (topP < 1f) {
            double mass = 0;
            kept = 0;
            for (int r = 0; r < candidates; r++) {
                order(r + 1, logits, off);
                mass += probs[r] / sum;
                kept += probs[r];
                if (mass >= topP) {
                    keep = r + 1;
                    break;
                }
            }
        }
        double u = random.nextDouble() * kept;
        for (int r = 0; r < keep; r++) {
            order(r + 1, logits, off);
            u -= probs[r];
            if (u < 0) {
                return (int) keys[r];
            }
        }
        order(keep, logits, off);                                // rounding left u >= 0: the last kept candidate
        return (int) keys[keep - 1];
    }

    /**
     * Puts at least the first {@code upTo} candidates in order, with their probabilities. While fewer than
     * {@value #DEEP} are, the next ones come from one pass over the logits through a heap at the end of the
     * sorted keys ({@link KeySort#offer}; 256 first, then four times as many as are in order); past that, the
     * walk is deep (flat logits) and the rest is written out once and sorted. The order is total (ties by id),
     * so each pass takes exactly the keys after the last one in order.
     */
    private void order(int upTo, float[] logits, int off) {
        if (upTo <= sorted) {
            return;
        }
        int from = sorted, to;
        long after = from == 0 ? 0 : keys[from - 1];
        if (from < DEEP) {
            to = Math.min(candidates, Math.max(upTo, Math.max(4 * from, FIRST)));
            int size = 0;
            for (int i = 0; i < vocab; i++) {
                long k = KeySort.descending(logits[off + i], i);
                if (from == 0 || k > after) {
                    size = KeySort.offer(keys, from, size, to - from, k);
                }
            }
            KeySort.sortHeap(keys, from, size);
        } else {
            int rest = from;
            for (int i = 0; i < vocab; i++) {
                long k = KeySort.descending(logits[off + i], i);
                if (k > after) {
                    keys[rest++] = k;
                }
            }
            to = candidates;
            KeySort.smallest(keys, from, rest, to - from);
        }
        if (from == 0) {
            max = logits[off + (int) keys[0]];
        }
        for (int r = from; r < to; r++) {
            probs[r] = Math.exp((logits[off + (int) keys[r]] - max) / temperature);
        }
        sorted = to;
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

    /**
     * The {@code ids.length} largest logits' ids, descending (ties: lower id first), -1 past the vocabulary's
     * size: one pass through a heap of that many keys ({@link KeySort#offer}), where picking them one by one, as
     * this did before, took one pass each (20 passes over 129,280 logits for top_logprobs = 20).
     */
    public static void top(float[] logits, int off, int n, int[] ids) {
        long[] heap = new long[ids.length];
        int size = 0;
        for (int i = 0; i < n; i++) {
            size = KeySort.offer(heap, 0, size, ids.length, KeySort.descending(logits[off + i], i));
        }
        KeySort.sortHeap(heap, 0, size);
        for (int s = 0; s < ids.length; s++) {
            ids[s] = s < size ? (int) heap[s] : -1;
        }
    }
}
