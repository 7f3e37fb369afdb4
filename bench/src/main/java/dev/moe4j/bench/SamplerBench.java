package dev.moe4j.bench;

import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

import dev.moe4j.engine.Sampler;

/**
 * One sampled token over V4's vocabulary: {@link Sampler#sample} (candidates put in order only as far as the
 * draw walks), {@link Sampler#top} (the top_logprobs alternatives), and for scale the whole-vocabulary sort
 * the sampler did before. Logits are gaussian with spread {@code sigma}: 4 is peaked (draws stop within the
 * first candidates), 1 is flat (draws walk tens of thousands deep).
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-Xmx1g"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@State(Scope.Thread)
public class SamplerBench {

    @Param({"129280"})
    int vocab;

    @Param({"4", "1"})
    double sigma;

    float[] logits;
    long[] keys;
    int[] top20;

    /** The draw's settings: only {@link #sample} varies with them. */
    @State(Scope.Thread)
    public static class Draw {
        @Param({"1.0", "0.9"})
        float topP;

        @Param({"0", "50"})
        int topK;

        Sampler sampler;

        @Setup(Level.Trial)
        public void setUp(SamplerBench b) {
            sampler = new Sampler(b.vocab, 1f, topP, topK, 1);
        }
    }

    @Setup(Level.Trial)
    public void setUp() {
        SplittableRandom rnd = new SplittableRandom(9);
        logits = new float[vocab];
        for (int i = 0; i < vocab; i++) {
            logits[i] = (float) (rnd.nextGaussian() * sigma);
        }
        keys = new long[vocab];
        top20 = new int[20];
    }

    @Benchmark
    public int sample(Draw d) {
        return d.sampler.sample(logits, 0, vocab);
    }

    @Benchmark
    public int[] top() {
        Sampler.top(logits, 0, vocab, top20);
        return top20;
    }

    /** What a draw cost before: every candidate's key written and the whole vocabulary sorted. */
    @Benchmark
    public long sortAll() {
        for (int i = 0; i < vocab; i++) {
            int bits = Float.floatToIntBits(logits[i]);
            keys[i] = ((long) ~(bits ^ ((bits >> 31) & 0x7FFFFFFF)) << 32) | i;
        }
        Arrays.sort(keys);
        return keys[0];
    }
}
