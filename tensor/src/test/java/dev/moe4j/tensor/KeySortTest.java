package dev.moe4j.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.lang.management.ManagementFactory;
import java.util.Arrays;
import java.util.Random;

import org.junit.jupiter.api.Test;

/** {@link KeySort} against {@link Arrays#sort}, on shapes that defeat naive quicksorts. */
class KeySortTest {

    private static final int[] SIZES = {0, 1, 2, 3, 23, 24, 25, 26, 100, 1000, 4099, 100_000};

    /** Keys of n in one of several orders: random, sorted, reversed, all equal, few values, organ pipe, sawtooth. */
    private static long[] keys(int shape, int n, Random r) {
        long[] a = new long[n];
        for (int i = 0; i < n; i++) {
            a[i] = switch (shape) {
                case 0 -> r.nextLong();
                case 1 -> i;
                case 2 -> n - i;
                case 3 -> 42;
                case 4 -> r.nextInt(3) - 1L;
                case 5 -> Math.min(i, n - i);
                default -> i % 7 + (long) r.nextInt(2) * Long.MIN_VALUE;
            };
        }
        return a;
    }

    private static final int SHAPES = 7;

    @Test
    void sortsLikeArraysSortOnAnySubrange() {
        Random r = new Random(11);
        for (int shape = 0; shape < SHAPES; shape++) {
            for (int n : SIZES) {
                long[] a = keys(shape, n + 6, r);
                long[] want = a.clone();
                Arrays.sort(want, 3, 3 + n);
                KeySort.sort(a, 3, 3 + n);
                assertArrayEquals(want, a, "shape " + shape + ", n " + n);   // the 3 keys either side untouched
            }
        }
    }

    @Test
    void smallestGivesTheSortedPrefixAndKeepsTheRest() {
        Random r = new Random(12);
        for (int shape = 0; shape < SHAPES; shape++) {
            for (int n : SIZES) {
                for (int k : new int[] {0, 1, 2, n / 3, n - 1, n, n + 5}) {
                    if (k < 0) {
                        continue;
                    }
                    long[] a = keys(shape, n + 4, r);
                    long[] sorted = a.clone();
                    Arrays.sort(sorted, 2, 2 + n);
                    KeySort.smallest(a, 2, 2 + n, k);
                    int m = Math.min(k, n);
                    String what = "shape " + shape + ", n " + n + ", k " + k;
                    assertArrayEquals(Arrays.copyOfRange(sorted, 0, 2 + m), Arrays.copyOfRange(a, 0, 2 + m), what);
                    assertArrayEquals(Arrays.copyOfRange(sorted, 2 + n, n + 4), Arrays.copyOfRange(a, 2 + n, n + 4),
                            what + ": the keys after the range");
                    long[] rest = a.clone();
                    Arrays.sort(rest, 2, 2 + n);
                    assertArrayEquals(sorted, rest, what + ": the range holds the same keys");
                }
            }
        }
    }

    /** Random sizes and k: the k-th key lands at every place of the last partitions, edges included. */
    @Test
    void smallestOnRandomSizes() {
        Random r = new Random(15);
        for (int trial = 0; trial < 400; trial++) {
            int n = 30 + r.nextInt(3000), k = 1 + r.nextInt(n);
            long[] a = keys(trial % SHAPES, n, r), sorted = a.clone();
            Arrays.sort(sorted);
            KeySort.smallest(a, 0, n, k);
            assertArrayEquals(Arrays.copyOf(sorted, k), Arrays.copyOf(a, k), "n " + n + ", k " + k);
        }
    }

    @Test
    void offerKeepsTheSmallestKeysOfAStream() {
        Random r = new Random(16);
        for (int shape = 0; shape < SHAPES; shape++) {
            for (int n : SIZES) {
                for (int capacity : new int[] {0, 1, 5, 256, n + 3}) {
                    long[] stream = keys(shape, n, r), heap = new long[capacity + 5];
                    heap[0] = heap[1] = 7;                                         // the heap starts at 2
                    int size = 0;
                    for (long key : stream) {
                        size = KeySort.offer(heap, 2, size, capacity, key);
                    }
                    KeySort.sortHeap(heap, 2, size);
                    long[] sorted = stream.clone();
                    Arrays.sort(sorted);
                    int m = Math.min(capacity, n);
                    assertEquals(m, size, "shape " + shape + ", n " + n + ", capacity " + capacity);
                    assertArrayEquals(Arrays.copyOf(sorted, m), Arrays.copyOfRange(heap, 2, 2 + m),
                            "shape " + shape + ", n " + n + ", capacity " + capacity);
                    assertArrayEquals(new long[] {7, 7}, Arrays.copyOf(heap, 2), "the keys before the heap");
                }
            }
        }
    }

    /** The fallbacks that bound the worst case: heapsort when the partition depth is spent, in both entries. */
    @Test
    void heapsortFallbackSortsAndSelects() {
        Random r = new Random(13);
        for (int shape = 0; shape < SHAPES; shape++) {
            long[] a = keys(shape, 5000, r);
            long[] want = a.clone();
            Arrays.sort(want);
            long[] b = a.clone();
            KeySort.introsort(b, 0, b.length, 0);
            assertArrayEquals(want, b, "shape " + shape);
            for (int depth : new int[] {0, 1, 2}) {
                long[] c = a.clone();
                KeySort.select(c, 0, c.length, 1234, depth);
                assertEquals(want[1234], c[1234], "shape " + shape + ", depth " + depth);
                for (int i = 0; i < c.length; i++) {
                    if (i < 1234 ? c[i] > c[1234] : c[i] < c[1234]) {
                        throw new AssertionError("shape " + shape + ", depth " + depth + ": key " + i
                                + " on the wrong side of the selected one");
                    }
                }
            }
        }
    }

    @Test
    void rejectsBadRanges() {
        long[] a = new long[4];
        assertThrows(IndexOutOfBoundsException.class, () -> KeySort.sort(a, 2, 5));
        assertThrows(IndexOutOfBoundsException.class, () -> KeySort.smallest(a, 3, 2, 1));
        assertThrows(IllegalArgumentException.class, () -> KeySort.smallest(a, 0, 4, -1));
    }

    /** The reason it exists: the decode step's choices allocate nothing (Arrays.sort does, see KeySort). */
    @Test
    void allocatesNothing() {
        var threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long id = Thread.currentThread().threadId();
        Random r = new Random(14);
        long[] a = keys(0, 50_000, r), work = new long[a.length];
        for (int warm = 0; warm < 3; warm++) {
            System.arraycopy(a, 0, work, 0, a.length);
            KeySort.smallest(work, 0, work.length, 512);
        }
        long before = threads.getThreadAllocatedBytes(id);
        for (int i = 0; i < 20; i++) {
            System.arraycopy(a, 0, work, 0, a.length);
            KeySort.smallest(work, 0, work.length, 512 + i);
            System.arraycopy(a, 0, work, 0, a.length);
            KeySort.sort(work, 0, 4000 + i);
        }
        int size = 0;
        for (long key : a) {
            size = KeySort.offer(work, 0, size, 300, key);
        }
        KeySort.sortHeap(work, 0, size);
        long allocated = threads.getThreadAllocatedBytes(id) - before;
        assertEquals(0, allocated, "bytes allocated by 40 sorts and selections and a streamed selection");
    }
}
