package dev.moe4j.bench;

import java.lang.foreign.Arena;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.Arrays;
import java.util.Locale;

import dev.moe4j.tensor.Matrix;
import dev.moe4j.tensor.Parallel;

/**
 * A quick look without JMH, for a loaded machine: weight GB/s of matvec and matmul per shape over wall time
 * and over the calling thread's CPU time (the latter is what the kernel reaches while it holds a core),
 * median of several rounds. Arguments: {@code [threads [n [rounds [shape...]]]]}.
 */
public final class Quick {

    private Quick() {
    }

    public static void main(String[] args) {
        int threads = args.length > 0 ? Integer.parseInt(args[0]) : 1;
        int n = args.length > 1 ? Integer.parseInt(args[1]) : 32;
        int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 7;
        String[] shapes = args.length > 3 ? Arrays.copyOfRange(args, 3, args.length)
                : new String[] {"fp8_4096x4096", "fp4_2048x4096", "fp4_4096x2048", "bf16_16384x4096"};
        ThreadMXBean mx = ManagementFactory.getThreadMXBean();
        try (Arena arena = Arena.ofShared(); Parallel pool = new Parallel(threads)) {
            for (String shape : shapes) {
                Matrix first = Weights.matrix(arena, shape, 0, 1);
                int copies = (int) Math.max(1, (96L << 20) / first.bytes() + 1);
                Matrix[] ms = new Matrix[copies];
                ms[0] = first;
                for (int i = 1; i < copies; i++) {
                    ms[i] = Weights.matrix(arena, shape, 0, 1 + i);
                }
                int rows = first.rows(), cols = first.cols();
                float[] x = Weights.gaussian(3, Math.max(n, 1) * cols);
                float[] y = new float[Math.max(n, 1) * rows];
                for (String op : n > 0 ? new String[] {"matvec", "matmul"} : new String[] {"matvec"}) {
                    boolean mv = op.equals("matvec");
                    double[] wall = new double[rounds], cpu = new double[rounds];
                    long budget = 300_000_000L;                      // ns of work per round
                    int reps = 1;
                    for (int round = -2; round < rounds; round++) {  // two warm-up rounds
                        long t0 = System.nanoTime(), c0 = mx.getCurrentThreadCpuTime();
                        for (int i = 0; i < reps; i++) {
                            Matrix m = ms[i % copies];
                            if (threads == 1) {
                                if (mv) {
                                    m.matvec(x, 0, y, 0);
                                } else {
                                    m.matmul(x, n, y);
                                }
                            } else if (mv) {
                                pool.run(rows, (r0, r1) -> m.matvec(x, 0, y, 0, r0, r1));
                            } else {
                                pool.run(rows, (r0, r1) -> m.matmul(x, n, y, r0, r1));
                            }
                        }
                        long dt = System.nanoTime() - t0, dc = mx.getCurrentThreadCpuTime() - c0;
                        double gb = (double) first.bytes() * reps;
                        if (round >= 0) {
                            wall[round] = gb / dt;
                            cpu[round] = gb / dc;
                        }
                        reps = (int) Math.max(1, Math.min(100_000, (double) reps * budget / Math.max(1, dt)));
                    }
                    Arrays.sort(wall);
                    Arrays.sort(cpu);
                    System.out.printf(Locale.ROOT, "%-16s %-6s t=%d%s  wall %6.2f GB/s (%.2f..%.2f)  cpu %6.2f GB/s%n",
                            shape, op, threads, mv ? "" : " n=" + n, wall[rounds / 2], wall[0], wall[rounds - 1],
                            cpu[rounds / 2]);
                }
            }
        }
    }
}
