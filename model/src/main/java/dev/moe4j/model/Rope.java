package dev.moe4j.model;

/**
 * Rotary position embedding of V4: interleaved pairs (x[2i], x[2i+1]) of the last {@code rd} dims
 * (GPT-J style, not rotate_half), frequencies θ^(-2i/rd), YaRN-corrected in layers with compression.
 * Frequencies and angles are float32 as in the official {@code precompute_freqs_cis}; no mscale.
 */
public final class Rope {

    private final int rd;
    private final float[] freqs;

    /** {@code originalSeqLen = 0} disables YaRN (sliding-window-only layers and MTP). */
    public Rope(int rd, double theta, int originalSeqLen, double factor, double betaFast, double betaSlow) {
        this.rd = rd;
        this.freqs = new float[rd / 2];
        for (int i = 0; i < rd / 2; i++) {
            float e = (float) (2 * i) / (float) rd;
            freqs[i] = 1f / (float) Math.pow(theta, e);
        }
        if (originalSeqLen > 0) {
            double low = Math.max(Math.floor(corrDim(betaFast, rd, theta, originalSeqLen)), 0);
            double high = Math.min(Math.ceil(corrDim(betaSlow, rd, theta, originalSeqLen)), rd - 1);
            if (low == high) {
                high += 0.001;
            }
            for (int i = 0; i < rd / 2; i++) {
                float ramp = Math.clamp(((float) i - (float) low) / (float) (high - low), 0f, 1f);
                float smooth = 1f - ramp;
                freqs[i] = (freqs[i] / (float) factor) * (1f - smooth) + freqs[i] * smooth;
            }
        }
    }

    /** The dimension index whose wavelength makes {@code nRot} rotations over the original context. */
    private static double corrDim(double nRot, int rd, double theta, int originalSeqLen) {
        return rd * Math.log(originalSeqLen / (nRot * 2 * Math.PI)) / (2 * Math.log(theta));
    }

    public int dims() {
        return rd;
    }

    public float freq(int i) {
        return freqs[i];
    }

    /** cos/sin of every pair's angle f32(f32(pos)·f) at {@code pos}, into {@code cs[off..off+rd)} as cos, sin pairs. */
    public void table(long pos, float[] cs, int off) {
        for (int i = 0; i < rd / 2; i++) {
            float ang = (float) pos * freqs[i];
            cs[off + 2 * i] = (float) Math.cos(ang);
            cs[off + 2 * i + 1] = (float) Math.sin(ang);
        }
    }

    /** Rotates x[off..off+rd) by the angles in {@code cs[csOff..]}; {@code inverse} rotates back (conjugate). */
    public static void rotate(float[] x, int off, float[] cs, int csOff, int rd, boolean inverse) {
        for (int i = 0; i < rd / 2; i++) {
            double c = cs[csOff + 2 * i], s = inverse ? -cs[csOff + 2 * i + 1] : cs[csOff + 2 * i + 1];
            double re = x[off + 2 * i], im = x[off + 2 * i + 1];
            x[off + 2 * i] = (float) (re * c - im * s);
            x[off + 2 * i + 1] = (float) (re * s + im * c);
        }
    }
}
