package dev.moe4j.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;

import org.junit.jupiter.api.Test;

/** The indexer's vector scoring ({@link Indexer#scores}) against its scalar twin, bit for bit. */
class IndexerTest {

    @Test
    void vectorScoresAreTheScalarScoresBitForBit() {
        Random r = new Random(31);
        int cases = 0;
        for (Numerics num : new Numerics[] {Numerics.OFFICIAL, Numerics.FLOAT}) {
            for (int heads : new int[] {3, 16, 20, 64}) {
                for (int dim : new int[] {32, 128}) {
                    int n = 23;
                    float[] q = gaussian(r, heads * dim, 1), w = gaussian(r, heads + 3, 0.5f);
                    float[] k = gaussian(r, n * dim, 1);
                    k[7 * dim + 5] = Float.NaN;                                  // one entry's score is NaN
                    for (int i = 0; i < dim; i++) {
                        k[11 * dim + i] = 0f;                                    // one scores exactly 0
                    }
                    int hp = Indexer.paddedHeads(heads);
                    float[] qT = new float[hp * dim], wT = new float[hp];
                    Indexer.transpose(q, 0, w, 3, heads, dim, qT, wT);
                    for (int[] range : new int[][] {{0, n}, {3, 17}, {5, 5}, {21, 23}}) {
                        long[] got = new long[n];
                        Indexer.scores(qT, wT, heads, dim, k, range[0], range[1], num, got);
                        for (int j = range[0]; j < range[1]; j++) {
                            float want = Indexer.score(q, 0, w, 3, heads, dim, k, j * dim, num);
                            assertEquals(Indexer.key(want, j), got[j], num.name() + ", " + heads + " heads of " + dim
                                    + ", entry " + j + " (score " + want + ")");
                            cases++;
                        }
                    }
                }
            }
        }
        assertTrue(cases > 400);
    }

    /**
     * The head sum and the final rounding hide the last bits of a dot; with one head weighted 1 and the rest
     * 0, the score is that head's relu(dot) itself: float numerics then show the dot's summation (not an FMA),
     * and official numerics, with dots exactly halfway between two bf16 values, the round-to-even.
     */
    @Test
    void oneWeightedHeadShowsTheDotAndItsRounding() {
        Random r = new Random(32);
        int heads = 24, dim = 64, n = 9, hp = Indexer.paddedHeads(heads);
        float[] k = gaussian(r, n * dim, 1), q = gaussian(r, heads * dim, 1), qT = new float[hp * dim];
        for (int hot = 0; hot < heads; hot += 5) {
            float[] w = new float[heads];
            w[hot] = 1f;
            same(q, qT, w, heads, dim, k, n, Numerics.FLOAT, "float, head " + hot);
        }
        // entry j = e_0: the dot is q_h[0], here 1 + (2h + 1)·2^-8, halfway between bf16 neighbours
        float[] e0 = new float[n * dim];
        for (int j = 0; j < n; j++) {
            e0[j * dim] = 1f;
        }
        for (int h = 0; h < heads; h++) {
            q[h * dim] = 1f + (2 * h + 1) * 0x1p-8f;
        }
        for (int hot = 0; hot < heads; hot += 3) {
            float[] w = new float[heads];
            w[hot] = 1f;
            same(q, qT, w, heads, dim, e0, n, Numerics.OFFICIAL, "official ties, head " + hot);
        }
    }

    private static void same(float[] q, float[] qT, float[] w, int heads, int dim, float[] k, int n, Numerics num,
                             String what) {
        long[] got = new long[n];
        float[] wT = new float[Indexer.paddedHeads(heads)];
        Indexer.transpose(q, 0, w, 0, heads, dim, qT, wT);
        Indexer.scores(qT, wT, heads, dim, k, 0, n, num, got);
        for (int j = 0; j < n; j++) {
            assertEquals(Indexer.key(Indexer.score(q, 0, w, 0, heads, dim, k, j * dim, num), j), got[j],
                    what + ", entry " + j);
        }
    }

    @Test
    void paddedHeadsAreWholeVectors() {
        int lanes = jdk.incubator.vector.FloatVector.SPECIES_PREFERRED.length();
        assertEquals(lanes, Indexer.paddedHeads(3));
        assertEquals(64, Indexer.paddedHeads(64));
        assertEquals(2 * lanes, Indexer.paddedHeads(lanes + 1));
    }

    private static float[] gaussian(Random r, int n, float scale) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) r.nextGaussian() * scale;
        }
        return x;
    }
}
