package dev.moe4j.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpExchange;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;

/**
 * A server-sent event stream: {@code data: JSON} events, {@code : keep-alive} comments while a request
 * waits, and {@code data: [DONE]} at the end. Each write is flushed, so a client that left shows up as
 * an IOException on the next one.
 */
final class Sse {

    private final OutputStream out;

    private Sse(OutputStream out) {
        this.out = out;
    }

    static Sse open(HttpExchange ex) throws IOException {
        ex.getResponseHeaders().set("Content-Type", "text/event-stream; charset=utf-8");
        ex.getResponseHeaders().set("Cache-Control", "no-cache");
        ex.getResponseHeaders().set("X-Accel-Buffering", "no");
        ex.sendResponseHeaders(200, 0);
        return new Sse(ex.getResponseBody());
    }

    void data(JsonNode event) throws IOException {
        write("data: " + Json.MAPPER.writeValueAsString(event) + "\n\n");
    }

    void keepAlive() throws IOException {
        write(": keep-alive\n\n");
    }

    void done() throws IOException {
        write("data: [DONE]\n\n");
    }

    private void write(String s) throws IOException {
        out.write(s.getBytes(StandardCharsets.UTF_8));
        out.flush();
    }
}
