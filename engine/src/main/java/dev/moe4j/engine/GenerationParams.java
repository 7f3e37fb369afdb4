package dev.moe4j.engine;

/**
 * How to continue a prompt. {@code temperature = 0} is greedy; {@code topK = 0} and {@code topP = 1}
 * switch those filters off; the seed makes sampling reproducible. Penalties follow OpenAI: each
 * generated token's logit is lowered by {@code presencePenalty} once it has appeared and by
 * {@code frequencyPenalty} per appearance. {@code topLogprobs > 0} reports that many alternatives with
 * each token (≤ 20); {@code logprobs} reports the chosen token's log-probability. {@code promptLogprobs}
 * also scores every prompt token after the first (with {@code topLogprobs} alternatives): the prompt then
 * runs in full, never from the context cache, as a cached state has no logits. With it, {@code maxTokens = 0}
 * scores the prompt and generates nothing.
 */
public record GenerationParams(int maxTokens, float temperature, float topP, int topK, long seed, boolean ignoreEos,
                               float presencePenalty, float frequencyPenalty, boolean logprobs, int topLogprobs,
                               boolean promptLogprobs) {

    public static final int MAX_TOP_LOGPROBS = 20;

    public GenerationParams {
        if (maxTokens < 0) {
            throw new IllegalArgumentException("max tokens must be ≥ 0, got " + maxTokens);
        }
        if (!(temperature >= 0) || !Float.isFinite(temperature)) {
            throw new IllegalArgumentException("temperature must be a finite number ≥ 0, got " + temperature);
        }
        if (!(topP > 0 && topP <= 1)) {
            throw new IllegalArgumentException("top_p must be in (0, 1], got " + topP);
        }
        if (topK < 0) {
            throw new IllegalArgumentException("top_k must be ≥ 0 (0 = off), got " + topK);
        }
        if (!Float.isFinite(presencePenalty) || !Float.isFinite(frequencyPenalty)) {
            throw new IllegalArgumentException("penalties must be finite numbers");
        }
        if (topLogprobs < 0 || topLogprobs > MAX_TOP_LOGPROBS) {
            throw new IllegalArgumentException("top_logprobs must be in [0, " + MAX_TOP_LOGPROBS + "], got " + topLogprobs);
        }
    }

    public GenerationParams(int maxTokens, float temperature, float topP, int topK, long seed, boolean ignoreEos,
                            float presencePenalty, float frequencyPenalty, boolean logprobs, int topLogprobs) {
        this(maxTokens, temperature, topP, topK, seed, ignoreEos, presencePenalty, frequencyPenalty, logprobs,
                topLogprobs, false);
    }

    public GenerationParams(int maxTokens, float temperature, float topP, int topK, long seed, boolean ignoreEos) {
        this(maxTokens, temperature, topP, topK, seed, ignoreEos, 0f, 0f, false, 0);
    }

    public static GenerationParams greedy(int maxTokens) {
        return new GenerationParams(maxTokens, 0f, 1f, 0, 0, false);
    }
}
