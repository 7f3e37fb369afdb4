package dev.moe4j.tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Objects;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * FP4 e2m1 weights, two per byte (low nibble = even column), with one UE8M0 scale per 32 columns of a row
 * (docs/v4-architecture.md §3.2): {@code W[i,j] = e2m1(nibble) · 2^(scale[i][j/32] − 127)}.
 *
 * <p>Vector decode, per chunk of 8·lanes columns (one load of 2·lanes shorts, 4·lanes bytes): short lane j
 * holds the nibbles of columns 4j..4j+3. Shifted right by 4k, a lane's low bits index the 16-entry table of
 * e2m1 values as bf16 ({@code selectFrom}: one permute for 2·lanes weights); of each int lane (two shorts)
 * the low short shifted up and the high short masked are then two float vectors, of columns 8i + k and
 * 8i + 4 + k for lane i. So that they meet their inputs without moving any weight, each call first rearranges
 * x once per chunk ({@link #arrange}: position j·lanes + i takes column 8i + j) into an array lent by
 * {@link Scratch}; per 2·lanes weights a row then costs a shift (3 lookups in 4), the permute with the
 * index mask the API adds, a shift and a mask to split the pair, and two FMAs: measured 11 GB/s on one
 * Zen 4 core with the weights in cache, against 4 GB/s for the previous byte-spreading decode.
 *
 * <p>Lane i's weights all lie in block (chunk + 8i)/32, so a chunk sums its 8 products in one chain (low
 * then high half of each looked-up pair) and multiplies the sum by a vector of per-lane block scales (the
 * broadcast scale bytes rotated into the float exponent field; exact, as the scales are powers of two). That
 * cannot express the scale bytes 0 (2^-127, subnormal) and 255 (NaN), which the official quantiser never
 * writes: rows holding one take {@link #dotOdd}, in the reference's order. The columns after the last whole
 * chunk (cols is a multiple of 32 only) are summed per block in scalar code.
 */
public final class Fp4Matrix implements Matrix {

    /** Columns per scale. */
    public static final int BLOCK = 32;

    private static final ValueLayout.OfInt I32_LE =
            ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort I16_LE =
            ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final int EXPONENT = 0x7F800000;
    /** Input rows per matmul tile ({@link #dot2x4}). */
    private static final int TILE = 4;
    /** Matmul blocking: the inputs that stay in L2 while the rows pass, the rows whose weights stay in L2 meanwhile. */
    private static final long GROUP_BYTES = 256 << 10;
    private static final int ROW_BLOCK = 32;

    private final int rows, cols;
    private final MemorySegment w;
    /** E8M0 bytes [rows, cols/32] */
    private final MemorySegment scale;
    private final Lanes lanes;
    /** Whether some scale byte of the matrix is 0 or 255: 0 not known yet, 1 no, 2 yes ({@link #oddRows}). */
    private volatile int anyOdd;

    Fp4Matrix(int rows, int cols, MemorySegment w, MemorySegment scale, Lanes lanes) {
        this.rows = rows;
        this.cols = cols;
        this.w = w;
        this.scale = scale;
        this.lanes = lanes;
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
        return DType.I8;
    }

    @Override
    public long bytes() {
        return (long) rows * cols / 2 + (long) rows * (cols / BLOCK);
    }

    @Override
    public void matvec(float[] x, int xOff, float[] y, int yOff, int r0, int r1) {
        Matrices.checkMatvec(this, x, xOff, y, yOff, r0, r1);
        if (r0 == r1) {
            return;
        }
        float[] xp = Scratch.take(cols);
        arrange(lanes, x, xOff, cols, xp, 0);
        rowsOf(xp, 0, y, yOff, r0, r1, oddRows(r0, r1));
        Scratch.give(xp);
    }

    /** Rows [r0, r1) against the input arranged at {@code xp[pOff ..]}; row r to {@code y[yOff + r]}. */
    private void rowsOf(float[] xp, int pOff, float[] y, int yOff, int r0, int r1, boolean odd) {
        int perRow = cols / BLOCK;
        // rows r and r + half together: two memory streams, and each input vector loaded once for both
        int half = odd ? 0 : (r1 - r0) / 2;
        for (int r = r0; r < r0 + half; r++) {
            int q = r + half;
            dot2(lanes, w, (long) r * (cols / 2), (long) q * (cols / 2), cols, scale, (long) r * perRow,
                    (long) q * perRow, xp, pOff, y, yOff + r, yOff + q);
        }
        for (int r = r0 + 2 * half; r < r1; r++) {
            long off = (long) r * (cols / 2), sOff = (long) r * perRow;
            y[yOff + r] = odd && oddScales(scale, sOff, perRow)
                    ? dotOdd(lanes, w, off, cols, scale, sOff, xp, pOff)
                    : dot(lanes, w, off, cols, scale, sOff, xp, pOff);
        }
    }

    /**
     * {@link #rowsOf} for the two inputs arranged at {@code xp[pOff ..]} and {@code xp[pOff + cols ..]} ({@link
     * #dot2x2}: each weight decoded once for both), results to {@code y[yOff + r]} and {@code y[yOff + rows + r]};
     * for rows without a scale byte of 0 or 255.
     */
    private void rowsOf2(float[] xp, int pOff, float[] y, int yOff, int r0, int r1) {
        int perRow = cols / BLOCK, half = (r1 - r0) / 2;
        for (int r = r0; r < r0 + half; r++) {
            int q = r + half;
            dot2x2(lanes, w, (long) r * (cols / 2), (long) q * (cols / 2), cols, scale, (long) r * perRow,
                    (long) q * perRow, xp, pOff, pOff + cols, y, yOff + r, yOff + q, rows);
        }
        for (int r = r0 + 2 * half; r < r1; r++) {                                // an odd count's last row
            long off = (long) r * (cols / 2), sOff = (long) r * perRow;
            y[yOff + r] = dot(lanes, w, off, cols, scale, sOff, xp, pOff);
            y[yOff + rows + r] = dot(lanes, w, off, cols, scale, sOff, xp, pOff + cols);
        }
    }

    /**
     * Tiles of two weight rows × {@value #TILE} input rows ({@link #dot2x4}): each weight is decoded once per
     * tile and each input vector loaded once for both rows, and each (row, input) gets exactly the operations
     * of {@link #dot}, so the results are bit for bit those of matvec. The inputs go in groups that stay in L2
     * while every pair of rows passes, each pair's weights staying in L1 across the group's tiles; past one
     * group, blocks of rows keep their weights in L2 while the groups pass. One Zen 4 core, weights from DRAM,
     * 2048 × 4096: 4 inputs ran at 29-30 GMAC/s and 8 at 30-33, against 20 and 22-24 when the tiles went over
     * blocks of columns whose inputs stayed in L1 while the rows' weights came from L2 (every pair of rows
     * storing and reloading its sums per block of columns); 256 inputs at 29-34 against 28-31.6.
     */
    @Override
    public void matmul(float[] x, int n, float[] y, int r0, int r1) {
        Matrices.checkMatmul(this, x, n, y, r0, r1);
        if (r0 == r1 || n == 0) {
            return;
        }
        int l = lanes.floats().length(), perRow = cols / BLOCK;
        float[] xp = Scratch.take(n * cols + 2 * TILE * l);
        for (int t = 0; t < n; t++) {
            arrange(lanes, x, t * cols, cols, xp, t * cols);
        }
        int tot = n * cols, tiled = n - n % TILE;
        boolean odd = oddRows(r0, r1);
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
                    long offA = (long) rA * (cols / 2), offB = (long) rB * (cols / 2);
                    long sA = (long) rA * perRow, sB = (long) rB * perRow;
                    boolean oddA = odd && oddScales(scale, sA, perRow);
                    boolean oddB = pair && odd && oddScales(scale, sB, perRow);
                    for (int k = g; k < ge; k += TILE) {
                        if (pair) {
                            Arrays.fill(xp, tot, tot + 2 * TILE * l, 0f);
                            dot2x4(lanes, w, offA, offB, scale, sA, sB, xp, k * cols, cols, xp, tot);
                        }
                        for (int t = 0; t < TILE; t++) {
                            int p = (k + t) * cols;
                            y[(k + t) * rows + rA] = oddA ? dotOdd(lanes, w, offA, cols, scale, sA, xp, p)
                                    : pair ? finish(l, xp, tot + t * l, w, offA, cols, scale, sA, xp, p)
                                    : dot(lanes, w, offA, cols, scale, sA, xp, p);
                            if (pair) {
                                y[(k + t) * rows + rB] = oddB ? dotOdd(lanes, w, offB, cols, scale, sB, xp, p)
                                        : finish(l, xp, tot + (TILE + t) * l, w, offB, cols, scale, sB, xp, p);
                            }
                        }
                    }
                }
            }
        }
        // the inputs after the last whole tile (an expert's one to three tokens): as matvec does, two rows far
        // apart at a time (two memory streams), and two inputs at a time where there are two
        int t = tiled;
        for (; t + 1 < n && !odd; t += 2) {
            rowsOf2(xp, t * cols, y, t * rows, r0, r1);
        }
        for (; t < n; t++) {
            rowsOf(xp, t * cols, y, t * rows, r0, r1, odd);
        }
        Scratch.give(xp);
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
        return nibble(w, (long) r * (cols / 2), c) * scale(r, c / BLOCK);
    }

    private float scale(int r, int b) {
        return Formats.e8m0ToFloat(scale.get(ValueLayout.JAVA_BYTE, (long) r * (cols / BLOCK) + b));
    }

    private static float nibble(MemorySegment w, long rowOff, int c) {
        int packed = w.get(ValueLayout.JAVA_BYTE, rowOff + c / 2);
        return Formats.e2m1ToFloat(packed >> 4 * (c & 1));
    }

    /** The plain reference: per 32-column block a float sum of e2m1 · x, times the scale, summed over blocks. */
    public static void matvecScalar(Fp4Matrix m, float[] x, int xOff, float[] y, int yOff, int r0, int r1) {
        Matrices.checkMatvec(m, x, xOff, y, yOff, r0, r1);
        for (int r = r0; r < r1; r++) {
            long off = (long) r * (m.cols / 2);
            float sum = 0f;
            for (int b = 0; b < m.cols / BLOCK; b++) {
                float part = 0f;
                for (int c = b * BLOCK; c < (b + 1) * BLOCK; c++) {
                    part += nibble(m.w, off, c) * x[xOff + c];
                }
                sum += part * m.scale(r, b);
            }
            y[yOff + r] = sum;
        }
    }

    /**
     * {@code xp[pOff + c0 + j·lanes + i] = x[xOff + c0 + 8i + j]} for each whole chunk of 8·lanes columns
     * at c0, and the columns after them as they are.
     */
    static void arrange(Lanes v, float[] x, int xOff, int cols, float[] xp, int pOff) {
        int lanes = v.floats().length(), chunk = 8 * lanes, whole = cols - cols % chunk;
        for (int c0 = 0; c0 < whole; c0 += chunk) {
            for (int i = 0; i < lanes; i++) {
                int from = xOff + c0 + 8 * i, to = pOff + c0 + i;
                for (int j = 0; j < 8; j++) {
                    xp[to + j * lanes] = x[from + j];
                }
            }
        }
        System.arraycopy(x, xOff + whole, xp, pOff + whole, cols - whole);
    }

    /**
     * Σ over the blocks after the last whole chunk of (Σ e2m1 · x in column order) · scale, the reference's
     * order; {@code xp} holds those columns unmoved.
     */
    private static float tail(MemorySegment w, long off, int cols, int whole, MemorySegment s, long sOff,
            float[] xp, int pOff) {
        float sum = 0f;
        for (int b0 = whole; b0 < cols; b0 += BLOCK) {
            float part = 0f;
            for (int c = b0; c < b0 + BLOCK; c++) {
                part += nibble(w, off, c) * xp[pOff + c];
            }
            sum += part * Formats.e8m0ToFloat(s.get(ValueLayout.JAVA_BYTE, sOff + b0 / BLOCK));
        }
        return sum;
    }

    /**
     * Whether a scale byte of rows [r0, r1) is 0 or 255. The whole matrix is scanned once, on first use, and
     * the rows only when it has such a byte: scanning the rows' scales on every call read 1/16 of the weight
     * bytes once more, 0.8 % of a v4-flash-slice2-v1k decode step's samples (JFR, 2 threads).
     */
    private boolean oddRows(int r0, int r1) {
        int perRow = cols / BLOCK, any = anyOdd;
        if (any == 0) {
            any = oddScales(scale, 0, (long) rows * perRow) ? 2 : 1;         // the same answer on every thread
            anyOdd = any;
        }
        return any == 2 && oddScales(scale, (long) r0 * perRow, (long) (r1 - r0) * perRow);
    }

    /**
     * Whether one of the scale bytes [from, from + n) is 0 (2^-127, a subnormal) or 255 (NaN), which the
     * vector kernels, building the scales from the exponent bits alone, would turn into 0 and infinity. The
     * official quantiser writes neither (its scales are at least 2^-126).
     */
    static boolean oddScales(MemorySegment s, long from, long n) {
        VectorSpecies<Byte> bs = ByteVector.SPECIES_PREFERRED;
        long i = 0;
        for (; i <= n - bs.length(); i += bs.length()) {
            ByteVector b = ByteVector.fromMemorySegment(bs, s, from + i, ByteOrder.LITTLE_ENDIAN);
            if (b.add((byte) 1).compare(VectorOperators.ULT, (byte) 2).anyTrue()) {
                return true;
            }
        }
        for (; i < n; i++) {
            int b = s.get(ValueLayout.JAVA_BYTE, from + i) & 0xFF;
            if (b == 0 || b == 255) {
                return true;
            }
        }
        return false;
    }

    /**
     * {@link #dot} for a row with a scale byte of 0 or 255: the reference's order (per block a sum in column
     * order, times the scale), reading the input where {@link #arrange} put it.
     */
    static float dotOdd(Lanes v, MemorySegment w, long off, int cols, MemorySegment s, long sOff, float[] xp,
            int pOff) {
        int lanes = v.floats().length(), chunk = 8 * lanes, whole = cols - cols % chunk;
        float sum = 0f;
        for (int b0 = 0; b0 < cols; b0 += BLOCK) {
            float part = 0f;
            for (int c = b0; c < b0 + BLOCK; c++) {
                int pos = c < whole ? c - c % chunk + (c % 8) * lanes + c % chunk / 8 : c;
                part += nibble(w, off, c) * xp[pOff + pos];
            }
            sum += part * Formats.e8m0ToFloat(s.get(ValueLayout.JAVA_BYTE, sOff + b0 / BLOCK));
        }
        return sum;
    }

    /**
     * One row against an input {@link #arrange arranged} at {@code xp[pOff ..]}: per chunk one chain of 8
     * products (the 4 low halves, then the 4 high halves of the looked-up pairs), times the lanes' block
     * scales into {@code total}; then the lanes of total in order, plus the {@link #tail}.
     */
    static float dot(Lanes v, MemorySegment w, long off, int cols, MemorySegment s, long sOff, float[] xp,
            int pOff) {
        VectorSpecies<Float> fs = v.floats();
        VectorSpecies<Integer> is = v.ints();
        VectorSpecies<Short> ps = v.pairs();
        int lanes = fs.length(), chunk = 8 * lanes, whole = cols - cols % chunk;
        FloatVector total = FloatVector.zero(fs);
        for (int c0 = 0; c0 < whole; c0 += chunk) {
            ShortVector packed = ShortVector.fromMemorySegment(ps, w, off + c0 / 2, ByteOrder.LITTLE_ENDIAN);
            ShortVector ta = v.e2m1Bf16A(), tb = v.e2m1Bf16B();
            IntVector t0 = packed.selectFrom(ta, tb).reinterpretAsInts();
            IntVector t1 = packed.lanewise(VectorOperators.LSHR, 4).selectFrom(ta, tb).reinterpretAsInts();
            IntVector t2 = packed.lanewise(VectorOperators.LSHR, 8).selectFrom(ta, tb).reinterpretAsInts();
            IntVector t3 = packed.lanewise(VectorOperators.LSHR, 12).selectFrom(ta, tb).reinterpretAsInts();
            int p = pOff + c0;
            FloatVector a = t0.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats()
                    .mul(FloatVector.fromArray(fs, xp, p));
            a = t0.and(0xFFFF0000).reinterpretAsFloats().fma(FloatVector.fromArray(fs, xp, p + 4 * lanes), a);
            a = t1.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats()
                    .fma(FloatVector.fromArray(fs, xp, p + lanes), a);
            a = t1.and(0xFFFF0000).reinterpretAsFloats().fma(FloatVector.fromArray(fs, xp, p + 5 * lanes), a);
            a = t2.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats()
                    .fma(FloatVector.fromArray(fs, xp, p + 2 * lanes), a);
            a = t2.and(0xFFFF0000).reinterpretAsFloats().fma(FloatVector.fromArray(fs, xp, p + 6 * lanes), a);
            a = t3.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats()
                    .fma(FloatVector.fromArray(fs, xp, p + 3 * lanes), a);
            a = t3.and(0xFFFF0000).reinterpretAsFloats().fma(FloatVector.fromArray(fs, xp, p + 7 * lanes), a);
            long at = sOff + c0 / BLOCK;         // the chunk's lanes/4 scale bytes, little-endian
            int sb = lanes == 16 ? s.get(I32_LE, at)
                    : lanes == 8 ? s.get(I16_LE, at) : s.get(ValueLayout.JAVA_BYTE, at);
            IntVector bits = IntVector.broadcast(is, sb).lanewise(VectorOperators.ROL, v.scaleRotation())
                    .and(EXPONENT);
            total = a.fma(bits.reinterpretAsFloats(), total);
        }
        float sum = 0f;
        for (int i = 0; i < lanes; i++) {
            sum += total.lane(i);                // fixed order: the JIT's reduceLanes is not the interpreter's
        }
        return whole == cols ? sum : sum + tail(w, off, cols, whole, s, sOff, xp, pOff);
    }

    /**
     * {@link #dot} of rows A and B (far apart: two memory streams in flight) with one input, each input vector
     * loaded once for both, each row getting exactly dot's operations; results to {@code y[yA]} and
     * {@code y[yB]}.
     */
    static void dot2(Lanes v, MemorySegment w, long offA, long offB, int cols, MemorySegment s, long sOffA,
            long sOffB, float[] xp, int pOff, float[] y, int yA, int yB) {
        VectorSpecies<Float> fs = v.floats();
        VectorSpecies<Integer> is = v.ints();
        VectorSpecies<Short> ps = v.pairs();
        int lanes = fs.length(), chunk = 8 * lanes, whole = cols - cols % chunk;
        ShortVector ta = v.e2m1Bf16A(), tb = v.e2m1Bf16B();
        FloatVector totalA = FloatVector.zero(fs), totalB = totalA;
        for (int c0 = 0; c0 < whole; c0 += chunk) {
            ShortVector pa = ShortVector.fromMemorySegment(ps, w, offA + c0 / 2, ByteOrder.LITTLE_ENDIAN);
            ShortVector pb = ShortVector.fromMemorySegment(ps, w, offB + c0 / 2, ByteOrder.LITTLE_ENDIAN);
            int p = pOff + c0;
            FloatVector a, b, xv;
            IntVector ua, ub;
            ua = pa.selectFrom(ta, tb).reinterpretAsInts();
            ub = pb.selectFrom(ta, tb).reinterpretAsInts();
            xv = FloatVector.fromArray(fs, xp, p);
            a = ua.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().mul(xv);
            b = ub.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().mul(xv);
            xv = FloatVector.fromArray(fs, xp, p + 4 * lanes);
            a = ua.and(0xFFFF0000).reinterpretAsFloats().fma(xv, a);
            b = ub.and(0xFFFF0000).reinterpretAsFloats().fma(xv, b);
            ua = pa.lanewise(VectorOperators.LSHR, 4).selectFrom(ta, tb).reinterpretAsInts();
            ub = pb.lanewise(VectorOperators.LSHR, 4).selectFrom(ta, tb).reinterpretAsInts();
            xv = FloatVector.fromArray(fs, xp, p + lanes);
            a = ua.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(xv, a);
            b = ub.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(xv, b);
            xv = FloatVector.fromArray(fs, xp, p + 5 * lanes);
            a = ua.and(0xFFFF0000).reinterpretAsFloats().fma(xv, a);
            b = ub.and(0xFFFF0000).reinterpretAsFloats().fma(xv, b);
            ua = pa.lanewise(VectorOperators.LSHR, 8).selectFrom(ta, tb).reinterpretAsInts();
            ub = pb.lanewise(VectorOperators.LSHR, 8).selectFrom(ta, tb).reinterpretAsInts();
            xv = FloatVector.fromArray(fs, xp, p + 2 * lanes);
            a = ua.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(xv, a);
            b = ub.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(xv, b);
            xv = FloatVector.fromArray(fs, xp, p + 6 * lanes);
            a = ua.and(0xFFFF0000).reinterpretAsFloats().fma(xv, a);
            b = ub.and(0xFFFF0000).reinterpretAsFloats().fma(xv, b);
            ua = pa.lanewise(VectorOperators.LSHR, 12).selectFrom(ta, tb).reinterpretAsInts();
            ub = pb.lanewise(VectorOperators.LSHR, 12).selectFrom(ta, tb).reinterpretAsInts();
            xv = FloatVector.fromArray(fs, xp, p + 3 * lanes);
            a = ua.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(xv, a);
            b = ub.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(xv, b);
            xv = FloatVector.fromArray(fs, xp, p + 7 * lanes);
            a = ua.and(0xFFFF0000).reinterpretAsFloats().fma(xv, a);
            b = ub.and(0xFFFF0000).reinterpretAsFloats().fma(xv, b);
            long atA = sOffA + c0 / BLOCK, atB = sOffB + c0 / BLOCK;
            int sbA = lanes == 16 ? s.get(I32_LE, atA)
                    : lanes == 8 ? s.get(I16_LE, atA) : s.get(ValueLayout.JAVA_BYTE, atA);
            int sbB = lanes == 16 ? s.get(I32_LE, atB)
                    : lanes == 8 ? s.get(I16_LE, atB) : s.get(ValueLayout.JAVA_BYTE, atB);
            totalA = a.fma(IntVector.broadcast(is, sbA).lanewise(VectorOperators.ROL, v.scaleRotation())
                    .and(EXPONENT).reinterpretAsFloats(), totalA);
            totalB = b.fma(IntVector.broadcast(is, sbB).lanewise(VectorOperators.ROL, v.scaleRotation())
                    .and(EXPONENT).reinterpretAsFloats(), totalB);
        }
        float sumA = 0f, sumB = 0f;
        for (int i = 0; i < lanes; i++) {
            sumA += totalA.lane(i);
            sumB += totalB.lane(i);
        }
        if (whole != cols) {
            sumA += tail(w, offA, cols, whole, s, sOffA, xp, pOff);
            sumB += tail(w, offB, cols, whole, s, sOffB, xp, pOff);
        }
        y[yA] = sumA;
        y[yB] = sumB;
    }

    /**
     * {@link #dot} of rows A and B with the inputs at {@code xp[p0 ..]} and {@code xp[p1 ..]}: each weight decoded
     * once for both inputs and each input vector loaded once for both rows, every (row, input) getting exactly
     * dot's operations; results to {@code y[yA]}, {@code y[yB]} and, for the second input, {@code y[yA + yStride]},
     * {@code y[yB + yStride]}. A loop over the nibble positions, as in {@link #dot2x4}. Two inputs through it
     * ran at 22.5-25.5 GMAC/s against 17.6 through {@link #dot2} twice, one Zen 4 core, weights from DRAM.
     */
    static void dot2x2(Lanes v, MemorySegment w, long offA, long offB, int cols, MemorySegment s, long sOffA,
            long sOffB, float[] xp, int p0, int p1, float[] y, int yA, int yB, int yStride) {
        VectorSpecies<Float> fs = v.floats();
        VectorSpecies<Integer> is = v.ints();
        VectorSpecies<Short> ps = v.pairs();
        int lanes = fs.length(), chunk = 8 * lanes, whole = cols - cols % chunk;
        ShortVector ta = v.e2m1Bf16A(), tb = v.e2m1Bf16B();
        FloatVector tA0 = FloatVector.zero(fs), tA1 = tA0, tB0 = tA0, tB1 = tA0;
        for (int c0 = 0; c0 < whole; c0 += chunk) {
            ShortVector pa = ShortVector.fromMemorySegment(ps, w, offA + c0 / 2, ByteOrder.LITTLE_ENDIAN);
            ShortVector pb = ShortVector.fromMemorySegment(ps, w, offB + c0 / 2, ByteOrder.LITTLE_ENDIAN);
            IntVector ua = pa.selectFrom(ta, tb).reinterpretAsInts(), ub = pb.selectFrom(ta, tb).reinterpretAsInts();
            FloatVector wa = ua.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
            FloatVector wb = ub.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
            FloatVector x0 = FloatVector.fromArray(fs, xp, p0 + c0), x1 = FloatVector.fromArray(fs, xp, p1 + c0);
            FloatVector a0 = wa.mul(x0), a1 = wa.mul(x1), b0 = wb.mul(x0), b1 = wb.mul(x1);
            for (int k = 0; k < 4; k++) {
                if (k > 0) {                 // the low halves of nibble k (k = 0's are the products above)
                    ua = pa.lanewise(VectorOperators.LSHR, 4 * k).selectFrom(ta, tb).reinterpretAsInts();
                    ub = pb.lanewise(VectorOperators.LSHR, 4 * k).selectFrom(ta, tb).reinterpretAsInts();
                    wa = ua.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
                    wb = ub.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
                    x0 = FloatVector.fromArray(fs, xp, p0 + c0 + k * lanes);
                    x1 = FloatVector.fromArray(fs, xp, p1 + c0 + k * lanes);
                    a0 = wa.fma(x0, a0);
                    a1 = wa.fma(x1, a1);
                    b0 = wb.fma(x0, b0);
                    b1 = wb.fma(x1, b1);
                }
                wa = ua.and(0xFFFF0000).reinterpretAsFloats();          // the high halves of nibble k
                wb = ub.and(0xFFFF0000).reinterpretAsFloats();
                x0 = FloatVector.fromArray(fs, xp, p0 + c0 + (4 + k) * lanes);
                x1 = FloatVector.fromArray(fs, xp, p1 + c0 + (4 + k) * lanes);
                a0 = wa.fma(x0, a0);
                a1 = wa.fma(x1, a1);
                b0 = wb.fma(x0, b0);
                b1 = wb.fma(x1, b1);
            }
            long atA = sOffA + c0 / BLOCK, atB = sOffB + c0 / BLOCK;
            int sbA = lanes == 16 ? s.get(I32_LE, atA)
                    : lanes == 8 ? s.get(I16_LE, atA) : s.get(ValueLayout.JAVA_BYTE, atA);
            int sbB = lanes == 16 ? s.get(I32_LE, atB)
                    : lanes == 8 ? s.get(I16_LE, atB) : s.get(ValueLayout.JAVA_BYTE, atB);
            FloatVector sa = IntVector.broadcast(is, sbA).lanewise(VectorOperators.ROL, v.scaleRotation())
                    .and(EXPONENT).reinterpretAsFloats();
            FloatVector sc = IntVector.broadcast(is, sbB).lanewise(VectorOperators.ROL, v.scaleRotation())
                    .and(EXPONENT).reinterpretAsFloats();
            tA0 = a0.fma(sa, tA0);
            tA1 = a1.fma(sa, tA1);
            tB0 = b0.fma(sc, tB0);
            tB1 = b1.fma(sc, tB1);
        }
        float sA0 = 0f, sA1 = 0f, sB0 = 0f, sB1 = 0f;
        for (int i = 0; i < lanes; i++) {
            sA0 += tA0.lane(i);
            sA1 += tA1.lane(i);
            sB0 += tB0.lane(i);
            sB1 += tB1.lane(i);
        }
        if (whole != cols) {
            sA0 += tail(w, offA, cols, whole, s, sOffA, xp, p0);
            sA1 += tail(w, offA, cols, whole, s, sOffA, xp, p1);
            sB0 += tail(w, offB, cols, whole, s, sOffB, xp, p0);
            sB1 += tail(w, offB, cols, whole, s, sOffB, xp, p1);
        }
        y[yA] = sA0;
        y[yB] = sB0;
        y[yA + yStride] = sA1;
        y[yB + yStride] = sB1;
    }

    /**
     * The whole chunks of {@link #dot} for rows A and B and the {@value #TILE} inputs at
     * {@code xp[p0 + t·cols ..]}: each weight decoded once for the four inputs and each input vector loaded
     * once for both rows, every (row, input) getting exactly dot's operations. The running totals are read
     * from and written back to {@code tot[tOff + (4·row + t)·lanes ..]} (zeros before the call), and
     * {@link #finish} turns them into dot's results.
     *
     * <p>The chunk is a loop over the four nibble positions, not written out as {@link #dot2} is: written out,
     * C2 hoisted all 32 input loads of a chunk to its top and spilled them with the sums (564 stack accesses
     * in the compiled method), 20-24 GMAC/s on one Zen 4 core with the weights in L2; as a loop, 29-33 with
     * the same results bit for bit.
     */
    static void dot2x4(Lanes v, MemorySegment w, long offA, long offB, MemorySegment s, long sOffA, long sOffB,
            float[] xp, int p0, int cols, float[] tot, int tOff) {
        VectorSpecies<Float> fs = v.floats();
        VectorSpecies<Integer> is = v.ints();
        VectorSpecies<Short> ps = v.pairs();
        int lanes = fs.length(), chunk = 8 * lanes, whole = cols - cols % chunk;
        int q0 = p0, q1 = p0 + cols, q2 = p0 + 2 * cols, q3 = p0 + 3 * cols;
        ShortVector ta = v.e2m1Bf16A(), tb = v.e2m1Bf16B();
        for (int c0 = 0; c0 < whole; c0 += chunk) {
            ShortVector pa = ShortVector.fromMemorySegment(ps, w, offA + c0 / 2, ByteOrder.LITTLE_ENDIAN);
            ShortVector pb = ShortVector.fromMemorySegment(ps, w, offB + c0 / 2, ByteOrder.LITTLE_ENDIAN);
            IntVector ua = pa.selectFrom(ta, tb).reinterpretAsInts(), ub = pb.selectFrom(ta, tb).reinterpretAsInts();
            FloatVector wa = ua.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
            FloatVector wb = ub.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
            FloatVector x0 = FloatVector.fromArray(fs, xp, q0 + c0), x1 = FloatVector.fromArray(fs, xp, q1 + c0);
            FloatVector x2 = FloatVector.fromArray(fs, xp, q2 + c0), x3 = FloatVector.fromArray(fs, xp, q3 + c0);
            FloatVector a0 = wa.mul(x0), b0 = wb.mul(x0), a1 = wa.mul(x1), b1 = wb.mul(x1);
            FloatVector a2 = wa.mul(x2), b2 = wb.mul(x2), a3 = wa.mul(x3), b3 = wb.mul(x3);
            for (int k = 0; k < 4; k++) {
                if (k > 0) {                 // the low halves of nibble k (k = 0's are the products above)
                    ua = pa.lanewise(VectorOperators.LSHR, 4 * k).selectFrom(ta, tb).reinterpretAsInts();
                    ub = pb.lanewise(VectorOperators.LSHR, 4 * k).selectFrom(ta, tb).reinterpretAsInts();
                    wa = ua.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
                    wb = ub.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
                    int c = c0 + k * lanes;
                    x0 = FloatVector.fromArray(fs, xp, q0 + c);
                    x1 = FloatVector.fromArray(fs, xp, q1 + c);
                    x2 = FloatVector.fromArray(fs, xp, q2 + c);
                    x3 = FloatVector.fromArray(fs, xp, q3 + c);
                    a0 = wa.fma(x0, a0);
                    b0 = wb.fma(x0, b0);
                    a1 = wa.fma(x1, a1);
                    b1 = wb.fma(x1, b1);
                    a2 = wa.fma(x2, a2);
                    b2 = wb.fma(x2, b2);
                    a3 = wa.fma(x3, a3);
                    b3 = wb.fma(x3, b3);
                }
                wa = ua.and(0xFFFF0000).reinterpretAsFloats();          // the high halves of nibble k
                wb = ub.and(0xFFFF0000).reinterpretAsFloats();
                int c = c0 + (4 + k) * lanes;
                x0 = FloatVector.fromArray(fs, xp, q0 + c);
                x1 = FloatVector.fromArray(fs, xp, q1 + c);
                x2 = FloatVector.fromArray(fs, xp, q2 + c);
                x3 = FloatVector.fromArray(fs, xp, q3 + c);
                a0 = wa.fma(x0, a0);
                b0 = wb.fma(x0, b0);
                a1 = wa.fma(x1, a1);
                b1 = wb.fma(x1, b1);
                a2 = wa.fma(x2, a2);
                b2 = wb.fma(x2, b2);
                a3 = wa.fma(x3, a3);
                b3 = wb.fma(x3, b3);
            }
            long atA = sOffA + c0 / BLOCK, atB = sOffB + c0 / BLOCK;
            int sbA = lanes == 16 ? s.get(I32_LE, atA)
                    : lanes == 8 ? s.get(I16_LE, atA) : s.get(ValueLayout.JAVA_BYTE, atA);
            int sbB = lanes == 16 ? s.get(I32_LE, atB)
                    : lanes == 8 ? s.get(I16_LE, atB) : s.get(ValueLayout.JAVA_BYTE, atB);
            FloatVector sa = IntVector.broadcast(is, sbA).lanewise(VectorOperators.ROL, v.scaleRotation())
                    .and(EXPONENT).reinterpretAsFloats();
            FloatVector sc = IntVector.broadcast(is, sbB).lanewise(VectorOperators.ROL, v.scaleRotation())
                    .and(EXPONENT).reinterpretAsFloats();
            a0.fma(sa, FloatVector.fromArray(fs, tot, tOff)).intoArray(tot, tOff);
            a1.fma(sa, FloatVector.fromArray(fs, tot, tOff + lanes)).intoArray(tot, tOff + lanes);
            a2.fma(sa, FloatVector.fromArray(fs, tot, tOff + 2 * lanes)).intoArray(tot, tOff + 2 * lanes);
            a3.fma(sa, FloatVector.fromArray(fs, tot, tOff + 3 * lanes)).intoArray(tot, tOff + 3 * lanes);
            b0.fma(sc, FloatVector.fromArray(fs, tot, tOff + 4 * lanes)).intoArray(tot, tOff + 4 * lanes);
            b1.fma(sc, FloatVector.fromArray(fs, tot, tOff + 5 * lanes)).intoArray(tot, tOff + 5 * lanes);
            b2.fma(sc, FloatVector.fromArray(fs, tot, tOff + 6 * lanes)).intoArray(tot, tOff + 6 * lanes);
            b3.fma(sc, FloatVector.fromArray(fs, tot, tOff + 7 * lanes)).intoArray(tot, tOff + 7 * lanes);
        }
    }

    /** {@link #dot}'s result from the totals {@link #dot2x4} left at {@code tot[tOff ..]}: lanes in order, tail. */
    static float finish(int lanes, float[] tot, int tOff, MemorySegment w, long off, int cols, MemorySegment s,
            long sOff, float[] xp, int pOff) {
        int whole = cols - cols % (8 * lanes);
        float sum = 0f;
        for (int i = 0; i < lanes; i++) {
            sum += tot[tOff + i];
        }
        return whole == cols ? sum : sum + tail(w, off, cols, whole, s, sOff, xp, pOff);
    }
}
