package dev.moe4j.server;

import com.fasterxml.jackson.databind.JsonNode;

import java.io.IOException;
import java.io.OutputStream;

/**
 * A non-streamed answer that notices a client who left. HTTP gives a server no sign of a closed
 * connection until it writes, so once the generation runs, the answer's headers go out (200, chunked)
 * and a newline follows every {@value #PROBE_MILLIS} ms, as DeepSeek's API sends empty lines while a
 * non-streamed request is in progress; JSON readers skip the whitespace. The second write after a hang-up
 * fails (the first draws the peer's reset), so the generation is cancelled a few probes later. An answer
 * done before the first probe goes out as plain JSON with its own status; an error after the headers
 * went out can only be the body (status 200), in the usual error shape.
 */
final class Whole {

    /** 10 probes a second: a few bytes of whitespace against a slot held ≤ 0.2 s after a hang-up. */
    static final long PROBE_MILLIS = 100;
    private static final byte[] NEWLINE = {'\n'};

    private final Call call;
    private OutputStream out;
    private long last;

    Whole(Call call) {
        this.call = call;
    }

    private boolean running;

    /**
     * After each event of the generation (or a wait without one, {@code null}): once it runs, a newline
     * whenever the last write is a probe interval old. Queued, nothing is sent (a queue timeout keeps its
     * own status).
     */
    void after(Generation.Event e) throws IOException {
        running |= e instanceof Generation.Started;
        if (running) {
            probe();
        }
    }

    private void probe() throws IOException {
        long now = System.nanoTime();
        if (out == null) {
            if (last == 0) {
                last = now;                                              // the first interval starts now
                return;
            }
            if (now - last < PROBE_MILLIS * 1_000_000) {
                return;
            }
            call.exchange.getResponseHeaders().set("Content-Type", "application/json");
            call.exchange.sendResponseHeaders(200, 0);
            out = call.exchange.getResponseBody();
        } else if (now - last < PROBE_MILLIS * 1_000_000) {
            return;
        }
        out.write(NEWLINE);
        out.flush();
        last = now;
    }

    /** The answer; {@code status} applies only when no probe went out yet. */
    void send(int status, JsonNode body) throws IOException {
        if (out == null) {
            call.send(status, body);
            return;
        }
        try (OutputStream o = out) {
            o.write(Json.bytes(body));
        }
    }

    /** An error: thrown (its own status) before the first probe, else written as the body. */
    void fail(ApiError error) throws IOException {
        if (out == null) {
            throw error;
        }
        send(200, Json.error(error));
    }
}
