package dev.moe4j.bench;

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

import dev.moe4j.tensor.Matrix;
import dev.moe4j.tensor.Parallel;

/**
 * One matrix × n input rows (2 or 4: a decode step of several sequences; 32: a prefill chunk): weight GB/s per
 * pass over the weights in the {@code ·gbytes} line (input rows per second are n × the primary ops/s). A matmul
 * decodes each weight once for all n rows, so its weight GB/s should be far above n matvecs'.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-Xmx1g"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@State(Scope.Thread)
public class MatmulBench {

    /** Input rows. */
    @Param({"2", "4", "32"})
    public int n;

    float[] x, y;
    final Task task = new Task();

    static final class Task implements Parallel.IntRangeConsumer {
        Matrix m;
        float[] x, y;
        int n;

        @Override
        public void accept(int r0, int r1) {
            m.matmul(x, n, y, r0, r1);
        }
    }

    @Setup(Level.Trial)
    public void setUp(KernelState k) {
        Matrix m = k.copies[0];
        x = Weights.gaussian(7, n * m.cols());
        y = new float[n * m.rows()];
        task.x = x;
        task.y = y;
        task.n = n;
    }

    @Benchmark
    public float[] matmul(KernelState k, Traffic t) {
        Matrix m = k.nextMatrix();
        if (k.pool == null) {
            m.matmul(x, n, y);
        } else {
            task.m = m;
            k.pool.run(m.rows(), task);
        }
        t.gbytes += m.bytes() * 1e-9;
        return y;
    }
}
