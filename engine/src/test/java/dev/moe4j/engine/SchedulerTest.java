package dev.moe4j.engine;

import dev.moe4j.testkit.Fixtures;
import dev.moe4j.model.ModelSource;
import dev.moe4j.model.Numerics;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Continuous batching against the one-request-at-a-time path, the context cache, cancellation and limits. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(120)
class SchedulerTest {

    private Engine engine;

    @BeforeAll
    void load() {
        engine = Engine.load(ModelSource.checkpoint(Fixtures.dir("fixtures/v4-tiny")),
                new Engine.Options(Numerics.FLOAT, 512, 32, false));
    }

    @AfterAll
    void close() {
        engine.close();
    }

    /** Collects a request's tokens and its end. */
    static class Collect implements TokenSink {
        final List<Integer> tokens = new ArrayList<>();
        final CompletableFuture<Usage> done = new CompletableFuture<>();
        volatile FinishReason reason;
        volatile int started = -1;
        final int stopAfter;

        Collect(int stopAfter) {
            this.stopAfter = stopAfter;
        }

        @Override
        public void onStart(int cachedTokens) {
            started = cachedTokens;
        }

        @Override
        public synchronized boolean onToken(int token, float logprob, int[] topIds, float[] topLogprobs) {
            tokens.add(token);
            return tokens.size() < stopAfter;
        }

        @Override
        public void onFinish(FinishReason r, Usage usage) {
            reason = r;
            done.complete(usage);
        }

        int[] ids() {
            return tokens.stream().mapToInt(Integer::intValue).toArray();
        }
    }

    static int[] prompt(int seed, int n) {
        SplittableRandom r = new SplittableRandom(seed);
        int[] p = new int[n];
        for (int i = 0; i < n; i++) p[i] = 2 + r.nextInt(2000);
        return p;
    }

    @Test
    void concurrentRequestsMatchOneAtATime() throws Exception {
        int[][] prompts = {prompt(1, 70), prompt(2, 5), prompt(3, 40), prompt(4, 100), prompt(5, 1)};
        GenerationParams greedy = new GenerationParams(12, 0f, 1f, 0, 0, true);
        GenerationParams sampled = new GenerationParams(12, 0.9f, 0.95f, 40, 1234, true);
        int[][] want = new int[prompts.length][];
        for (int i = 0; i < prompts.length; i++) {
            want[i] = engine.generate(prompts[i], i % 2 == 0 ? greedy : sampled);
        }
        try (Scheduler s = new Scheduler(engine, new Scheduler.Config(3, 16, Duration.ofMinutes(1), 1 << 20, 16))) {
            List<Collect> got = new ArrayList<>();
            for (int i = 0; i < prompts.length; i++) {
                Collect c = new Collect(Integer.MAX_VALUE);
                s.submit(new GenerationRequest(prompts[i], i % 2 == 0 ? greedy : sampled, "t" + i, null), c);
                got.add(c);
            }
            for (int i = 0; i < prompts.length; i++) {
                TokenSink.Usage u = got.get(i).done.get(60, TimeUnit.SECONDS);
                assertArrayEquals(want[i], got.get(i).ids(), "request " + i);
                assertEquals(TokenSink.FinishReason.LENGTH, got.get(i).reason);
                assertEquals(prompts[i].length, u.promptTokens());
                assertEquals(12, u.generatedTokens());
            }
            Scheduler.Metrics m = s.metrics();
            assertEquals(5, m.requests());
            assertEquals(60, m.generatedTokens());
            assertEquals(5, m.timeToFirstToken().cumulative()[m.timeToFirstToken().bounds().length]);
        }
    }

    @Test
    void repeatedConversationHitsTheCacheAndAnswersTheSame() throws Exception {
        int[] a = prompt(7, 45), b = prompt(8, 10), c = prompt(9, 12);
        int[] ab = concat(a, b), ac = concat(a, c);
        GenerationParams p = new GenerationParams(6, 0f, 1f, 0, 0, true);
        int[] wantAc = engine.generate(ac, p);
        try (Scheduler s = new Scheduler(engine, new Scheduler.Config(2, 4, Duration.ofMinutes(1), 64L << 20, 1000))) {
            Collect first = run(s, new GenerationRequest(ab, p, "alice", new int[]{a.length, ab.length}));
            assertEquals(0, first.started);
            Collect second = run(s, new GenerationRequest(ac, p, "alice", new int[]{a.length, ac.length}));
            assertEquals(a.length, second.started, "unit A is reused");
            assertArrayEquals(wantAc, second.ids(), "a cached prefix changes nothing");
            Collect other = run(s, new GenerationRequest(ac, p, "bob", new int[]{a.length, ac.length}));
            assertEquals(0, other.started, "tenants never share cache entries");
            Collect again = run(s, new GenerationRequest(ab, p, "alice", new int[]{a.length, ab.length}));
            assertEquals(a.length, again.started, "the whole prompt is a unit, but its last token must run");
            assertEquals(2 * a.length, s.metrics().cacheHitTokens());
        }
    }

    @Test
    void theAnswerBecomesAUnitForTheNextTurn() throws Exception {
        int[] p = prompt(10, 30), next = prompt(11, 7);
        GenerationParams gp = new GenerationParams(5, 0f, 1f, 0, 0, true);
        try (Scheduler s = new Scheduler(engine, new Scheduler.Config(2, 4, Duration.ofMinutes(1), 64L << 20, 1000))) {
            Collect first = run(s, new GenerationRequest(p, gp, "carol", new int[]{p.length}));
            int[] turn2 = concat(concat(p, first.ids()), next);
            int unit = p.length + first.ids().length;
            int[] want = engine.generate(turn2, gp);
            Collect second = run(s, new GenerationRequest(turn2, gp, "carol", new int[]{p.length, unit}));
            assertEquals(unit, second.started, "prompt + answer of the first turn is found whole");
            assertArrayEquals(want, second.ids());
        }
    }

    @Test
    void cancelFreesTheSlotAndStopsTheStream() throws Exception {
        try (Scheduler s = new Scheduler(engine, new Scheduler.Config(1, 4, Duration.ofMinutes(1), 0, 64))) {
            Collect slow = new Collect(Integer.MAX_VALUE);
            RequestHandle h = s.submit(new GenerationRequest(prompt(3, 20), new GenerationParams(400, 0f, 1f, 0, 0, true),
                    null, null), slow);
            while (slow.tokens.isEmpty()) Thread.sleep(1);
            h.cancel();
            slow.done.get(10, TimeUnit.SECONDS);
            assertEquals(TokenSink.FinishReason.CANCELLED, slow.reason);
            assertTrue(slow.tokens.size() < 400);
            Collect next = run(s, new GenerationRequest(prompt(4, 8), GenerationParams.greedy(3), null, null));
            assertEquals(3, next.tokens.size());
            assertEquals(1, s.metrics().aborted());
        }
    }

    @Test
    void sinkStopsGenerationEarly() throws Exception {
        try (Scheduler s = new Scheduler(engine, Scheduler.Config.defaults())) {
            Collect c = new Collect(4);
            s.submit(new GenerationRequest(prompt(5, 9), new GenerationParams(50, 0f, 1f, 0, 0, true), null, null), c);
            assertEquals(4, c.done.get(10, TimeUnit.SECONDS).generatedTokens());
            assertEquals(TokenSink.FinishReason.STOP, c.reason);
        }
    }

    @Test
    void fullQueueIsRefusedAndContextIsChecked() throws Exception {
        try (Scheduler s = new Scheduler(engine, new Scheduler.Config(1, 1, Duration.ofMinutes(1), 0, 64))) {
            GenerationParams longRun = new GenerationParams(300, 0f, 1f, 0, 0, true);
            Collect a = new Collect(Integer.MAX_VALUE), b = new Collect(Integer.MAX_VALUE);
            RequestHandle ha = s.submit(new GenerationRequest(prompt(1, 10), longRun, null, null), a);
            while (a.started < 0) Thread.sleep(1);
            RequestHandle hb = s.submit(new GenerationRequest(prompt(2, 10), longRun, null, null), b);
            QueueFullException e = assertThrows(QueueFullException.class,
                    () -> s.submit(new GenerationRequest(prompt(3, 10), longRun, null, null), new Collect(1)));
            assertTrue(e.retryAfterSeconds() >= 1);
            assertThrows(IllegalArgumentException.class,
                    () -> s.submit(new GenerationRequest(prompt(3, 500), GenerationParams.greedy(13), null, null), new Collect(1)));
            ha.cancel();
            hb.cancel();
            a.done.get(10, TimeUnit.SECONDS);
            b.done.get(10, TimeUnit.SECONDS);
        }
    }

    @Test
    void queueTimeout() throws Exception {
        try (Scheduler s = new Scheduler(engine, new Scheduler.Config(1, 4, Duration.ofMillis(50), 0, 64))) {
            Collect a = new Collect(Integer.MAX_VALUE), b = new Collect(Integer.MAX_VALUE);
            RequestHandle ha = s.submit(new GenerationRequest(prompt(1, 10), new GenerationParams(400, 0f, 1f, 0, 0, true),
                    null, null), a);
            s.submit(new GenerationRequest(prompt(2, 10), GenerationParams.greedy(2), null, null), b);
            b.done.get(10, TimeUnit.SECONDS);
            assertEquals(TokenSink.FinishReason.QUEUE_TIMEOUT, b.reason);
            ha.cancel();
            a.done.get(10, TimeUnit.SECONDS);
        }
    }

    @Test
    void logprobsAreTheModelsOwn() throws Exception {
        int[] p = prompt(6, 12);
        float[] logits = new float[engine.config().vocabSize()];
        engine.model().forward(p, p.length, engine.newState(), logits, false, null);
        double lse = Sampler.logSumExp(logits, 0, logits.length);
        int best = Sampler.argmax(logits, 0, logits.length);
        float[] lp = new float[1];
        int[][] top = new int[1][];
        try (Scheduler s = new Scheduler(engine, Scheduler.Config.defaults())) {
            CompletableFuture<Void> done = new CompletableFuture<>();
            s.submit(new GenerationRequest(p, new GenerationParams(1, 0f, 1f, 0, 0, true, 0f, 0f, true, 5), null, null),
                    new TokenSink() {
                        public void onStart(int cached) { }
                        public boolean onToken(int t, float logprob, int[] ids, float[] lps) {
                            lp[0] = logprob;
                            top[0] = ids;
                            return true;
                        }
                        public void onFinish(FinishReason r, Usage u) { done.complete(null); }
                    });
            done.get(10, TimeUnit.SECONDS);
        }
        assertEquals(logits[best] - lse, lp[0], 1e-5);
        assertEquals(best, top[0][0]);
        assertEquals(5, top[0].length);
    }

    @Test
    void promptLogprobsAreTheModelsOwnAtEveryPosition() throws Exception {
        int[] p = prompt(12, 70);                                      // 3 chunks of 32: scores cross chunk ends
        int v = engine.config().vocabSize();
        float[] all = new float[p.length * v];
        engine.model().forward(p, p.length, engine.newState(), all, true, null);
        int k = 4;
        float[] lp = new float[p.length];
        int[][] tops = new int[p.length][];
        Arrays.fill(lp, Float.NaN);
        try (Scheduler s = new Scheduler(engine, new Scheduler.Config(2, 4, Duration.ofMinutes(1), 64L << 20, 16))) {
            run(s, new GenerationRequest(p, GenerationParams.greedy(2), "dave", new int[]{48}));   // fills the cache
            Collect other = new Collect(Integer.MAX_VALUE);                // shares the batches
            s.submit(new GenerationRequest(prompt(13, 9), new GenerationParams(40, 0f, 1f, 0, 0, true), null, null), other);
            Collect scored = new Collect(Integer.MAX_VALUE) {
                @Override
                public void onPromptToken(int position, float logprob, int[] topIds, float[] topLogprobs) {
                    assertTrue(Float.isNaN(lp[position]), "each position once");
                    lp[position] = logprob;
                    tops[position] = topIds;
                    assertTrue(tokens.isEmpty(), "prompt scores come before the answer");
                }
            };
            s.submit(new GenerationRequest(p, new GenerationParams(0, 0f, 1f, 0, 0, true, 0f, 0f, true, k, true), "dave",
                    new int[]{48}), scored);
            TokenSink.Usage u = scored.done.get(30, TimeUnit.SECONDS);
            assertEquals(0, scored.started, "a scored prompt never starts from the cache");
            assertEquals(0, u.generatedTokens(), "max tokens 0: only the scores");
            assertEquals(TokenSink.FinishReason.LENGTH, scored.reason);
            other.done.get(30, TimeUnit.SECONDS);
        }
        assertTrue(Float.isNaN(lp[0]), "the first token has no score");
        for (int i = 1; i < p.length; i++) {
            int row = (i - 1) * v;
            double lse = Sampler.logSumExp(all, row, v);
            assertEquals(all[row + p[i]] - lse, lp[i], 1e-4, "position " + i);
            int[] want = new int[k];
            Sampler.top(all, row, v, want);
            assertArrayEquals(want, tops[i], "position " + i);
        }
    }

    @Test
    void aConstraintForcesAndMasksTokens() throws Exception {
        int[] forced = {5, 6, 7};
        int[] allowed = {9, 11};
        List<Integer> accepted = new ArrayList<>();
        TokenConstraint c = new TokenConstraint() {
            public int forced() {
                return accepted.size() < forced.length ? forced[accepted.size()] : -1;
            }

            public void mask(float[] logits, int off, int vocab) {
                for (int id = 0; id < vocab; id++) {
                    if (id != allowed[0] && id != allowed[1]) {
                        logits[off + id] = Float.NEGATIVE_INFINITY;
                    }
                }
            }

            public void accept(int token) {
                accepted.add(token);
            }
        };
        try (Scheduler s = new Scheduler(engine, Scheduler.Config.defaults())) {
            Collect got = run(s, new GenerationRequest(prompt(14, 6), new GenerationParams(12, 1f, 1f, 0, 99, true),
                    null, null, c));
            assertEquals(12, got.tokens.size());
            assertEquals(got.tokens, accepted, "the constraint hears every token");
            assertEquals(List.of(5, 6, 7), got.tokens.subList(0, 3));
            for (int t : got.tokens.subList(3, 12)) {
                assertTrue(t == 9 || t == 11, "masked token " + t);
            }
        }
    }

    /** A constraint that fails while the next tokens are picked (on a pool thread) ends its request alone. */
    @Test
    void aFailingConstraintEndsOnlyItsRequest() throws Exception {
        TokenConstraint broken = new TokenConstraint() {
            int seen;

            public int forced() {
                return -1;
            }

            public void mask(float[] logits, int off, int vocab) {
                if (seen == 3) {
                    throw new IllegalStateException("grammar lost its way");
                }
            }

            public void accept(int token) {
                seen++;
            }
        };
        GenerationParams sampled = new GenerationParams(10, 0.9f, 0.95f, 40, 77, true);
        int[] want = engine.generate(prompt(16, 8), sampled);
        try (Scheduler s = new Scheduler(engine, Scheduler.Config.defaults())) {
            Collect bad = new Collect(Integer.MAX_VALUE), good = new Collect(Integer.MAX_VALUE);
            s.submit(new GenerationRequest(prompt(15, 8), sampled, null, null, broken), bad);
            s.submit(new GenerationRequest(prompt(16, 8), sampled, null, null), good);
            bad.done.get(30, TimeUnit.SECONDS);
            good.done.get(30, TimeUnit.SECONDS);
            assertEquals(TokenSink.FinishReason.ERROR, bad.reason);
            assertEquals(3, bad.tokens.size(), "the tokens before the failure");
            assertEquals(TokenSink.FinishReason.LENGTH, good.reason);
            assertArrayEquals(want, good.ids(), "the other request, batched with the failing one");
            assertEquals(TokenSink.FinishReason.LENGTH, run(s, new GenerationRequest(prompt(17, 4),
                    new GenerationParams(3, 0f, 1f, 0, 0, true), null, null)).reason, "and the scheduler serves on");
        }
    }

    static Collect run(Scheduler s, GenerationRequest r) throws Exception {
        Collect c = new Collect(Integer.MAX_VALUE);
        s.submit(r, c);
        c.done.get(30, TimeUnit.SECONDS);
        return c;
    }

    static int[] concat(int[] a, int[] b) {
        int[] r = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }
}
