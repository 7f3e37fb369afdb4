package dev.moe4j.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.management.ManagementFactory;
import java.util.Arrays;
import java.util.Random;
import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;

/** {@link Sampler}, which puts candidates in order only as far as a draw needs, against a naive full sort. */
class SamplerTest {

    /**
     * The documented rule written plainly: every candidate sorted by descending logit (ties: lower id), the
     * softmax normaliser summed in that order over the top-k or, without top-k, over the vocabulary in id
     * order; the nucleus as the shortest prefix reaching top-p (all of it at top-p 1); one uniform draw.
     */
    private static int naive(float[] logits, float t, float topP, int topK, SplittableRandom random) {
        int n = logits.length;
        Integer[] ids = new Integer[n];
        for (int i = 0; i < n; i++) {
            ids[i] = i;
        }
        Arrays.sort(ids, (a, b) -> logits[a] != logits[b] ? Float.compare(logits[b], logits[a]) : a - b);
        int m = topK > 0 ? Math.min(topK, n) : n;
        double max = logits[ids[0]], sum = 0;
        double[] p = new double[n];
        for (int r = 0; r < n; r++) {
            p[r] = Math.exp((logits[ids[r]] - max) / t);
        }
        if (m < n) {
            for (int r = 0; r < m; r++) {
                sum += p[r];
            }
        } else {
            for (int i = 0; i < n; i++) {
                sum += Math.exp((logits[i] - max) / t);
            }
        }
        int keep = m;
        double kept = sum;
        if (topP < 1f) {
            double mass = 0;
            kept = 0;
            for (int r = 0; r < m; r++) {
                mass += p[r] / sum;
                kept += p[r];
                if (mass >= topP) {
                    keep = r + 1;
                    break;
                }
            }
        }
        double u = random.nextDouble() * kept;
        for (int r = 0; r < keep; r++) {
            u -= p[r];
            if (u < 0) {
                return ids[r];
            }
        }
        return ids[keep - 1];
    }

    /** Peaked logits (a few likely tokens), flat ones (the draw walks past hundreds), and ties. */
    private static float[] logits(int kind, int n, Random r) {
        float[] l = new float[n];
        for (int i = 0; i < n; i++) {
            l[i] = switch (kind) {
                case 0 -> (float) (r.nextGaussian() * 4);
                case 1 -> (float) (r.nextGaussian() * 0.05);
                default -> r.nextInt(5);
            };
        }
        return l;
    }

    /** {@code draws} draws of the sampler against the naive rule; returns how many ranked {@code deep} or lower. */
    private static int compare(float[] l, float t, float topP, int topK, long seed, int draws, int deep) {
        Sampler s = new Sampler(l.length + 5, t, topP, topK, seed);
        SplittableRandom ref = new SplittableRandom(seed);
        float[] padded = new float[l.length + 5];                                // the logits at an offset
        System.arraycopy(l, 0, padded, 5, l.length);
        int n = 0;
        for (int d = 0; d < draws; d++) {
            int want = naive(l, t, topP, topK, ref);
            int got = s.sample(padded, 5, l.length);
            assertEquals(want, got, "T " + t + ", top_p " + topP + ", top_k " + topK + ", draw " + d);
            n += rank(l, got) >= deep ? 1 : 0;
        }
        return n;
    }

    @Test
    void drawsWhatTheNaiveFullSortDraws() {
        Random r = new Random(21);
        int deep = 0;
        for (int kind = 0; kind < 3; kind++) {
            for (float t : new float[] {0.3f, 1f, 1.7f}) {
                for (float topP : new float[] {1f, 0.95f, 0.5f, 0.05f}) {
                    for (int topK : new int[] {0, 1, 7, 300, 5000}) {
                        deep += compare(logits(kind, 3000, r), t, topP, topK, r.nextLong(), 40, 256);
                    }
                }
            }
        }
        // the flat logits must have sent draws past the first pass's 256, or the further passes went untested
        assertTrue(deep > 100, deep + " draws ranked 256th or lower");
    }

    /** Past 4096 candidates in order the sampler sorts the rest: flat logits over 20,000 tokens walk that deep. */
    @Test
    void deepDrawsOverALargeVocabulary() {
        Random r = new Random(25);
        int deep = 0;
        for (float topP : new float[] {1f, 0.9f}) {
            for (int topK : new int[] {0, 9000}) {
                deep += compare(logits(1, 20_000, r), 1f, topP, topK, r.nextLong(), 12, 4096);
                compare(logits(0, 20_000, r), 1f, topP, topK, r.nextLong(), 12, 4096);
            }
        }
        assertTrue(deep > 10, deep + " draws ranked 4096th or lower");
    }

    private static int rank(float[] l, int id) {
        int rank = 0;
        for (int i = 0; i < l.length; i++) {
            rank += l[i] > l[id] || (l[i] == l[id] && i < id) ? 1 : 0;
        }
        return rank;
    }

    @Test
    void topListsTheLargestLogitsInOrder() {
        Random r = new Random(24);
        for (int kind = 0; kind < 3; kind++) {
            for (int k : new int[] {0, 1, 5, 20, 3003}) {
                float[] l = logits(kind, 3000, r);
                Integer[] all = new Integer[l.length];
                for (int i = 0; i < l.length; i++) {
                    all[i] = i;
                }
                Arrays.sort(all, (a, b) -> l[a] != l[b] ? Float.compare(l[b], l[a]) : a - b);
                int[] want = new int[k];
                for (int s = 0; s < k; s++) {
                    want[s] = s < l.length ? all[s] : -1;
                }
                float[] padded = new float[l.length + 2];
                System.arraycopy(l, 0, padded, 2, l.length);
                int[] got = new int[k];
                Sampler.top(padded, 2, l.length, got);
                assertArrayEquals(want, got, "kind " + kind + ", k " + k);
            }
        }
    }

    @Test
    void greedyTakesTheLowestIdAmongEqualMaxima() {
        Sampler s = new Sampler(6, 0f, 1f, 0, 1);
        assertEquals(2, s.sample(new float[] {1, 3, 5, 5, 2, 5}, 0, 6));
        assertEquals(1, s.sample(new float[] {9, 2, 5, 5}, 1, 3));                 // ids relative to the offset
    }

    @Test
    void topKOneIsGreedy() {
        Random r = new Random(22);
        float[] l = logits(0, 2000, r);
        Sampler s = new Sampler(l.length, 1.3f, 1f, 1, 5);
        for (int d = 0; d < 20; d++) {
            assertEquals(Sampler.argmax(l, 0, l.length), s.sample(l, 0, l.length));
        }
    }

    @Test
    void samplingAllocatesNothing() {
        Random r = new Random(23);
        float[] l = logits(1, 129_280, r);                                   // V4's vocabulary, flat: deep draws
        Sampler s = new Sampler(l.length, 1f, 1f, 0, 7);
        for (int d = 0; d < 30; d++) {
            s.sample(l, 0, l.length);
        }
        var threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long id = Thread.currentThread().threadId(), before = threads.getThreadAllocatedBytes(id);
        for (int d = 0; d < 20; d++) {
            s.sample(l, 0, l.length);
        }
        long full = threads.getThreadAllocatedBytes(id) - before;
        s.configure(0.8f, 0.9f, 40, 8);                                       // top-k and top-p
        before = threads.getThreadAllocatedBytes(id);
        for (int d = 0; d < 20; d++) {
            s.sample(l, 0, l.length);
        }
        long cut = threads.getThreadAllocatedBytes(id) - before;
        assertEquals(0, full, "bytes allocated by 20 draws over the whole vocabulary");
        assertEquals(0, cut, "bytes allocated by 20 draws with top-k 40, top-p 0.9");
    }
}
