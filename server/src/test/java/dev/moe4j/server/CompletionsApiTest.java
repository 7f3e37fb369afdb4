package dev.moe4j.server;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.http.HttpResponse;
import java.util.List;

import static dev.moe4j.server.TestServer.JSON;
import static dev.moe4j.server.TestServer.TOKENIZER;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** /v1/completions (text, ids, echo, logprobs, FIM), /tokenize, /detokenize, /v1/models and /metrics. */
class CompletionsApiTest {

    private static TestServer s;

    @BeforeAll
    static void start() throws IOException {
        s = TestServer.demo();
    }

    @AfterAll
    static void stop() {
        s.close();
    }

    private static int bos() {
        return TOKENIZER.bos().orElseThrow().id();
    }

    @Test
    void textPromptGetsBosAndAStreamThatMatches() throws Exception {
        String req = "{\"model\": \"demo\", \"prompt\": \"The quick brown fox\", \"max_tokens\": 6, \"seed\": 3, \"ignore_eos\": true}";
        JsonNode r = s.ok("/v1/completions", req);
        assertEquals("text_completion", r.get("object").asText());
        assertEquals(1 + TOKENIZER.encode("The quick brown fox", true).length, r.at("/usage/prompt_tokens").asInt());
        assertEquals(6, r.at("/usage/completion_tokens").asInt());
        assertEquals("length", r.at("/choices/0/finish_reason").asText());

        List<String> lines = s.stream("/v1/completions", req.replace("}", ", \"stream\": true, \"stream_options\": {\"include_usage\": true}}"));
        StringBuilder text = new StringBuilder();
        for (JsonNode e : TestServer.events(lines)) {
            for (JsonNode c : e.get("choices")) {
                text.append(c.get("text").asText());
            }
        }
        assertEquals(r.at("/choices/0/text").asText(), text.toString());
        assertEquals("data: [DONE]", lines.getLast());
        assertEquals(6, TestServer.events(lines).getLast().at("/usage/completion_tokens").asInt());
    }

    @Test
    void idPromptEchoAndLogprobs() throws Exception {
        JsonNode r = s.ok("/v1/completions", """
                {"prompt": [5, 17, 42], "max_tokens": 4, "seed": 9, "echo": true, "logprobs": 2, "ignore_eos": true}""");
        assertEquals(3, r.at("/usage/prompt_tokens").asInt());
        String text = r.at("/choices/0/text").asText();
        assertTrue(text.startsWith(TOKENIZER.decode(new int[] {5, 17, 42})), text);
        JsonNode lp = r.at("/choices/0/logprobs");
        assertEquals(7, lp.get("tokens").size());
        assertEquals(7, lp.get("token_logprobs").size());
        for (int i = 0; i < 7; i++) {
            // the first prompt token has nothing before it to be scored by; the others are scored
            assertEquals(i == 0, lp.get("token_logprobs").get(i).isNull(), lp.toString());
            assertEquals(i == 0, lp.get("top_logprobs").get(i).isNull());
            if (i > 0) {
                assertTrue(lp.get("token_logprobs").get(i).asDouble() <= 0);
                assertTrue(lp.get("top_logprobs").get(i).size() >= 1 && lp.get("top_logprobs").get(i).size() <= 2);
            }
            assertTrue(i == 0 || lp.get("text_offset").get(i).asInt() >= lp.get("text_offset").get(i - 1).asInt());
        }
    }

    /**
     * The score of prompt token k is the distribution after tokens 0..k-1: the same as the first
     * generated token's logprobs for the prompt cut before k. Streamed, the echo arrives scored too.
     */
    @Test
    void echoedPromptLogprobsAreTheModelsDistribution() throws Exception {
        int[] ids = {7, 300, 12, 99, 512, 64, 31, 8, 250, 3};
        String all = java.util.Arrays.toString(ids);
        JsonNode scored = s.ok("/v1/completions", "{\"prompt\": " + all
                + ", \"max_tokens\": 0, \"echo\": true, \"logprobs\": 5}");
        JsonNode lp = scored.at("/choices/0/logprobs");
        assertEquals(ids.length, lp.get("tokens").size(), "max_tokens 0 with echo: the prompt only");
        assertEquals(0, scored.at("/usage/completion_tokens").asInt());
        for (int k : new int[] {1, 4, 9}) {
            String cut = java.util.Arrays.toString(java.util.Arrays.copyOf(ids, k));
            JsonNode next = s.ok("/v1/completions", "{\"prompt\": " + cut
                    + ", \"max_tokens\": 1, \"temperature\": 0, \"logprobs\": 5, \"ignore_eos\": true}");
            JsonNode top = next.at("/choices/0/logprobs/top_logprobs/0");
            JsonNode got = lp.get("top_logprobs").get(k);
            assertEquals(top.size(), got.size(), "position " + k);
            for (var e : top.properties()) {
                assertEquals(e.getValue().asDouble(), got.get(e.getKey()).asDouble(), 1e-5, "position " + k + " " + e.getKey());
            }
            if (top.has(lp.get("tokens").get(k).asText())) {
                assertEquals(top.get(lp.get("tokens").get(k).asText()).asDouble(),
                        lp.get("token_logprobs").get(k).asDouble(), 1e-5);
            }
        }
        HttpResponse<String> streamed = s.post("/v1/completions", "{\"prompt\": " + all
                + ", \"max_tokens\": 2, \"echo\": true, \"logprobs\": 5, \"stream\": true, \"ignore_eos\": true}");
        JsonNode first = JSON.readTree(streamed.body().lines().filter(l -> l.startsWith("data: {")).findFirst()
                .orElseThrow().substring(6));
        JsonNode firstLp = first.at("/choices/0/logprobs");
        assertEquals(ids.length, firstLp.get("tokens").size(), "the whole prompt in the first event");
        assertEquals(lp.get("token_logprobs"), firstLp.get("token_logprobs"));
    }

    @Test
    void fillInTheMiddleThroughSuffix() throws Exception {
        String prefix = "def add(a, b):\n", suffix = "\n    return c\n";
        JsonNode r = s.ok("/beta/completions", JSON.createObjectNode().put("model", "demo").put("prompt", prefix)
                .put("suffix", suffix).put("max_tokens", 3).toString());
        int want = 2 + TOKENIZER.encode(prefix, false).length + 1 + TOKENIZER.encode(suffix, false).length + 1;
        assertEquals(want, r.at("/usage/prompt_tokens").asInt());
        // the same through /v1: a text that spells the FIM tokens itself is still just text there
        JsonNode plain = s.ok("/v1/completions", "{\"prompt\": \"<｜fim▁begin｜>x\", \"max_tokens\": 1, \"suffix\": \"y\"}");
        assertEquals(2 + TOKENIZER.encode("<｜fim▁begin｜>x", false).length + 1 + 1 + 1,
                plain.at("/usage/prompt_tokens").asInt());
    }

    @Test
    void tokenizeAndDetokenizeRoundTrip() throws Exception {
        JsonNode t = s.ok("/tokenize", "{\"prompt\": \"Hello, world! ☃\", \"return_token_strs\": true}");
        assertEquals(bos(), t.get("tokens").get(0).asInt());
        assertEquals(t.get("tokens").size(), t.get("count").asInt());
        assertEquals(4096, t.get("max_model_len").asInt());
        assertEquals(t.get("tokens").size(), t.get("token_strs").size());
        JsonNode plain = s.ok("/tokenize", "{\"prompt\": \"Hello, world! ☃\", \"add_special_tokens\": false}");
        assertEquals(t.get("count").asInt() - 1, plain.get("count").asInt());
        JsonNode d = s.ok("/detokenize", JSON.createObjectNode().set("tokens", plain.get("tokens")).toString());
        assertEquals("Hello, world! ☃", d.get("prompt").asText());
    }

    @Test
    void modelsListsTheModelAndTheModeAliases() throws Exception {
        HttpResponse<String> r = s.get("/v1/models");
        assertEquals(200, r.statusCode());
        JsonNode m = JSON.readTree(r.body());
        assertEquals("list", m.get("object").asText());
        assertEquals(List.of("demo", "fast", "expert"), m.get("data").findValuesAsText("id"));
        assertEquals(4096, m.at("/data/0/max_model_len").asInt());
        assertEquals(r.body(), s.get("/models").body());
    }

    @Test
    void theWebPageIsServedFromTheClasspath() throws Exception {
        HttpResponse<String> r = s.get("/");
        if (Server.class.getResource("web/index.html") != null) {
            assertEquals(200, r.statusCode());
            assertTrue(r.headers().firstValue("Content-Type").orElseThrow().startsWith("text/html"));
        } else {
            assertEquals(404, r.statusCode());
            assertTrue(JSON.readTree(r.body()).at("/error/message").asText().contains("web/index.html"));
        }
    }

    @Test
    void metricsHaveTheNamedSeries() throws Exception {
        s.ok("/v1/chat/completions", "{\"model\": \"fast\", \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"max_tokens\": 3}");
        HttpResponse<String> r = s.get("/metrics");
        assertEquals(200, r.statusCode());
        assertTrue(r.headers().firstValue("Content-Type").orElseThrow().startsWith("text/plain; version=0.0.4"));
        String body = r.body();
        for (String series : List.of("requests_running gauge", "requests_waiting gauge", "kv_cache_tokens_used gauge",
                "kv_cache_usage_ratio gauge", "prefix_cache_entries gauge", "prefix_cache_bytes gauge",
                "prefix_cache_hit_tokens_total counter", "prompt_tokens_total counter", "generation_tokens_total counter",
                "requests_aborted_total counter", "requests_rejected_total counter",
                "time_to_first_token_seconds histogram", "inter_token_latency_seconds histogram")) {
            assertTrue(body.contains("# TYPE moe4j_" + series + "\n"), series);
        }
        assertTrue(s.metric("moe4j_generation_tokens_total") >= 1);
        assertTrue(s.metric("moe4j_time_to_first_token_seconds_count") >= 1);
        assertTrue(body.contains("moe4j_time_to_first_token_seconds_bucket{le=\"+Inf\"} "), body);
        assertTrue(s.metric("moe4j_prompt_tokens_total") > 0);
    }
}
