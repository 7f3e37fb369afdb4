package dev.moe4j.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.moe4j.engine.Engine;
import dev.moe4j.model.Batch;
import dev.moe4j.model.V4Layout;
import dev.moe4j.model.V4Model;
import dev.moe4j.model.V4State;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.management.CompilationMXBean;
import java.lang.management.ManagementFactory;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;

/**
 * {@code moe4j bench}: prefill and decode speed of one sequence (or of {@code --batch} sequences decoded
 * together), the weight bytes a decode step reads, the bandwidth that achieves, and the machine's own
 * measured memory bandwidth, so every run reports its roofline ratio.
 */
@Command(name = "bench", mixinStandardHelpOptions = true, description = "Measure prefill and decode speed.")
final class BenchCommand implements Callable<Integer> {

    @Mixin
    ModelOptions model = new ModelOptions();

    @Option(names = "--prompt", defaultValue = "64", description = "Prompt tokens (default ${DEFAULT-VALUE}).")
    int prompt;

    @Option(names = "--gen", defaultValue = "32", description = "Decode tokens (default ${DEFAULT-VALUE}).")
    int gen;

    @Option(names = "--threads", description = "Threads for the kernels (default: one per physical core).")
    Integer threads;

    @Option(names = "--repeat", defaultValue = "3", description = "Measured runs after the warm-up (default ${DEFAULT-VALUE}); "
            + "the warm-up repeats whole runs until the JIT has stopped compiling.")
    int repeat;

    @Option(names = "--batch", defaultValue = "1", description = "Sequences decoded together (default ${DEFAULT-VALUE}): "
            + "each reads its own prompt, then every decode step runs one token of each, as the server batches "
            + "concurrent requests; t/s count the tokens of all of them.")
    int batch;

    @Option(names = "--json", description = "Print one JSON object instead of a table.")
    boolean json;

    /** Warm-up runs: at least, at most, and the share of a run's time the JIT may still compile in the last. */
    private static final int MIN_WARM = 2, MAX_WARM = 12;
    private static final double QUIET = 0.01;

    @Override
    public Integer call() throws Exception {
        if (prompt < 1 || gen < 1 || repeat < 1 || batch < 1) {
            throw new IllegalArgumentException("--prompt, --gen, --repeat and --batch must be positive");
        }
        if (batch > model.chunk) {
            throw new IllegalArgumentException("--batch " + batch + " is more rows than a forward call takes (--chunk "
                    + model.chunk + ")");
        }
        if (threads != null) {
            if (threads < 1) {
                throw new IllegalArgumentException("--threads must be positive");
            }
            // read once, when the pool starts: set before anything computes
            System.setProperty("moe4j.threads", Integer.toString(threads));
        }
        int nThreads = threads != null ? threads : Runtime.getRuntime().availableProcessors();
        model.maxContext = Math.max(model.maxContext, prompt + gen + 1);
        double[] bw;
        StepProgress bar = StepProgress.start("moe4j: bench", 2 + repeat, !json);
        try (bar; Engine e = bar.step("loading model", model::load)) {
            V4Model m = e.model();
            V4Layout layout = new V4Layout(e.config());
            int[][] ids = new int[batch][prompt + gen];                          // a different text per sequence
            SplittableRandom r = new SplittableRandom(7);
            for (int[] seq : ids) {
                for (int i = 0; i < seq.length; i++) seq[i] = 2 + r.nextInt(e.config().vocabSize() - 2);
            }
            // a JVM's first prefill runs ~4x slower while C2 compiles the many-row kernels, its second still ~10 %
            // slower (v4-flash-slice2, 64 tokens: 5.2 s, 1.34 s, then 1.2 s), and the decode path takes longer
            long[] steps = new long[repeat * gen];                               // every decode step's ns
            int warmRuns = bar.step("warm-up", () -> warmUp(e, m, ids, steps));                 // until the JIT is quiet
            double[] pre = new double[repeat], dec = new double[repeat];
            long experts = 0;                                                    // routed experts the decode steps ran
            for (int k = 0; k < repeat; k++) {
                int at = k * gen;
                double[] t = bar.step("run " + (k + 1) + "/" + repeat, () -> run(e, m, ids, prompt, gen, steps, at));
                pre[k] = (double) batch * prompt / t[0];
                dec[k] = (double) batch * gen / t[1];
                experts += (long) t[2];
            }
            bar.done();
            long rss = peakRss(), huge = hugePageBytes();                        // before the probe's 2 GiB
            bw = memoryBandwidth(nThreads);
            long perToken = layout.decodeBytesPerToken(false);
            // a step of several sequences reads the dense weights once and each expert that any of its rows chose
            // once: the top-k experts of one token replaced by those the measured steps ran, on average
            double perStep = perToken;
            if (batch > 1) {
                long expertBytes = layout.routedExpertBytes();
                perStep = perToken - (double) e.config().nLayers() * e.config().nActivatedExperts() * expertBytes
                        + (double) experts / ((long) repeat * gen) * expertBytes;
            }
            double decMedian = median(dec), gbps = decMedian / batch * perStep / 1e9;
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("model", e.source().name());
            out.put("numerics", e.options().numerics().name());
            out.put("kernels", e.options().reference() ? "reference" : "vector");   // scalar runs are not speed figures
            out.put("threads", nThreads);
            out.put("batch", batch);
            out.put("prompt_tokens", prompt);
            out.put("gen_tokens", gen);
            out.put("repeat", repeat);
            out.put("warmup_runs", warmRuns);
            out.put("prefill_tps", stats(pre));
            out.put("decode_tps", stats(dec));
            out.put("decode_step_ms", percentiles(steps));
            out.put("weight_bytes_per_token", perToken);
            out.put("weight_bytes_per_step", Math.round(perStep));
            out.put("decode_gbps", gbps);
            out.put("memory_bandwidth_gbps", bw[0]);
            out.put("memory_copy_gbps", bw[1]);
            out.put("roofline_ratio", gbps / bw[0]);
            out.put("kv_bytes_per_token", InspectCommand.KvCost.engineBytesPerToken(e.config()));
            out.put("peak_rss_bytes", rss);
            out.put("huge_page_bytes", huge);
            print(out);
        }
        return 0;
    }

    /**
     * Whole runs (prompt and decode steps) until the JIT has gone quiet: a run during which the compilers worked
     * less than {@link #QUIET} of its time, at least {@link #MIN_WARM} runs and at most {@link #MAX_WARM}. The
     * measured runs are then the steady state: after two short runs, C2 was still compiling the decode path 8 s
     * into the measurement (v4-flash-slice2-v1k, 2 threads), and on two cores each compile took one from the
     * kernels (steps of 40-67 ms among steps of 23). Returns the runs made.
     */
    private int warmUp(Engine e, V4Model m, int[][] ids, long[] steps) {
        CompilationMXBean jit = ManagementFactory.getCompilationMXBean();
        boolean timed = jit != null && jit.isCompilationTimeMonitoringSupported();
        for (int k = 1; ; k++) {
            long c0 = timed ? jit.getTotalCompilationTime() : 0, t0 = System.nanoTime();
            run(e, m, ids, prompt, gen, steps, 0);
            double ms = (System.nanoTime() - t0) / 1e6;
            if (k >= MAX_WARM || (k >= MIN_WARM && (!timed || jit.getTotalCompilationTime() - c0 < QUIET * ms))) {
                return k;
            }
        }
    }

    /**
     * One prefill of {@code p} tokens per sequence (one after another) and {@code g} decode steps of all of them
     * together, on fresh sequences: the seconds of each and the routed experts the steps ran; each step's
     * nanoseconds to {@code steps[at ..]}.
     */
    private static double[] run(Engine e, V4Model m, int[][] ids, int p, int g, long[] steps, int at) {
        int b = ids.length, vocab = e.config().vocabSize();
        V4State[] st = new V4State[b];
        float[] logits = new float[b * vocab];
        Batch batch = new Batch(b, b);
        for (int s = 0; s < b; s++) {
            st[s] = e.newState();                                                // outside the timing, as before
        }
        long t0 = System.nanoTime();
        for (int s = 0; s < b; s++) {
            m.forward(ids[s], p, st[s], logits, false, null);
        }
        long t1 = System.nanoTime(), last = t1, experts = m.expertsRun();
        for (int i = 0; i < g; i++) {
            batch.clear();
            for (int s = 0; s < b; s++) {
                batch.add(st[s], ids[s], p + i, 1, true);
            }
            m.forward(batch, logits);
            long now = System.nanoTime();
            steps[at + i] = now - last;
            last = now;
        }
        return new double[]{(t1 - t0) / 1e9, (last - t1) / 1e9, m.expertsRun() - experts};
    }

    private static Map<String, Double> stats(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        Map<String, Double> m = new LinkedHashMap<>();
        m.put("median", median(v));
        m.put("min", s[0]);
        m.put("max", s[s.length - 1]);
        return m;
    }

    /**
     * 10th, 50th and 90th percentile of the decode steps in ms: on a shared machine whose neighbours take
     * bandwidth now and then, the 10th percentile moves least between runs.
     */
    private static Map<String, Double> percentiles(long[] ns) {
        long[] s = ns.clone();
        Arrays.sort(s);
        Map<String, Double> m = new LinkedHashMap<>();
        for (int q : new int[]{10, 50, 90}) {
            m.put("p" + q, s.length == 0 ? 0 : s[Math.min(s.length - 1, s.length * q / 100)] / 1e6);
        }
        return m;
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    /**
     * The machine's memory bandwidth with {@code t} threads: a vectorised read of a 1 GiB off-heap
     * array and a 1 GiB copy (counted as read + write), best of 3.
     */
    static double[] memoryBandwidth(int t) throws InterruptedException {
        long size = 1L << 30;
        try (Arena arena = Arena.ofShared()) {
            MemorySegment a = arena.allocate(size, 64), b = arena.allocate(size, 64);
            a.fill((byte) 1);
            b.fill((byte) 2);
            for (int k = 0; k < 200; k++) {
                sum(a, 0, 1 << 20);                                              // compile the loop before timing it
            }
            double read = 0, copy = 0;
            for (int k = 0; k < 3; k++) {
                read = Math.max(read, size / 1e9 / timed(t, (i, n) -> sum(a, size * i / n, size * (i + 1) / n)));
                copy = Math.max(copy, 2 * size / 1e9 / timed(t, (i, n) ->
                        MemorySegment.copy(a, size * i / n, b, size * i / n, size / n)));
            }
            return new double[]{read, copy};
        }
    }

    private interface Part {
        void run(int i, int n);
    }

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static volatile float sink;

    /** Four independent accumulators, so the adds' latency does not cap the read rate. */
    private static void sum(MemorySegment m, long from, long to) {
        FloatVector a0 = FloatVector.zero(S), a1 = a0, a2 = a0, a3 = a0;
        long step = S.vectorByteSize();
        long o = from;
        for (; o + 4 * step <= to; o += 4 * step) {
            a0 = a0.add(FloatVector.fromMemorySegment(S, m, o, ByteOrder.LITTLE_ENDIAN));
            a1 = a1.add(FloatVector.fromMemorySegment(S, m, o + step, ByteOrder.LITTLE_ENDIAN));
            a2 = a2.add(FloatVector.fromMemorySegment(S, m, o + 2 * step, ByteOrder.LITTLE_ENDIAN));
            a3 = a3.add(FloatVector.fromMemorySegment(S, m, o + 3 * step, ByteOrder.LITTLE_ENDIAN));
        }
        sink = a0.add(a1).add(a2).add(a3).reduceLanes(VectorOperators.ADD);
    }

    private static double timed(int t, Part p) throws InterruptedException {
        Thread[] th = new Thread[t];
        long t0 = System.nanoTime();
        for (int i = 0; i < t; i++) {
            int idx = i;
            th[i] = Thread.ofPlatform().start(() -> p.run(idx, t));
        }
        for (Thread x : th) x.join();
        return (System.nanoTime() - t0) / 1e9;
    }

    /** Peak resident set size (Linux VmHWM), or -1 where unknown. */
    static long peakRss() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmHWM:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
                }
            }
        } catch (IOException | NumberFormatException e) {
            return -1;
        }
        return -1;
    }

    /**
     * Resident bytes in 2 MB pages ({@code /proc/self/smaps_rollup}: AnonHugePages + FilePmdMapped +
     * ShmemPmdMapped), or -1 where unknown: whether the weights got the huge pages they were advised
     * ({@link dev.moe4j.tensor.HugePages}).
     */
    static long hugePageBytes() {
        try {
            return hugePageBytes(Files.readAllLines(Path.of("/proc/self/smaps_rollup")));
        } catch (IOException | NumberFormatException e) {
            return -1;
        }
    }

    static long hugePageBytes(List<String> rollup) {
        long kb = -1;
        for (String line : rollup) {
            if (line.startsWith("AnonHugePages:") || line.startsWith("FilePmdMapped:")
                    || line.startsWith("ShmemPmdMapped:")) {
                kb = Math.max(kb, 0) + Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        return kb < 0 ? -1 : kb * 1024;
    }

    private void print(Map<String, Object> out) throws IOException {
        if (json) {
            System.out.println(new ObjectMapper().writeValueAsString(out));
            return;
        }
        @SuppressWarnings("unchecked") Map<String, Double> p = (Map<String, Double>) out.get("prefill_tps");
        @SuppressWarnings("unchecked") Map<String, Double> d = (Map<String, Double>) out.get("decode_tps");
        System.out.printf("model %s, %s numerics, %s kernels, %d threads, prompt %d, gen %d, %d runs after %d warm-up "
                + "runs%s%n", out.get("model"), out.get("numerics"), out.get("kernels"), out.get("threads"), prompt, gen,
                repeat, out.get("warmup_runs"), batch > 1 ? ", " + batch + " sequences decoded together (t/s summed over them)" : "");
        System.out.printf("prefill  %8.2f t/s  (min %.2f, max %.2f)%n", p.get("median"), p.get("min"), p.get("max"));
        System.out.printf("decode   %8.2f t/s  (min %.2f, max %.2f)%n", d.get("median"), d.get("min"), d.get("max"));
        @SuppressWarnings("unchecked") Map<String, Double> q = (Map<String, Double>) out.get("decode_step_ms");
        System.out.printf("decode step %.2f ms p10 (%.1f t/s), %.2f ms p50, %.2f ms p90%n", q.get("p10"),
                batch * 1000 / q.get("p10"), q.get("p50"), q.get("p90"));
        if (batch > 1) {
            System.out.printf("weights read per decode step   %.3f GB (%.3f GB for one token) -> %.2f GB/s%n",
                    (long) out.get("weight_bytes_per_step") / 1e9, (long) out.get("weight_bytes_per_token") / 1e9,
                    out.get("decode_gbps"));
        } else {
            System.out.printf("weights read per decode token  %.3f GB -> %.2f GB/s%n",
                    (long) out.get("weight_bytes_per_token") / 1e9, out.get("decode_gbps"));
        }
        System.out.printf("memory bandwidth (measured)    read %.2f GB/s, copy %.2f GB/s -> roofline ratio %.1f %%%n",
                out.get("memory_bandwidth_gbps"), out.get("memory_copy_gbps"), 100 * (double) out.get("roofline_ratio"));
        long huge = (long) out.get("huge_page_bytes");
        System.out.printf("KV bytes per token %.0f, peak RSS %.2f GB%s%n", (double) out.get("kv_bytes_per_token"),
                (long) out.get("peak_rss_bytes") / 1e9,
                huge < 0 ? "" : String.format(", %.2f GB resident in 2 MB pages", huge / 1e9));
    }
}
