package dev.moe4j.engine;

/** The scheduler's queue is full: the caller should answer 429 and ask the client to retry later. */
public final class QueueFullException extends RuntimeException {

    private final int retryAfterSeconds;

    public QueueFullException(int queued, int retryAfterSeconds) {
        super("the server is busy: " + queued + " requests are waiting");
        this.retryAfterSeconds = retryAfterSeconds;
    }

    public int retryAfterSeconds() {
        return retryAfterSeconds;
    }
}
