package dev.moe4j.server;

import dev.moe4j.engine.Histogram;
import dev.moe4j.engine.Scheduler;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Locale;

/** {@code GET /metrics}: the scheduler's and the server's counters in the Prometheus text format. */
final class MetricsHandler {

    static void handle(Call call) throws IOException {
        ChatService svc = call.service;
        Scheduler.Metrics m = svc.backend.metrics();
        StringBuilder s = new StringBuilder();
        gauge(s, "requests_running", "Requests generating now.", m.running());
        gauge(s, "requests_waiting", "Requests waiting in the queue.", m.waiting());
        gauge(s, "kv_cache_tokens_used", "Tokens held in the sequences' KV caches.", m.kvTokensInUse());
        gauge(s, "kv_cache_tokens_capacity", "Tokens the sequences' KV caches can hold.", m.kvTokensCapacity());
        gauge(s, "kv_cache_usage_ratio", "Fraction of the KV cache capacity in use.",
                m.kvTokensCapacity() == 0 ? 0 : (double) m.kvTokensInUse() / m.kvTokensCapacity());
        gauge(s, "prefix_cache_entries", "Saved context-cache units.", m.cacheEntries());
        gauge(s, "prefix_cache_bytes", "Bytes held by the context cache.", m.cacheBytes());
        gauge(s, "prefix_cache_budget_bytes", "Memory budget of the context cache.", m.cacheBudgetBytes());
        counter(s, "prefix_cache_hit_tokens_total", "Prompt tokens served from the context cache.", m.cacheHitTokens());
        counter(s, "prompt_tokens_total", "Prompt tokens of admitted requests.", m.promptTokens());
        counter(s, "generation_tokens_total", "Tokens generated.", m.generatedTokens());
        counter(s, "requests_total", "Requests accepted by the scheduler.", m.requests());
        counter(s, "requests_aborted_total", "Requests cancelled (client gone, shutdown).", m.aborted());
        counter(s, "requests_queue_timeout_total", "Requests that waited longer than the queue timeout.",
                m.queueTimeouts());
        counter(s, "requests_rejected_total", "Requests refused with 429 (queue full).", svc.rejected.sum());
        histogram(s, "time_to_first_token_seconds", "From submission to the first generated token.",
                m.timeToFirstToken());
        histogram(s, "inter_token_latency_seconds", "Between consecutive tokens of one request.", m.interToken());
        call.send(200, "text/plain; version=0.0.4; charset=utf-8", s.toString().getBytes(StandardCharsets.UTF_8));
    }

    private static void head(StringBuilder s, String name, String help, String type) {
        s.append("# HELP moe4j_").append(name).append(' ').append(help).append('\n');
        s.append("# TYPE moe4j_").append(name).append(' ').append(type).append('\n');
    }

    private static void gauge(StringBuilder s, String name, String help, double v) {
        head(s, name, help, "gauge");
        s.append("moe4j_").append(name).append(' ').append(num(v)).append('\n');
    }

    private static void counter(StringBuilder s, String name, String help, long v) {
        head(s, name, help, "counter");
        s.append("moe4j_").append(name).append(' ').append(v).append('\n');
    }

    private static void histogram(StringBuilder s, String name, String help, Histogram h) {
        head(s, name, help, "histogram");
        double[] bounds = h.bounds();
        long[] cum = h.cumulative();
        for (int i = 0; i < bounds.length; i++) {
            s.append("moe4j_").append(name).append("_bucket{le=\"").append(num(bounds[i])).append("\"} ")
                    .append(cum[i]).append('\n');
        }
        s.append("moe4j_").append(name).append("_bucket{le=\"+Inf\"} ").append(cum[bounds.length]).append('\n');
        s.append("moe4j_").append(name).append("_sum ").append(num(h.sum())).append('\n');
        s.append("moe4j_").append(name).append("_count ").append(cum[bounds.length]).append('\n');
    }

    private static String num(double v) {
        return v == Math.rint(v) && Math.abs(v) < 1e15 ? Long.toString((long) v) : String.format(Locale.ROOT, "%s", v);
    }

    private MetricsHandler() {
    }
}
