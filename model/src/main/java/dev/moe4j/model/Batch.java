package dev.moe4j.model;

/**
 * The tokens of one forward call: segments of consecutive rows, each continuing its own sequence
 * (a {@link V4State}) from the position that state holds. A prompt chunk is one segment of many rows;
 * a decode step of many sequences is many segments of one row. Reused from step to step: filling it
 * allocates nothing.
 */
public final class Batch {

    final int[] ids;
    final int[] off, len, start;
    final V4State[] state;
    final boolean[] wantLogits, everyRow;
    int rows, segs;

    public Batch(int maxRows, int maxSegments) {
        if (maxRows < 1 || maxSegments < 1) {
            throw new IllegalArgumentException("a batch needs room for at least one row and one segment");
        }
        ids = new int[maxRows];
        off = new int[maxSegments];
        len = new int[maxSegments];
        start = new int[maxSegments];
        state = new V4State[maxSegments];
        wantLogits = new boolean[maxSegments];
        everyRow = new boolean[maxSegments];
    }

    public void clear() {
        for (int s = 0; s < segs; s++) {
            state[s] = null;
        }
        rows = 0;
        segs = 0;
    }

    /**
     * Appends {@code tokens[from .. from + n)} as a segment continuing {@code st}; returns its index.
     * {@code wantLogits}: the logits of its last row are computed (the head is the largest product).
     */
    public int add(V4State st, int[] tokens, int from, int n, boolean wantLogits) {
        return add(st, tokens, from, n, wantLogits, false);
    }

    /**
     * As {@link #add(V4State, int[], int, int, boolean)}; with {@code everyRow} the logits of each of its
     * rows are also handed to the {@link V4Model.RowLogits} of the forward call (prompt scoring).
     */
    public int add(V4State st, int[] tokens, int from, int n, boolean wantLogits, boolean everyRow) {
        if (n < 1) {
            throw new IllegalArgumentException("a segment needs at least one token");
        }
        if (segs == state.length || rows + n > ids.length) {
            throw new IllegalStateException("batch full: " + rows + " rows, " + segs + " segments");
        }
        for (int s = 0; s < segs; s++) {
            if (state[s] == st) {
                throw new IllegalArgumentException("a sequence can appear only once in a batch");
            }
        }
        System.arraycopy(tokens, from, ids, rows, n);
        off[segs] = rows;
        len[segs] = n;
        state[segs] = st;
        this.wantLogits[segs] = wantLogits;
        this.everyRow[segs] = everyRow;
        rows += n;
        return segs++;
    }

    public int rows() {
        return rows;
    }

    public int segments() {
        return segs;
    }

    public int capacity() {
        return ids.length;
    }

    public int maxSegments() {
        return state.length;
    }
}
