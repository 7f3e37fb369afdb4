package dev.moe4j.model;

/**
 * The gated pooling of V4's KV compressor: one entry from the state rows of a completed group, a
 * per-channel softmax over the candidate tokens of {@code score = wgate·x + ape} weighting
 * {@code kv = wkv·x}. Ratio 4 overlaps: state rows [0, ratio) hold the previous group, whose first
 * {@code width} channels are candidates, and rows [ratio, 2·ratio) this group, whose second
 * {@code width} channels are (8 candidates; the previous group of entry 0 has score −∞).
 */
public final class Compressor {

    private Compressor() {
    }

    /**
     * @param kv     state rows [coff·ratio, coff·width] of kv projections
     * @param score  the same rows of gate scores (ape added)
     */
    public static void pool(float[] kv, float[] score, int ratio, int width, boolean overlap, float[] out, int oOff) {
        int coff = overlap ? 2 : 1, cw = coff * width, rows = coff * ratio;
        for (int ch = 0; ch < width; ch++) {
            double mx = Double.NEGATIVE_INFINITY;
            for (int r = 0; r < rows; r++) {
                mx = Math.max(mx, score[r * cw + channel(r, ch, ratio, width, overlap)]);
            }
            double sum = 0, acc = 0;
            for (int r = 0; r < rows; r++) {
                int c = r * cw + channel(r, ch, ratio, width, overlap);
                double w = Math.exp(score[c] - mx);
                sum += w;
                acc += w * kv[c];
            }
            out[oOff + ch] = (float) (acc / sum);
        }
    }

    /** The channel of state row r that is a candidate for output channel ch. */
    private static int channel(int r, int ch, int ratio, int width, boolean overlap) {
        return overlap && r >= ratio ? width + ch : ch;
    }
}
