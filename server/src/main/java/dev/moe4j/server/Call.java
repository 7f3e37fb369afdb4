package dev.moe4j.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;

/** One HTTP exchange as the handlers see it: the body as JSON, JSON answers, and who is calling. */
final class Call {

    final HttpExchange exchange;
    final ChatService service;
    /** The API key the caller proved, or null without authentication: part of the cache tenant. */
    final String apiKey;
    /** The server is stopping (for /health). */
    final boolean closing;
    /** How long a waiting stream stays silent before a keep-alive comment. */
    final long keepAliveMillis;
    private final int maxBody;

    Call(HttpExchange exchange, ChatService service, String apiKey, ServerConfig cfg, boolean closing) {
        this.exchange = exchange;
        this.service = service;
        this.apiKey = apiKey;
        this.closing = closing;
        this.keepAliveMillis = cfg.keepAlive().toMillis();
        this.maxBody = cfg.maxBodyBytes();
    }

    String path() {
        return exchange.getRequestURI().getPath();
    }

    /** The body as one JSON object; 413 beyond the limit (announced or actual), 400 when not an object. */
    ObjectNode json() throws IOException {
        String length = exchange.getRequestHeaders().getFirst("Content-Length");
        if (length != null) {
            try {
                if (Long.parseLong(length.trim()) > maxBody) {
                    throw ApiError.tooLarge(maxBody);
                }
            } catch (NumberFormatException e) {
                throw ApiError.badRequest(null, "bad Content-Length");
            }
        }
        byte[] body;
        try (InputStream in = exchange.getRequestBody()) {
            body = in.readNBytes(maxBody + 1);
        }
        if (body.length > maxBody) {
            throw ApiError.tooLarge(maxBody);
        }
        return Json.parseObject(body);
    }

    void send(int status, JsonNode body) throws IOException {
        send(status, "application/json", Json.bytes(body));
    }

    void send(int status, String contentType, byte[] data) throws IOException {
        exchange.getResponseHeaders().set("Content-Type", contentType);
        exchange.sendResponseHeaders(status, data.length == 0 ? -1 : data.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(data);
        }
    }
}
