package dev.moe4j.bench;

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

import dev.moe4j.model.SparseAttention;

/**
 * One head of one query over {@code cols} gathered K = V rows of V4's head_dim 512 (a CSA decode step
 * attends to the 128-token window plus up to 512 selected compressed entries): the vector kernel against
 * its scalar twin, in heads per second.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-Xmx1g"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@State(Scope.Thread)
public class AttentionBench {

    @Param({"640"})
    int cols;

    @Param({"true"})
    boolean tilelang;

    static final int D = 512;
    float[] q, kv, s, o, accF;
    double[] acc;
    float[][] rows;
    int[] off;

    @Setup(Level.Trial)
    public void setUp() {
        SplittableRandom rnd = new SplittableRandom(5);
        q = new float[D];
        kv = new float[cols * D];
        for (int i = 0; i < q.length; i++) {
            q[i] = (float) rnd.nextGaussian();
        }
        for (int i = 0; i < kv.length; i++) {
            kv[i] = (float) rnd.nextGaussian();
        }
        rows = new float[cols][];
        off = new int[cols];
        for (int c = 0; c < cols; c++) {
            rows[c] = kv;
            off[c] = c * D;
        }
        s = new float[cols];
        o = new float[D];
        accF = new float[D];
        acc = new double[D];
    }

    @Benchmark
    public float[] vector() {
        SparseAttention.attendVector(q, 0, D, rows, off, cols, 0.044f, 0.5f, tilelang, s, 0, accF, 0, o, 0);
        return o;
    }

    @Benchmark
    public float[] scalar() {
        SparseAttention.attend(q, 0, D, rows, off, cols, 0.044f, 0.5f, tilelang, s, 0, acc, 0, o, 0);
        return o;
    }
}
