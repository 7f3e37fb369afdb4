package dev.moe4j.model;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.moe4j.io.CheckpointException;
import dev.moe4j.io.CheckpointException.Kind;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The fields of an official DeepSeek V4 {@code config.json} (Hugging Face names), parsed once and
 * validated as untrusted input: every size is bounded so that products of them cannot overflow and
 * nothing is allocated from a config before it passed here. Names follow the official
 * {@code ModelArgs} of {@code inference/model.py}.
 */
public record V4Config(
        int vocabSize, int dim, int moeInterDim, int nLayers, int nHashLayers, int nMtpLayers,
        int nHeads, int nRoutedExperts, int nSharedExperts, int nActivatedExperts, float routeScale,
        float swigluLimit, int qLoraRank, int headDim, int ropeHeadDim, float normEps, int oGroups,
        int oLoraRank, int windowSize, int[] compressRatios, double compressRopeTheta, double ropeTheta,
        int originalSeqLen, double ropeFactor, double betaFast, double betaSlow, int indexNHeads,
        int indexHeadDim, int indexTopk, int hcMult, int hcSinkhornIters, float hcEps, String expertDtype,
        int bosTokenId, int eosTokenId, long maxPositionEmbeddings) {

    /** Activation quantisation block of the FP8/FP4 GEMMs (official {@code block_size = 128}). */
    public static final int QUANT_BLOCK = 128;
    /** FP8 fake-quant block of the non-RoPE KV dims. */
    public static final int KV_QUANT_BLOCK = 64;
    /** FP4 fake-quant block of the indexer q/k. */
    public static final int FP4_BLOCK = 32;

    private static final ObjectMapper JSON = new ObjectMapper();

    /** The same config with the expert dtype decided from the checkpoint's tensors. */
    public V4Config withExpertDtype(String dtype) {
        return new V4Config(vocabSize, dim, moeInterDim, nLayers, nHashLayers, nMtpLayers, nHeads, nRoutedExperts,
                nSharedExperts, nActivatedExperts, routeScale, swigluLimit, qLoraRank, headDim, ropeHeadDim, normEps,
                oGroups, oLoraRank, windowSize, compressRatios, compressRopeTheta, ropeTheta, originalSeqLen, ropeFactor,
                betaFast, betaSlow, indexNHeads, indexHeadDim, indexTopk, hcMult, hcSinkhornIters, hcEps, dtype,
                bosTokenId, eosTokenId, maxPositionEmbeddings);
    }

    public V4Config {
        compressRatios = compressRatios.clone();
    }

    @Override
    public int[] compressRatios() {
        return compressRatios.clone();
    }

    /** Compression ratio of layer {@code id} (ids ≥ nLayers are MTP layers); 0 = sliding window only. */
    public int compressRatio(int layerId) {
        return compressRatios[layerId];
    }

    /** (2 + hc) · hc mixing coefficients per mHC site: pre, post and the hc×hc combination matrix. */
    public int mixHc() {
        return (2 + hcMult) * hcMult;
    }

    /**
     * FP4 routed experts (the V4 release) or FP8 ({@code expert_dtype: fp8}, the Base layout). The
     * first V4 upload's config had no {@code expert_dtype}: {@link ModelSource} then decides from the
     * expert tensors' dtype, and a bare config means the release layout, FP4.
     */
    public boolean fp4Experts() {
        return !"fp8".equals(expertDtype);
    }

    /** Parses and validates a config.json text; {@code file} is named in errors. */
    public static V4Config parse(String json, Path file) {
        JsonNode c;
        try {
            c = JSON.readTree(json);
        } catch (JsonProcessingException e) {
            throw new CheckpointException(Kind.JSON, file, null,
                    "config is not valid JSON: " + e.getOriginalMessage());
        }
        if (c == null || !c.isObject()) {
            throw new CheckpointException(Kind.JSON, file, null, "config must be a JSON object");
        }
        return new Reader(c, file).read();
    }

    private static final class Reader {
        private final JsonNode c;
        private final Path file;

        Reader(JsonNode c, Path file) {
            this.c = c;
            this.file = file;
        }

        private CheckpointException bad(String field, String why) {
            return new CheckpointException(Kind.CONFIG, file, null, "config field '" + field + "' " + why);
        }

        private JsonNode node(String field) {
            JsonNode n = c.get(field);
            if (n == null || n.isNull()) {
                throw bad(field, "is missing");
            }
            return n;
        }

        private long integer(JsonNode n, String field) {
            if (!n.isIntegralNumber() || !n.canConvertToLong()) {
                throw bad(field, "must be an integer, got " + n);
            }
            return n.longValue();
        }

        int i(String field, long min, long max) {
            return (int) ranged(integer(node(field), field), field, min, max);
        }

        int i(String field, long min, long max, int dflt) {
            JsonNode n = c.get(field);
            return n == null || n.isNull() ? dflt : (int) ranged(integer(n, field), field, min, max);
        }

        private long ranged(long v, String field, long min, long max) {
            if (v < min || v > max) {
                throw bad(field, "is " + v + ", outside the supported range [" + min + ", " + max + "]");
            }
            return v;
        }

        double d(JsonNode n, String field, double min, double max) {
            if (!n.isNumber()) {
                throw bad(field, "must be a number, got " + n);
            }
            double v = n.doubleValue();
            if (!(v >= min && v <= max)) {
                throw bad(field, "is " + v + ", outside the supported range [" + min + ", " + max + "]");
            }
            return v;
        }

        double d(String field, double min, double max) {
            return d(node(field), field, min, max);
        }

        double d(String field, double min, double max, double dflt) {
            JsonNode n = c.get(field);
            return n == null || n.isNull() ? dflt : d(n, field, min, max);
        }

        String s(String field, String dflt) {
            JsonNode n = c.get(field);
            if (n == null || n.isNull()) {
                return dflt;
            }
            if (!n.isTextual()) {
                throw bad(field, "must be a string, got " + n);
            }
            return n.asText();
        }

        V4Config read() {
            checkArchitecture();
            // Bounds: generous for any V4-family model (V4-Pro: dim 7168, 384 experts, 61 layers) yet small
            // enough that every product used for a buffer or a tensor size fits comfortably in a long.
            int vocab = i("vocab_size", 1, 1 << 22);
            int dim = i("hidden_size", 1, 1 << 16);
            int inter = i("moe_intermediate_size", 1, 1 << 17);
            int layers = i("num_hidden_layers", 1, 1024);
            int hashLayers = i("num_hash_layers", 0, layers, 0);
            int mtp = i("num_nextn_predict_layers", 0, 16, 1);
            int heads = i("num_attention_heads", 1, 1024);
            int experts = i("n_routed_experts", 1, 1 << 16);
            int shared = i("n_shared_experts", 1, 1, 1);
            int topk = i("num_experts_per_tok", 1, experts);
            int kvHeads = i("num_key_value_heads", 1, 1, 1);
            int qLora = i("q_lora_rank", 1, 1 << 16);
            int headDim = i("head_dim", 1, 1 << 14);
            int rope = i("qk_rope_head_dim", 2, headDim);
            int oGroups = i("o_groups", 1, heads);
            int oLora = i("o_lora_rank", 1, 1 << 16);
            int window = i("sliding_window", 1, 1 << 20);
            int idxHeads = i("index_n_heads", 1, 1024);
            int idxDim = i("index_head_dim", 1, 1 << 14);
            int idxTopk = i("index_topk", 1, 1 << 24);
            int hc = i("hc_mult", 1, 64);
            int iters = i("hc_sinkhorn_iters", 1, 1000);
            int bos = i("bos_token_id", 0, vocab - 1, 0);
            int eos = i("eos_token_id", 0, vocab - 1, 1);
            long maxPos = integer(c.has("max_position_embeddings") ? c.get("max_position_embeddings")
                    : JSON.getNodeFactory().numberNode(1L << 20), "max_position_embeddings");
            if (maxPos < 1) {
                throw bad("max_position_embeddings", "must be positive, got " + maxPos);
            }
            String score = s("scoring_func", "sqrtsoftplus");
            if (!score.equals("sqrtsoftplus")) {
                throw bad("scoring_func", "is '" + score + "'; DeepSeek V4 uses 'sqrtsoftplus'");
            }
            if (c.has("tie_word_embeddings") && c.get("tie_word_embeddings").asBoolean(false)) {
                throw bad("tie_word_embeddings", "is true; V4 has an untied head");
            }
            String expertDtype = s("expert_dtype", null);
            if (expertDtype != null && !expertDtype.equals("fp4") && !expertDtype.equals("fp8")) {
                throw bad("expert_dtype", "is '" + expertDtype + "'; expected 'fp4' or 'fp8'");
            }
            JsonNode cr = node("compress_ratios");
            if (!cr.isArray()) {
                throw bad("compress_ratios", "must be an array");
            }
            if (cr.size() < layers + mtp) {
                throw bad("compress_ratios", "has " + cr.size() + " entries; needs num_hidden_layers + "
                        + "num_nextn_predict_layers = " + (layers + mtp));
            }
            List<Integer> ratios = new ArrayList<>();
            for (int k = 0; k < cr.size(); k++) {
                ratios.add((int) ranged(integer(cr.get(k), "compress_ratios[" + k + "]"),
                        "compress_ratios[" + k + "]", 0, 1 << 20));
            }
            JsonNode rs = c.get("rope_scaling");
            int orig = 0;
            double factor = 1, bf = 32, bs = 1;
            if (rs != null && rs.isObject()) {
                if (rs.has("original_max_position_embeddings")) {
                    orig = (int) ranged(integer(rs.get("original_max_position_embeddings"),
                            "rope_scaling.original_max_position_embeddings"),
                            "rope_scaling.original_max_position_embeddings", 0, 1L << 30);
                }
                if (rs.has("factor")) factor = d(rs.get("factor"), "rope_scaling.factor", 1, 1e6);
                if (rs.has("beta_fast")) bf = d(rs.get("beta_fast"), "rope_scaling.beta_fast", 1e-6, 1e6);
                if (rs.has("beta_slow")) bs = d(rs.get("beta_slow"), "rope_scaling.beta_slow", 1e-6, 1e6);
            }
            // shape rules of the official code
            if (rope % 2 != 0) throw bad("qk_rope_head_dim", "must be even (rotation pairs), got " + rope);
            if (rope >= headDim) throw bad("qk_rope_head_dim", "must be smaller than head_dim " + headDim);
            if ((headDim - rope) % KV_QUANT_BLOCK != 0) {
                throw bad("head_dim", "minus qk_rope_head_dim must be a multiple of " + KV_QUANT_BLOCK
                        + " (FP8 KV blocks), got " + (headDim - rope));
            }
            if (heads % oGroups != 0) throw bad("o_groups", oGroups + " does not divide num_attention_heads " + heads);
            for (String[] f : new String[][]{{"hidden_size", "" + dim}, {"q_lora_rank", "" + qLora},
                    {"moe_intermediate_size", "" + inter}, {"o_lora_rank", "" + oLora}}) {
                if (Integer.parseInt(f[1]) % QUANT_BLOCK != 0) {
                    throw bad(f[0], "must be a multiple of " + QUANT_BLOCK + " (FP8 activation blocks), got " + f[1]);
                }
            }
            boolean anyCsa = false;
            for (int k = 0; k < layers + mtp; k++) {
                anyCsa |= ratios.get(k) == 4;
            }
            if (anyCsa) {
                // Hadamard needs a power of two, FP4 fake-quant blocks of 32; RoPE may cover the whole head
                if (Integer.bitCount(idxDim) != 1 || idxDim < FP4_BLOCK || idxDim < rope) {
                    throw bad("index_head_dim", "must be a power of two ≥ 32 and ≥ qk_rope_head_dim, got " + idxDim);
                }
            }
            return new V4Config(vocab, dim, inter, layers, hashLayers, mtp, heads, experts, shared, topk,
                    (float) d("routed_scaling_factor", 0, 1e6, 1.0), (float) d("swiglu_limit", 0, 1e9, 0.0),
                    qLora, headDim, rope, (float) d("rms_norm_eps", 0, 1, 1e-6), oGroups, oLora, window,
                    ratios.stream().mapToInt(Integer::intValue).toArray(),
                    d("compress_rope_theta", 1, 1e12, 160000), d("rope_theta", 1, 1e12, 10000), orig, factor, bf, bs,
                    idxHeads, idxDim, idxTopk, hc, iters, (float) d("hc_eps", 0, 1, 1e-6), expertDtype, bos, eos,
                    maxPos);
        }

        private void checkArchitecture() {
            JsonNode arch = c.get("architectures");
            String type = s("model_type", "");
            boolean ok = type.equals("deepseek_v4");
            if (arch != null && arch.isArray()) {
                for (JsonNode a : arch) {
                    ok |= a.asText().equals("DeepseekV4ForCausalLM");
                }
            }
            if (!ok) {
                throw new CheckpointException(Kind.ARCHITECTURE, file, null, "unsupported architecture "
                        + (arch == null ? "(none given)" : arch.toString()) + " / model_type '" + type
                        + "'; moe4j runs DeepseekV4ForCausalLM (model_type deepseek_v4)");
            }
        }
    }
}
