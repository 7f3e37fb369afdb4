package dev.moe4j.server;

import dev.moe4j.engine.GenerationRequest;
import dev.moe4j.engine.RequestHandle;
import dev.moe4j.engine.Scheduler;
import dev.moe4j.engine.TokenSink;

/**
 * What the server needs from the engine: the {@link Scheduler}'s surface. An interface so that tests
 * can serve scripted completions (a tool call the random demo model would never write) over the
 * same HTTP code.
 */
public interface Backend extends AutoCloseable {

    /** As {@link Scheduler#submit}: may throw {@code QueueFullException} or {@code IllegalArgumentException}. */
    RequestHandle submit(GenerationRequest request, TokenSink sink);

    Scheduler.Metrics metrics();

    /** Tokens one sequence may hold: prompt + generated. */
    int maxContext();

    /** Cancels everything still queued or running; each sink hears {@code onFinish(CANCELLED)}. */
    @Override
    void close();

    static Backend of(Scheduler scheduler) {
        return new Backend() {
            @Override
            public RequestHandle submit(GenerationRequest request, TokenSink sink) {
                return scheduler.submit(request, sink);
            }

            @Override
            public Scheduler.Metrics metrics() {
                return scheduler.metrics();
            }

            @Override
            public int maxContext() {
                return scheduler.maxContext();
            }

            @Override
            public void close() {
                scheduler.close();
            }
        };
    }
}
