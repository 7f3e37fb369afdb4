package dev.moe4j.engine;

/**
 * Receives a request's progress. Called on the scheduler's thread: implementations must return at
 * once (hand the data to the request's own thread, e.g. through a queue) and never block.
 */
public interface TokenSink {

    /** The request left the queue: its prompt is about to run; {@code cachedTokens} came from the context cache. */
    void onStart(int cachedTokens);

    /**
     * A generated token. {@code logprob} is its log-probability under the model (NaN unless requested);
     * {@code topIds}/{@code topLogprobs} the most likely alternatives (empty unless requested). The arrays
     * are the sink's to keep. Return false to stop the generation (a stop sequence matched, the client left).
     */
    boolean onToken(int token, float logprob, int[] topIds, float[] topLogprobs);

    /**
     * The score of prompt token {@code position} (≥ 1) given those before it, when the request asked for
     * prompt log-probabilities; called in order of position before the first {@link #onToken}.
     */
    default void onPromptToken(int position, float logprob, int[] topIds, float[] topLogprobs) {
    }

    /** The end: why, and the token counts. Called exactly once, also after cancellation or failure. */
    void onFinish(FinishReason reason, Usage usage);

    /** Why a generation ended. */
    enum FinishReason {
        /** The model produced its end-of-sequence token, or the sink asked to stop. */
        STOP,
        /** max tokens reached (or the context is full). */
        LENGTH,
        /** Cancelled through its handle (client gone, shutdown). */
        CANCELLED,
        /** Waited in the queue longer than the queue timeout. */
        QUEUE_TIMEOUT,
        /** The engine failed; see {@link Usage#error()}. */
        ERROR
    }

    /**
     * @param promptTokens    prompt length
     * @param cachedTokens    prompt tokens served from the context cache (cache hit)
     * @param generatedTokens tokens generated (those handed to {@link #onToken})
     * @param error           the failure for {@link FinishReason#ERROR}, else null
     */
    record Usage(int promptTokens, int cachedTokens, int generatedTokens, Throwable error) {
    }
}
