package dev.moe4j.model;

import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Formats;
import dev.moe4j.tensor.HugePages;
import dev.moe4j.tensor.Tensor;
import dev.moe4j.tensor.TensorSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.IntStream;

/**
 * Random weights for any V4 config, generated deterministically from a seed into off-heap memory (in huge
 * pages where the OS gives them, as a mapped checkpoint gets: {@link HugePages}), never written to disk, in
 * the official dtypes and shapes. Values are scaled so that activations stay in a realistic range: FP8/FP4
 * codes with power-of-two scales near 1/√fan_in, norms near 1. Used for the demo model and for benchmarks on
 * production geometry.
 */
public final class DummyWeights implements TensorSource {

    private static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort BF16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    /** Bytes generated per parallel task: big enough to amortise the task, small enough to spread 2 cores. */
    private static final int CHUNK = 1 << 20;
    /** Random byte → e4m3 code with |v| in [0.125, 1.875] (exponent field 4..7): no NaN, no subnormals. */
    private static final byte[] FP8_CODE = new byte[256];

    static {
        for (int r = 0; r < 256; r++) {
            FP8_CODE[r] = (byte) ((r & 0x80) | ((4 + ((r >> 3) & 3)) << 3) | (r & 7));
        }
    }

    private final V4Layout layout;
    private final long seed;
    private final String origin;
    private final Arena arena = Arena.ofShared();
    private final Map<String, Tensor> made = new ConcurrentHashMap<>();

    public DummyWeights(V4Layout layout, long seed, String origin) {
        this.layout = layout;
        this.seed = seed;
        this.origin = origin;
    }

    @Override
    public Tensor get(String name) {
        V4Layout.Spec spec = layout.spec(name);
        if (spec == null) {
            throw new MissingTensorException(origin, name);
        }
        return made.computeIfAbsent(name, n -> generate(spec));
    }

    @Override
    public boolean has(String name) {
        return layout.spec(name) != null;
    }

    @Override
    public Set<String> names() {
        return layout.specs().keySet();
    }

    @Override
    public String origin() {
        return origin;
    }

    @Override
    public void close() {
        arena.close();
    }

    private Tensor generate(V4Layout.Spec s) {
        long bytes = s.bytes();
        MemorySegment seg = HugePages.allocate(Math.max(bytes, 8), arena);
        long base = mix(seed ^ s.name().hashCode() * 0x9E3779B97F4A7C15L);
        String n = s.name();
        switch (s.dtype()) {
            case F8_E4M3 -> fill(seg, bytes, base, FP8_CODE);
            case I8 -> fill(seg, bytes, base, null);                              // every nibble is a valid e2m1 code
            case F8_E8M0 -> fillScales(seg, s, base);
            case BF16 -> {
                boolean isNorm = n.endsWith("norm.weight");
                long cols = s.shape()[s.shape().length - 1];
                float amp = isNorm ? 0.1f : (float) Math.sqrt(3.0 / cols);
                floats(seg, s.numel(), base, isNorm ? 1f : 0f, amp, true);
            }
            case F32 -> {
                float center = 0f, amp;
                if (n.endsWith("_scale")) {
                    center = 0.5f;
                    amp = 0.25f;
                } else if (n.endsWith("_fn")) {
                    amp = (float) Math.sqrt(3.0 / s.shape()[1]);
                } else {
                    amp = 0.1f;                                                   // bases, sinks, ape, gate bias
                }
                floats(seg, s.numel(), base, center, amp, false);
            }
            case I64 -> fillTid2eid(seg, s, base);
            default -> throw new IllegalStateException("no dummy generator for " + s);
        }
        return new Tensor(n, s.dtype(), s.shape(), seg.asSlice(0, bytes));
    }

    /** Random bytes, optionally mapped through a table, chunk-parallel and deterministic. */
    private static void fill(MemorySegment seg, long bytes, long base, byte[] map) {
        long chunks = (bytes + CHUNK - 1) / CHUNK;
        IntStream.range(0, Math.toIntExact(chunks)).parallel().forEach(c -> {
            long start = (long) c * CHUNK, end = Math.min(bytes, start + CHUNK);
            long st = mix(base + c);
            long i = start;
            for (; i + 8 <= end; i += 8) {
                st = next(st);
                long r = mix(st);
                if (map != null) {
                    long v = 0;
                    for (int b = 0; b < 8; b++) {
                        v |= (map[(int) (r >>> (8 * b)) & 0xFF] & 0xFFL) << (8 * b);
                    }
                    r = v;
                }
                seg.set(LONG, i, r);
            }
            for (; i < end; i++) {
                st = next(st);
                int r = (int) mix(st) & 0xFF;
                seg.set(ValueLayout.JAVA_BYTE, i, map != null ? map[r] : (byte) r);
            }
        });
    }

    /** UE8M0 scales making the paired weight's rows have norm near 1 (values ~ 1/√fan_in). */
    private void fillScales(MemorySegment seg, V4Layout.Spec s, long base) {
        String w = s.name().substring(0, s.name().length() - ".scale".length()) + ".weight";
        V4Layout.Spec ws = layout.spec(w);
        boolean fp4 = ws.dtype() == DType.I8;
        long fanIn = fp4 ? ws.shape()[1] * 2 : ws.shape()[1];
        double meanAbs = fp4 ? 2.6 : 0.75;                                       // mean |code value| of the generators
        int e = (int) Math.round(Math.log(1 / Math.sqrt(fanIn) / meanAbs) / Math.log(2));
        long n = s.numel();
        long st = mix(base);
        for (long i = 0; i < n; i++) {
            st = next(st);
            int jitter = (int) (mix(st) & 1);                                    // ±1 binade of variety between blocks
            seg.set(ValueLayout.JAVA_BYTE, i, (byte) (127 + e - jitter));
        }
    }

    /** Uniform values in [center − amp, center + amp), chunk-parallel and deterministic. */
    private static void floats(MemorySegment seg, long n, long base, float center, float amp, boolean bf16) {
        int per = CHUNK / 4;
        long chunks = (n + per - 1) / per;
        IntStream.range(0, Math.toIntExact(chunks)).parallel().forEach(c -> {
            long st = mix(base + c);
            for (long i = (long) c * per, end = Math.min(n, i + per); i < end; i++) {
                st = next(st);
                float u = (mix(st) >>> 40) / (float) (1 << 24) * 2 - 1;
                float v = center + amp * u;
                if (bf16) {
                    seg.set(BF16, i * 2, Formats.floatToBf16(v));
                } else {
                    seg.set(F32, i * 4, v);
                }
            }
        });
    }

    /** A hash-routing table: for every token, k distinct experts. */
    private void fillTid2eid(MemorySegment seg, V4Layout.Spec s, long base) {
        long rows = s.shape()[0];
        int k = (int) s.shape()[1];
        int experts = layout.config().nRoutedExperts();
        long st = mix(base);
        for (long r = 0; r < rows; r++) {
            for (int j = 0; j < k; j++) {
                long e;
                boolean dup;
                do {
                    st = next(st);
                    e = Long.remainderUnsigned(mix(st), experts);
                    dup = false;
                    for (int q = 0; q < j; q++) {
                        dup |= seg.getAtIndex(LONG, r * k + q) == e;
                    }
                } while (dup);
                seg.setAtIndex(LONG, r * k + j, e);
            }
        }
    }

    private static long next(long s) {
        return s + 0x9E3779B97F4A7C15L;
    }

    /** SplitMix64 finaliser. */
    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
