package dev.moe4j.server;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;

/**
 * Prices per 1M tokens by model name, to put the cost of each request into its usage. A file holds
 * {@code {"model": {"input_cache_hit": 0.0028, "input_cache_miss": 0.14, "output": 0.28}}} (optionally
 * {@code "currency"}, default USD); its entries replace the built-in ones of the same name.
 */
public final class PriceTable {

    /** Per 1M tokens. */
    private record Price(double inputCacheHit, double inputCacheMiss, double output, String currency) {
    }

    // DeepSeek's list prices from 2026-04-26 (serving notes §2.5); the demo is priced like V4-Flash
    private static final Price FLASH = new Price(0.0028, 0.14, 0.28, "USD");
    private static final Map<String, Price> BUILT_IN = Map.of(
            "demo", FLASH,
            "deepseek-v4-flash", FLASH,
            "deepseek-v4-pro", new Price(0.0145, 1.74, 3.48, "USD"));
    private static final Set<String> FIELDS = Set.of("input_cache_hit", "input_cache_miss", "output", "currency");

    private final Map<String, Price> prices;

    private PriceTable(Map<String, Price> prices) {
        this.prices = Map.copyOf(prices);
    }

    public static PriceTable builtIn() {
        return new PriceTable(BUILT_IN);
    }

    /** The built-in prices overridden and extended by a price file. */
    public static PriceTable load(Path file) {
        String text;
        try {
            text = Files.readString(file);
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException("price file not found: " + file);
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read the price file " + file + ": " + e.getMessage());
        }
        JsonNode root;
        try {
            root = Json.MAPPER.readTree(text);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException(file + ": not valid JSON: " + e.getOriginalMessage());
        }
        if (root == null || !root.isObject()) {
            throw new IllegalArgumentException(file + ": must hold a JSON object {\"model\": {prices}}");
        }
        Map<String, Price> prices = new HashMap<>(BUILT_IN);
        for (Map.Entry<String, JsonNode> e : root.properties()) {
            prices.put(e.getKey(), price(file, e.getKey(), e.getValue()));
        }
        return new PriceTable(prices);
    }

    private static Price price(Path file, String model, JsonNode p) {
        String where = file + ": \"" + model + "\"";
        if (!p.isObject()) {
            throw new IllegalArgumentException(where + " must be an object of prices per 1M tokens");
        }
        for (String name : (Iterable<String>) p::fieldNames) {
            if (!FIELDS.contains(name)) {
                throw new IllegalArgumentException(where + ": unknown field \"" + name + "\" (expected " + FIELDS + ")");
            }
        }
        JsonNode currency = p.path("currency");
        if (!currency.isMissingNode() && !currency.isTextual()) {
            throw new IllegalArgumentException(where + ": currency must be a string");
        }
        return new Price(amount(where, p, "input_cache_hit"), amount(where, p, "input_cache_miss"),
                amount(where, p, "output"), currency.isTextual() ? currency.textValue() : "USD");
    }

    private static double amount(String where, JsonNode p, String field) {
        JsonNode v = p.get(field);
        if (v == null || !v.isNumber() || !(v.doubleValue() >= 0) || !Double.isFinite(v.doubleValue())) {
            throw new IllegalArgumentException(where + ": \"" + field + "\" must be a number ≥ 0 (price per 1M tokens)");
        }
        return v.doubleValue();
    }

    /** The cost object of a request's usage, or null when the model has no price. */
    ObjectNode cost(String model, long cacheHit, long cacheMiss, long output) {
        Price p = prices.get(model);
        if (p == null) {
            return null;
        }
        double hit = cacheHit * p.inputCacheHit() / 1e6, miss = cacheMiss * p.inputCacheMiss() / 1e6,
                out = output * p.output() / 1e6;
        ObjectNode c = Json.object();
        c.put("currency", p.currency());
        c.put("input_cache_hit", hit);
        c.put("input_cache_miss", miss);
        c.put("output", out);
        c.put("total", hit + miss + out);
        return c;
    }
}
