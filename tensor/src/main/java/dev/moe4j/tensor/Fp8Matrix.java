package dev.moe4j.tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Objects;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * FP8 e4m3 weights with one scale per 128×128 block (docs/v4-architecture.md §3.2):
 * {@code W[i,j] = e4m3(code[i,j]) · scale[i/128][j/128]}. Rows and columns need not be multiples of 128.
 *
 * <p>Vector decode: the code's sign goes to bit 31 and its 7 exponent+mantissa bits to bits 20..26, i.e. the
 * e4m3 fields land in the float fields with the exponent 120 too small: that float is the value times 2^-120
 * exactly, subnormals included. Rather than multiplying each weight by 2^120, each call copies the input
 * times 2^60 into an array lent by {@link Scratch} and the block scales are kept times 2^60 as well, so the
 * products and sums are those of the true values times 2^-60, exactly, and a row costs a widening load, a
 * shift, a mask and an FMA per lanes weights. The sums stay far from float's limits unless the input holds a
 * value beyond ±2^67 (or a scale is above 2^67): the call then takes {@link #dotExact}, which multiplies each
 * weight by 2^120 instead, for that input. Per whole block, one accumulator takes the block's vectors in
 * column order and goes times the block scale into the row's total; a last partial block goes to a scalar
 * sum. One chain per (row, input) leaves the registers for many of them at once: matvec runs two rows
 * together, matmul tiles of two rows × four inputs (16 vector registers of sums), 1.8× the speed of one row
 * × four inputs with four accumulators each, measured on a Zen 4 core.
 *
 * <p>Two caveats: a subnormal e4m3 code gives a subnormal float, which makes the FMA slow on x86 (uniformly
 * random codes, a sixteenth of them subnormal, halve the speed, but quantised trained weights have few:
 * 1.5e-4 of the codes in shared/fixtures/v4-tiny), and the vector path decodes the NaN codes 0x7F/0xFF as
 * ±480: quantisers saturate at ±448 and never write them.
 */
public final class Fp8Matrix implements Matrix {

    /** Edge of a scale block. */
    public static final int BLOCK = 128;

    private static final float E4M3_UNBIAS = 0x1p120f;
    private static final int E4M3_FIELDS = 0x87F00000;
    /** The input and the scales are multiplied by 2^60 on the fast path, the products come out times 2^-60. */
    private static final float UP = 0x1p60f, DOWN = 0x1p-60f;
    /** Largest |input| the fast path takes: 2^67 · 2^60 stays below float's 2^128. */
    private static final float MAX_INPUT = 0x1p67f;
    /** Input rows per matmul tile ({@link #dot2x4}). */
    private static final int TILE = 4;
    /** Matmul blocking: the inputs that stay in L2 while the rows pass, the rows whose weights stay in L2 meanwhile. */
    private static final long GROUP_BYTES = 256 << 10;
    private static final int ROW_BLOCK = 32;

    private final int rows, cols, scaleCols;
    private final MemorySegment w;
    /** [⌈rows/128⌉][⌈cols/128⌉] row-major, decoded at load */
    private final float[] scale;
    /** scale · 2^60, or null when one of them overflows (only {@link #dotExact} then) */
    private final float[] scaleUp;
    private final Lanes lanes;

    Fp8Matrix(int rows, int cols, MemorySegment w, float[] scale, Lanes lanes) {
        this.rows = rows;
        this.cols = cols;
        this.scaleCols = (cols + BLOCK - 1) / BLOCK;
        this.w = w;
        this.scale = scale;
        this.lanes = lanes;
        float[] up = new float[scale.length];
        for (int i = 0; i < up.length; i++) {
            up[i] = scale[i] * UP;
            if (!Float.isFinite(up[i]) && Float.isFinite(scale[i])) {
                up = null;
                break;
            }
        }
        this.scaleUp = up;
    }

    @Override
    public int rows() {
        return rows;
    }

    @Override
    public int cols() {
        return cols;
    }

    @Override
    public DType dtype() {
        return DType.F8_E4M3;
    }

    @Override
    public long bytes() {
        return (long) rows * cols + 4L * scale.length;
    }

    @Override
    public void matvec(float[] x, int xOff, float[] y, int yOff, int r0, int r1) {
        Matrices.checkMatvec(this, x, xOff, y, yOff, r0, r1);
        if (r0 == r1) {
            return;
        }
        float[] xs = Scratch.take(cols);
        if (scaleUp != null && scaleInput(lanes, x, xOff, cols, xs, 0)) {
            // rows r, r + q, r + 2q, r + 3q together: four memory streams (one row after another reaches 11-13
            // GB/s from DRAM on a Zen 4 core, four apart 15.5) and four chains in flight
            int q = (r1 - r0) / 4, r = r0 + 4 * q;
            for (int i = r0; i < r0 + q; i++) {
                dot4(lanes, w, cols, scaleUp, scale, xs, 0, i, q, y, yOff);
            }
            for (; r + 1 < r1; r += 2) {
                dot2(lanes, w, (long) r * cols, (long) (r + 1) * cols, cols, scaleUp, scale, r / BLOCK * scaleCols,
                        (r + 1) / BLOCK * scaleCols, xs, 0, y, yOff + r, yOff + r + 1);
            }
            if (r < r1) {
                y[yOff + r] = dot(lanes, w, (long) r * cols, cols, scaleUp, scale, r / BLOCK * scaleCols, xs, 0);
            }
        } else {
            for (int r = r0; r < r1; r++) {
                y[yOff + r] = dotExact(lanes, w, (long) r * cols, cols, scale, r / BLOCK * scaleCols, x, xOff);
            }
        }
        Scratch.give(xs);
    }

    /**
     * Tiles of two weight rows × {@value #TILE} input rows ({@link #dot2x4}): each weight is decoded once per
     * tile and each input vector loaded once for both rows, and each (row, input) gets exactly the operations of
     * {@link #dot}, so the results are bit for bit those of matvec. The inputs go in groups of at most
     * {@value #GROUP_BYTES} bytes that stay in L2 while every pair of rows passes, each pair's weights staying in
     * L1 across the group's tiles; past one group, blocks of {@value #ROW_BLOCK} rows keep their weights in L2
     * while the groups pass. Before, every pair of rows streamed all the inputs (4 MB for 256 inputs of 4096
     * columns) from L3. One Zen 4 core, weights from DRAM, GMAC/s before → after: 4096 × 4096 with 8, 64, 256
     * inputs 32.7 → 40, 30.9 → 39.7, 29 → 41; 32768 × 1024 (short rows) 21.7 → 31.8, 21.7 → 30.7, 18 → 34.2.
     */
    @Override
    public void matmul(float[] x, int n, float[] y, int r0, int r1) {
        Matrices.checkMatmul(this, x, n, y, r0, r1);
        if (r0 == r1 || n == 0) {
            return;
        }
        int l = lanes.floats().length(), full = cols - cols % BLOCK;
        float[] xs = Scratch.take(n * cols + 2 * TILE * l);
        int tot = n * cols;
        // the inputs the fast path takes first, in their order; then those it does not (very rare)
        int fast = 0;
        for (int t = 0; t < n; t++) {
            if (scaleUp != null && scaleInput(lanes, x, t * cols, cols, xs, fast * cols)) {
                fast++;
            }
        }
        int[] order = fast == n ? null : new int[n];
        if (order != null) {
            for (int t = 0, k = 0, slow = fast; t < n; t++) {
                boolean ok = scaleUp != null && scaleInput(lanes, x, t * cols, cols, xs, k * cols);
                order[ok ? k++ : slow++] = t;
            }
        }
        int tiled = order == null ? fast - fast % TILE : 0;
        // inputs in groups that stay in L2 while every pair of rows passes, each pair's weights in L1 across the
        // group's tiles; past one group, blocks of rows whose weights stay in L2 while the groups pass
        int group = Math.max(TILE, (int) Math.min(tiled, GROUP_BYTES / ((long) cols * Float.BYTES)) / TILE * TILE);
        int rowBlock = tiled <= group ? r1 - r0 : ROW_BLOCK;
        for (int rb = r0; rb < r1 && tiled > 0; rb += rowBlock) {
            int re = Math.min(r1, rb + rowBlock), h = (re - rb) / 2;
            for (int g = 0; g < tiled; g += group) {
                int ge = Math.min(tiled, g + group);
                // rows rb + i and rb + h + i together (two memory streams), an odd count's last row alone
                for (int i = 0; i < h + (re - rb) % 2; i++) {
                    boolean pair = i < h;
                    int rA = pair ? rb + i : re - 1, rB = rA + h;
                    int sA = rA / BLOCK * scaleCols, sB = rB / BLOCK * scaleCols;
                    long offA = (long) rA * cols, offB = (long) rB * cols;
                    for (int k = g; k < ge; k += TILE) {
                        if (pair) {
                            dot2x4(lanes, w, offA, offB, cols, scaleUp, sA, sB, xs, k * cols, xs, tot, tot + TILE * l);
                        }
                        for (int t = 0; t < TILE; t++) {
                            int p = (k + t) * cols;
                            if (pair) {
                                y[(k + t) * rows + rA] = finish(lanesSum(xs, tot + t * l, l), w, offA, full, cols, xs,
                                        p, scale, sA);
                                y[(k + t) * rows + rB] = finish(lanesSum(xs, tot + (TILE + t) * l, l), w, offB, full,
                                        cols, xs, p, scale, sB);
                            } else {
                                y[(k + t) * rows + rA] = dot(lanes, w, offA, cols, scaleUp, scale, sA, xs, p);
                            }
                        }
                    }
                }
            }
        }
        // the inputs after the tiles (a decode step of a few sequences), rows r and r + half together: two memory
        // streams (one stream of rows reached 9 GB/s from DRAM at two inputs on a Zen 4 core, where matvec's four
        // streams reach 14)
        int half = (r1 - r0) / 2;
        for (int i = r0; i < r0 + half + (r1 - r0) % 2 && tiled < n; i++) {
            boolean pair = i < r0 + half;
            int rA = pair ? i : r1 - 1, rB = rA + half;                       // an odd count's last row alone
            long offA = (long) rA * cols, offB = (long) rB * cols;
            int sA = rA / BLOCK * scaleCols, sB = rB / BLOCK * scaleCols, k = tiled;
            if (order == null && pair) {
                // two at a time, each weight decoded once for both
                for (; k + 1 < fast; k += 2) {
                    dot2x2(lanes, w, offA, offB, cols, scaleUp, scale, sA, sB, xs, k * cols, y, k * rows + rA,
                            k * rows + rB, rows);
                }
            }
            for (; k < fast; k++) {
                int t = order == null ? k : order[k];
                if (pair) {
                    dot2(lanes, w, offA, offB, cols, scaleUp, scale, sA, sB, xs, k * cols, y, t * rows + rA,
                            t * rows + rB);
                } else {
                    y[t * rows + rA] = dot(lanes, w, offA, cols, scaleUp, scale, sA, xs, k * cols);
                }
            }
            for (; k < n; k++) {
                int t = order[k];
                y[t * rows + rA] = dotExact(lanes, w, offA, cols, scale, sA, x, t * cols);
                if (pair) {
                    y[t * rows + rB] = dotExact(lanes, w, offB, cols, scale, sB, x, t * cols);
                }
            }
        }
        Scratch.give(xs);
    }

    @Override
    public void row(int r, float[] out, int off) {
        Objects.checkIndex(r, rows);
        Objects.checkFromIndexSize(off, cols, out.length);
        for (int c = 0; c < cols; c++) {
            out[off + c] = value(r, c);
        }
    }

    @Override
    public float get(int r, int c) {
        Objects.checkIndex(r, rows);
        Objects.checkIndex(c, cols);
        return value(r, c);
    }

    private float value(int r, int c) {
        return Formats.e4m3ToFloat(w.get(ValueLayout.JAVA_BYTE, (long) r * cols + c))
                * scale[r / BLOCK * scaleCols + c / BLOCK];
    }

    /**
     * The plain reference: per block a float sum of e4m3 · x in column order, times the block scale, summed
     * over blocks.
     */
    public static void matvecScalar(Fp8Matrix m, float[] x, int xOff, float[] y, int yOff, int r0, int r1) {
        Matrices.checkMatvec(m, x, xOff, y, yOff, r0, r1);
        for (int r = r0; r < r1; r++) {
            long off = (long) r * m.cols;
            float sum = 0f;
            for (int b0 = 0; b0 < m.cols; b0 += BLOCK) {
                float part = 0f;
                for (int c = b0; c < Math.min(m.cols, b0 + BLOCK); c++) {
                    part += Formats.e4m3ToFloat(m.w.get(ValueLayout.JAVA_BYTE, off + c)) * x[xOff + c];
                }
                sum += part * m.scale[r / BLOCK * m.scaleCols + b0 / BLOCK];
            }
            y[yOff + r] = sum;
        }
    }

    /**
     * {@code xs[pOff + c] = x[xOff + c] · 2^60} for c in [0, cols), exact; whether every |x| is at most 2^67
     * (false for NaN), i.e. whether {@link #dot} may take the input.
     */
    static boolean scaleInput(Lanes v, float[] x, int xOff, int cols, float[] xs, int pOff) {
        VectorSpecies<Float> fs = v.floats();
        int lanes = fs.length(), c = 0;
        FloatVector max = FloatVector.zero(fs);
        for (; c <= cols - lanes; c += lanes) {
            FloatVector xv = FloatVector.fromArray(fs, x, xOff + c);
            max = max.max(xv.abs());
            xv.mul(UP).intoArray(xs, pOff + c);
        }
        float m = max.reduceLanes(VectorOperators.MAX);
        for (; c < cols; c++) {
            m = Math.max(m, Math.abs(x[xOff + c]));
            xs[pOff + c] = x[xOff + c] * UP;
        }
        return m <= MAX_INPUT;
    }

    /** The lanes·parts weights of one load, part {@code part}, as floats times 2^-120 (exact). */
    private static FloatVector weights(VectorSpecies<Integer> is, ByteVector q, int part) {
        return ((IntVector) q.convertShape(VectorOperators.B2I, is, part)).lanewise(VectorOperators.LSHL, 20)
                .and(E4M3_FIELDS).reinterpretAsFloats();
    }

    /**
     * One row against an input {@link #scaleInput scaled} into {@code xs[pOff ..]}, with the block scales
     * times 2^60 ({@code sUp}): per whole block, one accumulator taking the block's vectors in column order
     * (a chain of FMAs), times the block scale into {@code total}; a last partial block in a scalar sum of the
     * true values (e4m3 · x in column order, times the block scale), as the reference computes it. Then the
     * lanes of total in order, plus that sum. {@link #dot2} and {@link #dot2x4} do exactly this per row and
     * input, several at once (independent chains hide the FMA latency).
     */
    static float dot(Lanes v, MemorySegment w, long off, int cols, float[] sUp, float[] s, int sOff, float[] xs,
            int pOff) {
        VectorSpecies<Float> fs = v.floats();
        VectorSpecies<Integer> is = v.ints();
        VectorSpecies<Byte> bs = v.bytes();
        int lanes = fs.length(), step = bs.length(), parts = step / lanes, full = cols - cols % BLOCK;
        FloatVector zero = FloatVector.zero(fs), total = zero;
        for (int b0 = 0; b0 < full; b0 += BLOCK) {
            FloatVector a = zero;
            for (int c = b0; c < b0 + BLOCK; c += step) {
                ByteVector q = ByteVector.fromMemorySegment(bs, w, off + c, ByteOrder.LITTLE_ENDIAN);
                for (int part = 0; part < parts; part++) {
                    a = weights(is, q, part).fma(FloatVector.fromArray(fs, xs, pOff + c + part * lanes), a);
                }
            }
            total = a.fma(FloatVector.broadcast(fs, sUp[sOff + b0 / BLOCK]), total);
        }
        float sum = 0f;
        for (int i = 0; i < lanes; i++) {
            sum += total.lane(i);            // fixed order: the JIT's reduceLanes is not the interpreter's
        }
        return full == cols ? sum : sum + partialBlock(w, off, full, cols, xs, pOff) * s[sOff + full / BLOCK];
    }

    /** {@link #dot} of rows A and B with one input (loaded once for both); results to {@code y[yA]}, {@code y[yB]}. */
    static void dot2(Lanes v, MemorySegment w, long offA, long offB, int cols, float[] sUp, float[] s, int sOffA,
            int sOffB, float[] xs, int pOff, float[] y, int yA, int yB) {
        VectorSpecies<Float> fs = v.floats();
        VectorSpecies<Integer> is = v.ints();
        VectorSpecies<Byte> bs = v.bytes();
        int lanes = fs.length(), step = bs.length(), parts = step / lanes, full = cols - cols % BLOCK;
        FloatVector zero = FloatVector.zero(fs), totalA = zero, totalB = zero;
        for (int b0 = 0; b0 < full; b0 += BLOCK) {
            FloatVector a = zero, b = zero;
            for (int c = b0; c < b0 + BLOCK; c += step) {
                ByteVector qa = ByteVector.fromMemorySegment(bs, w, offA + c, ByteOrder.LITTLE_ENDIAN);
                ByteVector qb = ByteVector.fromMemorySegment(bs, w, offB + c, ByteOrder.LITTLE_ENDIAN);
                for (int part = 0; part < parts; part++) {
                    FloatVector x = FloatVector.fromArray(fs, xs, pOff + c + part * lanes);
                    a = weights(is, qa, part).fma(x, a);
                    b = weights(is, qb, part).fma(x, b);
                }
            }
            totalA = a.fma(FloatVector.broadcast(fs, sUp[sOffA + b0 / BLOCK]), totalA);
            totalB = b.fma(FloatVector.broadcast(fs, sUp[sOffB + b0 / BLOCK]), totalB);
        }
        float sumA = 0f, sumB = 0f;
        for (int i = 0; i < lanes; i++) {
            sumA += totalA.lane(i);
            sumB += totalB.lane(i);
        }
        if (full != cols) {
            sumA += partialBlock(w, offA, full, cols, xs, pOff) * s[sOffA + full / BLOCK];
            sumB += partialBlock(w, offB, full, cols, xs, pOff) * s[sOffB + full / BLOCK];
        }
        y[yA] = sumA;
        y[yB] = sumB;
    }

    /** {@link #dot} of rows r, r + q, r + 2q, r + 3q with one input; row i's result to {@code y[yOff + i]}. */
    private void dot4(Lanes v, MemorySegment w, int cols, float[] sUp, float[] s, float[] xs, int pOff, int r,
            int q, float[] y, int yOff) {
        VectorSpecies<Float> fs = v.floats();
        VectorSpecies<Integer> is = v.ints();
        VectorSpecies<Byte> bs = v.bytes();
        int lanes = fs.length(), step = bs.length(), parts = step / lanes, full = cols - cols % BLOCK;
        long o0 = (long) r * cols, o1 = (long) (r + q) * cols, o2 = (long) (r + 2 * q) * cols, o3 = (long) (r + 3 * q) * cols;
        int s0 = r / BLOCK * scaleCols, s1 = (r + q) / BLOCK * scaleCols, s2 = (r + 2 * q) / BLOCK * scaleCols;
        int s3 = (r + 3 * q) / BLOCK * scaleCols;
        FloatVector zero = FloatVector.zero(fs), t0 = zero, t1 = zero, t2 = zero, t3 = zero;
        for (int b0 = 0; b0 < full; b0 += BLOCK) {
            FloatVector a0 = zero, a1 = zero, a2 = zero, a3 = zero;
            for (int c = b0; c < b0 + BLOCK; c += step) {
                ByteVector q0 = ByteVector.fromMemorySegment(bs, w, o0 + c, ByteOrder.LITTLE_ENDIAN);
                ByteVector q1 = ByteVector.fromMemorySegment(bs, w, o1 + c, ByteOrder.LITTLE_ENDIAN);
                ByteVector q2 = ByteVector.fromMemorySegment(bs, w, o2 + c, ByteOrder.LITTLE_ENDIAN);
                ByteVector q3 = ByteVector.fromMemorySegment(bs, w, o3 + c, ByteOrder.LITTLE_ENDIAN);
                for (int part = 0; part < parts; part++) {
                    FloatVector x = FloatVector.fromArray(fs, xs, pOff + c + part * lanes);
                    a0 = weights(is, q0, part).fma(x, a0);
                    a1 = weights(is, q1, part).fma(x, a1);
                    a2 = weights(is, q2, part).fma(x, a2);
                    a3 = weights(is, q3, part).fma(x, a3);
                }
            }
            int b = b0 / BLOCK;
            t0 = a0.fma(FloatVector.broadcast(fs, sUp[s0 + b]), t0);
            t1 = a1.fma(FloatVector.broadcast(fs, sUp[s1 + b]), t1);
            t2 = a2.fma(FloatVector.broadcast(fs, sUp[s2 + b]), t2);
            t3 = a3.fma(FloatVector.broadcast(fs, sUp[s3 + b]), t3);
        }
        float u0 = 0f, u1 = 0f, u2 = 0f, u3 = 0f;
        for (int i = 0; i < lanes; i++) {                   // lanes in order, the JIT's reduceLanes is not
            u0 += t0.lane(i);
            u1 += t1.lane(i);
            u2 += t2.lane(i);
            u3 += t3.lane(i);
        }
        y[yOff + r] = finish(u0, w, o0, full, cols, xs, pOff, s, s0);
        y[yOff + r + q] = finish(u1, w, o1, full, cols, xs, pOff, s, s1);
        y[yOff + r + 2 * q] = finish(u2, w, o2, full, cols, xs, pOff, s, s2);
        y[yOff + r + 3 * q] = finish(u3, w, o3, full, cols, xs, pOff, s, s3);
    }

    /**
     * The whole blocks of {@link #dot} for rows A and B and the {@value #TILE} inputs at {@code xs[p0 + t·cols ..]}:
     * each weight decoded once for four inputs and each input vector loaded once for both rows (8 independent
     * chains), every (row, input) getting exactly dot's operations. The totals go to {@code tot[tA + t·lanes ..]}
     * and {@code tot[tB + t·lanes ..]}: their lanes in order plus {@link #finish} make dot's results.
     */
    static void dot2x4(Lanes v, MemorySegment w, long offA, long offB, int cols, float[] sUp, int sOffA, int sOffB,
            float[] xs, int p0, float[] tot, int tA, int tB) {
        VectorSpecies<Float> fs = v.floats();
        VectorSpecies<Integer> is = v.ints();
        VectorSpecies<Byte> bs = v.bytes();
        int lanes = fs.length(), step = bs.length(), parts = step / lanes, full = cols - cols % BLOCK;
        int p1 = p0 + cols, p2 = p1 + cols, p3 = p2 + cols;
        FloatVector zero = FloatVector.zero(fs);
        FloatVector sa0 = zero, sa1 = zero, sa2 = zero, sa3 = zero, sb0 = zero, sb1 = zero, sb2 = zero, sb3 = zero;
        FloatVector a0 = zero, a1 = zero, a2 = zero, a3 = zero, b1 = zero, b2 = zero, b3 = zero, bb0 = zero;
        // one loop over the columns, a block's sums going into the totals at its last step: as a loop over the
        // blocks with a loop over each block's columns inside, C2 unrolled the inner loop whole, hoisted its 32
        // input loads and spilled (938 stack accesses in the compiled method): 27.5 against 34-37.5 GMAC/s on
        // one Zen 4 core with the weights in L2, the same results bit for bit
        for (int c = 0; c < full; c += step) {
            ByteVector qa = ByteVector.fromMemorySegment(bs, w, offA + c, ByteOrder.LITTLE_ENDIAN);
            ByteVector qb = ByteVector.fromMemorySegment(bs, w, offB + c, ByteOrder.LITTLE_ENDIAN);
            for (int part = 0; part < parts; part++) {
                int d = c + part * lanes;
                FloatVector wa = weights(is, qa, part), wb = weights(is, qb, part);
                FloatVector x = FloatVector.fromArray(fs, xs, p0 + d);
                a0 = wa.fma(x, a0);
                bb0 = wb.fma(x, bb0);
                x = FloatVector.fromArray(fs, xs, p1 + d);
                a1 = wa.fma(x, a1);
                b1 = wb.fma(x, b1);
                x = FloatVector.fromArray(fs, xs, p2 + d);
                a2 = wa.fma(x, a2);
                b2 = wb.fma(x, b2);
                x = FloatVector.fromArray(fs, xs, p3 + d);
                a3 = wa.fma(x, a3);
                b3 = wb.fma(x, b3);
            }
            if ((c + step) % BLOCK == 0) {
                FloatVector sca = FloatVector.broadcast(fs, sUp[sOffA + c / BLOCK]);
                FloatVector scb = FloatVector.broadcast(fs, sUp[sOffB + c / BLOCK]);
                sa0 = a0.fma(sca, sa0);
                sa1 = a1.fma(sca, sa1);
                sa2 = a2.fma(sca, sa2);
                sa3 = a3.fma(sca, sa3);
                sb0 = bb0.fma(scb, sb0);
                sb1 = b1.fma(scb, sb1);
                sb2 = b2.fma(scb, sb2);
                sb3 = b3.fma(scb, sb3);
                a0 = zero;
                a1 = zero;
                a2 = zero;
                a3 = zero;
                bb0 = zero;
                b1 = zero;
                b2 = zero;
                b3 = zero;
            }
        }
        sa0.intoArray(tot, tA);
        sa1.intoArray(tot, tA + lanes);
        sa2.intoArray(tot, tA + 2 * lanes);
        sa3.intoArray(tot, tA + 3 * lanes);
        sb0.intoArray(tot, tB);
        sb1.intoArray(tot, tB + lanes);
        sb2.intoArray(tot, tB + 2 * lanes);
        sb3.intoArray(tot, tB + 3 * lanes);
    }

    /**
     * {@link #dot} of rows A and B with the two inputs at {@code xs[p0 ..]} and {@code xs[p0 + cols ..]}: each
     * weight decoded once for both inputs and each input vector loaded once for both rows (4 independent chains),
     * every (row, input) getting exactly dot's operations; results to {@code y[yA + t·yStride]} and
     * {@code y[yB + t·yStride]}. One loop over the columns, as in {@link #dot2x4}.
     */
    static void dot2x2(Lanes v, MemorySegment w, long offA, long offB, int cols, float[] sUp, float[] s, int sOffA,
            int sOffB, float[] xs, int p0, float[] y, int yA, int yB, int yStride) {
        VectorSpecies<Float> fs = v.floats();
        VectorSpecies<Integer> is = v.ints();
        VectorSpecies<Byte> bs = v.bytes();
        int lanes = fs.length(), step = bs.length(), parts = step / lanes, full = cols - cols % BLOCK;
        int p1 = p0 + cols;
        FloatVector zero = FloatVector.zero(fs), sa0 = zero, sa1 = zero, sb0 = zero, sb1 = zero;
        FloatVector a0 = zero, a1 = zero, b0 = zero, b1 = zero;
        for (int c = 0; c < full; c += step) {
            ByteVector qa = ByteVector.fromMemorySegment(bs, w, offA + c, ByteOrder.LITTLE_ENDIAN);
            ByteVector qb = ByteVector.fromMemorySegment(bs, w, offB + c, ByteOrder.LITTLE_ENDIAN);
            for (int part = 0; part < parts; part++) {
                int d = c + part * lanes;
                FloatVector wa = weights(is, qa, part), wb = weights(is, qb, part);
                FloatVector x = FloatVector.fromArray(fs, xs, p0 + d);
                a0 = wa.fma(x, a0);
                b0 = wb.fma(x, b0);
                x = FloatVector.fromArray(fs, xs, p1 + d);
                a1 = wa.fma(x, a1);
                b1 = wb.fma(x, b1);
            }
            if ((c + step) % BLOCK == 0) {
                FloatVector sca = FloatVector.broadcast(fs, sUp[sOffA + c / BLOCK]);
                FloatVector scb = FloatVector.broadcast(fs, sUp[sOffB + c / BLOCK]);
                sa0 = a0.fma(sca, sa0);
                sa1 = a1.fma(sca, sa1);
                sb0 = b0.fma(scb, sb0);
                sb1 = b1.fma(scb, sb1);
                a0 = zero;
                a1 = zero;
                b0 = zero;
                b1 = zero;
            }
        }
        float ua0 = 0f, ua1 = 0f, ub0 = 0f, ub1 = 0f;
        for (int i = 0; i < lanes; i++) {
            ua0 += sa0.lane(i);
            ua1 += sa1.lane(i);
            ub0 += sb0.lane(i);
            ub1 += sb1.lane(i);
        }
        y[yA] = finish(ua0, w, offA, full, cols, xs, p0, s, sOffA);
        y[yA + yStride] = finish(ua1, w, offA, full, cols, xs, p1, s, sOffA);
        y[yB] = finish(ub0, w, offB, full, cols, xs, p0, s, sOffB);
        y[yB + yStride] = finish(ub1, w, offB, full, cols, xs, p1, s, sOffB);
    }

    /** {@code t[o] + t[o + 1] + … + t[o + lanes − 1]} in that order: a total's lanes, as {@link #dot} adds them. */
    private static float lanesSum(float[] t, int o, int lanes) {
        float sum = 0f;
        for (int i = 0; i < lanes; i++) {
            sum += t[o + i];
        }
        return sum;
    }

    /**
     * The end of a {@link #dot}: {@code sum}, the lanes of its total added in order, plus the partial block.
     * Takes the float, not the vector: a vector passed to a call the JIT does not inline is allocated.
     */
    private static float finish(float sum, MemorySegment w, long off, int full, int cols, float[] xs, int pOff,
            float[] s, int sOff) {
        return full == cols ? sum : sum + partialBlock(w, off, full, cols, xs, pOff) * s[sOff + full / BLOCK];
    }

    /** Σ e4m3 · x over columns [c, b1) in order, x read back from the scaled input (exact). */
    private static float partialBlock(MemorySegment w, long off, int c, int b1, float[] xs, int pOff) {
        float part = 0f;
        for (; c < b1; c++) {
            part += Formats.e4m3ToFloat(w.get(ValueLayout.JAVA_BYTE, off + c)) * (xs[pOff + c] * DOWN);
        }
        return part;
    }

    /**
     * The path for inputs beyond ±2^67 (or scales beyond 2^67): each weight decoded times 2^120 to its true
     * value, two accumulators per block (even vectors → acc0, odd → acc1), their sum times the block scale
     * into {@code total}; the columns after the last whole pair of a block in a scalar sum.
     */
    static float dotExact(Lanes v, MemorySegment w, long off, int cols, float[] s, int sOff, float[] x,
            int xOff) {
        VectorSpecies<Float> fs = v.floats();
        VectorSpecies<Integer> is = v.ints();
        VectorSpecies<Byte> bs = v.bytes();
        int lanes = fs.length(), step = 2 * lanes, parts = bs.length() / lanes;
        FloatVector total = FloatVector.zero(fs);
        float tail = 0f;
        for (int b0 = 0; b0 < cols; b0 += BLOCK) {
            int b1 = Math.min(cols, b0 + BLOCK), c = b0;
            FloatVector acc0 = FloatVector.zero(fs), acc1 = acc0;
            for (; c <= b1 - step; c += step) {
                // two loads of one vector each, or with 4 lanes one 8-byte load in two parts
                ByteVector c0 = ByteVector.fromMemorySegment(bs, w, off + c, ByteOrder.LITTLE_ENDIAN);
                ByteVector c1 = parts == 2 ? c0
                        : ByteVector.fromMemorySegment(bs, w, off + c + lanes, ByteOrder.LITTLE_ENDIAN);
                FloatVector w0 = ((IntVector) c0.convertShape(VectorOperators.B2I, is, 0))
                        .lanewise(VectorOperators.LSHL, 20).and(E4M3_FIELDS).reinterpretAsFloats().mul(E4M3_UNBIAS);
                FloatVector w1 = ((IntVector) c1.convertShape(VectorOperators.B2I, is, parts - 1))
                        .lanewise(VectorOperators.LSHL, 20).and(E4M3_FIELDS).reinterpretAsFloats().mul(E4M3_UNBIAS);
                acc0 = w0.fma(FloatVector.fromArray(fs, x, xOff + c), acc0);
                acc1 = w1.fma(FloatVector.fromArray(fs, x, xOff + c + lanes), acc1);
            }
            float blockScale = s[sOff + b0 / BLOCK];
            total = acc0.add(acc1).fma(FloatVector.broadcast(fs, blockScale), total);
            if (c < b1) {
                float part = 0f;
                for (; c < b1; c++) {
                    part += Formats.e4m3ToFloat(w.get(ValueLayout.JAVA_BYTE, off + c)) * x[xOff + c];
                }
                tail += part * blockScale;
            }
        }
        float sum = 0f;
        for (int i = 0; i < lanes; i++) {
            sum += total.lane(i);            // fixed order: the JIT's reduceLanes is not the interpreter's
        }
        return sum + tail;
    }

}
