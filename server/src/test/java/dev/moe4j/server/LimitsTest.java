package dev.moe4j.server;

import com.fasterxml.jackson.databind.JsonNode;
import dev.moe4j.engine.Scheduler;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;

import static dev.moe4j.server.TestServer.JSON;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Queue limits, keep-alives, abort on disconnect, queue timeout, loading and graceful shutdown. */
class LimitsTest {

    private static final String LONG = """
            {"model": "fast", "messages": [{"role": "user", "content": "Go on forever"}], "max_tokens": 3000,
             "ignore_eos": true, "stream": true}""";
    private static final String SHORT = """
            {"model": "fast", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 2}""";

    /** One running slot and one queue place, keep-alives every 100 ms. */
    private static TestServer tiny(Duration queueTimeout) throws Exception {
        return TestServer.demo(TestServer.config().withKeepAlive(Duration.ofMillis(100)),
                new Scheduler.Config(1, 1, queueTimeout, 64L << 20, 512));
    }

    /** Polls /metrics until {@code name} reaches {@code value} (the scheduler acts between steps). */
    private static void awaitMetric(TestServer s, String name, double value) throws Exception {
        long end = System.nanoTime() + 10_000_000_000L;
        while (s.metric(name) != value) {
            if (System.nanoTime() > end) {
                throw new AssertionError(name + " is " + s.metric(name) + ", expected " + value);
            }
            Thread.sleep(20);
        }
    }

    @Test
    void aBurstBeyondTheQueueGets429AndWaitersGetKeepAlives() throws Exception {
        try (TestServer s = tiny(Duration.ofMinutes(5))) {
            RawStream running = new RawStream(s.server.port(), "/v1/chat/completions", LONG);
            running.readUntil("\"content\":\"");
            try (RawStream waiting = new RawStream(s.server.port(), "/v1/chat/completions", LONG.replace("3000", "4"))) {
                waiting.readUntil(": keep-alive", 2);
                awaitMetric(s, "moe4j_requests_waiting", 1);
                HttpResponse<String> r = s.post("/v1/chat/completions", SHORT);
                assertEquals(429, r.statusCode(), r.body());
                assertTrue(Integer.parseInt(r.headers().firstValue("Retry-After").orElseThrow()) >= 1);
                assertEquals("rate_limit_error", JSON.readTree(r.body()).at("/error/type").asText());
                assertEquals(1, s.metric("moe4j_requests_rejected_total"));
                assertEquals(1, s.metric("moe4j_requests_running"));

                running.close();                                        // the waiter gets the slot
                String rest = waiting.readUntil("data: [DONE]");
                assertTrue(rest.contains("\"finish_reason\":\"length\""), rest);
            } finally {
                running.close();
            }
            assertEquals(200, s.post("/v1/chat/completions", SHORT).statusCode());
        }
    }

    @Test
    void aClientThatHangsUpFreesItsSlot() throws Exception {
        try (TestServer s = tiny(Duration.ofMinutes(5))) {
            try (RawStream gone = new RawStream(s.server.port(), "/v1/chat/completions", LONG)) {
                gone.readUntil("\"content\":\"");
                assertEquals(1, s.metric("moe4j_requests_running"));
            }
            awaitMetric(s, "moe4j_requests_aborted_total", 1);
            awaitMetric(s, "moe4j_requests_running", 0);
            assertTrue(s.metric("moe4j_generation_tokens_total") < 3000);

            // hanging up while queued frees the queue place too (the keep-alive write finds out)
            try (RawStream running = new RawStream(s.server.port(), "/v1/chat/completions", LONG)) {
                running.readUntil("\"content\":\"");
                try (RawStream queued = new RawStream(s.server.port(), "/v1/chat/completions", LONG)) {
                    queued.readUntil(": keep-alive");
                }
                awaitMetric(s, "moe4j_requests_waiting", 0);
                awaitMetric(s, "moe4j_requests_aborted_total", 2);
            }
            awaitMetric(s, "moe4j_requests_aborted_total", 3);
            assertEquals(200, s.post("/v1/chat/completions", SHORT).statusCode());
        }
    }

    /** A non-streamed answer has no events to write: the newlines sent while it runs find the hang-up. */
    @Test
    void aClientThatHangsUpOnAWholeAnswerFreesItsSlot() throws Exception {
        try (TestServer s = tiny(Duration.ofMinutes(5))) {
            String whole = LONG.replace("\"stream\": true", "\"stream\": false");
            try (RawStream gone = new RawStream(s.server.port(), "/v1/chat/completions", whole)) {
                gone.readUntil("HTTP/1.1 200");
                assertEquals(1, s.metric("moe4j_requests_running"));
            }
            awaitMetric(s, "moe4j_requests_aborted_total", 1);
            awaitMetric(s, "moe4j_requests_running", 0);
            assertTrue(s.metric("moe4j_generation_tokens_total") < 3000);
            // a whole answer that outlives a probe still parses: newlines, then the JSON
            HttpResponse<String> r = s.post("/v1/chat/completions", LONG.replace("\"stream\": true", "\"stream\": false")
                    .replace("3000", "150"));
            assertEquals(200, r.statusCode());
            assertTrue(r.body().startsWith("\n"), "probes went out before the answer");
            assertEquals(150, JSON.readTree(r.body()).at("/usage/completion_tokens").asInt());
        }
    }

    @Test
    void aRequestThatWaitsTooLongGets503() throws Exception {
        try (TestServer s = tiny(Duration.ofMillis(300));
             RawStream running = new RawStream(s.server.port(), "/v1/chat/completions", LONG)) {
            running.readUntil("\"content\":\"");
            HttpResponse<String> r = s.post("/v1/chat/completions", SHORT);
            assertEquals(503, r.statusCode(), r.body());
            assertEquals("queue_timeout", JSON.readTree(r.body()).at("/error/code").asText());
            assertEquals(1, s.metric("moe4j_requests_queue_timeout_total"));
        }
    }

    @Test
    void healthIs503UntilTheModelIsReady() throws Exception {
        Server server = Server.start(TestServer.config());
        try {
            var http = java.net.http.HttpClient.newHttpClient();
            var base = java.net.URI.create("http://127.0.0.1:" + server.port());
            var health = http.send(java.net.http.HttpRequest.newBuilder(base.resolve("/health")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(503, health.statusCode());
            assertEquals("loading", JSON.readTree(health.body()).get("status").asText());
            var chat = http.send(java.net.http.HttpRequest.newBuilder(base.resolve("/v1/chat/completions"))
                    .POST(java.net.http.HttpRequest.BodyPublishers.ofString(SHORT)).build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(503, chat.statusCode());
            assertEquals("model_loading", JSON.readTree(chat.body()).at("/error/code").asText());
            assertTrue(chat.headers().firstValue("Retry-After").isPresent());

            server.ready("demo", TestServer.TOKENIZER, new ScriptedBackend("ok"));
            health = http.send(java.net.http.HttpRequest.newBuilder(base.resolve("/health")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(200, health.statusCode());
        } finally {
            server.close();
        }
    }

    @Test
    void shutdownEndsStreamsWithAFinalEventAndDone() throws Exception {
        TestServer s = tiny(Duration.ofMinutes(5));
        try (RawStream running = new RawStream(s.server.port(), "/v1/chat/completions", LONG)) {
            running.readUntil("\"content\":\"");
            CompletableFuture<Void> closing = CompletableFuture.runAsync(s::close);
            String all = running.readUntil("data: [DONE]");
            closing.get();
            List<String> events = all.lines().filter(l -> l.startsWith("data: {")).toList();
            JsonNode last = JSON.readTree(events.getLast().substring(6));
            assertEquals("insufficient_system_resource", last.at("/choices/0/finish_reason").asText());
            assertEquals(1, all.split("data: \\[DONE]", -1).length - 1);
        }
    }
}
