package dev.moe4j.tensor;

/**
 * The number formats of DeepSeek V4 checkpoints and of its quantisation-aware computation: bfloat16,
 * FP8 e4m3fn, FP4 e2m1 and UE8M0 (e8m0) scales. Scalar, exact, allocation-free; the fixtures in
 * {@code shared/fixtures/kernels} (sections e4m3fn, e2m1, e8m0, bf16, pow2_scale) pin every rule.
 */
public final class Formats {

    private Formats() {
    }

    public static final float E4M3_MAX = 448f;
    public static final float E2M1_MAX = 6f;

    private static final float[] E4M3 = new float[256];
    private static final float[] E2M1 = {0f, 0.5f, 1f, 1.5f, 2f, 3f, 4f, 6f, -0f, -0.5f, -1f, -1.5f, -2f, -3f, -4f, -6f};
    private static final float[] E8M0 = new float[256];

    static {
        for (int c = 0; c < 256; c++) {
            int s = c >> 7, e = (c >> 3) & 0xF, m = c & 7;
            float v;
            if (e == 0xF && m == 7) {
                v = Float.NaN;
            } else if (e == 0) {
                v = Math.scalb(m / 8f, -6);
            } else {
                v = Math.scalb(1f + m / 8f, e - 7);
            }
            E4M3[c] = s == 1 ? -v : v;
            E8M0[c] = c == 255 ? Float.NaN : Math.scalb(1f, c - 127);
        }
    }

    // ---------------------------------------------------------------- bfloat16

    /** The float whose top 16 bits are {@code bits} (bf16 → f32 is exact). */
    public static float bf16ToFloat(short bits) {
        return Float.intBitsToFloat((bits & 0xFFFF) << 16);
    }

    /** f32 → bf16 bit pattern, round to nearest even; NaN stays a (quiet) NaN. */
    public static short floatToBf16(float x) {
        int b = Float.floatToRawIntBits(x);
        if ((b & 0x7FFFFFFF) > 0x7F800000) {
            return (short) ((b | 0x00400000) >>> 16);
        }
        return (short) ((b + 0x7FFF + ((b >>> 16) & 1)) >>> 16);
    }

    /** Rounds a float to the nearest bf16 value (RNE), as torch's {@code .to(torch.bfloat16)}. */
    public static float bf16Round(float x) {
        return bf16ToFloat(floatToBf16(x));
    }

    /** Rounds {@code n} values in place to bf16. */
    public static void bf16Round(float[] x, int off, int n) {
        for (int i = off; i < off + n; i++) {
            x[i] = bf16Round(x[i]);
        }
    }

    // ---------------------------------------------------------------- FP8 e4m3fn

    public static float e4m3ToFloat(int code) {
        return E4M3[code & 0xFF];
    }

    /**
     * f32 → e4m3fn code, round to nearest even, saturating to ±448 (the CUDA {@code cvt ... satfinite}
     * behaviour the official kernels rely on after clamping). NaN → 0x7F (sign kept).
     */
    public static int floatToE4m3(float x) {
        int sign = (Float.floatToRawIntBits(x) >>> 24) & 0x80;
        if (Float.isNaN(x)) {
            return sign | 0x7F;
        }
        double a = Math.min(Math.abs((double) x), E4M3_MAX);
        int code;
        if (a < 0x1p-6) {
            // subnormals: m/8 · 2^-6, step 2^-9; m = 8 lands exactly on the first normal code (0x08)
            code = (int) Math.rint(a * 0x1p9);
        } else {
            int e = Math.getExponent(a);                       // 2^e <= a < 2^(e+1), -6 <= e <= 8
            int q = (int) Math.rint(Math.scalb(a, 3 - e));     // 8..16, ties to even mantissa
            code = ((e + 7) << 3) + (q - 8);                   // q = 16 carries into the exponent
        }
        return sign | code;
    }

    /** Rounds to the e4m3 grid (RNE, saturating at ±448). */
    public static float e4m3Round(float x) {
        return e4m3ToFloat(floatToE4m3(x));
    }

    // ---------------------------------------------------------------- FP4 e2m1

    public static float e2m1ToFloat(int nibble) {
        return E2M1[nibble & 0xF];
    }

    /** f32 → e2m1 nibble, round to nearest even code, saturating at ±6. */
    public static int floatToE2m1(float x) {
        int sign = (Float.floatToRawIntBits(x) >>> 28) & 0x8;
        float a = Math.min(Math.abs(x), E2M1_MAX);
        // midpoints between grid values 0, .5, 1, 1.5, 2, 3, 4, 6
        int k;
        if (a < 0.25f) k = 0;
        else if (a == 0.25f) k = 0;
        else if (a < 0.75f) k = 1;
        else if (a == 0.75f) k = 2;
        else if (a < 1.25f) k = 2;
        else if (a == 1.25f) k = 2;
        else if (a < 1.75f) k = 3;
        else if (a == 1.75f) k = 4;
        else if (a < 2.5f) k = 4;
        else if (a == 2.5f) k = 4;
        else if (a < 3.5f) k = 5;
        else if (a == 3.5f) k = 6;
        else if (a < 5f) k = 6;
        else if (a == 5f) k = 6;
        else k = 7;
        return sign | k;
    }

    public static float e2m1Round(float x) {
        return e2m1ToFloat(floatToE2m1(x));
    }

    // ---------------------------------------------------------------- UE8M0 scales

    /** e8m0 scale byte → 2^(b-127); 255 → NaN. */
    public static float e8m0ToFloat(int b) {
        return E8M0[b & 0xFF];
    }

    /**
     * The power-of-two block scale of the official kernels: {@code 2^ceil(log2(f32(max(amax, floor) ·
     * f32(1/qmax))))}, with the product evaluated in float32 (exact powers of two stay).
     */
    public static float pow2Scale(float amax, float qmax, float floor) {
        float a = Math.max(amax, floor);
        float t = a * (float) (1.0 / qmax);
        double td = t;
        int e = Math.getExponent(td);
        boolean exact = (Double.doubleToRawLongBits(td) & 0x000FFFFFFFFFFFFFL) == 0;
        return Math.scalb(1f, exact ? e : e + 1);
    }

    /** amax floor of the FP8 activation / KV quantisation kernels. */
    public static final float FP8_AMAX_FLOOR = 1e-4f;
    /** amax floor of the FP4 quantisation kernel: 6 · 2^-126. */
    public static final float FP4_AMAX_FLOOR = 6f * 0x1p-126f;

    // ---------------------------------------------------------------- block fake-quantisation

    /**
     * In-place FP8 fake quantisation ({@code act_quant(..., inplace=True)}): every {@code block}
     * consecutive values get one power-of-two scale, are rounded to e4m3 and multiplied back.
     * {@code n} must be a multiple of {@code block}.
     */
    public static void fp8FakeQuant(float[] x, int off, int n, int block) {
        for (int b = off; b < off + n; b += block) {
            float amax = 0f;
            for (int i = b; i < b + block; i++) {
                amax = Math.max(amax, Math.abs(x[i]));
            }
            float s = pow2Scale(amax, E4M3_MAX, FP8_AMAX_FLOOR);
            float inv = 1f / s;                                 // exact: s is a power of two
            for (int i = b; i < b + block; i++) {
                x[i] = e4m3Round(x[i] * inv) * s;
            }
        }
    }

    /** In-place FP4 fake quantisation ({@code fp4_act_quant(..., inplace=True)}), block of 32 in V4. */
    public static void fp4FakeQuant(float[] x, int off, int n, int block) {
        for (int b = off; b < off + n; b += block) {
            float amax = 0f;
            for (int i = b; i < b + block; i++) {
                amax = Math.max(amax, Math.abs(x[i]));
            }
            float s = pow2Scale(amax, E2M1_MAX, FP4_AMAX_FLOOR);
            float inv = 1f / s;
            for (int i = b; i < b + block; i++) {
                x[i] = e2m1Round(x[i] * inv) * s;
            }
        }
    }

    /**
     * In-place fast Walsh–Hadamard transform of {@code n} (a power of two) values in Sylvester order
     * (H[i][j] = (-1)^popcount(i&j)), scaled by n^-1/2, as {@code fast_hadamard_transform}.
     */
    public static void hadamard(float[] x, int off, int n) {
        if (Integer.bitCount(n) != 1) {
            throw new IllegalArgumentException("Hadamard size must be a power of two, got " + n);
        }
        for (int h = 1; h < n; h <<= 1) {
            for (int i = off; i < off + n; i += h << 1) {
                for (int j = i; j < i + h; j++) {
                    float a = x[j], b = x[j + h];
                    x[j] = a + b;
                    x[j + h] = a - b;
                }
            }
        }
        float scale = (float) (1.0 / Math.sqrt(n));
        for (int i = off; i < off + n; i++) {
            x[i] *= scale;
        }
    }
}
