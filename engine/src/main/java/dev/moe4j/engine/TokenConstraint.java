package dev.moe4j.engine;

/**
 * Steers one request's generation token by token (e.g. a forced tool call): before each sampled token
 * the scheduler asks for a forced token, else lets the constraint mask the logits; then it reports the
 * token chosen. Called on the scheduler's thread, in that order, once per generated token; it must
 * return at once. The model's own log-probabilities are reported unchanged (they are computed before
 * the mask).
 */
public interface TokenConstraint {

    /** The token that must come next, or -1 to sample (after {@link #mask}). */
    int forced();

    /** Sets the logits of the tokens not allowed next to -infinity in {@code logits[off .. off + vocab)}. */
    void mask(float[] logits, int off, int vocab);

    /** The token the request got (forced or sampled). */
    void accept(int token);
}
