package dev.moe4j.model;

import dev.moe4j.tensor.Formats;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The lightning indexer's scoring and selection: {@code score_j = Σ_h w_h · relu(q_h · K_j)} with the
 * official bf16 rounding after the dot, after the weighting and after the head sum, then the top-k
 * entries in descending score order, ties to the lower entry index (torch.topk on CUDA).
 */
public final class Indexer {

    private Indexer() {
    }

    /** Score of entry row {@code K[kOff ..]} for the query heads {@code q[qOff ..]} [heads, dim]. */
    public static float score(float[] q, int qOff, float[] w, int wOff, int heads, int dim, float[] k, int kOff,
                              Numerics num) {
        double sum = 0;
        for (int h = 0; h < heads; h++) {
            float dot = 0;
            for (int i = 0; i < dim; i++) {
                dot += q[qOff + h * dim + i] * k[kOff + i];
            }
            sum += num.round(Math.max(num.round(dot), 0f) * w[wOff + h]);
        }
        float s = num.round(sum);
        return s == 0f ? 0f : s;                                                 // −0 ties with +0
    }

    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    /** Per thread: the rounded, weighted head values of the entries in flight ({@link #scores}). */
    private static final ThreadLocal<float[]> HEADS = new ThreadLocal<>();

    /** The head count padded to whole vectors: the stride of {@link #transpose}'s layout. */
    public static int paddedHeads(int heads) {
        int lanes = F.length();
        return (heads + lanes - 1) / lanes * lanes;
    }

    /**
     * One row's query heads {@code q[qOff ..]} [heads, dim] transposed to {@code qT} [dim, {@link #paddedHeads}]
     * and its head weights {@code w[wOff ..]} copied to {@code wT}, the padding heads zero (their dots are 0,
     * relu 0, weighted 0, and the head sum leaves them out).
     */
    public static void transpose(float[] q, int qOff, float[] w, int wOff, int heads, int dim, float[] qT,
                                 float[] wT) {
        int hp = paddedHeads(heads);
        for (int h = 0; h < hp; h++) {
            for (int i = 0; i < dim; i++) {
                qT[i * hp + h] = h < heads ? q[qOff + h * dim + i] : 0f;
            }
            wT[h] = h < heads ? w[wOff + h] : 0f;
        }
    }

    /**
     * {@link #score} of entries [j0, j1) (entry j is the row {@code k[j·dim ..]}) into {@code keys[j]} as
     * {@link #key}s, bit for bit, on the Vector API: the query transposed ({@link #transpose}) puts the heads
     * in lanes, so a dot is dim multiplies and adds per lane in score's order (not FMAs: score rounds each
     * product), four entries at a time sharing each load of the query; the roundings, relu and weighting go
     * lane-wise, the head sum in double in head order as in score. One thread scoring 640 entries of V4's
     * indexer (64 heads of 128) one by one took ~3 ms, and a v4-flash-slice2-v1k decode step at position 2048
     * ~4 ms more than at 64.
     */
    public static void scores(float[] qT, float[] wT, int heads, int dim, float[] k, int j0, int j1, Numerics num,
                              long[] keys) {
        int lanes = F.length(), hp = paddedHeads(heads), j = j0;
        float[] v = HEADS.get();
        if (v == null || v.length < 4 * hp) {
            v = new float[4 * hp];
            HEADS.set(v);
        }
        // four entries at a time; a last group of fewer repeats its last entry (computed, not stored), so that
        // no separate loop is left cold: C2 compiles cold vector code without intrinsics, and it allocates
        for (; j < j1; j += 4) {
            int m = Math.min(4, j1 - j), last = j1 - 1;
            int k0 = j * dim, k1 = Math.min(j + 1, last) * dim, k2 = Math.min(j + 2, last) * dim;
            int k3 = Math.min(j + 3, last) * dim;
            for (int g = 0; g < hp; g += lanes) {
                FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
                for (int i = 0; i < dim; i++) {
                    FloatVector qv = FloatVector.fromArray(F, qT, i * hp + g);
                    a0 = a0.add(qv.mul(k[k0 + i]));
                    a1 = a1.add(qv.mul(k[k1 + i]));
                    a2 = a2.add(qv.mul(k[k2 + i]));
                    a3 = a3.add(qv.mul(k[k3 + i]));
                }
                a0.intoArray(v, g);
                a1.intoArray(v, hp + g);
                a2.intoArray(v, 2 * hp + g);
                a3.intoArray(v, 3 * hp + g);
            }
            for (int e = 0; e < m; e++) {
                keys[j + e] = key(headSum(v, e * hp, wT, heads, num), j + e);
            }
        }
    }

    /**
     * score's ending for the dots {@code v[off ..]} of one entry: round(relu(round(dot)) · w) lane-wise (in
     * place), then the head sum in double in head order, rounded, −0 as +0. A method of its own, so that the
     * vector code stays small enough for C2 to inline every vector operation (boxed vectors allocate).
     */
    private static float headSum(float[] v, int off, float[] wT, int heads, Numerics num) {
        int lanes = F.length(), hp = paddedHeads(heads);
        for (int g = 0; g < hp; g += lanes) {
            FloatVector r = round(FloatVector.fromArray(F, v, off + g), num).lanewise(VectorOperators.MAX, 0f);
            round(r.mul(FloatVector.fromArray(F, wT, g)), num).intoArray(v, off + g);
        }
        double sum = 0;
        for (int h = 0; h < heads; h++) {
            sum += v[off + h];
        }
        float s = num.round(sum);
        return s == 0f ? 0f : s;
    }

    /** {@link Formats#bf16Round} lane-wise (round to nearest even, NaN kept quiet) when the numerics round. */
    private static FloatVector round(FloatVector x, Numerics num) {
        if (!num.bf16()) {
            return x;
        }
        IntVector b = x.reinterpretAsInts();
        IntVector rne = b.add(b.lanewise(VectorOperators.LSHR, 16).and(1)).add(0x7FFF).and(0xFFFF0000);
        VectorMask<Integer> nan = b.and(0x7FFFFFFF).compare(VectorOperators.GT, 0x7F800000);
        return rne.blend(b.or(0x00400000).and(0xFFFF0000), nan).reinterpretAsFloats();
    }

    /** A sort key that orders by descending score, then ascending index. */
    public static long key(float score, int index) {
        int bits = Float.floatToIntBits(score);
        int asc = bits ^ ((bits >> 31) & 0x7FFFFFFF);                            // order-preserving int of the float
        return ((long) ~asc << 32) | index;
    }

    public static int index(long key) {
        return (int) key;
    }
}
