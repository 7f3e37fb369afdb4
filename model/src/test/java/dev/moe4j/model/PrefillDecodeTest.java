package dev.moe4j.model;

import dev.moe4j.testkit.Fixtures;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.lang.management.ManagementFactory;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The optimised paths against the plain one: a whole-prompt prefill, token-by-token decode and a
 * chunked prefill give the same logits at every position. On v4-tiny every attention row fits one
 * 64-wide tile, so the official kernel's tiling cannot differ and the three agree bit for bit; MTP too.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class PrefillDecodeTest {

    private ModelSource src;
    private int[] prompt;

    @BeforeAll
    void load() {
        src = ModelSource.checkpoint(Fixtures.dir("fixtures/v4-tiny"));
        SplittableRandom r = new SplittableRandom(11);
        prompt = new int[150];                                                   // wraps the window (16) many times
        for (int i = 0; i < prompt.length; i++) prompt[i] = r.nextInt(src.config().vocabSize());
    }

    @AfterAll
    void close() {
        src.close();
    }

    private float[][] run(Numerics num, int chunk, boolean decode, float[] mtpOut) {
        V4Model m = V4Model.load(src.tensors(), src.config(), num, chunk);
        int n = prompt.length, v = m.config().vocabSize(), hcD = m.config().hcMult() * m.config().dim();
        float[] logits = new float[n * v], h = new float[n * hcD];
        V4State st = m.newState(256);
        if (decode) {
            float[] step = new float[v], hs = new float[hcD];
            for (int t = 0; t < n; t++) {
                m.forward(new int[]{prompt[t]}, 1, st, step, false, hs);
                System.arraycopy(step, 0, logits, t * v, v);
                System.arraycopy(hs, 0, h, t * hcD, hcD);
            }
        } else {
            m.forward(prompt, n, st, logits, true, h);
        }
        assertEquals(n, st.position());
        int[] next = new int[n];
        System.arraycopy(prompt, 1, next, 0, n - 1);
        m.mtpForward(h, next, n, st, mtpOut, false);
        return new float[][]{logits, h};
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"official", "float"})
    void prefillDecodeAndChunkedPrefillAgree(String mode) {
        Numerics num = Numerics.of(mode);
        int v = src.config().vocabSize();
        float[] mtpA = new float[v], mtpB = new float[v], mtpC = new float[v];
        float[][] whole = run(num, 256, false, mtpA);
        float[][] decode = run(num, 256, true, mtpB);
        float[][] chunked = run(num, 7, false, mtpC);
        assertArrayEquals(whole[0], decode[0], "prefill vs decode logits");
        assertArrayEquals(whole[0], chunked[0], "whole vs chunked prefill logits");
        assertArrayEquals(whole[1], decode[1], "final streams");
        assertArrayEquals(mtpA, mtpB, "MTP after prefill vs decode");
        assertArrayEquals(mtpA, mtpC, "MTP after chunked prefill");
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"official", "float"})
    void batchOfSequencesAtDifferentPositionsMatchesEachAlone(String mode) {
        V4Model m = V4Model.load(src.tensors(), src.config(), Numerics.of(mode), 64);
        int v = m.config().vocabSize();
        int[][] pre = {java.util.Arrays.copyOfRange(prompt, 0, 30), java.util.Arrays.copyOfRange(prompt, 30, 35), {}};
        int[][] step = {{prompt[40]}, java.util.Arrays.copyOfRange(prompt, 50, 60), java.util.Arrays.copyOfRange(prompt, 60, 80)};
        // alone
        float[][] want = new float[3][v];
        for (int i = 0; i < 3; i++) {
            V4State st = m.newState(256);
            if (pre[i].length > 0) m.forward(pre[i], pre[i].length, st, null, false, null);
            m.forward(step[i], step[i].length, st, want[i], false, null);
        }
        // together: a decode step, a prompt chunk in the middle of its prompt, a fresh prompt
        V4State[] sts = new V4State[3];
        for (int i = 0; i < 3; i++) {
            sts[i] = m.newState(256);
            if (pre[i].length > 0) m.forward(pre[i], pre[i].length, sts[i], null, false, null);
        }
        Batch b = new Batch(64, 4);
        for (int i = 0; i < 3; i++) b.add(sts[i], step[i], 0, step[i].length, true);
        float[] got = new float[3 * v];
        m.forward(b, got);
        for (int i = 0; i < 3; i++) {
            assertArrayEquals(want[i], java.util.Arrays.copyOfRange(got, i * v, (i + 1) * v), "sequence " + i);
            assertEquals(pre[i].length + step[i].length, sts[i].position());
        }
    }

    /**
     * A decode step of several sequences (one row each, the fused expert path with the shared expert and the
     * experts two rows chose as several-input products) gives each sequence the logits of its step alone.
     */
    @ParameterizedTest(name = "{0} sequences")
    @ValueSource(ints = {2, 3, 8})
    void decodeStepOfSeveralSequencesMatchesEachAlone(int seqs) {
        V4Model m = V4Model.load(src.tensors(), src.config(), Numerics.OFFICIAL, 64);
        int v = m.config().vocabSize();
        float[] want = new float[seqs * v], got = new float[seqs * v];
        V4State[] sts = new V4State[seqs];
        Batch b = new Batch(64, seqs);
        for (int i = 0; i < seqs; i++) {
            int[] pre = java.util.Arrays.copyOfRange(prompt, 5 * i, 5 * i + 3 + 2 * i);   // different positions
            V4State alone = m.newState(256);
            m.forward(pre, pre.length, alone, null, false, null);
            float[] step = new float[v];
            m.forward(new int[]{prompt[100 + i]}, 1, alone, step, false, null);
            System.arraycopy(step, 0, want, i * v, v);
            sts[i] = m.newState(256);
            m.forward(pre, pre.length, sts[i], null, false, null);
            b.add(sts[i], prompt, 100 + i, 1, true);
        }
        m.forward(b, got);
        for (int i = 0; i < seqs; i++) {
            assertArrayEquals(java.util.Arrays.copyOfRange(want, i * v, (i + 1) * v),
                    java.util.Arrays.copyOfRange(got, i * v, (i + 1) * v), "sequence " + i + " of " + seqs);
        }
    }

    /**
     * Run in the module's shared test JVM on purpose: there, after other tests had sorted arrays, the indexer's
     * Arrays.sort allocated 479-640 bytes a step in 3 of 16 runs, a busy loop on the other core in half of them
     * (C2 had left the sort's partition call out of line; JFR allocation samples); with KeySort, 0 bytes in 16
     * runs, 12 of them with the busy loop.
     */
    @Test
    void decodeStepAllocatesNothing() {
        V4Model m = V4Model.load(src.tensors(), src.config(), Numerics.OFFICIAL, 64);
        V4State st = m.newState(4096);
        float[] logits = new float[m.config().vocabSize()];
        int[] one = new int[1];
        m.forward(prompt, 40, st, logits, false, null);
        // warm up until C2 has compiled the step (it removes the vector boxes): at least 2000 steps, then on while
        // the JIT still compiles; on a loaded machine 2000 steps could end before it had (390 bytes a step once)
        var jit = ManagementFactory.getCompilationMXBean();
        long c0 = jit.getTotalCompilationTime();
        int quiet = 0;                                                           // 500-step rounds without compiling
        for (int i = 0; i < 2000 || (quiet < 2 && i < 3800); i++) {              // 3800: the state holds 4096
            one[0] = prompt[40 + i % 100];
            m.forward(one, 1, st, logits, false, null);
            if (i % 500 == 499) {
                long c1 = jit.getTotalCompilationTime();
                quiet = c1 - c0 <= 5 ? quiet + 1 : 0;
                c0 = c1;
            }
        }
        var threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long id = Thread.currentThread().threadId();
        long before = threads.getThreadAllocatedBytes(id);
        for (int i = 0; i < 100; i++) {
            one[0] = prompt[i];
            m.forward(one, 1, st, logits, false, null);
        }
        long perStep = (threads.getThreadAllocatedBytes(id) - before) / 100;
        System.out.println("decode step allocation: " + perStep + " bytes");
        assertTrue(perStep < 64, "a decode step allocated " + perStep + " bytes");
    }
}
