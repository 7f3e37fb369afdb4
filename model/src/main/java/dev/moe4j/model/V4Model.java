package dev.moe4j.model;

import dev.moe4j.io.CheckpointException;
import dev.moe4j.io.CheckpointException.Kind;
import dev.moe4j.model.V4State.CompState;
import dev.moe4j.model.V4State.LayerState;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Formats;
import dev.moe4j.tensor.HugePages;
import dev.moe4j.tensor.KeySort;
import dev.moe4j.tensor.Matrices;
import dev.moe4j.tensor.Matrix;
import dev.moe4j.tensor.Parallel;
import dev.moe4j.tensor.Tensor;
import dev.moe4j.tensor.TensorSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * The DeepSeek V4 forward pass (V4-Flash / V4-Pro), in the order of the official
 * {@code inference/model.py}: embedding → blocks (mHC around attention and MoE) → {@code hc_head} →
 * norm → head, plus the MTP block. Prefill of a prompt and token-by-token decode are the same code:
 * a call processes {@code n} tokens at the positions following what the caches already hold.
 * Rounding points follow {@link Numerics}; arithmetic is float32 with double reductions. One forward
 * call runs at a time (they share the working buffers); sequences interleave freely between calls.
 */
public final class V4Model implements AutoCloseable {

    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort BF16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    /** Up to this many rows (decode steps, small batches) the experts run as two fused regions ({@link #moeFused}). */
    private static final int FUSED_ROWS = 8;
    /** Products smaller than this many multiply-adds run on the calling thread (a pool hand-off is ~10 µs). */
    private static final long PARALLEL_MIN_MACS = Long.getLong("moe4j.parallelMinMacs", 1 << 18);
    /**
     * What an element-wise step in scalar code (a rounding, a SwiGLU, an FP8 round trip, an mHC mix) costs in
     * multiply-adds of a vector kernel: ~3 ns against ~20 GMAC/s per core.
     */
    private static final int ELEMENT_MACS = 64;

    private final V4Config cfg;
    private final Numerics num;
    private final TensorSource src;
    private final Matrix embed, head;
    private final float[] norm;
    private final HcHead hcHead;
    private final Block[] layers;
    private final Block[] mtp;
    private final Rope ropeSwa, ropeCmp;
    private final int maxChunk;
    private final Workspace ws;
    /** The plain scalar kernels everywhere: weight matrices and attention ({@code --reference}). */
    private final boolean reference;
    private final ExpertTask experts;
    /** Routed experts run so far, each counted once per layer and forward call ({@link #expertsRun}). */
    private long expertsRun;
    /** Weights the model derives at load (bf16 copies of wo_a with non-power-of-two scales). */
    private final Arena arena = Arena.ofShared();
    /** The one-segment batch of the single-sequence entry points. */
    private final Batch single;
    /** The row receiver of the forward call in progress (guarded by this). */
    private RowLogits everyRow;

    // ================================================================== weights

    /** One mHC site: {@code hc_{site}_fn} [mix, hc·D], {@code _scale} [3], {@code _base} [mix]. */
    private record HcSite(Matrix fn, float[] scale, float[] base) {
    }

    /** The final collapse of the streams: pre weights only. */
    private record HcHead(Matrix fn, float[] scale, float[] base) {
    }

    /** A compressor: {@code wkv}, {@code wgate} [coff·width, D], {@code ape} [ratio, coff·width], {@code norm} [width]. */
    private record Comp(Matrix wkv, Matrix wgate, float[] ape, float[] norm, int ratio, int width) {
    }

    private static final class Block {
        int layerId, ratio;
        boolean hash;
        float[] attnNorm, ffnNorm;
        HcSite hcAttn, hcFfn;
        // attention
        float[] sink, qNorm, kvNorm;
        Matrix wqA, wqB, wkv, woA, woB;
        Comp comp, icomp;
        Matrix idxWqB, idxWproj;
        // MoE
        Matrix gate;
        float[] gateBias;
        MemorySegment tid2eid;
        Matrix[] w1, w2, w3;
        Matrix sw1, sw2, sw3;
        // MTP only
        Matrix eProj, hProj;
        float[] enorm, hnorm, mtpNorm;
        HcHead mtpHcHead;
    }

    /** Binds official tensor names to weights, checking dtype and shape against the config's layout. */
    private static final class Binder {
        final TensorSource src;
        final V4Layout layout;
        final Arena arena;
        /** Every matrix on its scalar reference kernels ({@link Matrices#reference}). */
        final boolean reference;

        Binder(TensorSource src, V4Layout layout, Arena arena, boolean reference) {
            this.src = src;
            this.layout = layout;
            this.arena = arena;
            this.reference = reference;
        }

        Matrix bind(Tensor weight, Tensor scaleOrNull) {
            Matrix m = Matrices.of(weight, scaleOrNull);
            return reference ? Matrices.reference(m) : m;
        }

        Path file(String name) {
            return Path.of(src.fileOf(name));
        }

        void validateAll() {
            for (V4Layout.Spec s : layout.specs().values()) {
                tensor(s.name());
            }
        }

        Tensor tensor(String name) {
            V4Layout.Spec spec = layout.spec(name);
            if (!src.has(name)) {
                throw new CheckpointException(Kind.MISSING_TENSOR, Path.of(src.origin()), name,
                        "missing (the config implies " + spec.dtype() + " " + Arrays.toString(spec.shape()) + ")");
            }
            Tensor t = src.get(name);
            boolean scale = spec.role() == V4Layout.Role.SCALE;
            boolean dtypeOk = t.dtype() == spec.dtype() || (scale && t.dtype() == DType.F32);
            if (!dtypeOk) {
                throw new CheckpointException(Kind.DTYPE, file(name), name, "dtype " + t.dtype() + ", expected "
                        + spec.dtype() + (scale ? " or F32" : ""));
            }
            if (!Arrays.equals(t.shape(), spec.shape())) {
                throw new CheckpointException(Kind.SHAPE, file(name), name, "shape " + t.shapeString()
                        + " but the config implies " + Arrays.toString(spec.shape()));
            }
            return t;
        }

        Matrix matrix(String prefix) {
            Tensor w = tensor(prefix + ".weight");
            Tensor s = layout.spec(prefix + ".scale") != null ? tensor(prefix + ".scale") : null;
            return bind(w, s);
        }

        /** A plain BF16 / F32 weight as a matrix (hc_*_fn, gate, compressor projections, head). */
        Matrix plainMatrix(String name) {
            return bind(tensor(name), null);
        }

        /**
         * {@code wo_a}, which convert.py dequantises to bf16. With power-of-two scales FP8 · 2^k is exact in
         * bf16, so the FP8 matrix is that weight; with other F32 scales (possible in Base-style files) the
         * rounding matters and a bf16 copy is made, as the official conversion does.
         */
        Matrix woA(String prefix) {
            Matrix m = matrix(prefix);
            Tensor scale = tensor(prefix + ".scale");
            if (scale.dtype() != DType.F32 || powersOfTwo(scale)) {
                return m;
            }
            int rows = m.rows(), cols = m.cols();
            MemorySegment seg = HugePages.allocate(Math.multiplyExact(Math.multiplyExact((long) rows, cols), 2), arena);
            float[] row = new float[cols];
            for (int r = 0; r < rows; r++) {
                m.row(r, row, 0);
                for (int c = 0; c < cols; c++) {
                    seg.setAtIndex(BF16, (long) r * cols + c, Formats.floatToBf16(row[c]));
                }
            }
            return bind(new Tensor(prefix + ".weight", DType.BF16, new long[]{rows, cols}, seg), null);
        }

        private static boolean powersOfTwo(Tensor scale) {
            for (long i = 0; i < scale.numel(); i++) {
                float v = scale.data().getAtIndex(F32, i);
                if (!(v > 0) || (Float.floatToRawIntBits(v) & 0x7FFFFF) != 0 || Math.getExponent(v) < Float.MIN_EXPONENT) {
                    return false;
                }
            }
            return true;
        }

        float[] floats(String name) {
            Tensor t = tensor(name);
            int n = Math.toIntExact(t.numel());
            float[] out = new float[n];
            MemorySegment d = t.data();
            for (int i = 0; i < n; i++) {
                out[i] = t.dtype() == DType.BF16 ? Formats.bf16ToFloat(d.getAtIndex(BF16, i)) : d.getAtIndex(F32, i);
            }
            return out;
        }
    }

    // ================================================================== loading

    private V4Model(TensorSource src, V4Config cfg, Numerics num, int maxChunk, boolean reference) {
        this.reference = reference;
        this.cfg = cfg;
        this.num = num;
        this.src = src;
        this.maxChunk = maxChunk;
        V4Layout layout = new V4Layout(cfg);
        Binder b = new Binder(src, layout, arena, reference);
        b.validateAll();
        embed = b.plainMatrix("embed.weight");
        head = b.plainMatrix("head.weight");
        norm = b.floats("norm.weight");
        hcHead = new HcHead(b.plainMatrix("hc_head_fn"), b.floats("hc_head_scale"), b.floats("hc_head_base"));
        layers = new Block[cfg.nLayers()];
        for (int i = 0; i < layers.length; i++) {
            layers[i] = block(b, "layers." + i + ".", i);
        }
        mtp = new Block[cfg.nMtpLayers()];
        for (int k = 0; k < mtp.length; k++) {
            String p = "mtp." + k + ".";
            Block m = block(b, p, cfg.nLayers() + k);
            m.eProj = b.matrix(p + "e_proj");
            m.hProj = b.matrix(p + "h_proj");
            m.enorm = b.floats(p + "enorm.weight");
            m.hnorm = b.floats(p + "hnorm.weight");
            m.mtpNorm = b.floats(p + "norm.weight");
            m.mtpHcHead = new HcHead(b.plainMatrix(p + "hc_head_fn"), b.floats(p + "hc_head_scale"),
                    b.floats(p + "hc_head_base"));
            mtp[k] = m;
        }
        ropeSwa = new Rope(cfg.ropeHeadDim(), cfg.ropeTheta(), 0, 1, 1, 1);
        ropeCmp = new Rope(cfg.ropeHeadDim(), cfg.compressRopeTheta(), cfg.originalSeqLen(), cfg.ropeFactor(),
                cfg.betaFast(), cfg.betaSlow());
        ws = new Workspace(cfg, maxChunk);
        experts = new ExpertTask(Parallel.shared().threads(), maxChunk);
        single = new Batch(maxChunk, 1);
    }

    /**
     * Binds a model to its tensors after checking every tensor of the config's layout (presence, dtype,
     * shape). {@code maxChunk} bounds the tokens of one forward call's working buffers; longer prompts
     * are processed in chunks. The matrices run on the vector kernels.
     */
    public static V4Model load(TensorSource src, V4Config cfg, Numerics num, int maxChunk) {
        return load(src, cfg, num, maxChunk, false);
    }

    /**
     * {@link #load(TensorSource, V4Config, Numerics, int)}, with {@code reference} putting every weight
     * matrix on its plain scalar kernel ({@link Matrices#reference}): far slower, for checking the vector
     * kernels' results on a real model.
     */
    public static V4Model load(TensorSource src, V4Config cfg, Numerics num, int maxChunk, boolean reference) {
        if (maxChunk < 1) {
            throw new IllegalArgumentException("chunk size must be positive, got " + maxChunk);
        }
        return new V4Model(src, cfg, num, maxChunk, reference);
    }

    private Block block(Binder b, String p, int layerId) {
        Block k = new Block();
        k.layerId = layerId;
        k.ratio = cfg.compressRatio(layerId);
        k.hash = layerId < cfg.nLayers() && layerId < cfg.nHashLayers();
        k.attnNorm = b.floats(p + "attn_norm.weight");
        k.ffnNorm = b.floats(p + "ffn_norm.weight");
        k.hcAttn = new HcSite(b.plainMatrix(p + "hc_attn_fn"), b.floats(p + "hc_attn_scale"), b.floats(p + "hc_attn_base"));
        k.hcFfn = new HcSite(b.plainMatrix(p + "hc_ffn_fn"), b.floats(p + "hc_ffn_scale"), b.floats(p + "hc_ffn_base"));
        String a = p + "attn.";
        k.sink = b.floats(a + "attn_sink");
        k.wqA = b.matrix(a + "wq_a");
        k.qNorm = b.floats(a + "q_norm.weight");
        k.wqB = b.matrix(a + "wq_b");
        k.wkv = b.matrix(a + "wkv");
        k.kvNorm = b.floats(a + "kv_norm.weight");
        k.woA = b.woA(a + "wo_a");
        k.woB = b.matrix(a + "wo_b");
        if (k.ratio > 0) {
            k.comp = comp(b, a + "compressor.", k.ratio, cfg.headDim());
            if (k.ratio == 4) {
                k.idxWqB = b.matrix(a + "indexer.wq_b");
                k.idxWproj = b.plainMatrix(a + "indexer.weights_proj.weight");
                k.icomp = comp(b, a + "indexer.compressor.", 4, cfg.indexHeadDim());
            }
        }
        String f = p + "ffn.";
        k.gate = b.plainMatrix(f + "gate.weight");
        if (k.hash) {
            Tensor t = b.tensor(f + "gate.tid2eid");
            long n = t.numel();
            for (long i = 0; i < n; i++) {
                long e = t.data().getAtIndex(I64, i);
                if (e < 0 || e >= cfg.nRoutedExperts()) {
                    throw new CheckpointException(Kind.SHAPE, b.file(t.name()), t.name(), "routes token "
                            + i / cfg.nActivatedExperts() + " to expert " + e + ", outside [0, " + cfg.nRoutedExperts() + ")");
                }
            }
            k.tid2eid = t.data();
        } else {
            k.gateBias = b.floats(f + "gate.bias");
        }
        int e = cfg.nRoutedExperts();
        k.w1 = new Matrix[e];
        k.w2 = new Matrix[e];
        k.w3 = new Matrix[e];
        for (int x = 0; x < e; x++) {
            k.w1[x] = b.matrix(f + "experts." + x + ".w1");
            k.w2[x] = b.matrix(f + "experts." + x + ".w2");
            k.w3[x] = b.matrix(f + "experts." + x + ".w3");
        }
        k.sw1 = b.matrix(f + "shared_experts.w1");
        k.sw2 = b.matrix(f + "shared_experts.w2");
        k.sw3 = b.matrix(f + "shared_experts.w3");
        return k;
    }

    private static Comp comp(Binder b, String p, int ratio, int width) {
        return new Comp(b.plainMatrix(p + "wkv.weight"), b.plainMatrix(p + "wgate.weight"), b.floats(p + "ape"),
                b.floats(p + "norm.weight"), ratio, width);
    }

    public V4Config config() {
        return cfg;
    }

    public Numerics numerics() {
        return num;
    }

    /** A fresh sequence whose caches hold up to {@code maxContext} tokens. */
    public V4State newState(int maxContext) {
        return new V4State(cfg, maxContext);
    }

    @Override
    public void close() {
        arena.close();
        try {
            src.close();
        } catch (Exception e) {
            throw new IllegalStateException("closing " + src.origin(), e);
        }
    }

    // ================================================================== working buffers

    /** Every scratch array of one forward call, sized at load for {@code maxChunk} tokens. */
    private static final class Workspace {
        final float[] h, h2, hTmp, x, y, mixes, qa, q, kv, o, z, xq;
        final float[] rowLogits;                                                 // one row for RowLogits
        final double[] pre, post, comb;
        final float[] csSwa, csCmp, csTmp;
        final float[] ckv, csc, centry;
        final float[] iq, iw;
        final float[] gateLogits, selW, xe, g, u, ye;
        final int[] sel, expertCount, expertStart, pairs, active;
        final double[] acc;
        final float[] accF;
        final float[] fxq, fg, fu, fye;                                          // the fused MoE of a few rows
        final Jobs up, down, groups;
        final int[] pos;                                                         // position of every row

        Workspace(V4Config c, int n) {
            int d = c.dim(), hc = c.hcMult(), hd = c.headDim();
            int qkv = Math.multiplyExact(c.nHeads(), hd);
            h = new float[Math.multiplyExact(n, hc * d)];
            h2 = new float[h.length];
            hTmp = new float[d];
            rowLogits = new float[c.vocabSize()];
            x = new float[n * d];
            y = new float[n * d];
            mixes = new float[c.mixHc()];
            pre = new double[hc];
            post = new double[n * hc];
            comb = new double[n * hc * hc];
            qa = new float[n * c.qLoraRank()];
            q = new float[Math.multiplyExact(n, qkv)];
            kv = new float[n * hd];
            o = new float[Math.multiplyExact(n, qkv)];
            z = new float[n * c.oGroups() * c.oLoraRank()];
            int widest = Math.max(Math.max(d, c.qLoraRank()), Math.max(c.oGroups() * c.oLoraRank(), c.moeInterDim()));
            // quantised GEMM inputs: up to n·hc rows of D (MTP h_proj) or n·k rows of an expert's input
            xq = new float[Math.multiplyExact(n, Math.max(widest * c.nActivatedExperts(), hc * d))];
            csSwa = new float[n * c.ropeHeadDim()];
            csCmp = new float[n * c.ropeHeadDim()];
            csTmp = new float[c.ropeHeadDim()];
            int cw = 2 * Math.max(hd, c.indexHeadDim());
            ckv = new float[n * cw];
            csc = new float[n * cw];
            centry = new float[Math.max(hd, c.indexHeadDim())];
            iq = new float[Math.multiplyExact(n, c.indexNHeads() * c.indexHeadDim())];
            iw = new float[n * c.indexNHeads()];
            int e = c.nRoutedExperts(), k = c.nActivatedExperts();
            gateLogits = new float[n * e];
            sel = new int[n * k];
            selW = new float[n * k];
            expertCount = new int[e];
            expertStart = new int[e + 1];
            pairs = new int[n * k];
            active = new int[e];
            xe = new float[n * d];
            g = new float[n * c.moeInterDim()];                                  // the shared expert (routed: per thread)
            u = new float[g.length];
            ye = new float[n * k * d];
            acc = new double[c.nHeads() * hd];
            accF = new float[acc.length];
            int f = Math.min(FUSED_ROWS, n), slots = f * (k + 1);             // routed pairs + the shared expert's rows
            fxq = new float[f * d + slots * c.moeInterDim()];
            fg = new float[slots * c.moeInterDim()];
            fu = new float[fg.length];
            fye = new float[slots * d];
            // gather buffers for the jobs with several inputs: the shared expert's three matrices when a step
            // holds several sequences, and a few routed experts chosen by more than one of them
            int inter = c.moeInterDim();
            up = new Jobs(2 * (f * k + 1), 2 * slots, f > 1 ? 6 : 0, f * d, f * inter);
            down = new Jobs(f * k + 1, slots, f > 1 ? 3 : 0, f * inter, f * d);
            groups = new Jobs(c.oGroups(), c.oGroups());
            pos = new int[n];
        }
    }

    /**
     * One matrix product split by rows over the shared thread pool. A single reused instance, so that a
     * decode step hands work to the pool without allocating.
     */
    private static final class MatTask implements Parallel.IntRangeConsumer {
        Matrix w;
        float[] x, y;
        int xOff, yOff, n, base;

        @Override
        public void accept(int r0, int r1) {
            if (n == 1) {
                w.matvec(x, xOff, y, yOff, base + r0, base + r1);
            } else {
                w.matmul(x, n, y, base + r0, base + r1);
            }
        }
    }

    private final MatTask task = new MatTask();

    /**
     * The heads of one query row over its gathered columns, split over the thread pool: each head has its
     * own slice of the scores and accumulator scratch, and writes only its own output.
     */
    private final class HeadTask implements Parallel.IntRangeConsumer {
        Block blk;
        LayerState ls;
        int r, nc;
        float scale;
        float[] cs;

        void set(Block blk, LayerState ls, int r, int nc, float scale, float[] cs) {
            this.blk = blk;
            this.ls = ls;
            this.r = r;
            this.nc = nc;
            this.scale = scale;
            this.cs = cs;
        }

        @Override
        public void accept(int h0, int h1) {
            int hd = cfg.headDim(), rd = cfg.ropeHeadDim(), qw = cfg.nHeads() * hd, cols = ls.colOff.length;
            for (int hh = h0; hh < h1; hh++) {
                int o = r * qw + hh * hd;
                if (reference) {
                    SparseAttention.attend(ws.q, o, hd, ls.colRows, ls.colOff, nc, scale, blk.sink[hh],
                            num.tilelang(), ls.scores, hh * cols, ws.acc, hh * hd, ws.o, o);
                } else {
                    SparseAttention.attendVector(ws.q, o, hd, ls.colRows, ls.colOff, nc, scale, blk.sink[hh],
                            num.tilelang(), ls.scores, hh * cols, ws.accF, hh * hd, ws.o, o);
                }
                num.round(ws.o, o, hd);
                Rope.rotate(ws.o, o + hd - rd, cs, r * rd, rd, true);
                num.round(ws.o, o + hd - rd, rd);
            }
        }
    }

    private final HeadTask heads = new HeadTask();
    private final Parallel.IntRangeConsumer postTask = this::hcPostRange;
    private final FusedSteps fused = new FusedSteps();
    private final HeadSteps headSteps = new HeadSteps();

    /** {@code Y[n, rows] = X[n, cols] · Wᵀ} on the thread pool. */
    private void matmul(Matrix w, float[] x, int n, float[] y) {
        matvecRows(w, x, 0, y, 0, n, 0, w.rows());
    }

    /** Rows {@code [r0, r1)} of W: one input vector at {@code xOff} when n = 1, else n rows from index 0. */
    private void matvecRows(Matrix w, float[] x, int xOff, float[] y, int yOff, int n, int r0, int r1) {
        task.w = w;
        task.x = x;
        task.y = y;
        task.xOff = xOff;
        task.yOff = yOff;
        task.n = n;
        task.base = r0;
        if ((long) (r1 - r0) * w.cols() * n < PARALLEL_MIN_MACS) {
            task.accept(0, r1 - r0);                                             // a hand-off costs more than the work
        } else {
            Parallel.forRange(r1 - r0, task);
        }
    }

    // ================================================================== forward

    /**
     * Routed experts the forward calls have run so far, each counted once per layer (MTP blocks included) and
     * call however many rows chose it: the expert weights a decode step of several sequences reads.
     */
    public synchronized long expertsRun() {
        return expertsRun;
    }

    /** The most rows one forward call takes (the working buffers' size). */
    public int maxChunk() {
        return maxChunk;
    }

    /**
     * Runs a batch: every segment continues its sequence from the position its state holds, all rows
     * sharing the matrix products. The logits of each segment's last row go to {@code logits[s·vocab ..]}
     * for the segments that want them. Every state advances by its segment's length.
     */
    public void forward(Batch batch, float[] logits) {
        forward(batch, logits, null);
    }

    /** Receives the logits of one row of a segment added with {@code everyRow}: {@code logits[off .. off + vocab)}. */
    @FunctionalInterface
    public interface RowLogits {
        void accept(int segment, int row, float[] logits, int off);
    }

    /**
     * As {@link #forward(Batch, float[])}; the segments added with {@code everyRow} also hand the logits of
     * each row, in order, to {@code rows} (the buffer is lent for the call only).
     */
    public void forward(Batch batch, float[] logits, RowLogits rows) {
        synchronized (this) {
            everyRow = rows;
            try {
                run(batch, false, logits, false, null, 0);
            } finally {
                everyRow = null;
            }
        }
    }

    /**
     * Runs {@code ids[0..n)} of one sequence at the positions after those already in {@code st}, in
     * chunks of at most {@link #maxChunk()} tokens.
     *
     * @param logits receives vocab logits: every position ([n·vocab]) when {@code allPositions},
     *               otherwise the last one ([vocab]); may be null
     * @param hOut   receives the final residual streams [n, hc, D] (the MTP block's input); may be null
     */
    public synchronized void forward(int[] ids, int n, V4State st, float[] logits, boolean allPositions, float[] hOut) {
        checkRun(n, st.position, st);
        for (int c0 = 0; c0 < n; c0 += maxChunk) {
            int m = Math.min(maxChunk, n - c0);
            single.clear();
            single.add(st, ids, c0, m, logits != null && (allPositions || c0 + m == n));
            run(single, false, allPositions ? logits : (c0 + m == n ? logits : null), allPositions, hOut, c0);
        }
        single.clear();
    }

    /**
     * The MTP block over main-model streams {@code h} [n, hc, D] whose next tokens are {@code nextIds}
     * (position i pairs h[i] with the token at i + 1), continuing the MTP caches of {@code st}.
     */
    public synchronized void mtpForward(float[] h, int[] nextIds, int n, V4State st, float[] logits, boolean allPositions) {
        if (mtp.length == 0) {
            throw new IllegalStateException("this model has no MTP block (num_nextn_predict_layers = 0)");
        }
        checkRun(n, st.mtpPosition, st);
        int hcD = cfg.hcMult() * cfg.dim();
        for (int c0 = 0; c0 < n; c0 += maxChunk) {
            int m = Math.min(maxChunk, n - c0);
            single.clear();
            single.add(st, nextIds, c0, m, logits != null && (allPositions || c0 + m == n));
            System.arraycopy(h, c0 * hcD, ws.h, 0, m * hcD);
            run(single, true, allPositions ? logits : (c0 + m == n ? logits : null), allPositions, null, c0);
        }
        single.clear();
    }

    private void checkRun(int n, int position, V4State st) {
        if (n < 1) {
            throw new IllegalArgumentException("nothing to run: " + n + " tokens");
        }
        if ((long) position + n > st.maxContext) {
            throw new IllegalArgumentException("context overflow: " + position + " + " + n + " tokens exceed the "
                    + "max context of " + st.maxContext);
        }
    }

    /**
     * One forward call over the batch's rows. The main model embeds the ids into 4 identical streams;
     * the MTP block ({@code isMtp}) takes the streams already in {@code ws.h} and mixes in its embedding.
     * Logits: per segment at {@code s·vocab}, or with {@code allRows} (one segment) at {@code (rowBase + r)·vocab}.
     */
    private synchronized void run(Batch b, boolean isMtp, float[] logits, boolean allRows, float[] hOut, int rowBase) {
        int n = b.rows, d = cfg.dim(), hc = cfg.hcMult(), hcD = hc * d;
        if (n > maxChunk) {
            throw new IllegalArgumentException("batch of " + n + " rows exceeds the model's chunk of " + maxChunk);
        }
        for (int s = 0; s < b.segs; s++) {
            V4State st = b.state[s];
            b.start[s] = isMtp ? st.mtpPosition : st.position;
            checkRun(b.len[s], b.start[s], st);
            for (int r = b.off[s]; r < b.off[s] + b.len[s]; r++) {
                ws.pos[r] = b.start[s] + r - b.off[s];
            }
        }
        for (int r = 0; r < n; r++) {
            int id = b.ids[r];
            if (id < 0 || id >= cfg.vocabSize()) {
                throw new IllegalArgumentException("token id " + id + " outside the vocabulary [0, " + cfg.vocabSize() + ")");
            }
        }
        if (isMtp) {
            mtpInput(mtp[0], b.ids, n);
            block(mtp[0], 0, true, b);
        } else {
            for (int r = 0; r < n; r++) {
                embed.row(b.ids[r], ws.x, r * d);
                for (int j = 0; j < hc; j++) {
                    System.arraycopy(ws.x, r * d, ws.h, r * hcD + j * d, d);
                }
            }
            for (int i = 0; i < layers.length; i++) {
                block(layers[i], i, false, b);
            }
        }
        if (hOut != null) {
            System.arraycopy(ws.h, 0, hOut, rowBase * hcD, n * hcD);
        }
        HcHead hh = isMtp ? mtp[0].mtpHcHead : hcHead;
        float[] normW = isMtp ? mtp[0].mtpNorm : norm;
        if (logits != null) {
            int v = cfg.vocabSize();
            if (allRows) {
                for (int r = 0; r < n; r++) {
                    headLogits(hh, normW, r, logits, (rowBase + r) * v);
                }
            } else {
                for (int s = 0; s < b.segs; s++) {
                    if (b.wantLogits[s]) {
                        headLogits(hh, normW, b.off[s] + b.len[s] - 1, logits, s * v);
                    }
                }
            }
        }
        if (everyRow != null && !isMtp) {
            int v = cfg.vocabSize();
            for (int s = 0; s < b.segs; s++) {
                if (!b.everyRow[s]) {
                    continue;
                }
                for (int j = 0; j < b.len[s]; j++) {
                    boolean last = j == b.len[s] - 1 && b.wantLogits[s] && logits != null;
                    if (last) {
                        everyRow.accept(s, j, logits, s * v);           // already computed above
                    } else {
                        headLogits(hh, normW, b.off[s] + j, ws.rowLogits, 0);
                        everyRow.accept(s, j, ws.rowLogits, 0);
                    }
                }
            }
        }
        for (int s = 0; s < b.segs; s++) {
            if (isMtp) {
                b.state[s].mtpPosition += b.len[s];
            } else {
                b.state[s].position += b.len[s];
            }
        }
    }

    /** MTP input: {@code e_proj(enorm(embed(next)))} broadcast to the streams + {@code h_proj(hnorm(h))} per stream. */
    private void mtpInput(Block b, int[] ids, int n) {
        int d = cfg.dim(), hc = cfg.hcMult(), hcD = hc * d;
        for (int r = 0; r < n; r++) {
            embed.row(ids[r], ws.x, r * d);
        }
        rmsnorm(ws.x, 0, n, d, b.enorm);
        qlinear(b.eProj, ws.x, n, ws.y);                                         // [n, D]
        rmsnorm(ws.h, 0, n * hc, d, b.hnorm);                                   // [n·hc, D]
        qlinear(b.hProj, ws.h, n * hc, ws.h2);
        for (int r = 0; r < n; r++) {
            for (int j = 0; j < hc; j++) {
                int hi = r * hcD + j * d;
                for (int i = 0; i < d; i++) {
                    ws.h[hi + i] = num.round(ws.y[r * d + i] + ws.h2[hi + i]);
                }
            }
        }
    }

    /** The caches of layer {@code idx} (an MTP index when {@code isMtp}) of segment s. */
    private static LayerState layerState(Batch b, int s, int idx, boolean isMtp) {
        return isMtp ? b.state[s].mtp[idx] : b.state[s].layers[idx];
    }

    /**
     * Teacher forcing for tests: the attention sub-layer of layer {@code layerId} (ids ≥ num layers name
     * MTP blocks) on inputs {@code x} [n, D] at the positions after those in {@code st}.
     */
    synchronized void attentionSublayer(int layerId, float[] x, int n, V4State st, float[] out) {
        boolean isMtp = layerId >= layers.length;
        Block blk = isMtp ? mtp[layerId - layers.length] : layers[layerId];
        single.clear();
        single.add(st, new int[n], 0, n, false);
        single.start[0] = isMtp ? st.mtpPosition : st.position;
        for (int r = 0; r < n; r++) {
            ws.pos[r] = single.start[0] + r;
        }
        attention(blk, isMtp ? layerId - layers.length : layerId, isMtp, single, x, out);
        single.clear();
    }

    /** Teacher forcing for tests: the MoE sub-layer of layer {@code layerId} on inputs {@code x} [n, D]. */
    synchronized void moeSublayer(int layerId, float[] x, int n, int[] ids, float[] out) {
        Block blk = layerId >= layers.length ? mtp[layerId - layers.length] : layers[layerId];
        moe(blk, x, n, ids, out);
    }

    // ------------------------------------------------------------------ block: mHC around attention and MoE

    private void block(Block blk, int idx, boolean isMtp, Batch b) {
        int n = b.rows, d = cfg.dim();
        hcPre(blk.hcAttn, n);
        rmsnorm(ws.x, 0, n, d, blk.attnNorm);
        attention(blk, idx, isMtp, b, ws.x, ws.y);
        hcPost(n);
        hcPre(blk.hcFfn, n);
        rmsnorm(ws.x, 0, n, d, blk.ffnNorm);
        moe(blk, ws.x, n, b.ids, ws.y);
        hcPost(n);
    }

    /** Sub-layer input {@code x = Σ_j pre_j·X_j} of every row; keeps post and comb for {@link #hcPost}. */
    private void hcPre(HcSite site, int n) {
        int d = cfg.dim(), hc = cfg.hcMult(), hcD = hc * d;
        for (int t = 0; t < n; t++) {
            mixes(site.fn(), t * hcD);
            Mhc.split(ws.mixes, 0, site.scale(), site.base(), hc, cfg.hcSinkhornIters(), cfg.hcEps(),
                    ws.pre, ws.post, t * hc, ws.comb, t * hc * hc);
            for (int i = 0; i < d; i++) {
                double s = 0;
                for (int j = 0; j < hc; j++) {
                    s += ws.pre[j] * ws.h[t * hcD + j * d + i];
                }
                ws.x[t * d + i] = num.round(s);
            }
        }
    }

    /** {@code mixes = (fn · flat(X)) · rsqrt(mean(flat(X)²) + eps)} for the row whose streams start at {@code off}. */
    private void mixes(Matrix fn, int off) {
        int hcD = cfg.hcMult() * cfg.dim();
        double ss = 0;
        for (int i = off; i < off + hcD; i++) {
            ss += (double) ws.h[i] * ws.h[i];
        }
        double rs = 1 / Math.sqrt(ss / hcD + cfg.normEps());
        matvecRows(fn, ws.h, off, ws.mixes, 0, 1, 0, fn.rows());
        for (int i = 0; i < fn.rows(); i++) {
            ws.mixes[i] = (float) (ws.mixes[i] * rs);
        }
    }

    /**
     * {@code X'_k = post_k·F + Σ_j C[j][k]·X_j} for every row (F in {@code ws.y}), over the pool by ranges of
     * the rows' elements: at one token it is 4·5 multiply-adds per element of a 4096-wide row, ~0.1 ms on
     * one thread, twice per layer.
     */
    private void hcPost(int n) {
        int d = cfg.dim();
        elementwise(postTask, n * d, 1);
    }

    /** {@link #hcPost} of the elements [a, b) of the rows [n, dim]: new streams via h2, then back to h. */
    private void hcPostRange(int a, int b) {
        int d = cfg.dim(), hc = cfg.hcMult(), hcD = hc * d;
        for (int t = a / d; t * d < b; t++) {
            int i0 = Math.max(a - t * d, 0), i1 = Math.min(b - t * d, d), o = t * hcD;
            for (int k = 0; k < hc; k++) {
                double post = ws.post[t * hc + k];
                for (int i = i0; i < i1; i++) {
                    double s = post * ws.y[t * d + i];
                    for (int j = 0; j < hc; j++) {
                        s += ws.comb[t * hc * hc + j * hc + k] * ws.h[o + j * d + i];
                    }
                    ws.h2[o + k * d + i] = num.round(s);
                }
            }
            for (int k = 0; k < hc; k++) {
                System.arraycopy(ws.h2, o + k * d + i0, ws.h, o + k * d + i0, i1 - i0);
            }
        }
    }

    /** hc_head (pre weights only, no Sinkhorn) → norm → head for row r, into {@code logits[at ..]}. */
    private void headLogits(HcHead hh, float[] normW, int r, float[] logits, int at) {
        int d = cfg.dim(), hc = cfg.hcMult(), hcD = hc * d;
        mixes(hh.fn(), r * hcD);
        for (int j = 0; j < hc; j++) {
            ws.pre[j] = Mhc.sigmoid(ws.mixes[j] * (double) hh.scale()[0] + hh.base()[j]) + cfg.hcEps();
        }
        for (int i = 0; i < d; i++) {
            double s = 0;
            for (int j = 0; j < hc; j++) {
                s += ws.pre[j] * ws.h[r * hcD + j * d + i];
            }
            ws.hTmp[i] = num.round(s);
        }
        rmsnorm(ws.hTmp, 0, 1, d, normW);
        matvecRows(head, ws.hTmp, 0, logits, at, 1, 0, cfg.vocabSize());
    }

    // ------------------------------------------------------------------ primitives

    /** Weighted RMSNorm of {@code n} rows of width {@code w} in place: {@code R(w · (x · rsqrt(mean(x²) + eps)))}. */
    private void rmsnorm(float[] x, int off, int n, int width, float[] weight) {
        for (int t = 0; t < n; t++) {
            int o = off + t * width;
            double ss = 0;
            for (int i = 0; i < width; i++) {
                ss += (double) x[o + i] * x[o + i];
            }
            double rs = 1 / Math.sqrt(ss / width + cfg.normEps());
            for (int i = 0; i < width; i++) {
                x[o + i] = num.round(weight[i] * (x[o + i] * rs));
            }
        }
    }

    /** A linear with an FP8/FP4 weight: the input quantised to e4m3 per 128 values (official mode), bf16 output. */
    private void qlinear(Matrix w, float[] x, int n, float[] y) {
        int k = w.cols();
        float[] in = x;
        if (num.quant()) {
            System.arraycopy(x, 0, ws.xq, 0, n * k);
            for (int t = 0; t < n; t++) {
                Formats.fp8FakeQuant(ws.xq, t * k, k, V4Config.QUANT_BLOCK);
            }
            in = ws.xq;
        }
        matmul(w, in, n, y);
        num.round(y, 0, n * w.rows());
    }

    // ------------------------------------------------------------------ attention

    /**
     * Attention of the batch's rows: single-latent MQA (K = V = the head_dim-wide kv), sliding window
     * ∪ compressed entries (all of them in HCA layers, the indexer's top-k in CSA layers), attention
     * sink, inverse RoPE, grouped output projection. Projections run over all rows at once; caches,
     * compressors and the attention itself per segment.
     */
    private void attention(Block blk, int idx, boolean isMtp, Batch b, float[] x, float[] out) {
        int n = b.rows, h = cfg.nHeads(), hd = cfg.headDim(), rd = cfg.ropeHeadDim(), win = cfg.windowSize();
        int ratio = blk.ratio, qw = h * hd;
        Rope rope = ratio > 0 ? ropeCmp : ropeSwa;
        float[] cs = ratio > 0 ? ws.csCmp : ws.csSwa;
        for (int r = 0; r < n; r++) {
            rope.table(ws.pos[r], cs, r * rd);
        }
        // q: qr = q_norm(wq_a·x) (also the indexer's input), q = wq_b·qr → [n, H, hd]
        qlinear(blk.wqA, x, n, ws.qa);
        rmsnorm(ws.qa, 0, n, cfg.qLoraRank(), blk.qNorm);
        qlinear(blk.wqB, ws.qa, n, ws.q);                                        // [n, H, hd]
        headSteps.cs = cs;
        elementwise(headSteps.qTask, n * h, hd);
        // kv = kv_norm(wkv·x), one latent per token; RoPE on its tail, FP8 fake-quant of the rest
        qlinear(blk.wkv, x, n, ws.kv);                                           // [n, hd]
        rmsnorm(ws.kv, 0, n, hd, blk.kvNorm);
        for (int r = 0; r < n; r++) {
            Rope.rotate(ws.kv, r * hd + hd - rd, cs, r * rd, rd, false);
            num.round(ws.kv, r * hd + hd - rd, rd);
            if (num.quant()) {
                // official kernel rounds the non-RoPE dims to FP8 per 64 values; RoPE dims stay bf16
                Formats.fp8FakeQuant(ws.kv, r * hd, hd - rd, V4Config.KV_QUANT_BLOCK);
            }
        }
        // compressed entries completed by these rows become visible before the attention
        if (ratio == 4) {
            indexerQueries(blk, x, n, cs);
            compress(blk.icomp, b, idx, isMtp, x, true);
        }
        if (ratio > 0) {
            compress(blk.comp, b, idx, isMtp, x, false);
        }
        float scale = (float) (1.0 / Math.sqrt(hd));
        for (int s = 0; s < b.segs; s++) {
            LayerState ls = layerState(b, s, idx, isMtp);
            int start = b.start[s], len = b.len[s], off = b.off[s], end = start + len;
            // the official prefill lays out min(n, window) window columns, decode the whole ring
            int wcols = start == 0 ? Math.min(len, win) : win;
            float[][] rows = ls.colRows;
            int[] rowOff = ls.colOff;
            for (int r = off; r < off + len; r++) {
                int p = ws.pos[r], nc = 0, lo = Math.max(0, p - win + 1);
                for (int c = 0; c < wcols; c++, nc++) {
                    int pp = lo + c;
                    rows[nc] = pp > p ? null : pp >= start ? ws.kv : ls.ring;
                    rowOff[nc] = pp >= start ? (off + pp - start) * hd : (pp % win) * hd;
                }
                if (ratio == 4) {
                    nc = indexerTopk(ls, r, p, end, rows, rowOff, nc);
                } else if (ratio > 0) {
                    int vis = (p + 1) / ratio;
                    for (int j = 0; j < end / ratio; j++, nc++) {
                        rows[nc] = j < vis ? ls.comp.cache : null;
                        rowOff[nc] = j * hd;
                    }
                }
                heads.set(blk, ls, r, nc, scale, cs);
                if ((long) h * nc * hd * 2 < PARALLEL_MIN_MACS) {
                    heads.accept(0, h);                                  // a hand-off costs more than the work
                } else {
                    Parallel.forRange(h, heads);
                }
            }
            // the window ring keeps the last `win` positions
            for (int t = Math.max(0, len - win); t < len; t++) {
                System.arraycopy(ws.kv, (off + t) * hd, ls.ring, ((start + t) % win) * hd, hd);
            }
        }
        // grouped output projection: z_g = wo_a[g]·o_g (bf16 GEMM, no activation quantisation), then wo_b
        int g = cfg.oGroups(), olr = cfg.oLoraRank(), gw = qw / g;
        if (n == 1) {
            // the groups as one parallel region (one hand-off, not g)
            Jobs groups = ws.groups;
            groups.clear();
            for (int k = 0; k < g; k++) {
                groups.job(blk.woA, k * olr, (k + 1) * olr, ws.o, ws.z);
                groups.input(k * gw, 0);
            }
            groups.run();
        } else {
            // group k of every row gathered into [n, gw], so the group's weights are read once for all rows
            for (int k = 0; k < g; k++) {
                for (int r = 0; r < n; r++) {
                    System.arraycopy(ws.o, r * qw + k * gw, ws.xq, r * gw, gw);
                }
                matvecRows(blk.woA, ws.xq, 0, ws.z, 0, n, k * olr, (k + 1) * olr);      // z: [n, g·olr]
            }
        }
        num.round(ws.z, 0, n * g * olr);
        qlinear(blk.woB, ws.z, n, out);
    }

    /** The weightless per-head RMS norm of q; the official code evaluates each step in bf16. */
    private void headNorm(float[] q, int o, int hd) {
        double eps = cfg.normEps();
        if (num.bf16()) {
            double ss = 0;
            for (int i = 0; i < hd; i++) {
                ss += Formats.bf16Round(q[o + i] * q[o + i]);
            }
            float ms = Formats.bf16Round((float) (ss / hd));
            float r = Formats.bf16Round((float) (1 / Math.sqrt(Formats.bf16Round((float) (ms + eps)))));
            for (int i = 0; i < hd; i++) {
                q[o + i] = Formats.bf16Round(q[o + i] * r);
            }
        } else {
            double ss = 0;
            for (int i = 0; i < hd; i++) {
                ss += (double) q[o + i] * q[o + i];
            }
            double r = 1 / Math.sqrt(ss / hd + eps);
            for (int i = 0; i < hd; i++) {
                q[o + i] = (float) (q[o + i] * r);
            }
        }
    }

    // ------------------------------------------------------------------ compressor

    /**
     * Feeds the batch's rows into a compressor, each segment into its own state: {@code kv = wkv·x},
     * {@code score = wgate·x + ape[pos mod ratio]} (float32, per channel). When a group of {@code ratio}
     * tokens completes, its entry is pooled ({@link Compressor#pool}), normed, RoPE-rotated at the
     * group's first position, and FP8 (main) or Hadamard + FP4 (indexer) fake-quantised; entry j lands
     * at cache row j.
     */
    private void compress(Comp cp, Batch b, int idx, boolean isMtp, float[] x, boolean indexer) {
        int n = b.rows, ratio = cp.ratio(), w = cp.width(), rd = cfg.ropeHeadDim();
        boolean overlap = ratio == 4;
        int cw = (overlap ? 2 : 1) * w;
        matmul(cp.wkv(), x, n, ws.ckv);                                          // [n, coff·w]
        matmul(cp.wgate(), x, n, ws.csc);
        float[] e = ws.centry;
        for (int s = 0; s < b.segs; s++) {
            LayerState ls = layerState(b, s, idx, isMtp);
            CompState cs = indexer ? ls.icomp : ls.comp;
            for (int r = b.off[s]; r < b.off[s] + b.len[s]; r++) {
                int p = ws.pos[r];
                int row = (overlap ? ratio : 0) + p % ratio;
                for (int i = 0; i < cw; i++) {
                    cs.kvState[row * cw + i] = ws.ckv[r * cw + i];
                    cs.scoreState[row * cw + i] = ws.csc[r * cw + i] + cp.ape()[(p % ratio) * cw + i];
                }
                if ((p + 1) % ratio != 0) {
                    continue;
                }
                Compressor.pool(cs.kvState, cs.scoreState, ratio, w, overlap, e, 0);
                num.round(e, 0, w);
                if (overlap) {
                    // this group becomes the previous one of the next entry
                    System.arraycopy(cs.kvState, ratio * cw, cs.kvState, 0, ratio * cw);
                    System.arraycopy(cs.scoreState, ratio * cw, cs.scoreState, 0, ratio * cw);
                }
                rmsnorm(e, 0, 1, w, cp.norm());
                ropeCmp.table(p + 1 - ratio, ws.csTmp, 0);
                Rope.rotate(e, w - rd, ws.csTmp, 0, rd, false);
                num.round(e, w - rd, rd);
                if (indexer) {
                    Formats.hadamard(e, 0, w);
                    num.round(e, 0, w);
                    if (num.quant()) {
                        Formats.fp4FakeQuant(e, 0, w, V4Config.FP4_BLOCK);
                    }
                } else if (num.quant()) {
                    Formats.fp8FakeQuant(e, 0, w - rd, V4Config.KV_QUANT_BLOCK);
                }
                System.arraycopy(e, 0, cs.cache, ((p + 1) / ratio - 1) * w, w);
            }
        }
    }

    // ------------------------------------------------------------------ lightning indexer

    /**
     * The indexer's queries and weights for every row: {@code qI = wq_b·qr} with RoPE, Hadamard and
     * FP4 fake-quant per head; {@code w = weights_proj·x · (ihd·IH)^-½}.
     */
    private void indexerQueries(Block blk, float[] x, int n, float[] cs) {
        int ih = cfg.indexNHeads(), ihd = cfg.indexHeadDim();
        qlinear(blk.idxWqB, ws.qa, n, ws.iq);                                    // [n, IH, ihd]
        headSteps.cs = cs;
        elementwise(headSteps.indexTask, n * ih, ihd);
        matmul(blk.idxWproj, x, n, ws.iw);                                       // [n, IH]
        num.round(ws.iw, 0, n * ih);
        float wscale = (float) (Math.pow(ihd, -0.5) * Math.pow(ih, -0.5));
        for (int i = 0; i < n * ih; i++) {
            ws.iw[i] = num.round(ws.iw[i] * wscale);
        }
    }

    /** {@code task} over [0, count) items of {@code width} elements each: on the pool when worth a hand-off. */
    private void elementwise(Parallel.IntRangeConsumer task, int count, int width) {
        if ((long) count * width * ELEMENT_MACS < PARALLEL_MIN_MACS) {
            task.accept(0, count);
        } else {
            Parallel.forRange(count, task);
        }
    }

    /**
     * The per-(row, head) steps after the query projections, by ranges of row·heads + head: the attention
     * query's head norm and RoPE, the indexer query's RoPE, Hadamard rotation and FP4 round trip.
     */
    private final class HeadSteps {
        final Parallel.IntRangeConsumer qTask = this::q, indexTask = this::index;
        float[] cs;

        void q(int a, int b) {
            int h = cfg.nHeads(), hd = cfg.headDim(), rd = cfg.ropeHeadDim();
            for (int e = a; e < b; e++) {
                int r = e / h, o = e * hd;                                       // [n, H, hd]
                headNorm(ws.q, o, hd);
                Rope.rotate(ws.q, o + hd - rd, cs, r * rd, rd, false);
                num.round(ws.q, o + hd - rd, rd);
            }
        }

        void index(int a, int b) {
            int ih = cfg.indexNHeads(), ihd = cfg.indexHeadDim(), rd = cfg.ropeHeadDim();
            for (int e = a; e < b; e++) {
                int r = e / ih, o = e * ihd;                                     // [n, IH, ihd]
                Rope.rotate(ws.iq, o + ihd - rd, cs, r * rd, rd, false);
                num.round(ws.iq, o + ihd - rd, rd);
                Formats.hadamard(ws.iq, o, ihd);
                num.round(ws.iq, o, ihd);
                if (num.quant()) {
                    Formats.fp4FakeQuant(ws.iq, o, ihd, V4Config.FP4_BLOCK);
                }
            }
        }
    }

    /**
     * Scores every compressed entry for row r at position p and appends the top-k entries as attention
     * rows, in descending score order; entries not yet visible to this row (a prefill's later groups)
     * sort last and are masked.
     */
    private int indexerTopk(LayerState ls, int r, int p, int end, float[][] rows, int[] rowOff, int nc) {
        int ih = cfg.indexNHeads(), ihd = cfg.indexHeadDim(), hd = cfg.headDim();
        int total = end / 4, vis = (p + 1) / 4;
        int k = Math.min(cfg.indexTopk(), total);
        long[] keys = ls.idxKeys;
        scoring.set(ls, r);
        if ((long) vis * ih * ihd < PARALLEL_MIN_MACS) {
            scoring.accept(0, vis);
        } else {
            Parallel.forRange(vis, scoring);                   // 512 entries at position 2048: ~3 ms on one thread
        }
        for (int j = vis; j < total; j++) {
            keys[j] = Indexer.key(Float.NEGATIVE_INFINITY, j);
        }
        KeySort.smallest(keys, 0, total, k);                                    // only the k best, in order
        for (int i = 0; i < k; i++, nc++) {
            int j = Indexer.index(keys[i]);
            rows[nc] = j < vis ? ls.comp.cache : null;
            rowOff[nc] = j * hd;
        }
        return nc;
    }

    /** The indexer scores of one row's visible compressed entries, by ranges ({@link #indexerTopk}). */
    private final class Scoring implements Parallel.IntRangeConsumer {
        LayerState ls;
        int r;

        void set(LayerState ls, int r) {
            this.ls = ls;
            this.r = r;
        }

        @Override
        public void accept(int j0, int j1) {
            int ih = cfg.indexNHeads(), ihd = cfg.indexHeadDim();
            for (int j = j0; j < j1; j++) {
                ls.idxKeys[j] = Indexer.key(Indexer.score(ws.iq, r * ih * ihd, ws.iw, r * ih, ih, ihd,
                        ls.icomp.cache, j * ihd, num), j);
            }
        }
    }

    private final Scoring scoring = new Scoring();

    // ------------------------------------------------------------------ MoE

    /**
     * Routed experts (sqrt-softplus scores; hash table in the first layers, else top-k of score + bias;
     * weights = scores of the chosen, normalised, × routed_scaling_factor) plus the shared expert.
     * Rows are grouped by expert so each expert's weights are read once per call.
     */
    private void moe(Block blk, float[] x, int n, int[] ids, float[] out) {
        int d = cfg.dim(), e = cfg.nRoutedExperts(), k = cfg.nActivatedExperts();
        matmul(blk.gate, x, n, ws.gateLogits);                                   // [n, E]
        for (int t = 0; t < n; t++) {
            int go = t * e;
            Moe.sqrtSoftplus(ws.gateLogits, go, e);
            if (blk.hash) {
                long row = (long) ids[t] * k;
                for (int s = 0; s < k; s++) {
                    ws.sel[t * k + s] = (int) blk.tid2eid.getAtIndex(I64, row + s);
                }
            } else {
                Moe.topk(ws.gateLogits, go, blk.gateBias, e, k, ws.sel, t * k);
            }
            Moe.weights(ws.gateLogits, go, ws.sel, t * k, k, cfg.routeScale(), ws.selW, t * k);
        }
        // group (row, slot) pairs by expert
        Arrays.fill(ws.expertCount, 0);
        for (int i = 0; i < n * k; i++) {
            ws.expertCount[ws.sel[i]]++;
        }
        ws.expertStart[0] = 0;
        for (int i = 0; i < e; i++) {
            ws.expertStart[i + 1] = ws.expertStart[i] + ws.expertCount[i];
        }
        Arrays.fill(ws.expertCount, 0);
        for (int i = 0; i < n * k; i++) {
            int ex = ws.sel[i];
            if (ws.expertCount[ex] == 0) {
                expertsRun++;
            }
            ws.pairs[ws.expertStart[ex] + ws.expertCount[ex]++] = i;
        }
        if (n <= FUSED_ROWS) {
            moeFused(blk, x, n, out);
            return;
        }
        // a prompt chunk: each routed expert whole on one thread (its matrices streamed once, no hand-off per
        // matrix), the threads taking the active experts one at a time
        int active = 0;
        for (int ex = 0; ex < e; ex++) {
            if (ws.expertCount[ex] > 0) {
                ws.active[active++] = ex;
            }
        }
        experts.set(blk, x);
        Parallel.forEach(active, experts);
        addRouted(ws.ye, n, out, 0, d);
        System.arraycopy(x, 0, ws.xe, 0, n * d);
        sharedExpert(blk, n);
        addShared(ws.ye, 0, n, out, 0, d);
    }

    /**
     * Columns [i0, i1) of {@code out} = each token's routed expert rows of {@code ye} (pair order, i.e. expert
     * order) summed.
     */
    private void addRouted(float[] ye, int n, float[] out, int i0, int i1) {
        int d = cfg.dim(), k = cfg.nActivatedExperts();
        for (int t = 0; t < n; t++) {
            Arrays.fill(out, t * d + i0, t * d + i1, 0f);
        }
        for (int p = 0; p < n * k; p++) {
            int to = ws.pairs[p] / k * d;
            for (int i = i0; i < i1; i++) {
                out[to + i] += ye[p * d + i];
            }
        }
    }

    /**
     * Columns [i0, i1) of {@code out} += the shared expert's rows at {@code shared[off ..]}, rounded: the
     * MoE's output.
     */
    private void addShared(float[] shared, int off, int n, float[] out, int i0, int i1) {
        int d = cfg.dim();
        for (int t = 0; t < n; t++) {
            for (int i = t * d + i0; i < t * d + i1; i++) {
                out[i] = num.round(out[i] + shared[off + i]);
            }
        }
    }

    /** {@code g[off ..+ len] = w · swiglu(g, u)}, rounded as the official code materialises it. */
    private void swiglu(float[] g, float[] u, int off, int len, double w) {
        for (int i = off; i < off + len; i++) {
            g[i] = num.round(w * Moe.swiglu(g[i], u[i], cfg.swigluLimit()));
        }
    }

    /**
     * The experts of a few rows (a decode step): the selected experts' w1 and w3 and the shared expert's
     * as one parallel region, then every w2 as a second, instead of three regions per expert: at one token
     * an expert matrix is a few hundred microseconds of streaming, so each hand-off and final wait counts.
     * The rows are quantised once (every expert of a token reads the same FP8 activations), and every
     * (row, expert) gets exactly the operations of the prompt-chunk path ({@link ExpertTask},
     * {@link #sharedExpert}), so the result is bit for bit the same (prefill == decode).
     */
    private void moeFused(Block blk, float[] x, int n, float[] out) {
        int d = cfg.dim(), k = cfg.nActivatedExperts(), inter = cfg.moeInterDim(), e = cfg.nRoutedExperts();
        int shared = n * k;                                                      // slot of the shared expert's row 0
        float[] xq = x;
        if (num.quant()) {
            xq = ws.fxq;
            System.arraycopy(x, 0, xq, 0, n * d);
            for (int t = 0; t < n; t++) {
                Formats.fp8FakeQuant(xq, t * d, d, V4Config.QUANT_BLOCK);
            }
        }
        Jobs up = ws.up, down = ws.down;
        up.clear();
        for (int ex = 0; ex < e; ex++) {
            int m = ws.expertCount[ex], p0 = ws.expertStart[ex];
            if (m == 0) {
                continue;
            }
            for (int j = 0; j < 2; j++) {
                up.job(j == 0 ? blk.w1[ex] : blk.w3[ex], xq, j == 0 ? ws.fg : ws.fu);
                for (int r = 0; r < m; r++) {
                    up.input(ws.pairs[p0 + r] / k * d, (p0 + r) * inter);
                }
            }
        }
        for (int j = 0; j < 2; j++) {
            up.job(j == 0 ? blk.sw1 : blk.sw3, xq, j == 0 ? ws.fg : ws.fu);
            for (int t = 0; t < n; t++) {
                up.input(t * d, (shared + t) * inter);
            }
        }
        up.run();
        int slots = shared + n;
        int gq = num.quant() ? n * d : 0;                                        // where the w2 inputs go in fxq
        float[] gIn = num.quant() ? ws.fxq : ws.fg;
        fused.n = n;
        fused.out = out;
        // the SwiGLU and w2 input of each (row, expert): ~0.15 ms per layer at one token on one thread
        elementwise(fused.gluTask, slots, inter);
        down.clear();
        for (int ex = 0; ex < e; ex++) {
            int m = ws.expertCount[ex], p0 = ws.expertStart[ex];
            if (m == 0) {
                continue;
            }
            down.job(blk.w2[ex], gIn, ws.fye);
            for (int r = 0; r < m; r++) {
                down.input(gq + (p0 + r) * inter, (p0 + r) * d);
            }
        }
        down.job(blk.sw2, gIn, ws.fye);
        for (int t = 0; t < n; t++) {
            down.input(gq + (shared + t) * inter, (shared + t) * d);
        }
        down.run();
        elementwise(fused.sumTask, d, slots);
    }

    /**
     * The element-wise steps of {@link #moeFused} between and after its two regions, on the pool: each
     * (row, expert)'s SwiGLU and FP8 w2 input, then per column range the expert outputs rounded and summed.
     */
    private final class FusedSteps {
        final Parallel.IntRangeConsumer gluTask = this::glu, sumTask = this::sum;
        int n;
        float[] out;

        void glu(int p0, int p1) {
            int d = cfg.dim(), inter = cfg.moeInterDim(), shared = n * cfg.nActivatedExperts();
            int gq = n * d;
            for (int p = p0; p < p1; p++) {
                num.round(ws.fg, p * inter, inter);
                num.round(ws.fu, p * inter, inter);
                swiglu(ws.fg, ws.fu, p * inter, inter, p < shared ? ws.selW[ws.pairs[p]] : 1);
                if (num.quant()) {
                    System.arraycopy(ws.fg, p * inter, ws.fxq, gq + p * inter, inter);
                    Formats.fp8FakeQuant(ws.fxq, gq + p * inter, inter, V4Config.QUANT_BLOCK);
                }
            }
        }

        void sum(int i0, int i1) {
            int d = cfg.dim(), shared = n * cfg.nActivatedExperts();
            for (int p = 0; p < shared + n; p++) {
                num.round(ws.fye, p * d + i0, i1 - i0);
            }
            addRouted(ws.fye, n, out, i0, i1);
            addShared(ws.fye, shared * d, n, out, i0, i1);
        }
    }

    /**
     * Several matrices, each times a few input rows, as one parallel region over the matrices' rows
     * together. A matrix with one input runs matvec on each chunk of its rows; one with several (the shared
     * expert of a decode step of several sequences, a routed expert two of them chose) has its inputs
     * gathered into one of the buffers sized at load before the region and runs {@link Matrix#matmul} on each
     * chunk, which decodes each weight once for two or four of them (bit for bit matvec's results), the
     * outputs copied to their places. Filled without allocating.
     */
    static final class Jobs implements Parallel.IntRangeConsumer {
        private final Matrix[] w;
        private final float[][] x, y;
        private final int[] firstInput, rowStart, rowBase;
        private final int[] xOff, yOff;
        /** Per job the gather buffer it holds for the region, or -1 (one input, or none was free) */
        private final int[] buf;
        /** Gathered inputs [m, cols] and matmul outputs [m, rows] of the jobs with several inputs */
        private final float[][] gin, gout;
        private int jobs, inputs;

        /** Without gather buffers: every input by matvec. */
        Jobs(int maxJobs, int maxInputs) {
            this(maxJobs, maxInputs, 0, 0, 0);
        }

        /**
         * @param buffers  jobs with several inputs per region that take the matmul path (the others run
         *                 matvec per input: the same results)
         * @param maxIn    floats of one such job's inputs (inputs × cols)
         * @param maxOut   floats of its outputs (inputs × the matrix's rows)
         */
        Jobs(int maxJobs, int maxInputs, int buffers, int maxIn, int maxOut) {
            w = new Matrix[maxJobs];
            x = new float[maxJobs][];
            y = new float[maxJobs][];
            firstInput = new int[maxJobs + 1];
            rowStart = new int[maxJobs + 1];
            rowBase = new int[maxJobs];
            xOff = new int[maxInputs];
            yOff = new int[maxInputs];
            buf = new int[maxJobs];
            gin = new float[buffers][maxIn];
            gout = new float[buffers][maxOut];
        }

        void clear() {
            Arrays.fill(w, 0, jobs, null);
            jobs = 0;
            inputs = 0;
        }

        /** A matrix whose inputs (added next) are rows of {@code x}, its outputs rows of {@code y}. */
        void job(Matrix m, float[] in, float[] out) {
            job(m, 0, m.rows(), in, out);
        }

        /** As {@link #job(Matrix, float[], float[])} for the rows [r0, r1) of m only. */
        void job(Matrix m, int r0, int r1, float[] in, float[] out) {
            w[jobs] = m;
            rowBase[jobs] = r0;
            x[jobs] = in;
            y[jobs] = out;
            firstInput[jobs] = inputs;
            rowStart[jobs + 1] = rowStart[jobs] + r1 - r0;
            jobs++;
            firstInput[jobs] = inputs;
        }

        void input(int in, int out) {
            xOff[inputs] = in;
            yOff[inputs] = out;
            firstInput[jobs] = ++inputs;
        }

        void run() {
            long macs = 0;
            for (int j = 0, b = 0; j < jobs; j++) {
                int m = firstInput[j + 1] - firstInput[j], cols = w[j].cols();
                macs += (long) m * (rowStart[j + 1] - rowStart[j]) * cols;
                buf[j] = -1;
                if (m > 1 && b < gin.length && (long) m * cols <= gin[b].length
                        && (long) m * w[j].rows() <= gout[b].length) {
                    buf[j] = b;
                    for (int t = 0; t < m; t++) {
                        System.arraycopy(x[j], xOff[firstInput[j] + t], gin[b], t * cols, cols);   // [m, cols]
                    }
                    b++;
                }
            }
            if (macs < PARALLEL_MIN_MACS) {
                accept(0, rowStart[jobs]);
            } else {
                Parallel.forRange(rowStart[jobs], this);
            }
        }

        @Override
        public void accept(int from, int to) {
            for (int j = 0; j < jobs && rowStart[j] < to; j++) {
                int r0 = Math.max(from, rowStart[j]) - rowStart[j] + rowBase[j];
                int r1 = Math.min(to, rowStart[j + 1]) - rowStart[j] + rowBase[j];
                if (r0 >= r1) {
                    continue;
                }
                int b = buf[j], i0 = firstInput[j], m = firstInput[j + 1] - i0;
                if (b < 0) {
                    for (int i = i0; i < i0 + m; i++) {
                        w[j].matvec(x[j], xOff[i], y[j], yOff[i], r0, r1);
                    }
                } else {
                    int rows = w[j].rows();
                    w[j].matmul(gin[b], m, gout[b], r0, r1);                      // [m, rows]
                    for (int t = 0; t < m; t++) {
                        System.arraycopy(gout[b], t * rows + r0, y[j], yOff[i0 + t] + r0, r1 - r0);
                    }
                }
            }
        }
    }

    /**
     * Routed experts of a prompt chunk, each on the thread that claims it, with that thread's own buffers:
     * the expert's rows gathered and quantised, {@link Matrix#matmul} over all rows of w1, w3 and w2 (the
     * same products the row-split path computes), its output rows to {@code ws.ye} at its pairs' places.
     */
    private final class ExpertTask implements Parallel.IntRangeConsumer {
        private Block blk;
        private float[] x;
        private final AtomicReferenceArray<ExpertBuffers> free;

        ExpertTask(int threads, int rows) {
            free = new AtomicReferenceArray<>(threads);
            for (int i = 0; i < threads; i++) {
                free.set(i, new ExpertBuffers(rows));
            }
        }

        void set(Block blk, float[] x) {
            this.blk = blk;
            this.x = x;
        }

        @Override
        public void accept(int from, int to) {
            int slot = 0;
            ExpertBuffers b;
            while ((b = free.getAndSet(slot, null)) == null) {
                slot = (slot + 1) % free.length();                 // as many sets as threads: one is free
            }
            try {
                for (int i = from; i < to; i++) {
                    run(ws.active[i], b);
                }
            } finally {
                free.set(slot, b);
            }
        }

        private void run(int ex, ExpertBuffers b) {
            int m = ws.expertCount[ex], p0 = ws.expertStart[ex];
            // a hash table may pick one expert twice for a token: more rows than a prompt chunk, in pieces
            for (int r0 = 0; r0 < m; r0 += b.rows) {
                run(ex, p0 + r0, Math.min(b.rows, m - r0), b);
            }
        }

        /** The expert's pairs [p0, p0 + m). */
        private void run(int ex, int p0, int m, ExpertBuffers b) {
            int d = cfg.dim(), k = cfg.nActivatedExperts(), inter = cfg.moeInterDim();
            for (int r = 0; r < m; r++) {
                System.arraycopy(x, ws.pairs[p0 + r] / k * d, b.x, r * d, d);
                if (num.quant()) {
                    Formats.fp8FakeQuant(b.x, r * d, d, V4Config.QUANT_BLOCK);
                }
            }
            blk.w1[ex].matmul(b.x, m, b.g);
            blk.w3[ex].matmul(b.x, m, b.u);
            num.round(b.g, 0, m * inter);
            num.round(b.u, 0, m * inter);
            for (int r = 0; r < m; r++) {
                double wt = ws.selW[ws.pairs[p0 + r]];
                swiglu(b.g, b.u, r * inter, inter, wt);
                if (num.quant()) {
                    Formats.fp8FakeQuant(b.g, r * inter, inter, V4Config.QUANT_BLOCK);
                }
            }
            blk.w2[ex].matmul(b.g, m, b.y);
            num.round(b.y, 0, m * d);
            System.arraycopy(b.y, 0, ws.ye, p0 * d, m * d);
        }
    }

    /** One thread's buffers for {@link ExpertTask}: up to {@code rows} token rows of one expert. */
    private final class ExpertBuffers {
        final int rows;
        final float[] x, g, u, y;

        ExpertBuffers(int rows) {
            this.rows = rows;
            x = new float[rows * cfg.dim()];
            g = new float[rows * cfg.moeInterDim()];
            u = new float[g.length];
            y = new float[x.length];
        }
    }

    /**
     * The shared expert over the n rows of {@code ws.xe} into {@code ws.ye}: {@code w2·swiglu(w1·x, w3·x)},
     * each matrix split by rows over the thread pool.
     */
    private void sharedExpert(Block blk, int n) {
        qlinear(blk.sw1, ws.xe, n, ws.g);
        qlinear(blk.sw3, ws.xe, n, ws.u);
        swiglu(ws.g, ws.u, 0, n * cfg.moeInterDim(), 1);
        qlinear(blk.sw2, ws.g, n, ws.ye);
    }
}
