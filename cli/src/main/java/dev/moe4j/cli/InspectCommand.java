package dev.moe4j.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.moe4j.model.ModelSource;
import dev.moe4j.model.V4Config;
import dev.moe4j.model.V4Layout;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code moe4j inspect}: what a V4 checkpoint (or a bare config.json directory) holds and costs. */
@Command(name = "inspect", mixinStandardHelpOptions = true, description = "Summarise a V4 checkpoint or config.")
final class InspectCommand implements Callable<Integer> {

    @Option(names = "--model", paramLabel = "DIR|demo", defaultValue = "demo",
            description = "A checkpoint directory (weights optional: config.json alone works), or 'demo'.")
    String model;

    @Option(names = "--json", description = "Print one JSON object.")
    boolean json;

    @Override
    public Integer call() throws Exception {
        Map<String, Object> r;
        try (ModelSource src = ModelSource.open(model)) {
            r = summary(src);
        }
        if (json) {
            System.out.println(new ObjectMapper().writeValueAsString(r));
        } else {
            int width = r.keySet().stream().mapToInt(String::length).max().orElse(0);
            r.forEach((k, v) -> System.out.printf("%-" + width + "s  %s%n", k.replace('_', ' '), human(k, v)));
        }
        return 0;
    }

    /** Grouped digits, with billions / GB spelled out for the big counts. */
    private static String human(String key, Object v) {
        if (v instanceof Long || v instanceof Integer) {
            long n = ((Number) v).longValue();
            String s = String.format("%,d", n);
            if (key.contains("bytes") && n >= 1_000_000) {
                return s + String.format(" (%.2f GB)", n / 1e9);
            }
            if (key.contains("parameters") && n >= 1_000_000) {
                return s + String.format(" (%.2f B)", n / 1e9);
            }
            return s;
        }
        if (v instanceof Double d) {
            return String.format("%,.2f", d);
        }
        return String.valueOf(v);
    }

    static Map<String, Object> summary(ModelSource src) {
        V4Config c = src.config();
        V4Layout layout = new V4Layout(c);
        int swa = 0, csa = 0, hca = 0;
        for (int i = 0; i < c.nLayers(); i++) {
            int ratio = c.compressRatio(i);
            if (ratio == 0) swa++;
            else if (ratio == 4) csa++;
            else hca++;
        }
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("model", src.name());
        r.put("architecture", "DeepseekV4ForCausalLM");
        r.put("layers", c.nLayers());
        r.put("layers_sliding_window", swa);
        r.put("layers_csa", csa);
        r.put("layers_hca", hca);
        r.put("mtp_layers", c.nMtpLayers());
        r.put("hidden_size", c.dim());
        r.put("heads", c.nHeads());
        r.put("head_dim", c.headDim());
        r.put("routed_experts", c.nRoutedExperts());
        r.put("experts_per_token", c.nActivatedExperts());
        r.put("expert_dtype", c.fp4Experts() ? "fp4" : "fp8");
        r.put("vocab_size", c.vocabSize());
        r.put("sliding_window", c.windowSize());
        r.put("max_position_embeddings", c.maxPositionEmbeddings());
        r.put("tensors", layout.tensorCount());
        r.put("tensors_in_files", src.tensors().names().size());
        r.put("parameters", layout.parameters());
        r.put("mtp_parameters", layout.mtpParameters());
        r.put("activated_parameters", layout.activatedParameters());
        r.put("weight_bytes", layout.totalBytes());
        r.put("bytes_on_disk", src.bytesOnDisk());
        r.put("decode_weight_bytes_per_token", layout.decodeBytesPerToken(false));
        r.put("kv_bytes_per_token", KvCost.engineBytesPerToken(c));
        r.put("kv_bytes_per_token_fp8_layout", KvCost.fp8LayoutBytesPerToken(c));
        r.put("window_bytes_per_sequence", KvCost.windowBytes(c));
        return r;
    }

    /** Cache cost per token of context, averaged over a long sequence (dossier §7.10-11). */
    static final class KvCost {
        private KvCost() {
        }

        /** moe4j's caches hold float32: a compressed entry is head_dim floats, an indexer key index_head_dim floats. */
        static double engineBytesPerToken(V4Config c) {
            double b = 0;
            for (int i = 0; i < c.nLayers(); i++) {
                int r = c.compressRatio(i);
                if (r > 0) {
                    b += 4.0 * c.headDim() / r;
                    if (r == 4) {
                        b += 4.0 * c.indexHeadDim() / r;
                    }
                }
            }
            return b;
        }

        /** The production layout (vLLM fp8_ds_mla): 584 B per 512-wide entry, FP4 indexer keys of 68 B. */
        static double fp8LayoutBytesPerToken(V4Config c) {
            double entry = (c.headDim() - c.ropeHeadDim()) + 2.0 * c.ropeHeadDim() + (c.headDim() - c.ropeHeadDim()) / 64.0 + 1;
            double key = c.indexHeadDim() / 2.0 + c.indexHeadDim() / 32.0;
            double b = 0;
            for (int i = 0; i < c.nLayers(); i++) {
                int r = c.compressRatio(i);
                if (r > 0) {
                    b += entry / r + (r == 4 ? key / r : 0);
                }
            }
            return b;
        }

        /** The fixed sliding window of every layer, float32. */
        static long windowBytes(V4Config c) {
            return 4L * c.windowSize() * c.headDim() * (c.nLayers() + c.nMtpLayers());
        }
    }
}
