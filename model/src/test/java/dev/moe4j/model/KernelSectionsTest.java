package dev.moe4j.model;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;

import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The model's building blocks against the kernel goldens ({@code shared/fixtures/kernels}): routing,
 * SwiGLU, sparse attention (exact and TileLang), compressor pooling, indexer scores and top-k.
 * The fixture is float64 and our kernels take float32 inputs, hence the stated tolerances.
 */
class KernelSectionsTest {

    private static void close(double[] want, float[] got, double tol, String what) {
        assertEquals(want.length, got.length, what + " length");
        for (int i = 0; i < want.length; i++) {
            assertEquals(want[i], got[i], tol * Math.max(1, Math.abs(want[i])), what + " [" + i + "]");
        }
    }

    @Test
    void routing() {
        JsonNode r = KernelGoldens.section("routing");
        int e = r.get("n_experts").asInt(), k = r.get("top_k").asInt();
        float scale = (float) r.get("routed_scaling_factor").asDouble();
        float[] s = KernelGoldens.floats(r.get("logits"));
        Moe.sqrtSoftplus(s, 0, e);
        close(KernelGoldens.doubles(r.get("scores")), s, 1e-6, "scores");
        int[] sel = new int[k];
        Moe.topk(s, 0, KernelGoldens.floats(r.get("bias")), e, k, sel, 0);
        assertArrayEquals(GoldenInts.of(r.get("selected")), sel);
        float[] w = new float[k];
        Moe.weights(s, 0, sel, 0, k, scale, w, 0);
        close(KernelGoldens.doubles(r.get("weights")), w, 1e-6, "weights");
        double sum = 0;
        for (float x : w) sum += x;
        assertEquals(scale, sum, 1e-5, "weights sum to routed_scaling_factor (dossier §7.13)");
        JsonNode hash = r.get("hash_example");
        int[] row = GoldenInts.of(hash.get("tid2eid_row"));
        Moe.weights(s, 0, row, 0, row.length, scale, w, 0);
        close(KernelGoldens.doubles(hash.get("weights")), w, 1e-6, "hash weights");
        JsonNode sw = r.get("swiglu_example");
        double[] g = KernelGoldens.doubles(sw.get("gate")), u = KernelGoldens.doubles(sw.get("up")), h = KernelGoldens.doubles(sw.get("h"));
        for (int i = 0; i < g.length; i++) {
            assertEquals(h[i], Moe.swiglu(g[i], u[i], 10f), 1e-12 * Math.max(1, Math.abs(h[i])), "swiglu " + i);
        }
    }

    @Test
    void sparseAttention() {
        JsonNode a = KernelGoldens.section("sparse_attention");
        JsonNode q = a.get("q"), kv = a.get("kv");
        int heads = q.size(), d = q.get(0).size();
        int[] idx = GoldenInts.of(a.get("indices"));
        float[][] rows = new float[idx.length][];
        int[] off = new int[idx.length];
        for (int c = 0; c < idx.length; c++) {
            rows[c] = idx[c] < 0 ? null : KernelGoldens.floats(kv.get(idx[c]));
        }
        float scale = (float) a.get("softmax_scale_f32").asDouble();
        assertEquals(scale, (float) (1 / Math.sqrt(d)));
        float[] sink = KernelGoldens.floats(a.get("attn_sink"));
        for (boolean tilelang : new boolean[]{false, true}) {
            for (int h = 0; h < heads; h++) {
                float[] o = new float[d];
                SparseAttention.attend(KernelGoldens.floats(q.get(h)), 0, d, rows, off, idx.length, scale, sink[h], tilelang,
                        new float[idx.length], 0, new double[d], 0, o, 0);
                double[] want = KernelGoldens.doubles(a.get(tilelang ? "out_tilelang" : "out_exact").get(h));
                // the golden rounds the output to bf16 (half an ulp ≈ 2e-3 relative); ours before rounding
                close(want, o, 4e-3, (tilelang ? "tilelang" : "exact") + " head " + h);
                float[] ov = new float[d];
                SparseAttention.attendVector(KernelGoldens.floats(q.get(h)), 0, d, rows, off, idx.length, scale, sink[h],
                        tilelang, new float[idx.length], 0, new float[d], 0, ov, 0);
                close(want, ov, 4e-3, "vector " + (tilelang ? "tilelang" : "exact") + " head " + h);
            }
        }
    }

    /** The vector twin against the scalar one on random heads: masks, several tiles, a width not of whole vectors. */
    @Test
    void sparseAttentionVectorMatchesScalar() {
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(11);
        for (int d : new int[]{64, 72, 512}) {
            for (int nc : new int[]{1, 63, 150}) {
                float[] q = new float[d + 5];
                for (int i = 0; i < q.length; i++) {
                    q[i] = (float) rnd.nextGaussian();
                }
                float[] kv = new float[nc * d + 3];
                for (int i = 0; i < kv.length; i++) {
                    kv[i] = (float) rnd.nextGaussian();
                }
                float[][] rows = new float[nc][];
                int[] off = new int[nc];
                for (int c = 0; c < nc; c++) {
                    rows[c] = c % 7 == 3 ? null : kv;                       // some masked entries
                    off[c] = 3 + c * d;
                }
                for (boolean tilelang : new boolean[]{false, true}) {
                    float[] want = new float[d + 2], got = new float[d + 2];
                    float scale = (float) (1 / Math.sqrt(d));
                    SparseAttention.attend(q, 5, d, rows, off, nc, scale, 0.3f, tilelang, new float[nc + 4], 4,
                            new double[d + 1], 1, want, 2);
                    SparseAttention.attendVector(q, 5, d, rows, off, nc, scale, 0.3f, tilelang, new float[nc + 4], 4,
                            new float[d + 1], 1, got, 2);
                    double[] w = new double[d + 2];
                    for (int i = 0; i < w.length; i++) {
                        w[i] = want[i];
                    }
                    assertEquals(0f, got[0], "nothing written before the output");
                    close(w, got, 1e-5, "d " + d + " nc " + nc + (tilelang ? " tilelang" : " exact"));
                }
            }
        }
    }

    @Test
    void compressorPooling() {
        JsonNode c = KernelGoldens.section("compressor_pooling");
        JsonNode r4 = c.get("ratio4_overlap");
        int hd = r4.get("head_dim").asInt();
        float[][] kv = rows(r4.get("kv_tokens_0_7")), sc = rows(r4.get("score_tokens_0_7_without_ape"));
        float[][] ape = rows(r4.get("ape"));
        // feed the state as the engine does: rows [4, 8) the current group, rows [0, 4) the previous one
        int cw = 2 * hd;
        float[] kvState = new float[8 * cw], scoreState = new float[8 * cw];
        Arrays.fill(scoreState, Float.NEGATIVE_INFINITY);
        float[] out = new float[hd];
        for (int t = 0; t < 8; t++) {
            int row = 4 + t % 4;
            for (int i = 0; i < cw; i++) {
                kvState[row * cw + i] = kv[t][i];
                scoreState[row * cw + i] = sc[t][i] + ape[t % 4][i];
            }
            if (t % 4 == 3) {
                Compressor.pool(kvState, scoreState, 4, hd, true, out, 0);
                close(KernelGoldens.doubles(r4.get("entry" + t / 4)), out, 1e-6, "ratio 4 entry " + t / 4);
                System.arraycopy(kvState, 4 * cw, kvState, 0, 4 * cw);
                System.arraycopy(scoreState, 4 * cw, scoreState, 0, 4 * cw);
            }
        }
        JsonNode r16 = c.get("ratio16");
        int w = r16.get("head_dim").asInt();
        float[][] k16 = rows(r16.get("kv_tokens_0_15")), s16 = rows(r16.get("score_tokens_0_15_without_ape")), a16 = rows(r16.get("ape"));
        float[] kvs = new float[16 * w], scs = new float[16 * w];
        for (int t = 0; t < 16; t++) {
            for (int i = 0; i < w; i++) {
                kvs[t * w + i] = k16[t][i];
                scs[t * w + i] = s16[t][i] + a16[t][i];
            }
        }
        float[] o16 = new float[w];
        Compressor.pool(kvs, scs, 16, w, false, o16, 0);
        close(KernelGoldens.doubles(r16.get("entry0")), o16, 1e-6, "ratio 16 entry 0");
    }

    @Test
    void indexerScoresAndTies() {
        JsonNode x = KernelGoldens.section("indexer_score");
        JsonNode q = x.get("q"), kk = x.get("K");
        int heads = q.size(), dim = q.get(0).size();
        float[] qf = new float[heads * dim];
        for (int h = 0; h < heads; h++) System.arraycopy(KernelGoldens.floats(q.get(h)), 0, qf, h * dim, dim);
        float[] w = KernelGoldens.floats(x.get("w"));
        double[] want = KernelGoldens.doubles(x.get("score"));
        long[] keys = new long[kk.size()];
        for (int j = 0; j < kk.size(); j++) {
            float s = Indexer.score(qf, 0, w, 0, heads, dim, KernelGoldens.floats(kk.get(j)), 0, Numerics.OFFICIAL);
            assertEquals(want[j], s, 0.0, "bf16 score chain, entry " + j);
            keys[j] = Indexer.key(s, j);
        }
        Arrays.sort(keys);
        for (String t : new String[]{"top3", "top2"}) {
            int[] top = GoldenInts.of(x.get(t));
            for (int i = 0; i < top.length; i++) {
                assertEquals(top[i], Indexer.index(keys[i]), t + " rank " + i + " (ties: lower entry first)");
            }
        }
    }

    private static float[][] rows(JsonNode a) {
        float[][] r = new float[a.size()][];
        for (int i = 0; i < r.length; i++) r[i] = KernelGoldens.floats(a.get(i));
        return r;
    }

    /** Integer arrays of the fixture. */
    static final class GoldenInts {
        static int[] of(JsonNode a) {
            int[] r = new int[a.size()];
            for (int i = 0; i < r.length; i++) r[i] = a.get(i).asInt();
            return r;
        }
    }
}
