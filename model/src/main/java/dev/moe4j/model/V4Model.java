package dev.moe4j.model;

import dev.moe4j.io.CheckpointException;
import dev.moe4j.io.CheckpointException.Kind;
import dev.moe4j.model.V4State.CompState;
import dev.moe4j.model.V4State.LayerState;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Formats;
import dev.moe4j.tensor.Matrices;
import dev.moe4j.tensor.Matrix;
import dev.moe4j.tensor.Parallel;
import dev.moe4j.tensor.Tensor;
import dev.moe4j.tensor.TensorSource;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * The DeepSeek V4 forward pass (V4-Flash / V4-Pro), in the order of the official
 * {@code inference/model.py}: embedding → blocks (mHC around attention and MoE) → {@code hc_head} →
 * norm → head, plus the MTP block. Prefill of a prompt and token-by-token decode are the same code:
 * a call processes {@code n} tokens at the positions following what the caches already hold.
 * Rounding points follow {@link Numerics}; arithmetic is float32 with double reductions.
 */
public final class V4Model implements AutoCloseable {

    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort BF16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    /** Column code of a masked entry (official index −1). */
    private static final int MASKED = -1;
    /** Products smaller than this many multiply-adds run on the calling thread (a pool hand-off is ~10 µs). */
    private static final long PARALLEL_MIN_MACS = Long.getLong("moe4j.parallelMinMacs", 1 << 18);
    /** Tile width of the official sparse-attention kernel. */
    private static final int ATTN_TILE = 64;

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

        Binder(TensorSource src, V4Layout layout) {
            this.src = src;
            this.layout = layout;
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
            return Matrices.of(w, s);
        }

        /** A plain BF16 / F32 weight as a matrix (hc_*_fn, gate, compressor projections, head). */
        Matrix plainMatrix(String name) {
            return Matrices.of(tensor(name), null);
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

    private V4Model(TensorSource src, V4Config cfg, Numerics num, int maxChunk) {
        this.cfg = cfg;
        this.num = num;
        this.src = src;
        this.maxChunk = maxChunk;
        V4Layout layout = new V4Layout(cfg);
        Binder b = new Binder(src, layout);
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
    }

    /**
     * Binds a model to its tensors after checking every tensor of the config's layout (presence, dtype,
     * shape). {@code maxChunk} bounds the tokens of one forward call's working buffers; longer prompts
     * are processed in chunks.
     */
    public static V4Model load(TensorSource src, V4Config cfg, Numerics num, int maxChunk) {
        if (maxChunk < 1) {
            throw new IllegalArgumentException("chunk size must be positive, got " + maxChunk);
        }
        return new V4Model(src, cfg, num, maxChunk);
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
        // convert.py dequantises wo_a to bf16: FP8 · 2^k is exact in bf16, so the FP8 matrix is the same weight
        k.woA = b.matrix(a + "wo_a");
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
        final double[] pre, post, comb;
        final float[] csSwa, csCmp, csTmp;
        final float[] ckv, csc, centry;
        final float[] iq, iw;
        final float[] gateLogits, selW, xe, g, u, ye;
        final int[] sel, expertCount, expertStart, pairs;
        final double[] acc;

        Workspace(V4Config c, int n) {
            int d = c.dim(), hc = c.hcMult(), hd = c.headDim();
            int qkv = Math.multiplyExact(c.nHeads(), hd);
            h = new float[Math.multiplyExact(n, hc * d)];
            h2 = new float[h.length];
            hTmp = new float[hc * d];
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
            xe = new float[n * k * d];
            g = new float[n * k * c.moeInterDim()];
            u = new float[n * k * c.moeInterDim()];
            ye = new float[n * k * d];
            acc = new double[hd];
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
     * Runs {@code ids[0..n)} at the positions after those already in {@code st}.
     *
     * @param logits       receives vocab logits: every position ([n·vocab]) when {@code allPositions},
     *                     otherwise the last one ([vocab]); may be null
     * @param hOut         receives the final residual streams [n, hc, D] (the MTP block's input); may be null
     */
    public void forward(int[] ids, int n, V4State st, float[] logits, boolean allPositions, float[] hOut) {
        checkRun(n, st.position, st);
        int hcD = cfg.hcMult() * cfg.dim();
        for (int c0 = 0; c0 < n; c0 += maxChunk) {
            int m = Math.min(maxChunk, n - c0);
            int startPos = st.position;
            for (int t = 0; t < m; t++) {
                int id = ids[c0 + t];
                if (id < 0 || id >= cfg.vocabSize()) {
                    throw new IllegalArgumentException("token id " + id + " outside the vocabulary [0, " + cfg.vocabSize() + ")");
                }
                embed.row(id, ws.x, t * cfg.dim());
                for (int j = 0; j < cfg.hcMult(); j++) {
                    System.arraycopy(ws.x, t * cfg.dim(), ws.h, t * hcD + j * cfg.dim(), cfg.dim());
                }
            }
            for (int i = 0; i < layers.length; i++) {
                block(layers[i], st.layers[i], m, startPos, ids, c0);
            }
            if (hOut != null) {
                System.arraycopy(ws.h, 0, hOut, c0 * hcD, m * hcD);
            }
            headLogits(hcHead, norm, m, c0, n, logits, allPositions);
            st.position += m;
        }
    }

    /**
     * The MTP block over main-model streams {@code h} [n, hc, D] whose next tokens are {@code nextIds}
     * (position i pairs h[i] with the token at i + 1), continuing the MTP caches of {@code st}.
     */
    public void mtpForward(float[] h, int[] nextIds, int n, V4State st, float[] logits, boolean allPositions) {
        if (mtp.length == 0) {
            throw new IllegalStateException("this model has no MTP block (num_nextn_predict_layers = 0)");
        }
        checkRun(n, st.mtpPosition, st);
        Block b = mtp[0];
        int d = cfg.dim(), hc = cfg.hcMult(), hcD = hc * d;
        for (int c0 = 0; c0 < n; c0 += maxChunk) {
            int m = Math.min(maxChunk, n - c0);
            int startPos = st.mtpPosition;
            // e = e_proj(enorm(embed(next))) broadcast to the streams; + h_proj(hnorm(h)) per stream
            for (int t = 0; t < m; t++) {
                int id = nextIds[c0 + t];
                if (id < 0 || id >= cfg.vocabSize()) {
                    throw new IllegalArgumentException("token id " + id + " outside the vocabulary [0, " + cfg.vocabSize() + ")");
                }
                embed.row(id, ws.x, t * d);
            }
            rmsnorm(ws.x, 0, m, d, b.enorm);
            qlinear(b.eProj, ws.x, m, ws.y);                                     // [m, D]
            System.arraycopy(h, c0 * hcD, ws.h, 0, m * hcD);
            rmsnorm(ws.h, 0, m * hc, d, b.hnorm);                               // [m·hc, D]
            qlinear(b.hProj, ws.h, m * hc, ws.h2);                              // [m·hc, D]
            for (int t = 0; t < m; t++) {
                for (int j = 0; j < hc; j++) {
                    int hi = t * hcD + j * d;
                    for (int i = 0; i < d; i++) {
                        ws.h[hi + i] = num.round(ws.y[t * d + i] + ws.h2[hi + i]);
                    }
                }
            }
            block(b, st.mtp[0], m, startPos, nextIds, c0);
            headLogits(b.mtpHcHead, b.mtpNorm, m, c0, n, logits, allPositions);
            st.mtpPosition += m;
        }
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
     * Teacher forcing for tests: the attention sub-layer of layer {@code layerId} (ids ≥ num layers name
     * MTP blocks) on inputs {@code x} [n, D] at the positions after those in {@code st}.
     */
    void attentionSublayer(int layerId, float[] x, int n, V4State st, float[] out) {
        boolean isMtp = layerId >= layers.length;
        Block b = isMtp ? mtp[layerId - layers.length] : layers[layerId];
        LayerState ls = isMtp ? st.mtp[layerId - layers.length] : st.layers[layerId];
        attention(b, ls, x, n, st.position, out);
    }

    /** Teacher forcing for tests: the MoE sub-layer of layer {@code layerId} on inputs {@code x} [n, D]. */
    void moeSublayer(int layerId, float[] x, int n, int[] ids, float[] out) {
        Block b = layerId >= layers.length ? mtp[layerId - layers.length] : layers[layerId];
        moe(b, x, n, ids, 0, out);
    }

    // ------------------------------------------------------------------ block: mHC around attention and MoE

    private void block(Block b, LayerState ls, int n, int startPos, int[] ids, int idsOff) {
        int d = cfg.dim();
        hcPre(b.hcAttn, n);
        rmsnorm(ws.x, 0, n, d, b.attnNorm);
        attention(b, ls, ws.x, n, startPos, ws.y);
        hcPost(n);
        hcPre(b.hcFfn, n);
        rmsnorm(ws.x, 0, n, d, b.ffnNorm);
        moe(b, ws.x, n, ids, idsOff, ws.y);
        hcPost(n);
    }

    /** Sub-layer input {@code x = Σ_j pre_j·X_j} of every token; keeps post and comb for {@link #hcPost}. */
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

    /** {@code mixes = (fn · flat(X)) · rsqrt(mean(flat(X)²) + eps)} for the token whose streams start at {@code off}. */
    private void mixes(Matrix fn, int off) {
        int hcD = cfg.hcMult() * cfg.dim();
        double ss = 0;
        for (int i = off; i < off + hcD; i++) {
            ss += (double) ws.h[i] * ws.h[i];
        }
        double rs = 1 / Math.sqrt(ss / hcD + cfg.normEps());
        fn.matvec(ws.h, off, ws.mixes, 0);
        for (int i = 0; i < ws.mixes.length; i++) {
            ws.mixes[i] = (float) (ws.mixes[i] * rs);
        }
    }

    /** {@code X'_k = post_k·F + Σ_j C[j][k]·X_j} for every token (F in {@code ws.y}). */
    private void hcPost(int n) {
        int d = cfg.dim(), hc = cfg.hcMult(), hcD = hc * d;
        for (int t = 0; t < n; t++) {
            for (int k = 0; k < hc; k++) {
                double post = ws.post[t * hc + k];
                for (int i = 0; i < d; i++) {
                    double s = post * ws.y[t * d + i];
                    for (int j = 0; j < hc; j++) {
                        s += ws.comb[t * hc * hc + j * hc + k] * ws.h[t * hcD + j * d + i];
                    }
                    ws.hTmp[k * d + i] = num.round(s);
                }
            }
            System.arraycopy(ws.hTmp, 0, ws.h, t * hcD, hcD);
        }
    }

    /** hc_head → norm → head for the chunk's rows; logits of row t land at global row {@code c0 + t}. */
    private void headLogits(HcHead hh, float[] normW, int n, int c0, int total, float[] logits, boolean all) {
        if (logits == null) {
            return;
        }
        int d = cfg.dim(), hc = cfg.hcMult(), hcD = hc * d, v = cfg.vocabSize();
        for (int t = 0; t < n; t++) {
            int row = c0 + t;
            if (!all && row != total - 1) {
                continue;
            }
            mixes(hh.fn(), t * hcD);
            for (int j = 0; j < hc; j++) {
                ws.pre[j] = Mhc.sigmoid(ws.mixes[j] * (double) hh.scale()[0] + hh.base()[j]) + cfg.hcEps();
            }
            for (int i = 0; i < d; i++) {
                double s = 0;
                for (int j = 0; j < hc; j++) {
                    s += ws.pre[j] * ws.h[t * hcD + j * d + i];
                }
                ws.hTmp[i] = num.round(s);
            }
            rmsnorm(ws.hTmp, 0, 1, d, normW);
            matvecRows(head, ws.hTmp, 0, logits, all ? row * v : 0, 1, 0, v);
        }
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
     * Attention of {@code n} tokens at positions {@code startPos..}: single-latent MQA (K = V = the
     * 512-wide kv), sliding window ∪ compressed entries (all of them in HCA layers, the indexer's
     * top-k in CSA layers), attention sink, inverse RoPE, grouped output projection.
     */
    private void attention(Block b, LayerState ls, float[] x, int n, int startPos, float[] out) {
        int h = cfg.nHeads(), hd = cfg.headDim(), rd = cfg.ropeHeadDim(), win = cfg.windowSize(), ratio = b.ratio;
        int qw = h * hd;
        Rope rope = ratio > 0 ? ropeCmp : ropeSwa;
        float[] cs = ratio > 0 ? ws.csCmp : ws.csSwa;
        for (int t = 0; t < n; t++) {
            rope.table(startPos + t, cs, t * rd);
        }
        // q: qr = q_norm(wq_a·x) (also the indexer's input), q = wq_b·qr → [n, H, hd]
        qlinear(b.wqA, x, n, ws.qa);
        rmsnorm(ws.qa, 0, n, cfg.qLoraRank(), b.qNorm);
        qlinear(b.wqB, ws.qa, n, ws.q);                                          // [n, H, hd]
        for (int t = 0; t < n; t++) {
            for (int hh = 0; hh < h; hh++) {
                int o = t * qw + hh * hd;
                headNorm(ws.q, o, hd);
                Rope.rotate(ws.q, o + hd - rd, cs, t * rd, rd, false);
                num.round(ws.q, o + hd - rd, rd);
            }
        }
        // kv = kv_norm(wkv·x), one latent per token; RoPE on its tail, FP8 fake-quant of the rest
        qlinear(b.wkv, x, n, ws.kv);                                             // [n, hd]
        rmsnorm(ws.kv, 0, n, hd, b.kvNorm);
        for (int t = 0; t < n; t++) {
            Rope.rotate(ws.kv, t * hd + hd - rd, cs, t * rd, rd, false);
            num.round(ws.kv, t * hd + hd - rd, rd);
            if (num.quant()) {
                // official kernel rounds the non-RoPE dims to FP8 per 64 values; RoPE dims stay bf16
                Formats.fp8FakeQuant(ws.kv, t * hd, hd - rd, V4Config.KV_QUANT_BLOCK);
            }
        }
        // compressed entries completed by this chunk become visible before its attention
        int end = startPos + n;
        if (ratio == 4) {
            indexerScores(b, ls, x, n, startPos, cs);
        }
        if (ratio > 0) {
            compress(b.comp, ls.comp, x, n, startPos, false, rope);
        }
        int wcols = startPos == 0 ? Math.min(n, win) : win;
        int[] cols = ls.cols;
        float scale = (float) (1.0 / Math.sqrt(hd));
        for (int t = 0; t < n; t++) {
            int p = startPos + t;
            int nc = 0;
            int lo = Math.max(0, p - win + 1);
            for (int c = 0; c < wcols; c++) {
                cols[nc++] = lo + c <= p ? lo + c : MASKED;
            }
            if (ratio == 4) {
                nc = indexerTopk(ls, t, p, end, cols, nc);
            } else if (ratio > 0) {
                int vis = (p + 1) / ratio;
                for (int j = 0; j < end / ratio; j++) {
                    cols[nc++] = j < vis ? -2 - j : MASKED;
                }
            }
            for (int hh = 0; hh < h; hh++) {
                sparseAttention(ls, ws.q, t * qw + hh * hd, cols, nc, startPos, scale, b.sink[hh], ws.o, t * qw + hh * hd);
                Rope.rotate(ws.o, t * qw + hh * hd + hd - rd, cs, t * rd, rd, true);
                num.round(ws.o, t * qw + hh * hd + hd - rd, rd);
            }
        }
        // the window ring keeps the last `win` positions
        for (int t = Math.max(0, n - win); t < n; t++) {
            System.arraycopy(ws.kv, t * hd, ls.ring, ((startPos + t) % win) * hd, hd);
        }
        // grouped output projection: z_g = wo_a[g]·o_g (bf16 GEMM, no activation quantisation), then wo_b
        int g = cfg.oGroups(), olr = cfg.oLoraRank(), gw = qw / g;
        for (int t = 0; t < n; t++) {
            for (int k = 0; k < g; k++) {
                matvecRows(b.woA, ws.o, t * qw + k * gw, ws.z, t * g * olr, 1, k * olr, (k + 1) * olr);
            }
        }
        num.round(ws.z, 0, n * g * olr);
        qlinear(b.woB, ws.z, n, out);
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

    /** Start of the kv row that column code {@code c} names (window position, or compressed entry −2−j). */
    private float[] kvArray(LayerState ls, int c, int startPos) {
        return c <= -2 ? ls.comp.cache : c >= startPos ? ws.kv : ls.ring;
    }

    private int kvOffset(int c, int startPos) {
        int hd = cfg.headDim();
        return c <= -2 ? (-2 - c) * hd : c >= startPos ? (c - startPos) * hd : (c % cfg.windowSize()) * hd;
    }

    /**
     * One head of one query over its columns: {@code o = Σ softmax(q·k/√d)·v} with the sink in the
     * denominator. Official mode walks the columns in 64-wide tiles with an online softmax and bf16
     * probabilities, as the TileLang kernel; otherwise a plain softmax.
     */
    private void sparseAttention(LayerState ls, float[] q, int qOff, int[] cols, int nc, int startPos, float scale,
                                 float sink, float[] o, int oOff) {
        int hd = cfg.headDim();
        float[] s = ls.scores;
        for (int c = 0; c < nc; c++) {
            int code = cols[c];
            if (code == MASKED) {
                s[c] = Float.NEGATIVE_INFINITY;
                continue;
            }
            float[] kv = kvArray(ls, code, startPos);
            int ko = kvOffset(code, startPos);
            float dot = 0;
            for (int i = 0; i < hd; i++) {
                dot += q[qOff + i] * kv[ko + i];
            }
            s[c] = dot * scale;
        }
        double[] acc = ws.acc;
        Arrays.fill(acc, 0);
        double m = Double.NEGATIVE_INFINITY, l = 0;
        int tile = num.tilelang() ? ATTN_TILE : nc;
        for (int t0 = 0; t0 < nc; t0 += tile) {
            int t1 = Math.min(nc, t0 + tile);
            double mt = Double.NEGATIVE_INFINITY;
            for (int c = t0; c < t1; c++) {
                mt = Math.max(mt, s[c]);
            }
            double mNew = Math.max(m, mt);
            if (mNew == Double.NEGATIVE_INFINITY) {
                continue;
            }
            double alpha = m == Double.NEGATIVE_INFINITY ? 0 : Math.exp(m - mNew);
            l *= alpha;
            for (int i = 0; i < hd; i++) {
                acc[i] *= alpha;
            }
            for (int c = t0; c < t1; c++) {
                if (cols[c] == MASKED) {
                    continue;
                }
                double pr = Math.exp(s[c] - mNew);
                l += pr;
                double pv = num.tilelang() ? Formats.bf16Round((float) pr) : pr;
                float[] kv = kvArray(ls, cols[c], startPos);
                int ko = kvOffset(cols[c], startPos);
                for (int i = 0; i < hd; i++) {
                    acc[i] += pv * kv[ko + i];
                }
            }
            m = mNew;
        }
        l += Math.exp(sink - m);
        for (int i = 0; i < hd; i++) {
            o[oOff + i] = num.round(acc[i] / l);
        }
    }

    // ------------------------------------------------------------------ compressor

    /**
     * Feeds tokens into a compressor: {@code kv = wkv·x}, {@code score = wgate·x + ape[pos mod ratio]}
     * (float32, per channel). When a group of {@code ratio} tokens completes, its entry is the per-channel
     * softmax-weighted sum over the group (ratio 4: the previous group's first half of the channels plus
     * this group's second half, 8 candidates), then norm, RoPE at the group's first position, and FP8
     * (main) or Hadamard + FP4 (indexer) fake-quantisation. Entry j lands at cache row j.
     */
    private void compress(Comp cp, CompState cs, float[] x, int n, int startPos, boolean indexer, Rope rope) {
        int ratio = cp.ratio(), w = cp.width(), coff = cs.coff, cw = coff * w, rd = cfg.ropeHeadDim();
        boolean overlap = coff == 2;
        matmul(cp.wkv(), x, n, ws.ckv);                                          // [n, coff·w]
        matmul(cp.wgate(), x, n, ws.csc);
        float[] e = ws.centry;
        for (int t = 0; t < n; t++) {
            int p = startPos + t;
            int row = (overlap ? ratio : 0) + p % ratio;
            for (int i = 0; i < cw; i++) {
                cs.kvState[row * cw + i] = ws.ckv[t * cw + i];
                cs.scoreState[row * cw + i] = ws.csc[t * cw + i] + cp.ape()[(p % ratio) * cw + i];
            }
            if ((p + 1) % ratio != 0) {
                continue;
            }
            for (int ch = 0; ch < w; ch++) {
                double mx = Double.NEGATIVE_INFINITY;
                for (int r = 0; r < coff * ratio; r++) {
                    mx = Math.max(mx, cs.scoreState[r * cw + candidateChannel(r, ch, ratio, w, overlap)]);
                }
                double sum = 0, acc = 0;
                for (int r = 0; r < coff * ratio; r++) {
                    int c = r * cw + candidateChannel(r, ch, ratio, w, overlap);
                    double wt = Math.exp(cs.scoreState[c] - mx);
                    sum += wt;
                    acc += wt * cs.kvState[c];
                }
                e[ch] = num.round(acc / sum);
            }
            if (overlap) {
                // this group becomes the previous one of the next entry
                System.arraycopy(cs.kvState, ratio * cw, cs.kvState, 0, ratio * cw);
                System.arraycopy(cs.scoreState, ratio * cw, cs.scoreState, 0, ratio * cw);
            }
            rmsnorm(e, 0, 1, w, cp.norm());
            rope.table(p + 1 - ratio, ws.csTmp, 0);
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

    /** Channel of state row r that is candidate for output channel ch (overlap: rows < ratio use the first half). */
    private static int candidateChannel(int r, int ch, int ratio, int w, boolean overlap) {
        return overlap && r >= ratio ? w + ch : ch;
    }

    // ------------------------------------------------------------------ lightning indexer

    /**
     * The indexer's queries and weights for the chunk, and its compressor: {@code qI = wq_b·qr} with
     * RoPE, Hadamard and FP4 fake-quant per head; {@code w = weights_proj·x · (ihd·IH)^-½}.
     */
    private void indexerScores(Block b, LayerState ls, float[] x, int n, int startPos, float[] cs) {
        int ih = cfg.indexNHeads(), ihd = cfg.indexHeadDim(), rd = cfg.ropeHeadDim();
        qlinear(b.idxWqB, ws.qa, n, ws.iq);                                      // [n, IH, ihd]
        for (int t = 0; t < n; t++) {
            for (int hh = 0; hh < ih; hh++) {
                int o = (t * ih + hh) * ihd;
                Rope.rotate(ws.iq, o + ihd - rd, cs, t * rd, rd, false);
                num.round(ws.iq, o + ihd - rd, rd);
                Formats.hadamard(ws.iq, o, ihd);
                num.round(ws.iq, o, ihd);
                if (num.quant()) {
                    Formats.fp4FakeQuant(ws.iq, o, ihd, V4Config.FP4_BLOCK);
                }
            }
        }
        compress(b.icomp, ls.icomp, x, n, startPos, true, ropeCmp);
        matmul(b.idxWproj, x, n, ws.iw);                                          // [n, IH]
        num.round(ws.iw, 0, n * ih);
        float wscale = (float) (Math.pow(ihd, -0.5) * Math.pow(ih, -0.5));
        for (int i = 0; i < n * ih; i++) {
            ws.iw[i] = num.round(ws.iw[i] * wscale);
        }
    }

    /**
     * Scores every compressed entry visible to query t ({@code Σ_h w_h·relu(qI_h·K_j)}) and appends
     * the top-k as column codes in descending score order (ties: lower entry first), masked entries
     * (not yet visible to this row) last as −1.
     */
    private int indexerTopk(LayerState ls, int t, int p, int end, int[] cols, int nc) {
        int ih = cfg.indexNHeads(), ihd = cfg.indexHeadDim();
        int total = end / 4, vis = (p + 1) / 4;
        int k = Math.min(cfg.indexTopk(), total);
        if (k == 0) {
            return nc;
        }
        float[] kc = ls.icomp.cache;
        long[] keys = ls.idxKeys;
        for (int j = 0; j < total; j++) {
            float score;
            if (j >= vis) {
                score = Float.NEGATIVE_INFINITY;
            } else {
                double sum = 0;
                for (int hh = 0; hh < ih; hh++) {
                    int qo = (t * ih + hh) * ihd;
                    float dot = 0;
                    for (int i = 0; i < ihd; i++) {
                        dot += ws.iq[qo + i] * kc[j * ihd + i];
                    }
                    sum += num.round(num.round(Math.max(num.round(dot), 0f)) * ws.iw[t * ih + hh]);
                }
                score = num.round(sum);
                if (score == 0f) {
                    score = 0f;                                                  // −0 ties with +0, as in the reference sort
                }
            }
            int bits = Float.floatToIntBits(score);
            int asc = bits ^ ((bits >> 31) & 0x7FFFFFFF);                        // order-preserving int of the float
            keys[j] = ((long) ~asc << 32) | j;                                   // descending score, then ascending j
        }
        Arrays.sort(keys, 0, total);
        for (int i = 0; i < k; i++) {
            int j = (int) keys[i];
            cols[nc++] = j < vis ? -2 - j : MASKED;
        }
        return nc;
    }

    // ------------------------------------------------------------------ MoE

    /**
     * Routed experts (sqrt-softplus scores; hash table in the first layers, else top-k of score + bias;
     * weights = scores of the chosen, normalised, × routed_scaling_factor) plus the shared expert.
     * Tokens are grouped by expert so each expert's weights are read once per call.
     */
    private void moe(Block b, float[] x, int n, int[] ids, int idsOff, float[] out) {
        int d = cfg.dim(), e = cfg.nRoutedExperts(), k = cfg.nActivatedExperts();
        matmul(b.gate, x, n, ws.gateLogits);                                      // [n, E]
        for (int t = 0; t < n; t++) {
            int go = t * e;
            for (int i = 0; i < e; i++) {
                double z = ws.gateLogits[go + i];
                ws.gateLogits[go + i] = (float) Math.sqrt(z > 20 ? z : Math.log1p(Math.exp(z)));
            }
            if (b.hash) {
                long row = (long) ids[idsOff + t] * k;
                for (int s = 0; s < k; s++) {
                    ws.sel[t * k + s] = (int) b.tid2eid.getAtIndex(I64, row + s);
                }
            } else {
                for (int s = 0; s < k; s++) {
                    int best = -1;
                    float bestV = Float.NEGATIVE_INFINITY;
                    outer:
                    for (int i = 0; i < e; i++) {
                        for (int q = 0; q < s; q++) {
                            if (ws.sel[t * k + q] == i) continue outer;
                        }
                        float v = ws.gateLogits[go + i] + b.gateBias[i];
                        if (best < 0 || v > bestV) {
                            best = i;
                            bestV = v;
                        }
                    }
                    ws.sel[t * k + s] = best;
                }
            }
            double sum = 0;
            for (int s = 0; s < k; s++) {
                sum += ws.gateLogits[go + ws.sel[t * k + s]];
            }
            for (int s = 0; s < k; s++) {
                ws.selW[t * k + s] = (float) (ws.gateLogits[go + ws.sel[t * k + s]] / sum * cfg.routeScale());
            }
        }
        Arrays.fill(out, 0, n * d, 0f);
        // group (token, slot) pairs by expert
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
            ws.pairs[ws.expertStart[ex] + ws.expertCount[ex]++] = i;
        }
        for (int ex = 0; ex < e; ex++) {
            int m = ws.expertCount[ex];
            if (m == 0) {
                continue;
            }
            int p0 = ws.expertStart[ex];
            for (int r = 0; r < m; r++) {
                System.arraycopy(x, (ws.pairs[p0 + r] / k) * d, ws.xe, r * d, d);
            }
            expert(b.w1[ex], b.w2[ex], b.w3[ex], m, p0);
            for (int r = 0; r < m; r++) {
                int to = (ws.pairs[p0 + r] / k) * d;
                for (int i = 0; i < d; i++) {
                    out[to + i] += ws.ye[r * d + i];
                }
            }
        }
        System.arraycopy(x, 0, ws.xe, 0, n * d);
        expert(b.sw1, b.sw2, b.sw3, n, -1);
        for (int i = 0; i < n * d; i++) {
            out[i] = num.round(out[i] + ws.ye[i]);
        }
    }

    /**
     * SwiGLU expert over the m rows of {@code ws.xe} into {@code ws.ye}: {@code w2·(w·silu(min(w1·x, L))
     * · clamp(w3·x, ±L))}, the routing weight applied before w2 (pairs from {@code p0}; −1 = shared, weight 1).
     */
    private void expert(Matrix w1, Matrix w2, Matrix w3, int m, int p0) {
        int inter = cfg.moeInterDim();
        float lim = cfg.swigluLimit();
        qlinear(w1, ws.xe, m, ws.g);
        qlinear(w3, ws.xe, m, ws.u);
        for (int r = 0; r < m; r++) {
            double wt = p0 < 0 ? 1 : ws.selW[ws.pairs[p0 + r]];
            for (int i = r * inter; i < (r + 1) * inter; i++) {
                double g = ws.g[i], u = ws.u[i];
                if (lim > 0) {
                    u = Math.clamp(u, -lim, lim);
                    g = Math.min(g, lim);
                }
                ws.g[i] = num.round(wt * (g / (1 + Math.exp(-g)) * u));
            }
        }
        qlinear(w2, ws.g, m, ws.ye);
    }
}
