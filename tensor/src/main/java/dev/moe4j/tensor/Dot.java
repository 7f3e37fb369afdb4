package dev.moe4j.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The dot product of an already dequantised weight row (float[]) with an input row, for the matmul of FP4 and
 * BF16 weights. It repeats, operation for operation, the accumulation order of their matvec kernels, so that
 * matmul and matvec agree bit for bit (FP8 keeps per-block sums: {@link Fp8Matrix#dotDecoded}; F32 needs no
 * decoding).
 */
final class Dot {

    private Dot() {
    }

    /** Σ_c w[c]·x[c] in the order of {@link Fp4Matrix#dot}, {@link Bf16Matrix#dot} and {@link F32Matrix#dot}. */
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
