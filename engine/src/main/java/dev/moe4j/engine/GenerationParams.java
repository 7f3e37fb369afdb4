package dev.moe4j.engine;

/**
 * How to continue a prompt. {@code temperature = 0} is greedy; {@code topK = 0} and {@code topP = 1}
 * switch those filters off; the seed makes sampling reproducible.
 */
public record GenerationParams(int maxTokens, float temperature, float topP, int topK, long seed, boolean ignoreEos) {

    public GenerationParams {
        if (maxTokens < 0) {
            throw new IllegalArgumentException("max tokens must be ≥ 0, got " + maxTokens);
        }
    }

    public static GenerationParams greedy(int maxTokens) {
        return new GenerationParams(maxTokens, 0f, 1f, 0, 0, false);
    }
}
