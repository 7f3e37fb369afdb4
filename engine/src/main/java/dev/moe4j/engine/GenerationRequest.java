package dev.moe4j.engine;

/**
 * One request to the {@link Scheduler}.
 *
 * @param prompt          token ids (the encoded conversation)
 * @param tenant          cache isolation key (API key or user_id); cached prefixes are shared only
 *                        within one tenant; null = the anonymous tenant
 * @param cacheBoundaries ascending prompt lengths (exclusive end indices, 0 < b ≤ prompt.length) at which
 *                        the sequence's cache state is saved and may be found by later requests: the
 *                        ends of the units of V4 context caching (end of each user input, end of each
 *                        earlier model output). The scheduler adds fixed intervals of its own.
 * @param constraint      steers the generated tokens (a forced tool call); null = free sampling
 */
public record GenerationRequest(int[] prompt, GenerationParams params, String tenant, int[] cacheBoundaries,
                                TokenConstraint constraint) {

    public GenerationRequest(int[] prompt, GenerationParams params, String tenant, int[] cacheBoundaries) {
        this(prompt, params, tenant, cacheBoundaries, null);
    }

    public GenerationRequest {
        if (prompt == null || prompt.length == 0) {
            throw new IllegalArgumentException("the prompt is empty");
        }
        prompt = prompt.clone();
        cacheBoundaries = cacheBoundaries == null ? new int[0] : cacheBoundaries.clone();
        int last = 0;
        for (int b : cacheBoundaries) {
            if (b <= last || b > prompt.length) {
                throw new IllegalArgumentException("cache boundaries must be ascending within (0, " + prompt.length + "]");
            }
            last = b;
        }
    }

    @Override
    public int[] prompt() {
        return prompt.clone();
    }

    @Override
    public int[] cacheBoundaries() {
        return cacheBoundaries.clone();
    }

    int promptLength() {
        return prompt.length;
    }

    int promptAt(int i) {
        return prompt[i];
    }
}
