package dev.moe4j.server;

import java.time.Duration;
import java.util.List;

/**
 * How the HTTP server behaves, independent of the model it serves.
 *
 * @param host         address to bind (127.0.0.1 by default: exposing the server is a decision)
 * @param port         0 picks a free port
 * @param apiKeys      accepted keys; empty = no authentication
 * @param prices       per-model prices for the cost in usage
 * @param maxBodyBytes larger request bodies are refused with 413 before they are read
 * @param keepAlive    idle time before a waiting stream gets a {@code : keep-alive} comment
 */
public record ServerConfig(String host, int port, List<String> apiKeys, PriceTable prices, int maxBodyBytes,
                           Duration keepAlive) {

    public static final int DEFAULT_MAX_BODY = 4 << 20;

    public ServerConfig {
        apiKeys = List.copyOf(apiKeys);
        if (apiKeys.stream().anyMatch(String::isBlank)) {
            throw new IllegalArgumentException("an API key must not be empty");
        }
        if (maxBodyBytes < 1 || keepAlive.isNegative() || keepAlive.isZero()) {
            throw new IllegalArgumentException("max body and keep-alive interval must be positive");
        }
    }

    public static ServerConfig defaults(String host, int port) {
        return new ServerConfig(host, port, List.of(), PriceTable.builtIn(), DEFAULT_MAX_BODY, Duration.ofSeconds(5));
    }

    public ServerConfig withApiKeys(List<String> keys) {
        return new ServerConfig(host, port, keys, prices, maxBodyBytes, keepAlive);
    }

    public ServerConfig withPrices(PriceTable p) {
        return new ServerConfig(host, port, apiKeys, p, maxBodyBytes, keepAlive);
    }

    public ServerConfig withKeepAlive(Duration d) {
        return new ServerConfig(host, port, apiKeys, prices, maxBodyBytes, d);
    }
}
