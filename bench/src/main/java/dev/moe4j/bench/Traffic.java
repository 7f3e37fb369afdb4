package dev.moe4j.bench;

import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * Weight gigabytes read, as a secondary throughput result: JMH prints it as {@code ·gbytes} in "ops/s", which
 * is GB/s (10^9 bytes per second). For a matmul it counts each pass over the weights once, so it is the
 * weight bandwidth an n-row product achieves, comparable with a matvec's.
 */
@AuxCounters(AuxCounters.Type.OPERATIONS)
@State(Scope.Thread)
public class Traffic {

    public double gbytes;

    @Setup(Level.Iteration)
    public void reset() {
        gbytes = 0;
    }
}
