package dev.moe4j.tensor;

import java.util.Objects;

/**
 * Sorting and partial sorting of {@code long} keys in place, allocating nothing: for the decode step's top-k
 * choices (the indexer's compressed entries, the sampler's candidates), whose callers encode "best first" as
 * ascending keys.
 *
 * <p>Why not {@code Arrays.sort}: the JDK's dual-pivot quicksort returns each partition's pivots in a new
 * {@code int[]}, which escape analysis removes only when C2 inlines the partition call; in a JVM that had
 * sorted other arrays first it did not, and a decode step allocated 479-721 bytes (JFR allocation samples,
 * all in the indexer's sort). And the callers need only the first k keys in order: sorting the sampler's
 * 129,280 candidates took ~7 ms a token, selecting and sorting a few hundred takes well under one.
 *
 * <p>Introsort and introselect: median-of-three quicksort with a three-way partition (equal keys end the
 * recursion at once), heapsort past 2·log2(n) levels, insertion sort below {@value #SMALL} keys: O(n log n)
 * worst case for {@link #sort}, O(n + k log k) expected for {@link #smallest}.
 */
public final class KeySort {

    /** Ranges up to this size are insertion sorted. */
    private static final int SMALL = 24;

    private KeySort() {
    }

    /**
     * A key that orders by descending value, then ascending id: the float's bits made order-preserving, inverted,
     * above the id. The indexer's entries and the sampler's candidates are ranked with it.
     */
    public static long descending(float value, int id) {
        int bits = Float.floatToIntBits(value);
        int asc = bits ^ ((bits >> 31) & 0x7FFFFFFF);
        return ((long) ~asc << 32) | id;
    }

    /** Sorts {@code a[from, to)} ascending. */
    public static void sort(long[] a, int from, int to) {
        Objects.checkFromToIndex(from, to, a.length);
        introsort(a, from, to, depthLimit(to - from));
    }

    /**
     * Rearranges {@code a[from, to)} so that {@code a[from, from + k)} holds the range's k smallest keys in
     * ascending order (all of them, sorted, when k ≥ to − from) and the rest follow in no particular order.
     */
    public static void smallest(long[] a, int from, int to, int k) {
        Objects.checkFromToIndex(from, to, a.length);
        if (k < 0) {
            throw new IllegalArgumentException("k must be ≥ 0, got " + k);
        }
        int n = to - from;
        if (k == 0 || n == 0) {
            return;
        }
        if (k < n) {
            select(a, from, to, from + k - 1, depthLimit(n));
            to = from + k;
        }
        introsort(a, from, to, depthLimit(to - from));
    }

    /**
     * Streaming selection: {@code heap[at, at + size)} keeps the {@code capacity} smallest keys offered so far
     * as a max-heap (the largest of them first). Offers {@code key} and returns the new size. A pass over n
     * keys in random order costs n comparisons and O(k log k log(n/k)) heap moves: for a few hundred of the
     * sampler's 129,280 candidates ~5x faster than writing every key out and selecting from them.
     */
    public static int offer(long[] heap, int at, int size, int capacity, long key) {
        if (size < capacity) {
            int i = size;                                       // sift up
            while (i > 0) {
                int parent = (i - 1) >>> 1;
                if (heap[at + parent] >= key) {
                    break;
                }
                heap[at + i] = heap[at + parent];
                i = parent;
            }
            heap[at + i] = key;
            return size + 1;
        }
        if (capacity > 0 && key < heap[at]) {
            heap[at] = key;
            siftDown(heap, at, 0, size);
        }
        return size;
    }

    /** Sorts the max-heap {@code heap[at, at + size)} left by {@link #offer} ascending. */
    public static void sortHeap(long[] heap, int at, int size) {
        Objects.checkFromIndexSize(at, size, heap.length);
        unheap(heap, at, size);
    }

    private static int depthLimit(int n) {
        return 2 * (32 - Integer.numberOfLeadingZeros(Math.max(n, 1)));
    }

    /** Sorts {@code a[lo, hi)}, by heapsort once {@code depth} levels of partitions are spent. */
    static void introsort(long[] a, int lo, int hi, int depth) {
        while (hi - lo > SMALL) {
            if (depth-- == 0) {
                heapsort(a, lo, hi);
                return;
            }
            long bounds = partition(a, lo, hi, pivot(a, lo, hi));
            int lt = (int) (bounds >>> 32), gt = (int) bounds;
            // recurse into the smaller side and loop on the larger: the stack stays O(log n) deep
            if (lt - lo < hi - gt) {
                introsort(a, lo, lt, depth);
                lo = gt;
            } else {
                introsort(a, gt, hi, depth);
                hi = lt;
            }
        }
        insertion(a, lo, hi);
    }

    /** Puts at {@code t} the key a sort would put there, smaller-or-equal keys before it, greater-or-equal after. */
    static void select(long[] a, int lo, int hi, int t, int depth) {
        while (hi - lo > SMALL) {
            if (depth-- == 0) {                          // too many bad pivots: sort the rest
                heapsort(a, lo, hi);
                return;
            }
            long bounds = partition(a, lo, hi, pivot(a, lo, hi));
            int lt = (int) (bounds >>> 32), gt = (int) bounds;
            if (t < lt) {
                hi = lt;
            } else if (t >= gt) {
                lo = gt;
            } else {
                return;
            }
        }
        insertion(a, lo, hi);
    }

    /**
     * Three-way partition around p: afterwards {@code [lo, lt) < p}, {@code [lt, gt) == p}, {@code [gt, hi) > p};
     * returns {@code lt << 32 | gt}.
     */
    private static long partition(long[] a, int lo, int hi, long p) {
        int lt = lo, i = lo, gt = hi;
        while (i < gt) {
            long v = a[i];
            if (v < p) {
                a[i++] = a[lt];
                a[lt++] = v;
            } else if (v > p) {
                a[i] = a[--gt];
                a[gt] = v;
            } else {
                i++;
            }
        }
        return (long) lt << 32 | gt;
    }

    /** The median of the first, middle and last keys of the range. */
    private static long pivot(long[] a, int lo, int hi) {
        long x = a[lo], y = a[(lo + hi) >>> 1], z = a[hi - 1];
        return Math.max(Math.min(x, y), Math.min(Math.max(x, y), z));
    }

    private static void insertion(long[] a, int lo, int hi) {
        for (int i = lo + 1; i < hi; i++) {
            long v = a[i];
            int j = i - 1;
            while (j >= lo && a[j] > v) {
                a[j + 1] = a[j];
                j--;
            }
            a[j + 1] = v;
        }
    }

    private static void heapsort(long[] a, int lo, int hi) {
        int n = hi - lo;
        for (int i = n / 2 - 1; i >= 0; i--) {
            siftDown(a, lo, i, n);
        }
        unheap(a, lo, n);
    }

    /** Turns the max-heap of n keys at {@code a[lo ..]} into an ascending run: the largest left goes last. */
    private static void unheap(long[] a, int lo, int n) {
        for (int end = n - 1; end > 0; end--) {
            long v = a[lo];
            a[lo] = a[lo + end];
            a[lo + end] = v;
            siftDown(a, lo, 0, end);
        }
    }

    /** Max-heap of {@code n} keys at {@code a[lo ..]}: moves the key at heap index i down to its place. */
    private static void siftDown(long[] a, int lo, int i, int n) {
        long v = a[lo + i];
        while (true) {
            int c = 2 * i + 1;
            if (c >= n) {
                break;
            }
            if (c + 1 < n && a[lo + c + 1] > a[lo + c]) {
                c++;
            }
            if (a[lo + c] <= v) {
                break;
            }
            a[lo + i] = a[lo + c];
            i = c;
        }
        a[lo + i] = v;
    }
}
