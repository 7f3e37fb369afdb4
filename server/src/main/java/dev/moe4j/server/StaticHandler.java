package dev.moe4j.server;

import java.io.IOException;
import java.io.InputStream;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * The web chat page: {@code GET /} is {@code web/index.html} and {@code GET /web/NAME} any other file of
 * that classpath folder. Names are restricted to plain relative paths, so nothing outside it is reachable.
 */
final class StaticHandler {

    private static final String ROOT = "web/";
    private static final Pattern SAFE = Pattern.compile("[A-Za-z0-9_-][A-Za-z0-9._-]*(/[A-Za-z0-9_-][A-Za-z0-9._-]*)*");
    private static final Map<String, String> TYPES = Map.of(
            "html", "text/html; charset=utf-8", "js", "text/javascript; charset=utf-8",
            "mjs", "text/javascript; charset=utf-8", "css", "text/css; charset=utf-8",
            "json", "application/json", "svg", "image/svg+xml", "png", "image/png", "ico", "image/x-icon",
            "txt", "text/plain; charset=utf-8");

    static void index(Call call) throws IOException {
        serve(call, "index.html");
    }

    static void file(Call call) throws IOException {
        serve(call, call.path().substring("/web/".length()));
    }

    private static void serve(Call call, String name) throws IOException {
        if (!SAFE.matcher(name).matches() || name.contains("..")) {
            throw ApiError.notFound("no such file: " + name);
        }
        byte[] data;
        try (InputStream in = StaticHandler.class.getResourceAsStream(ROOT + name)) {
            if (in == null) {
                throw ApiError.notFound("no such file: web/" + name + " (the web page is not part of this build)");
            }
            data = in.readAllBytes();
        }
        String ext = name.substring(name.lastIndexOf('.') + 1);
        call.exchange.getResponseHeaders().set("Cache-Control", "no-cache");
        call.send(200, TYPES.getOrDefault(ext, "application/octet-stream"), data);
    }

    private StaticHandler() {
    }
}
