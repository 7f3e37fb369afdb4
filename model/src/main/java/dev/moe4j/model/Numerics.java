package dev.moe4j.model;

import dev.moe4j.tensor.Formats;

/**
 * Which rounding points of the official computation are reproduced. Arithmetic is float32 either way.
 *
 * @param bf16     round to bf16 wherever the official code materialises a bf16 tensor
 * @param quant    FP8 activation quantisation before FP8/FP4 GEMMs (per 128), FP8 KV fake-quant (per
 *                 64), Hadamard + FP4 fake-quant in the indexer (per 32)
 * @param tilelang the official sparse-attention kernel's online softmax in 64-entry tiles with bf16
 *                 probabilities; otherwise a plain softmax
 */
public record Numerics(String name, boolean bf16, boolean quant, boolean tilelang) {

    /** The official semantics (the default): what DeepSeek's GPU code computes. */
    public static final Numerics OFFICIAL = new Numerics("official", true, true, true);
    /** Plain float32: no bf16 rounding, no quantisation, plain softmax; a smooth function of the weights. */
    public static final Numerics FLOAT = new Numerics("float", false, false, false);

    public static Numerics of(String name) {
        return switch (name) {
            case "official" -> OFFICIAL;
            case "float" -> FLOAT;
            default -> throw new IllegalArgumentException("unknown numerics '" + name + "' (official|float)");
        };
    }

    /** Rounds {@code n} values to bf16 in place when this mode materialises bf16. */
    void round(float[] x, int off, int n) {
        if (bf16) {
            Formats.bf16Round(x, off, n);
        }
    }

    float round(float x) {
        return bf16 ? Formats.bf16Round(x) : x;
    }

    float round(double x) {
        return bf16 ? Formats.bf16Round((float) x) : (float) x;
    }
}
