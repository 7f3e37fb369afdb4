package dev.moe4j.model;

import dev.moe4j.tensor.DType;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * Every tensor an official V4 checkpoint of a given config holds: name, dtype and shape, as
 * {@code inference/model.py} declares them (architecture dossier §3.3). One list serves shape
 * validation at load, synthetic weights, and the counts of {@code inspect} (dossier §7).
 */
public final class V4Layout {

    /** What a tensor is, for counting: scales and the hash table are not parameters. */
    public enum Role { PARAM, SCALE, INDEX }

    /** One tensor of the layout. {@code expert} is the routed expert index, or -1. */
    public record Spec(String name, DType dtype, long[] shape, Role role, boolean mtp, int expert) {
        public long numel() {
            long n = 1;
            for (long d : shape) {
                n = Math.multiplyExact(n, d);
            }
            return n;
        }

        public long bytes() {
            return Math.multiplyExact(numel(), dtype.byteSize());
        }

        /** Parameters: FP4 pairs stored in one I8 byte count as two values. */
        public long params() {
            return role != Role.PARAM ? 0 : dtype == DType.I8 ? Math.multiplyExact(numel(), 2) : numel();
        }

        @Override
        public String toString() {
            return name + " " + dtype + Arrays.toString(shape);
        }
    }

    private final V4Config cfg;
    private final Map<String, Spec> specs = new LinkedHashMap<>();

    public V4Layout(V4Config cfg) {
        this.cfg = cfg;
        int d = cfg.dim();
        add("embed.weight", DType.BF16, false, -1, cfg.vocabSize(), d);
        for (int i = 0; i < cfg.nLayers(); i++) {
            block("layers." + i + ".", i, false);
        }
        add("norm.weight", DType.BF16, false, -1, d);
        add("head.weight", DType.BF16, false, -1, cfg.vocabSize(), d);
        hcHead("", false);
        for (int k = 0; k < cfg.nMtpLayers(); k++) {
            String p = "mtp." + k + ".";
            block(p, cfg.nLayers() + k, true);
            fp8(p + "e_proj", d, d, true, -1);
            fp8(p + "h_proj", d, d, true, -1);
            add(p + "enorm.weight", DType.BF16, true, -1, d);
            add(p + "hnorm.weight", DType.BF16, true, -1, d);
            add(p + "norm.weight", DType.BF16, true, -1, d);
            hcHead(p, true);
        }
    }

    public V4Config config() {
        return cfg;
    }

    public Map<String, Spec> specs() {
        return Collections.unmodifiableMap(specs);
    }

    public Spec spec(String name) {
        return specs.get(name);
    }

    private void block(String p, int layerId, boolean mtp) {
        int d = cfg.dim(), hc = cfg.hcMult(), mix = cfg.mixHc();
        int h = cfg.nHeads(), hd = cfg.headDim(), q = cfg.qLoraRank(), g = cfg.oGroups(), olr = cfg.oLoraRank();
        add(p + "attn_norm.weight", DType.BF16, mtp, -1, d);
        add(p + "ffn_norm.weight", DType.BF16, mtp, -1, d);
        for (String site : new String[]{"attn", "ffn"}) {
            add(p + "hc_" + site + "_fn", DType.F32, mtp, -1, mix, (long) hc * d);
            add(p + "hc_" + site + "_base", DType.F32, mtp, -1, mix);
            add(p + "hc_" + site + "_scale", DType.F32, mtp, -1, 3);
        }
        String a = p + "attn.";
        add(a + "attn_sink", DType.F32, mtp, -1, h);
        fp8(a + "wq_a", q, d, mtp, -1);
        add(a + "q_norm.weight", DType.BF16, mtp, -1, q);
        fp8(a + "wq_b", (long) h * hd, q, mtp, -1);
        fp8(a + "wkv", hd, d, mtp, -1);
        add(a + "kv_norm.weight", DType.BF16, mtp, -1, hd);
        fp8(a + "wo_a", (long) g * olr, (long) h * hd / g, mtp, -1);
        fp8(a + "wo_b", d, (long) g * olr, mtp, -1);
        int ratio = cfg.compressRatio(layerId);
        if (ratio > 0) {
            compressor(a + "compressor.", ratio, hd, mtp);
            if (ratio == 4) {
                fp8(a + "indexer.wq_b", (long) cfg.indexNHeads() * cfg.indexHeadDim(), q, mtp, -1);
                add(a + "indexer.weights_proj.weight", DType.BF16, mtp, -1, cfg.indexNHeads(), d);
                compressor(a + "indexer.compressor.", 4, cfg.indexHeadDim(), mtp);
            }
        }
        String f = p + "ffn.";
        int e = cfg.nRoutedExperts(), inter = cfg.moeInterDim();
        add(f + "gate.weight", DType.BF16, mtp, -1, e, d);
        if (!mtp && layerId < cfg.nHashLayers()) {
            add(f + "gate.tid2eid", DType.I64, Role.INDEX, mtp, -1, cfg.vocabSize(), cfg.nActivatedExperts());
        } else {
            add(f + "gate.bias", DType.F32, mtp, -1, e);
        }
        for (int x = 0; x < e; x++) {
            String ep = f + "experts." + x + ".";
            expert(ep + "w1", inter, d, mtp, x);
            expert(ep + "w2", d, inter, mtp, x);
            expert(ep + "w3", inter, d, mtp, x);
        }
        fp8(f + "shared_experts.w1", inter, d, mtp, -1);
        fp8(f + "shared_experts.w2", d, inter, mtp, -1);
        fp8(f + "shared_experts.w3", inter, d, mtp, -1);
    }

    private void compressor(String p, int ratio, int width, boolean mtp) {
        int coff = ratio == 4 ? 2 : 1;
        add(p + "ape", DType.F32, mtp, -1, ratio, (long) coff * width);
        add(p + "wkv.weight", DType.BF16, mtp, -1, (long) coff * width, cfg.dim());
        add(p + "wgate.weight", DType.BF16, mtp, -1, (long) coff * width, cfg.dim());
        add(p + "norm.weight", DType.BF16, mtp, -1, width);
    }

    private void hcHead(String p, boolean mtp) {
        add(p + "hc_head_fn", DType.F32, mtp, -1, cfg.hcMult(), (long) cfg.hcMult() * cfg.dim());
        add(p + "hc_head_base", DType.F32, mtp, -1, cfg.hcMult());
        add(p + "hc_head_scale", DType.F32, mtp, -1, 1);
    }

    private void fp8(String name, long out, long in, boolean mtp, int expert) {
        add(name + ".weight", DType.F8_E4M3, Role.PARAM, mtp, expert, out, in);
        add(name + ".scale", DType.F8_E8M0, Role.SCALE, mtp, expert, ceilDiv(out, 128), ceilDiv(in, 128));
    }

    private void expert(String name, long out, long in, boolean mtp, int expert) {
        if (cfg.fp4Experts()) {
            add(name + ".weight", DType.I8, Role.PARAM, mtp, expert, out, in / 2);
            add(name + ".scale", DType.F8_E8M0, Role.SCALE, mtp, expert, out, in / 32);
        } else {
            fp8(name, out, in, mtp, expert);
        }
    }

    private void add(String name, DType t, boolean mtp, int expert, long... shape) {
        add(name, t, Role.PARAM, mtp, expert, shape);
    }

    private void add(String name, DType t, Role role, boolean mtp, int expert, long... shape) {
        specs.put(name, new Spec(name, t, shape, role, mtp, expert));
    }

    private static long ceilDiv(long a, long b) {
        return (a + b - 1) / b;
    }

    // ------------------------------------------------------------------ counts (dossier §7)

    public int tensorCount() {
        return specs.size();
    }

    /** Backbone parameters (MTP excluded; FP4 values count one each; scales and tid2eid excluded). */
    public long parameters() {
        return specs.values().stream().filter(s -> !s.mtp()).mapToLong(Spec::params).sum();
    }

    public long mtpParameters() {
        return specs.values().stream().filter(Spec::mtp).mapToLong(Spec::params).sum();
    }

    /** Parameters one token touches: selected experts only, embedding excluded, head included (backbone). */
    public long activatedParameters() {
        long routedPerLayer = firstExpert().mapToLong(Spec::params).sum();
        long unselected = (long) (cfg.nRoutedExperts() - cfg.nActivatedExperts()) * routedPerLayer * cfg.nLayers();
        return parameters() - unselected - spec("embed.weight").params();
    }

    /**
     * Bytes of one routed expert of a backbone layer (w1, w2, w3 and their scales; every expert is alike): what
     * each further expert a decode step of several sequences runs reads.
     */
    public long routedExpertBytes() {
        return firstExpert().mapToLong(Spec::bytes).sum();
    }

    private Stream<Spec> firstExpert() {
        return specs.values().stream().filter(s -> !s.mtp() && s.expert() == 0 && s.name().startsWith("layers.0."));
    }

    /** Bytes of all tensors (weights and scales), backbone and MTP. */
    public long totalBytes() {
        return specs.values().stream().mapToLong(Spec::bytes).sum();
    }

    /** Weight bytes one decode token reads: every non-expert tensor except the embedding, plus top-k experts per layer. */
    public long decodeBytesPerToken(boolean withMtp) {
        long b = 0;
        for (Spec s : specs.values()) {
            if ((s.mtp() && !withMtp) || s.name().equals("embed.weight") || s.role() == Role.INDEX) {
                continue;
            }
            if (s.expert() >= 0) {
                if (s.expert() < cfg.nActivatedExperts()) {
                    b += s.bytes();
                }
            } else {
                b += s.bytes();
            }
        }
        return b;
    }

    /** All names, in layout order. */
    public List<String> names() {
        return new ArrayList<>(specs.keySet());
    }
}
