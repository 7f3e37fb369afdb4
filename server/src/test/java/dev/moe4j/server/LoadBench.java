package dev.moe4j.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moe4j.engine.Scheduler;
import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static dev.moe4j.server.TestServer.JSON;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Time to first token and aggregate tokens/s with 1, 4 and 16 concurrent streams on the demo model,
 * and the context-cache hit rate of a conversation that goes on. Loopback only, bounded in requests;
 * a measurement, not a check, so it runs only when asked:
 * {@code ./mvnw -o -pl server test -Dtest=LoadBench -Dsurefire.failIfNoSpecifiedTests=false}. A benchmark, not a
 * test: its name keeps it out of the suite, and it asserts nothing about time.
 */
class LoadBench {

    private static final int TOKENS = Integer.getInteger("moe4j.load.tokens", 64);
    private static final int RUNNING = Integer.getInteger("moe4j.load.running", 16);

    private record Result(double ttft, int tokens) {
    }

    @Test
    void concurrentStreamsAndCacheHits() throws Exception {
        try (TestServer s = TestServer.demo(TestServer.config(),
                new Scheduler.Config(RUNNING, 64, Duration.ofMinutes(5), 256L << 20, 512))) {
            HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
            round(http, s.base, 4, "warm-up");
            System.out.printf("%nmax-running %d, %d tokens per stream, prompt ~20 tokens%n", RUNNING, TOKENS);
            System.out.println("streams | client TTFT median / max (s) | engine TTFT mean (s) | aggregate tokens/s"
                    + " | per-stream tokens/s");
            for (int n : new int[] {1, 4, 16}) {
                double sum0 = s.metric("moe4j_time_to_first_token_seconds_sum");
                double count0 = s.metric("moe4j_time_to_first_token_seconds_count");
                long t0 = System.nanoTime();
                List<Result> results = round(http, s.base, n, "run" + n);
                double wall = (System.nanoTime() - t0) / 1e9;
                double[] ttft = results.stream().mapToDouble(Result::ttft).sorted().toArray();
                int total = results.stream().mapToInt(Result::tokens).sum();
                double engine = (s.metric("moe4j_time_to_first_token_seconds_sum") - sum0)
                        / (s.metric("moe4j_time_to_first_token_seconds_count") - count0);
                System.out.printf("%7d | %12.3f / %-12.3f | %20.3f | %18.1f | %.1f%n", n, ttft[ttft.length / 2],
                        ttft[ttft.length - 1], engine, total / wall, total / wall / n);
            }
            cacheHits(s, "fast");
            cacheHits(s, "expert");
        }
    }

    /** {@code n} streams at once, each with its own prompt (no cache hits between them). */
    private static List<Result> round(HttpClient http, String base, int n, String tag) throws Exception {
        try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<Result>> futures = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                String prompt = "Request " + tag + "-" + i + ": write a long story about a fox and a crow.";
                futures.add(pool.submit((Callable<Result>) () -> stream(http, base, prompt)));
            }
            List<Result> out = new ArrayList<>();
            for (Future<Result> f : futures) {
                out.add(f.get());
            }
            return out;
        }
    }

    private static Result stream(HttpClient http, String base, String prompt) throws Exception {
        ObjectNode req = JSON.createObjectNode().put("model", "fast").put("max_tokens", TOKENS).put("ignore_eos", true)
                .put("stream", true).put("seed", 1);
        req.putArray("messages").addObject().put("role", "user").put("content", prompt);
        req.putObject("stream_options").put("include_usage", true);
        long t0 = System.nanoTime();
        HttpResponse<java.io.InputStream> r = http.send(HttpRequest.newBuilder(URI.create(base + "/v1/chat/completions"))
                .POST(HttpRequest.BodyPublishers.ofString(req.toString())).build(), HttpResponse.BodyHandlers.ofInputStream());
        double ttft = -1;
        int tokens = 0;
        try (BufferedReader in = new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8))) {
            for (String line = in.readLine(); line != null; line = in.readLine()) {
                if (!line.startsWith("data: {")) {
                    continue;
                }
                JsonNode e = JSON.readTree(line.substring(6));
                // the first text: the role chunk before it carries none
                if (ttft < 0 && !e.at("/choices/0/delta/content").asText("").isEmpty()) {
                    ttft = (System.nanoTime() - t0) / 1e9;
                }
                if (e.has("usage")) {
                    tokens = e.at("/usage/completion_tokens").asInt();
                }
            }
        }
        assertTrue(tokens == TOKENS, "a stream ended early: " + tokens);
        return new Result(ttft, tokens);
    }

    /** A conversation of five turns, each sent as the whole history, as chat clients do. */
    private static void cacheHits(TestServer s, String model) throws Exception {
        ObjectNode req = JSON.createObjectNode().put("model", model).put("max_tokens", 16).put("user_id", "load-" + model);
        ArrayNode msgs = req.putArray("messages");
        msgs.addObject().put("role", "system").put("content", "You are a helpful assistant who answers briefly.");
        long hit = 0, prompt = 0;
        int[] perTurn = new int[5];
        for (int turn = 0; turn < 5; turn++) {
            msgs.addObject().put("role", "user").put("content", "Question number " + turn + ": what happens next?");
            JsonNode r = s.ok("/v1/chat/completions", req.toString());
            int h = r.at("/usage/prompt_cache_hit_tokens").asInt(), p = r.at("/usage/prompt_tokens").asInt();
            perTurn[turn] = (int) Math.round(100.0 * h / p);
            hit += h;
            prompt += p;
            msgs.addObject().put("role", "assistant").put("content", r.at("/choices/0/message/content").asText());
        }
        msgs.remove(msgs.size() - 1);                                    // resend up to the last question
        JsonNode again = s.ok("/v1/chat/completions", req.put("max_tokens", 1).toString());
        System.out.printf("%s, conversation of 5 turns: cache hits %d of %d prompt tokens (%.0f %%), per turn %s %%;"
                        + " the whole conversation resent: %d of %d (%.1f %%)%n", model, hit, prompt, 100.0 * hit / prompt,
                Arrays.toString(perTurn), again.at("/usage/prompt_cache_hit_tokens").asInt(),
                again.at("/usage/prompt_tokens").asInt(),
                100.0 * again.at("/usage/prompt_cache_hit_tokens").asInt() / again.at("/usage/prompt_tokens").asInt());
    }
}
