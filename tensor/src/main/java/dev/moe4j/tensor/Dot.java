package dev.moe4j.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Dot products of an already dequantised weight row (float[]) with an input row, for {@link Matrix#matmul}.
 * Each repeats, operation for operation, the accumulation order of the matching matvec kernel, so that
 * matmul and matvec agree bit for bit.
 */
final class Dot {

    private Dot() {
    }

    /**
     * Σ_blocks scale[b] · Σ_{c in b} w[c]·x[c], in the order of {@link Fp8Matrix#dot} (block 128) and
     * {@link Fp4Matrix#dot} (block 32, a multiple of two vectors, so no scalar tail).
     */
    static float blocks(Lanes v, float[] w, int cols, int block, float[] s, int sOff, float[] x, int xOff) {
        VectorSpecies<Float> fs = v.floats();
        int lanes = fs.length(), step = 2 * lanes;
        FloatVector total = FloatVector.zero(fs);
        float tail = 0f;
        for (int b0 = 0; b0 < cols; b0 += block) {
            int b1 = Math.min(cols, b0 + block), c = b0;
            FloatVector acc0 = FloatVector.zero(fs), acc1 = acc0;
            for (; c <= b1 - step; c += step) {
                acc0 = FloatVector.fromArray(fs, w, c).fma(FloatVector.fromArray(fs, x, xOff + c), acc0);
                acc1 = FloatVector.fromArray(fs, w, c + lanes)
                        .fma(FloatVector.fromArray(fs, x, xOff + c + lanes), acc1);
            }
            float blockScale = s[sOff + b0 / block];
            total = acc0.add(acc1).fma(FloatVector.broadcast(fs, blockScale), total);
            if (c < b1) {
                float part = 0f;
                for (; c < b1; c++) {
                    part += w[c] * x[xOff + c];
                }
                tail += part * blockScale;
            }
        }
        float sum = 0f;
        for (int i = 0; i < lanes; i++) {
            sum += total.lane(i);
        }
        return sum + tail;
    }

    /** Σ_c w[c]·x[c] in the order of {@link Bf16Matrix#dot} and {@link F32Matrix#dot}. */
    static float plain(Lanes v, float[] w, int cols, float[] x, int xOff) {
        VectorSpecies<Float> fs = v.floats();
        int lanes = fs.length(), step = 2 * lanes, c = 0;
        FloatVector acc0 = FloatVector.zero(fs), acc1 = acc0;
        for (; c <= cols - step; c += step) {
            acc0 = FloatVector.fromArray(fs, w, c).fma(FloatVector.fromArray(fs, x, xOff + c), acc0);
            acc1 = FloatVector.fromArray(fs, w, c + lanes).fma(FloatVector.fromArray(fs, x, xOff + c + lanes),
                    acc1);
        }
        FloatVector acc = acc0.add(acc1);
        float sum = 0f;
        for (int i = 0; i < lanes; i++) {
            sum += acc.lane(i);
        }
        for (; c < cols; c++) {
            sum += w[c] * x[xOff + c];
        }
        return sum;
    }
}
