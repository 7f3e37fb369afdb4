package dev.moe4j.model;

import java.util.Arrays;

/**
 * The caches of one sequence, sized once for {@code maxContext} tokens: per layer the sliding-window
 * ring, and for layers with compression the compressed entries, the compressor state of the unfinished
 * group (and, for overlapping ratio 4, the previous group) and the indexer's compressed keys. Nothing
 * here grows while decoding.
 */
public final class V4State {

    /** Compressor state and its output cache (official {@code kv_state}, {@code score_state}, {@code kv_cache}). */
    static final class CompState {
        final int ratio, width, coff;
        final float[] kvState, scoreState;   // [coff·ratio, coff·width]
        final float[] cache;                 // [maxContext / ratio, width]

        CompState(int ratio, int width, int maxContext) {
            this.ratio = ratio;
            this.width = width;
            this.coff = ratio == 4 ? 2 : 1;
            this.kvState = new float[coff * ratio * coff * width];
            this.scoreState = new float[coff * ratio * coff * width];
            this.cache = new float[Math.multiplyExact(maxContext / ratio, width)];
            reset();
        }

        void reset() {
            Arrays.fill(kvState, 0f);
            Arrays.fill(scoreState, Float.NEGATIVE_INFINITY);
        }
    }

    static final class LayerState {
        final float[] ring;                  // [window, head_dim], position p at slot p % window
        final CompState comp, icomp;
        // per-query scratch: the attended K = V rows (window, then compressed; null = masked), their
        // offsets, their scores per head ([n_heads, maxCols], so heads run in parallel), and the
        // indexer's sort keys
        final float[][] colRows;
        final int[] colOff;
        final float[] scores;
        final long[] idxKeys;

        LayerState(V4Config cfg, int ratio, int maxContext) {
            ring = new float[cfg.windowSize() * cfg.headDim()];
            comp = ratio > 0 ? new CompState(ratio, cfg.headDim(), maxContext) : null;
            icomp = ratio == 4 ? new CompState(4, cfg.indexHeadDim(), maxContext) : null;
            int compressed = ratio == 4 ? Math.min(cfg.indexTopk(), maxContext / 4) : ratio > 0 ? maxContext / ratio : 0;
            int maxCols = cfg.windowSize() + compressed;
            colRows = new float[maxCols][];
            colOff = new int[maxCols];
            scores = new float[Math.multiplyExact(cfg.nHeads(), maxCols)];          // a slice per head
            idxKeys = new long[ratio == 4 ? maxContext / 4 : 0];
        }

        void reset() {
            if (comp != null) comp.reset();
            if (icomp != null) icomp.reset();
        }
    }

    final int maxContext;
    final LayerState[] layers;
    final LayerState[] mtp;
    /** Tokens already in the caches (the next token's position). */
    int position;
    int mtpPosition;

    V4State(V4Config cfg, int maxContext) {
        if (maxContext < 1) {
            throw new IllegalArgumentException("max context must be positive, got " + maxContext);
        }
        for (int i = 0; i < cfg.nLayers() + cfg.nMtpLayers(); i++) {
            int r = cfg.compressRatio(i);
            if (r > 0) {
                if ((long) (maxContext / r) * cfg.headDim() > Integer.MAX_VALUE - 8) {
                    throw new IllegalArgumentException("max context " + maxContext + " is too large for one cache array");
                }
            }
        }
        this.maxContext = maxContext;
        layers = new LayerState[cfg.nLayers()];
        for (int i = 0; i < layers.length; i++) {
            layers[i] = new LayerState(cfg, cfg.compressRatio(i), maxContext);
        }
        mtp = new LayerState[cfg.nMtpLayers()];
        for (int k = 0; k < mtp.length; k++) {
            mtp[k] = new LayerState(cfg, cfg.compressRatio(cfg.nLayers() + k), maxContext);
        }
    }

    public int maxContext() {
        return maxContext;
    }

    /** Number of tokens in the caches. */
    public int position() {
        return position;
    }

    /**
     * A copy of the backbone caches at the current position, as compact as the position allows: the
     * window rings, the compressor states and the compressed entries made so far. The MTP caches are
     * not kept (a restored sequence starts its MTP block afresh).
     */
    public Snapshot snapshot() {
        int n = 0;
        for (LayerState l : layers) {
            n += 1 + (l.comp != null ? 3 : 0) + (l.icomp != null ? 3 : 0);
        }
        float[][] parts = new float[n][];
        int k = 0;
        for (LayerState l : layers) {
            parts[k++] = l.ring.clone();
            for (CompState c : new CompState[]{l.comp, l.icomp}) {
                if (c != null) {
                    parts[k++] = c.kvState.clone();
                    parts[k++] = c.scoreState.clone();
                    parts[k++] = Arrays.copyOf(c.cache, (position / c.ratio) * c.width);
                }
            }
        }
        return new Snapshot(position, parts);
    }

    /** Makes this sequence continue from a snapshot of a state of the same model. */
    public void restore(Snapshot snap) {
        if (snap.position > maxContext) {
            throw new IllegalArgumentException("snapshot at position " + snap.position + " exceeds the max context " + maxContext);
        }
        reset();
        int k = 0;
        for (LayerState l : layers) {
            System.arraycopy(snap.parts[k], 0, l.ring, 0, l.ring.length);
            k++;
            for (CompState c : new CompState[]{l.comp, l.icomp}) {
                if (c != null) {
                    System.arraycopy(snap.parts[k++], 0, c.kvState, 0, c.kvState.length);
                    System.arraycopy(snap.parts[k++], 0, c.scoreState, 0, c.scoreState.length);
                    float[] cache = snap.parts[k++];
                    System.arraycopy(cache, 0, c.cache, 0, cache.length);
                }
            }
        }
        position = snap.position;
    }

    /** Saved caches of a sequence prefix; immutable once made. */
    public static final class Snapshot {
        private final int position;
        private final float[][] parts;

        Snapshot(int position, float[][] parts) {
            this.position = position;
            this.parts = parts;
        }

        public int position() {
            return position;
        }

        /** Heap bytes held, for the cache's memory budget. */
        public long bytes() {
            long b = 16;
            for (float[] p : parts) {
                b += 16 + 4L * p.length;
            }
            return b;
        }
    }

    /** Forgets the sequence (caches are overwritten as positions are reached again). */
    public void reset() {
        position = 0;
        mtpPosition = 0;
        for (LayerState l : layers) l.reset();
        for (LayerState l : mtp) l.reset();
    }
}
