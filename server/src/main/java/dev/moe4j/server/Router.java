package dev.moe4j.server;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import java.util.stream.Stream;

/**
 * Every request passes here: route by method and path, authenticate, refuse work while the model
 * loads or the server stops, and turn any failure into an error body in the OpenAI shape.
 */
final class Router implements HttpHandler {

    interface Handler {
        void handle(Call call) throws IOException;
    }

    /** @param open reachable without an API key; @param needsModel refused with 503 until the model is ready */
    private record Route(String method, boolean open, boolean needsModel, Handler handler) {
    }

    private static final System.Logger LOG = System.getLogger("dev.moe4j.server");
    private static final String WEB_PREFIX = "/web/";

    private final ServerConfig cfg;
    private final Supplier<ChatService> service;
    private final Supplier<Boolean> closing;
    private final List<byte[]> keys;
    private final Map<String, Route> routes;
    private final Route web;

    Router(ServerConfig cfg, Supplier<ChatService> service, Supplier<Boolean> closing) {
        this.cfg = cfg;
        this.service = service;
        this.closing = closing;
        this.keys = cfg.apiKeys().stream().map(k -> k.getBytes(StandardCharsets.UTF_8)).toList();
        Route chat = new Route("POST", false, true, c -> ChatHandler.handle(c, false));
        Route completions = new Route("POST", false, true, CompletionHandler::handle);
        Route models = new Route("GET", false, true, StatusHandler::models);
        this.routes = Map.ofEntries(
                Map.entry("/", new Route("GET", true, false, StaticHandler::index)),
                Map.entry("/health", new Route("GET", true, false, StatusHandler::health)),
                Map.entry("/metrics", new Route("GET", false, true, MetricsHandler::handle)),
                Map.entry("/v1/models", models),
                Map.entry("/models", models),
                Map.entry("/v1/chat/completions", chat),
                Map.entry("/chat/completions", chat),
                Map.entry("/beta/chat/completions", new Route("POST", false, true, c -> ChatHandler.handle(c, true))),
                Map.entry("/v1/completions", completions),
                Map.entry("/completions", completions),
                Map.entry("/beta/completions", completions),
                Map.entry("/tokenize", new Route("POST", false, true, TokenizeHandler::tokenize)),
                Map.entry("/detokenize", new Route("POST", false, true, TokenizeHandler::detokenize)));
        this.web = new Route("GET", true, false, StaticHandler::file);
    }

    @Override
    public void handle(HttpExchange ex) {
        ChatService svc = service.get();
        boolean stopping = closing.get();
        try {
            String path = ex.getRequestURI().getPath();
            Route route = path.startsWith(WEB_PREFIX) ? web : routes.get(path);
            if (route == null) {
                throw ApiError.notFound("no such endpoint: " + path);
            }
            if (!route.method().equals(ex.getRequestMethod())) {
                ex.getResponseHeaders().set("Allow", route.method());
                throw ApiError.methodNotAllowed(ex.getRequestMethod(), path);
            }
            String key = route.open() ? null : authenticate(ex);
            if (route.needsModel()) {
                if (stopping) {
                    throw ApiError.unavailable("shutting_down", "the server is shutting down", 0);
                }
                if (svc == null) {
                    throw ApiError.unavailable("model_loading", "the model is loading", 5);
                }
            }
            route.handler().handle(new Call(ex, svc, key, cfg, stopping));
        } catch (ApiError e) {
            if (svc != null && e.status == 429) {
                svc.rejected.increment();
            }
            reply(ex, e);
        } catch (IOException e) {
            // the client went away; nothing to tell it
        } catch (RuntimeException | Error e) {
            LOG.log(System.Logger.Level.ERROR, "request " + ex.getRequestURI() + " failed", e);
            reply(ex, ApiError.internal("internal error (the server log has the details)"));
        } finally {
            ex.close();
        }
    }

    /** The most a refused body is read away after its 413: beyond that the connection is simply closed. */
    private static final long DRAIN_LIMIT = 64L << 20;

    /** The announced body length; for a chunked body, the drain limit. */
    private static long announced(HttpExchange ex) {
        try {
            String length = ex.getRequestHeaders().getFirst("Content-Length");
            return length == null ? DRAIN_LIMIT : Math.max(0, Long.parseLong(length.trim()));
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    /** The error body, unless a stream has begun (its handler then ends the stream itself). */
    private static void reply(HttpExchange ex, ApiError e) {
        if (ex.getResponseCode() != -1) {
            return;
        }
        try {
            if (e.retryAfter > 0) {
                ex.getResponseHeaders().set("Retry-After", Integer.toString(e.retryAfter));
            }
            byte[] body = Json.bytes(Json.error(e));
            ex.getResponseHeaders().set("Content-Type", "application/json");
            ex.sendResponseHeaders(e.status, body.length);
            ex.getResponseBody().write(body);
            ex.getResponseBody().flush();
            if (e.status == 413) {
                // closing with unread bytes makes the kernel reset the connection, which can destroy the
                // answer before the client reads it: read the rest away first (bounded)
                ex.getRequestBody().skipNBytes(Math.min(DRAIN_LIMIT, announced(ex)));
            }
        } catch (IOException ignored) {
            // the client went away
        }
    }

    /**
     * The key the caller sent ({@code Authorization: Bearer K} or {@code x-api-key: K}) if it is one
     * of ours, compared in constant time against every key; null when authentication is off.
     */
    private String authenticate(HttpExchange ex) {
        if (keys.isEmpty()) {
            return null;
        }
        for (String sent : candidates(ex)) {
            byte[] b = sent.getBytes(StandardCharsets.UTF_8);
            boolean ok = false;
            for (byte[] k : keys) {
                ok |= MessageDigest.isEqual(b, k);
            }
            if (ok) {
                return sent;
            }
        }
        throw ApiError.unauthorized();
    }

    private static List<String> candidates(HttpExchange ex) {
        String auth = ex.getRequestHeaders().getFirst("Authorization");
        String apiKey = ex.getRequestHeaders().getFirst("x-api-key");
        String bearer = auth != null && auth.regionMatches(true, 0, "Bearer ", 0, 7) ? auth.substring(7).trim() : null;
        return Stream.of(bearer, apiKey).filter(s -> s != null && !s.isEmpty()).toList();
    }
}
