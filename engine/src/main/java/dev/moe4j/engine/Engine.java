package dev.moe4j.engine;

import dev.moe4j.model.ModelSource;
import dev.moe4j.model.Numerics;
import dev.moe4j.model.V4Config;
import dev.moe4j.model.V4Model;
import dev.moe4j.model.V4State;

import java.util.Arrays;
import java.util.function.IntPredicate;

/**
 * The Java API of moe4j: load a V4 model and continue token sequences.
 *
 * <pre>{@code
 * try (Engine e = Engine.load("demo", Engine.Options.defaults())) {
 *     int[] out = e.generate(new int[]{5, 17, 42}, GenerationParams.greedy(16));
 * }
 * }</pre>
 */
public final class Engine implements AutoCloseable {

    /**
     * @param maxContext tokens the caches of one sequence hold (prompt + generated)
     * @param maxChunk   tokens per forward call of a long prompt (bounds the working buffers)
     * @param reference  run the weight matrices on their plain scalar kernels instead of the vector ones:
     *                   far slower, a check of the fast kernels' results
     */
    public record Options(Numerics numerics, int maxContext, int maxChunk, boolean reference) {
        public static Options defaults() {
            return new Options(Numerics.OFFICIAL, 4096, 256, false);
        }

        public Options withNumerics(Numerics n) {
            return new Options(n, maxContext, maxChunk, reference);
        }

        public Options withMaxContext(int c) {
            return new Options(numerics, c, maxChunk, reference);
        }

        public Options withReference(boolean r) {
            return new Options(numerics, maxContext, maxChunk, r);
        }
    }

    private final ModelSource source;
    private final V4Model model;
    private final Options options;

    /** The {@link #warmUp} generation: prompt tokens, then generated tokens. */
    private static final int WARMUP_PROMPT = 32, WARMUP_TOKENS = 16;

    private Engine(ModelSource source, Options options) {
        this.source = source;
        this.options = options;
        V4Model m;
        try {
            m = V4Model.load(source.tensors(), source.config(), options.numerics(), options.maxChunk(),
                    options.reference());
        } catch (RuntimeException e) {
            source.close();
            throw e;
        }
        this.model = m;
    }

    /** {@code "demo"} or an official checkpoint directory. */
    public static Engine load(String model, Options options) {
        return new Engine(ModelSource.open(model), options);
    }

    public static Engine load(ModelSource source, Options options) {
        return new Engine(source, options);
    }

    public V4Model model() {
        return model;
    }

    public V4Config config() {
        return model.config();
    }

    public ModelSource source() {
        return source;
    }

    public Options options() {
        return options;
    }

    public V4State newState() {
        return model.newState(options.maxContext());
    }

    /**
     * Runs a generation nobody sees (a 32-token prompt, then 16 tokens greedily, EOS ignored, on a state of
     * its own) so that the JIT compiles the forward pass before the first real request: on the
     * v4-flash-slice2-v1k slice (2 threads) the first chat request after start (16 tokens) took 6.6 s without
     * it and 1.6 s after it, 0.5 s for the next ones; the warm-up itself took ~8 s. It leaves nothing behind
     * (the state is dropped; no cache or counter of this engine is touched). Returns the milliseconds it took.
     */
    public long warmUp() {
        long t0 = System.nanoTime();
        int n = Math.max(1, Math.min(WARMUP_PROMPT, options.maxContext() - WARMUP_TOKENS));
        int[] prompt = new int[n];
        for (int i = 0; i < n; i++) {
            prompt[i] = i % config().vocabSize();
        }
        int tokens = Math.min(WARMUP_TOKENS, options.maxContext() - n);
        generate(prompt, new GenerationParams(tokens, 0f, 1f, 0, 0, true), tok -> true);
        return (System.nanoTime() - t0) / 1_000_000;
    }

    /** Generates after {@code prompt}; returns the generated ids (EOS included when it stopped there). */
    public int[] generate(int[] prompt, GenerationParams p) {
        int[] out = new int[p.maxTokens()];
        int[] n = {0};
        generate(prompt, p, tok -> {
            out[n[0]++] = tok;
            return true;
        });
        return Arrays.copyOf(out, n[0]);
    }

    /**
     * Generates after {@code prompt}, handing each token to {@code onToken} as soon as it is chosen;
     * {@code onToken} returns false to stop. Stops at EOS (unless ignored) or after maxTokens.
     */
    public void generate(int[] prompt, GenerationParams p, IntPredicate onToken) {
        V4Config cfg = model.config();
        if (prompt.length == 0) {
            throw new IllegalArgumentException("the prompt is empty");
        }
        if ((long) prompt.length + p.maxTokens() > options.maxContext()) {
            throw new IllegalArgumentException("prompt (" + prompt.length + " tokens) + max tokens (" + p.maxTokens()
                    + ") exceed the max context of " + options.maxContext());
        }
        if (p.maxTokens() == 0) {
            return;
        }
        Sampler sampler = new Sampler(cfg.vocabSize(), p.temperature(), p.topP(), p.topK(), p.seed());
        V4State st = newState();
        float[] logits = new float[cfg.vocabSize()];
        int[] one = new int[1];
        model.forward(prompt, prompt.length, st, logits, false, null);
        for (int i = 0; i < p.maxTokens(); i++) {
            int tok = sampler.sample(logits, 0, cfg.vocabSize());
            if (!onToken.test(tok) || (!p.ignoreEos() && tok == cfg.eosTokenId()) || i == p.maxTokens() - 1) {
                return;
            }
            one[0] = tok;
            model.forward(one, 1, st, logits, false, null);
        }
    }

    @Override
    public void close() {
        model.close();
    }
}
