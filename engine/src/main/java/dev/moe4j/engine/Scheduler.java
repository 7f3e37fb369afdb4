package dev.moe4j.engine;

import dev.moe4j.model.Batch;
import dev.moe4j.model.V4Model;
import dev.moe4j.model.V4State;
import dev.moe4j.tensor.Parallel;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Continuous batching: one thread runs every active sequence through the model together, step by
 * step. A step holds one decode row per generating sequence (sequences at different positions) and
 * fills the rest of the model's chunk with prompt tokens of sequences still reading their prompt, so a
 * long prompt is read in chunks between decode steps instead of stalling the streams. New requests are
 * admitted between steps into a fixed set of slots whose caches were sized at start; a finished or
 * cancelled request frees its slot at the next step. Prompts start from the longest cached unit
 * ({@link ContextCache}) and leave snapshots at unit boundaries for later requests.
 */
public final class Scheduler implements AutoCloseable {

    /**
     * @param maxRunning    sequences generating at once (each owns a cache of the engine's max context)
     * @param maxQueue      requests waiting beyond that; more are refused with {@link QueueFullException}
     * @param queueTimeout  longest wait in the queue
     * @param cacheBytes    memory budget of the context cache
     * @param cacheInterval a cache unit every this many prompt tokens, besides the request's own boundaries
     */
    public record Config(int maxRunning, int maxQueue, Duration queueTimeout, long cacheBytes, int cacheInterval) {
        public Config {
            if (maxRunning < 1 || maxQueue < 0 || cacheBytes < 0 || cacheInterval < 1) {
                throw new IllegalArgumentException("scheduler limits must be positive");
            }
        }

        public static Config defaults() {
            return new Config(4, 64, Duration.ofMinutes(10), 256L << 20, 512);
        }
    }

    /** A consistent-enough view for /metrics (counters are read without stopping the scheduler). */
    public record Metrics(int running, int waiting, long kvTokensInUse, long kvTokensCapacity, int cacheEntries,
                          long cacheBytes, long cacheBudgetBytes, long cacheHitTokens, long promptTokens,
                          long generatedTokens, long requests, long aborted, long queueTimeouts,
                          Histogram timeToFirstToken, Histogram interToken) {
    }

    private static final int[] NO_IDS = new int[0];
    private static final float[] NO_LOGPROBS = new float[0];
    private static final double[] LATENCY_BOUNDS = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
            10, 30, 60};

    private final V4Model model;
    private final Config cfg;
    private final int vocab, eos, maxContext;
    private final Slot[] slots;
    private final Batch batch;
    private final Slot[] segSlot;
    /** Per step: the slots whose answer gets its next token ({@link #pick}, then {@link #emit}). */
    private final Slot[] emitting;
    private int nEmitting;
    private final Parallel.IntRangeConsumer pickTask = this::pick;
    private final float[] logits;
    private final ContextCache cache;
    private final V4Model.RowLogits scorer = this::score;
    private final ArrayDeque<Req> queue = new ArrayDeque<>();
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition work = lock.newCondition();
    private final Thread loop;
    private volatile boolean closed;
    private volatile int running;
    private final AtomicLong promptTokens = new AtomicLong(), generatedTokens = new AtomicLong(),
            cacheHitTokens = new AtomicLong(), requests = new AtomicLong(), aborted = new AtomicLong(),
            queueTimeouts = new AtomicLong();
    private final Histogram ttft = new Histogram(LATENCY_BOUNDS), itl = new Histogram(LATENCY_BOUNDS);

    public Scheduler(Engine engine, Config cfg) {
        this.model = engine.model();
        this.cfg = cfg;
        this.vocab = engine.config().vocabSize();
        this.eos = engine.config().eosTokenId();
        this.maxContext = engine.options().maxContext();
        this.slots = new Slot[cfg.maxRunning()];
        for (int i = 0; i < slots.length; i++) {
            slots[i] = new Slot(engine.newState());
        }
        this.batch = new Batch(model.maxChunk(), cfg.maxRunning());
        this.segSlot = new Slot[cfg.maxRunning()];
        this.emitting = new Slot[cfg.maxRunning()];
        this.logits = new float[Math.multiplyExact(cfg.maxRunning(), vocab)];
        this.cache = new ContextCache(cfg.cacheBytes());
        this.loop = new Thread(this::run, "moe4j-scheduler");
        this.loop.setDaemon(true);
        this.loop.start();
    }

    public int maxContext() {
        return maxContext;
    }

    /**
     * Queues a request. Throws {@link QueueFullException} when the queue is full, and
     * {@link IllegalArgumentException} when prompt + max tokens exceed the context.
     */
    public RequestHandle submit(GenerationRequest r, TokenSink sink) {
        if ((long) r.promptLength() + r.params().maxTokens() > maxContext) {
            throw new IllegalArgumentException("prompt (" + r.promptLength() + " tokens) + max_tokens ("
                    + r.params().maxTokens() + ") exceed the context of " + maxContext + " tokens");
        }
        Req q = new Req(r, sink);
        lock.lock();
        try {
            if (closed) {
                throw new IllegalStateException("the scheduler is shut down");
            }
            if (queue.size() >= cfg.maxQueue() && freeSlots() == 0) {
                throw new QueueFullException(queue.size(), 1 + queue.size() / cfg.maxRunning());
            }
            queue.add(q);
            requests.incrementAndGet();
            work.signal();
        } finally {
            lock.unlock();
        }
        return q;
    }

    public Metrics metrics() {
        long inUse = 0;
        for (Slot s : slots) {
            Req q = s.req;
            if (q != null) {
                inUse += s.pos + s.generated;
            }
        }
        int waiting;
        lock.lock();
        try {
            waiting = queue.size();
        } finally {
            lock.unlock();
        }
        return new Metrics(running, waiting, inUse, (long) slots.length * maxContext, cache.size(), cache.bytes(),
                cache.budget(), cacheHitTokens.get(), promptTokens.get(), generatedTokens.get(), requests.get(),
                aborted.get(), queueTimeouts.get(), ttft, itl);
    }

    /** Stops accepting requests; queued and running ones finish as {@link TokenSink.FinishReason#CANCELLED}. */
    @Override
    public void close() {
        lock.lock();
        try {
            closed = true;
            work.signal();
        } finally {
            lock.unlock();
        }
        try {
            loop.join(TimeUnit.SECONDS.toMillis(30));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    // ------------------------------------------------------------------ the loop

    private final class Req implements RequestHandle {
        final GenerationRequest r;
        final int[] prompt;
        final TokenSink sink;
        final long submitted = System.nanoTime();
        volatile boolean cancelled, done;

        Req(GenerationRequest r, TokenSink sink) {
            this.r = r;
            this.prompt = r.prompt();
            this.sink = sink;
        }

        @Override
        public void cancel() {
            cancelled = true;
            lock.lock();
            try {
                work.signal();
            } finally {
                lock.unlock();
            }
        }

        @Override
        public boolean isDone() {
            return done;
        }
    }

    /** A running sequence: its caches, sampler and penalty counts live as long as the scheduler. */
    private final class Slot {
        final V4State state;
        final Sampler sampler = new Sampler(vocab);
        final int[] counts = new int[vocab];
        final int[] seen;                                                      // distinct generated ids, for penalties
        final int[] out;                                                       // the generated ids, in order
        final int[] one = new int[1];
        volatile Req req;
        int pos, generated, cached, nSeen, segLen;
        /** Finished; its last token runs once more so the end of the answer becomes a cache unit. */
        boolean tail;
        int[] boundaries = new int[0];
        Map<Integer, ContextCache.Key> keys = Map.of();
        long lastTokenAt;
        /** Per step, from {@link #pick}: the logits row, the token, the log-normaliser and alternatives, a failure. */
        int emitOff, tok;
        double lse;
        int[] topIds = NO_IDS;
        float[] topLps = NO_LOGPROBS;
        RuntimeException pickFailure;

        Slot(V4State state) {
            this.state = state;
            this.seen = new int[maxContext];
            this.out = new int[maxContext];
        }
    }

    private int freeSlots() {
        int n = 0;
        for (Slot s : slots) {
            n += s.req == null ? 1 : 0;
        }
        return n;
    }

    private void run() {
        List<Req> expired = new ArrayList<>();
        List<Slot> admitted = new ArrayList<>();
        while (true) {
            boolean stop;
            lock.lock();
            try {
                stop = closed;
                long now = System.nanoTime();
                for (var it = queue.iterator(); it.hasNext(); ) {
                    Req q = it.next();
                    if (stop || q.cancelled || now - q.submitted > cfg.queueTimeout().toNanos()) {
                        it.remove();
                        expired.add(q);
                    }
                }
                for (Slot s : slots) {
                    if (s.req == null && !queue.isEmpty()) {
                        s.req = queue.poll();
                        admitted.add(s);
                    }
                }
                running = slots.length - freeSlots();
                if (running == 0 && expired.isEmpty()) {
                    if (stop) {
                        return;
                    }
                    try {
                        work.await(50, TimeUnit.MILLISECONDS);
                    } catch (InterruptedException e) {
                        return;
                    }
                    continue;
                }
            } finally {
                lock.unlock();
            }
            for (Req q : expired) {
                TokenSink.FinishReason why = q.cancelled || stop ? TokenSink.FinishReason.CANCELLED
                        : TokenSink.FinishReason.QUEUE_TIMEOUT;
                if (why == TokenSink.FinishReason.QUEUE_TIMEOUT) {
                    queueTimeouts.incrementAndGet();
                } else {
                    aborted.incrementAndGet();
                }
                q.done = true;
                q.sink.onFinish(why, new TokenSink.Usage(q.prompt.length, 0, 0, null));
            }
            expired.clear();
            for (Slot s : admitted) {
                start(s);
            }
            admitted.clear();
            for (Slot s : slots) {
                Req q = s.req;
                if (q != null && (q.cancelled || stop)) {
                    if (!s.tail) {
                        aborted.incrementAndGet();
                    }
                    finish(s, TokenSink.FinishReason.CANCELLED, null);
                }
            }
            step();
        }
    }

    /** Admission: the longest cached unit of the prompt (never the whole prompt: its last logits are needed). */
    private void start(Slot s) {
        Req q = s.req;
        int n = q.prompt.length;
        int[] explicit = q.r.cacheBoundaries();
        int[] all = new int[explicit.length + n / cfg.cacheInterval()];
        int k = 0;
        for (int b : explicit) all[k++] = b;
        for (int b = cfg.cacheInterval(); b <= n; b += cfg.cacheInterval()) all[k++] = b;
        s.boundaries = Arrays.stream(all, 0, k).sorted().distinct().toArray();
        s.keys = ContextCache.keys(q.r.tenant(), q.prompt, s.boundaries);
        s.pos = 0;
        s.cached = 0;
        s.generated = 0;
        s.tail = false;
        s.state.reset();
        GenerationParams p = q.r.params();
        // a cached state has no logits: a prompt to be scored runs in full
        for (int i = p.promptLogprobs() ? -1 : s.boundaries.length - 1; i >= 0; i--) {
            int b = s.boundaries[i];
            if (b < n) {
                var snap = cache.get(s.keys.get(b));
                if (snap != null) {
                    s.state.restore(snap);
                    s.pos = b;
                    s.cached = b;
                    break;
                }
            }
        }
        s.sampler.configure(p.temperature(), p.topP(), p.topK(), p.seed());
        for (int i = 0; i < s.nSeen; i++) {
            s.counts[s.seen[i]] = 0;
        }
        s.nSeen = 0;
        s.lastTokenAt = 0;
        promptTokens.addAndGet(n);
        cacheHitTokens.addAndGet(s.cached);
        q.sink.onStart(s.cached);
        if (p.maxTokens() == 0 && !p.promptLogprobs()) {
            finish(s, TokenSink.FinishReason.LENGTH, null);
        }
    }

    private void step() {
        batch.clear();
        int segs = 0;
        for (Slot s : slots) {
            if (s.req != null && s.pos == s.req.prompt.length && s.generated > 0) {
                batch.add(s.state, s.one, 0, 1, !s.tail);
                s.segLen = 0;
                segSlot[segs++] = s;
            }
        }
        int budget = model.maxChunk() - batch.rows();
        for (Slot s : slots) {
            Req q = s.req;
            if (q == null || s.pos >= q.prompt.length || budget == 0 || segs == batch.maxSegments()) {
                continue;
            }
            int n = Math.min(budget, q.prompt.length - s.pos);
            for (int b : s.boundaries) {
                if (b > s.pos) {
                    n = Math.min(n, b - s.pos);                                 // stop at a unit boundary to save it
                    break;
                }
            }
            batch.add(s.state, q.prompt, s.pos, n, s.pos + n == q.prompt.length, q.r.params().promptLogprobs());
            s.segLen = n;
            segSlot[segs++] = s;
            budget -= n;
        }
        if (segs == 0) {
            return;
        }
        try {
            model.forward(batch, logits, scorer);
        } catch (RuntimeException | Error e) {
            for (int i = 0; i < segs; i++) {
                finish(segSlot[i], TokenSink.FinishReason.ERROR, e);
            }
            return;
        }
        for (int i = 0; i < segs; i++) {
            Slot s = segSlot[i];
            Req q = s.req;
            if (s.segLen > 0) {
                s.pos += s.segLen;
                if (Arrays.binarySearch(s.boundaries, s.pos) >= 0) {
                    ContextCache.Key key = s.keys.get(s.pos);
                    if (!cache.contains(key)) {
                        cache.put(key, s.state.snapshot());
                    }
                }
                if (s.pos < q.prompt.length) {
                    continue;
                }
                if (q.r.params().maxTokens() == 0) {                          // the prompt was only to be scored
                    finish(s, TokenSink.FinishReason.LENGTH, null);
                    continue;
                }
            } else if (s.tail) {
                saveAnswerUnit(s);
                continue;
            }
            s.emitOff = i * vocab;
            emitting[nEmitting++] = s;
        }
        // the slots' next tokens: picked in parallel (each its own logits row, sampler and constraint), then
        // handed to the sinks in order on this thread
        if (nEmitting > 1) {
            Parallel.forEach(nEmitting, pickTask);
        } else if (nEmitting == 1) {
            pick(0, 1);
        }
        for (int i = 0; i < nEmitting; i++) {
            emit(emitting[i]);
            emitting[i] = null;
        }
        nEmitting = 0;
    }

    /**
     * Prompt scoring: row j of segment seg holds the logits after prompt position pos + j, which score the
     * prompt token at pos + j + 1 (the last prompt row scores nothing: the answer is sampled from it).
     */
    private void score(int seg, int j, float[] rowLogits, int off) {
        Slot s = segSlot[seg];
        Req q = s.req;
        int at = s.pos + j + 1;
        if (at >= q.prompt.length) {
            return;
        }
        int k = q.r.params().topLogprobs();
        int[] topIds = k == 0 ? NO_IDS : new int[k];
        float[] topLps = k == 0 ? NO_LOGPROBS : new float[k];
        double lse = alternatives(rowLogits, off, topIds, topLps);
        q.sink.onPromptToken(at, (float) (rowLogits[off + q.prompt[at]] - lse), topIds, topLps);
    }

    /**
     * The log-normaliser of a logits row, and its most likely tokens with their log-probabilities into
     * {@code topIds}/{@code topLps} (as many as they hold): the model's own, before penalties and temperature.
     */
    private double alternatives(float[] row, int off, int[] topIds, float[] topLps) {
        double lse = Sampler.logSumExp(row, off, vocab);
        Sampler.top(row, off, vocab, topIds);
        for (int i = 0; i < topIds.length; i++) {
            topLps[i] = (float) (row[off + topIds[i]] - lse);
        }
        return lse;
    }

    /**
     * The next token of the slots {@code emitting[from, to)} from their logits rows: the log-probability
     * alternatives (before penalties), penalties, the constraint's mask or forced token, the sampler. Touches
     * only the slot, its request's constraint and its logits row, so slots can be picked on several threads.
     */
    private void pick(int from, int to) {
        for (int e = from; e < to; e++) {
            Slot s = emitting[e];
            try {
                pick(s);
            } catch (RuntimeException ex) {
                s.pickFailure = ex;
            }
        }
    }

    private void pick(Slot s) {
        Req q = s.req;
        GenerationParams p = q.r.params();
        int off = s.emitOff;
        s.pickFailure = null;
        s.topIds = p.topLogprobs() == 0 ? NO_IDS : new int[p.topLogprobs()];
        s.topLps = p.topLogprobs() == 0 ? NO_LOGPROBS : new float[p.topLogprobs()];
        s.lse = p.logprobs() || p.topLogprobs() > 0 ? alternatives(logits, off, s.topIds, s.topLps) : 0;
        for (int i = 0; i < s.nSeen; i++) {
            int id = s.seen[i];
            logits[off + id] -= p.presencePenalty() + p.frequencyPenalty() * s.counts[id];
        }
        TokenConstraint c = q.r.constraint();
        int tok = c == null ? -1 : c.forced();
        if (tok < 0) {
            if (c != null) {
                c.mask(logits, off, vocab);
            }
            tok = s.sampler.sample(logits, off, vocab);
        }
        s.tok = tok;
    }

    /** Hands slot s's picked token to the sink (or finishes it on an error), and counts it. */
    private void emit(Slot s) {
        Req q = s.req;
        GenerationParams p = q.r.params();
        int tok = s.tok, off = s.emitOff;
        if (s.pickFailure != null) {
            finish(s, TokenSink.FinishReason.ERROR, s.pickFailure);
            return;
        }
        if (tok >= vocab) {
            finish(s, TokenSink.FinishReason.ERROR, new IllegalStateException("forced token " + tok
                    + " outside the vocabulary of " + vocab));
            return;
        }
        TokenConstraint c = q.r.constraint();
        if (c != null) {
            c.accept(tok);
        }
        boolean wantLp = p.logprobs() || p.topLogprobs() > 0;
        float lp = Float.NaN;
        if (wantLp) {
            double raw = logits[off + tok];
            if (s.counts[tok] > 0) {
                raw += p.presencePenalty() + p.frequencyPenalty() * s.counts[tok];
            }
            lp = (float) (raw - s.lse);
        }
        if (s.counts[tok]++ == 0) {
            s.seen[s.nSeen++] = tok;
        }
        s.out[s.generated++] = tok;
        generatedTokens.incrementAndGet();
        long now = System.nanoTime();
        if (s.lastTokenAt == 0) {
            ttft.observe((now - q.submitted) / 1e9);
        } else {
            itl.observe((now - s.lastTokenAt) / 1e9);
        }
        s.lastTokenAt = now;
        boolean more = q.sink.onToken(tok, lp, s.topIds, s.topLps);
        s.one[0] = tok;
        if (!p.ignoreEos() && tok == eos || !more) {
            finishAnswer(s, TokenSink.FinishReason.STOP);
        } else if (s.generated >= p.maxTokens() || q.prompt.length + s.generated >= maxContext) {
            finishAnswer(s, TokenSink.FinishReason.LENGTH);
        }
    }

    /**
     * The answer is complete: the client hears it now; with a cache, the last token still runs once
     * (one more decode row) so that prompt + answer is saved as a unit for the conversation's next turn.
     */
    private void finishAnswer(Slot s, TokenSink.FinishReason why) {
        Req q = s.req;
        q.done = true;
        q.sink.onFinish(why, new TokenSink.Usage(q.prompt.length, s.cached, s.generated, null));
        if (cache.budget() > 0 && q.prompt.length + s.generated <= maxContext) {
            s.tail = true;
        } else {
            s.req = null;
        }
    }

    /** After the tail step: the state holds prompt + answer; save it under that unit's key and free the slot. */
    private void saveAnswerUnit(Slot s) {
        Req q = s.req;
        int[] all = Arrays.copyOf(q.prompt, q.prompt.length + s.generated);
        System.arraycopy(s.out, 0, all, q.prompt.length, s.generated);
        ContextCache.Key key = ContextCache.keys(q.r.tenant(), all, new int[]{all.length}).get(all.length);
        if (!cache.contains(key)) {
            cache.put(key, s.state.snapshot());
        }
        s.tail = false;
        s.req = null;
    }

    private void finish(Slot s, TokenSink.FinishReason why, Throwable error) {
        Req q = s.req;
        if (q == null) {
            return;
        }
        s.req = null;
        if (s.tail) {
            s.tail = false;                                                      // the client already has its answer
            return;
        }
        q.done = true;
        q.sink.onFinish(why, new TokenSink.Usage(q.prompt.length, s.cached, s.generated, error));
    }
}
