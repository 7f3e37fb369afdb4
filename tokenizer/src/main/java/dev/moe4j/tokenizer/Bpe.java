package dev.moe4j.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * HF's byte-level BPE model: a word's UTF-8 bytes start as one symbol each, then the adjacent pair with the
 * lowest merge rank (leftmost on ties) is merged until no pair has a rank, as HF's {@code Word::merge_all}
 * does with its priority queue. Symbols are token ids and merges live in a primitive open-addressing table,
 * so the loop allocates nothing per character. Results are cached per word.
 */
final class Bpe {

    /** HF caches words too; the bounds only keep memory flat, they do not change any result. */
    private static final int CACHE_CAPACITY = 100_000;
    private static final int CACHE_MAX_WORD = 128;
    private static final long EMPTY = -1L;

    private final int[] byteIds;
    private final long[] pairKeys;
    private final int[] pairRanks;
    private final int[] pairResults;
    private final int mask;
    private final int shift;
    private final Map<String, Integer> vocab;
    private final boolean ignoreMerges;
    private final ConcurrentHashMap<String, int[]> cache = new ConcurrentHashMap<>();

    /**
     * @param byteIds     the id of the one-char token of each byte
     * @param merges      {@code merges[r] = {left, right, merged}} ids for the merge of rank {@code r}
     * @param vocab       the model vocabulary, consulted only when {@code ignoreMerges}
     * @param ignoreMerges HF's {@code ignore_merges}: a word that is itself in the vocabulary is one token
     */
    Bpe(int[] byteIds, int[][] merges, Map<String, Integer> vocab, boolean ignoreMerges) {
        this.byteIds = byteIds.clone();
        this.vocab = vocab;
        this.ignoreMerges = ignoreMerges;
        int capacity = Integer.highestOneBit(Math.max(16, merges.length * 2)) * 2;
        pairKeys = new long[capacity];
        pairRanks = new int[capacity];
        pairResults = new int[capacity];
        mask = capacity - 1;
        shift = Long.numberOfLeadingZeros(capacity) + 1;
        Arrays.fill(pairKeys, EMPTY);
        for (int rank = 0; rank < merges.length; rank++) {
            // A repeated pair keeps its last rank, as HF's HashMap collect does.
            int slot = slot(key(merges[rank][0], merges[rank][1]));
            pairKeys[slot] = key(merges[rank][0], merges[rank][1]);
            pairRanks[slot] = rank;
            pairResults[slot] = merges[rank][2];
        }
    }

    /** Appends the ids of the word {@code text[start, end)}. */
    void encode(String text, int start, int end, IntArray out) {
        if (end - start == 1 && text.charAt(start) < 0x80) {
            out.add(byteIds[text.charAt(start)]);
            return;
        }
        String word = text.substring(start, end);
        int[] ids = cache.get(word);
        if (ids == null) {
            ids = encodeUncached(word);
            if (word.length() <= CACHE_MAX_WORD && cache.size() < CACHE_CAPACITY) {
                cache.put(word, ids);
            }
        }
        out.addAll(ids);
    }

    private int[] encodeUncached(String word) {
        byte[] bytes = word.getBytes(StandardCharsets.UTF_8);
        if (ignoreMerges) {
            Integer whole = vocab.get(ByteLevel.toChars(bytes));
            if (whole != null) {
                return new int[] {whole};
            }
        }
        int n = bytes.length;
        int[] symbols = new int[n];
        for (int i = 0; i < n; i++) {
            symbols[i] = byteIds[bytes[i] & 0xFF];
        }
        return merge(symbols);
    }

    /** Merges in place over a linked list of symbols; a symbol merged into its left neighbour becomes -1. */
    private int[] merge(int[] symbols) {
        int n = symbols.length;
        int[] prev = new int[n];
        int[] next = new int[n];
        LongHeap queue = new LongHeap(n);
        for (int i = 0; i < n; i++) {
            prev[i] = i - 1;
            next[i] = i + 1 < n ? i + 1 : -1;
            if (i + 1 < n) {
                enqueue(queue, symbols, i, i + 1);
            }
        }
        int live = n;
        while (!queue.isEmpty()) {
            long top = queue.pop();
            int rank = (int) (top >>> 32);
            int pos = (int) top;
            int right = next[pos];
            if (symbols[pos] < 0 || right < 0) {
                continue;
            }
            int slot = slot(key(symbols[pos], symbols[right]));
            if (pairKeys[slot] == EMPTY || pairRanks[slot] != rank) {
                continue; // stale: one side was merged since this pair was queued
            }
            symbols[pos] = pairResults[slot];
            symbols[right] = -1;
            live--;
            int after = next[right];
            next[pos] = after;
            if (after >= 0) {
                prev[after] = pos;
                enqueue(queue, symbols, pos, after);
            }
            if (prev[pos] >= 0) {
                enqueue(queue, symbols, prev[pos], pos);
            }
        }
        int[] ids = new int[live];
        for (int i = 0, k = 0; i >= 0; i = next[i]) {
            ids[k++] = symbols[i];
        }
        return ids;
    }

    private void enqueue(LongHeap queue, int[] symbols, int left, int right) {
        int slot = slot(key(symbols[left], symbols[right]));
        if (pairKeys[slot] != EMPTY) {
            // Rank in the high half, position in the low half: the heap yields lowest rank, then leftmost.
            queue.push(((long) pairRanks[slot] << 32) | left);
        }
    }

    private static long key(int left, int right) {
        return ((long) left << 32) | (right & 0xFFFFFFFFL);
    }

    /** The slot holding {@code key}, or the empty slot where it would go. */
    private int slot(long key) {
        int i = (int) ((key * 0x9E3779B97F4A7C15L) >>> shift);
        while (pairKeys[i] != EMPTY && pairKeys[i] != key) {
            i = (i + 1) & mask;
        }
        return i;
    }

    /** A binary min-heap of longs. */
    private static final class LongHeap {
        private long[] heap;
        private int size;

        LongHeap(int capacity) {
            heap = new long[Math.max(capacity, 4)];
        }

        boolean isEmpty() {
            return size == 0;
        }

        void push(long value) {
            if (size == heap.length) {
                heap = Arrays.copyOf(heap, size * 2);
            }
            int i = size++;
            while (i > 0) {
                int parent = (i - 1) >>> 1;
                if (heap[parent] <= value) {
                    break;
                }
                heap[i] = heap[parent];
                i = parent;
            }
            heap[i] = value;
        }

        long pop() {
            long top = heap[0];
            long last = heap[--size];
            int i = 0;
            while (true) {
                int child = 2 * i + 1;
                if (child >= size) {
                    break;
                }
                if (child + 1 < size && heap[child + 1] < heap[child]) {
                    child++;
                }
                if (last <= heap[child]) {
                    break;
                }
                heap[i] = heap[child];
                i = child;
            }
            heap[i] = last;
            return top;
        }
    }
}
