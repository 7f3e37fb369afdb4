package dev.moe4j.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moe4j.chat.ReasoningEffort;
import dev.moe4j.chat.ThinkingMode;
import dev.moe4j.chat.V4Encoder;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.net.http.HttpResponse;
import java.util.List;

import static dev.moe4j.server.TestServer.JSON;
import static dev.moe4j.server.TestServer.TOKENIZER;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The chat API over real HTTP on the demo model: streaming, usage, cache hits, modes, tools, prefix. */
class ChatApiTest {

    private static TestServer s;

    @BeforeAll
    static void start() throws IOException {
        s = TestServer.demo();
    }

    @AfterAll
    static void stop() {
        s.close();
    }

    private static ObjectNode request(String json) throws IOException {
        return (ObjectNode) JSON.readTree(json);
    }

    private static ObjectNode streamed(ObjectNode req, boolean usage) {
        ObjectNode r = req.deepCopy();
        r.put("stream", true);
        if (usage) {
            r.putObject("stream_options").put("include_usage", true);
        }
        return r;
    }

    @ParameterizedTest
    @ValueSource(strings = {"enabled", "disabled"})
    void streamedAnswerEqualsTheWholeAnswer(String thinking) throws Exception {
        ObjectNode req = request("""
                {"model": "demo", "messages": [{"role": "user", "content": "Tell me a story about a fox."}],
                 "thinking": {"type": "%s"}, "max_tokens": 24, "seed": 7, "temperature": 0.9, "user_id": "same-%s"}
                """.formatted(thinking, thinking));
        JsonNode whole = s.ok("/v1/chat/completions", req.toString());
        List<String> lines = s.stream("/v1/chat/completions", streamed(req, true).toString());

        assertEquals("data: [DONE]", lines.getLast());
        assertEquals(1, lines.stream().filter(l -> l.equals("data: [DONE]")).count());
        List<JsonNode> events = TestServer.events(lines);
        assertEquals("assistant", events.getFirst().at("/choices/0/delta/role").asText());
        StringBuilder reasoning = new StringBuilder(), content = new StringBuilder();
        String finish = null;
        for (JsonNode e : events) {
            assertEquals("chat.completion.chunk", e.get("object").asText());
            assertEquals(events.getFirst().get("id"), e.get("id"));
            for (JsonNode c : e.get("choices")) {
                reasoning.append(c.at("/delta/reasoning_content").asText(""));
                content.append(c.at("/delta/content").asText(""));
                if (!c.get("finish_reason").isNull()) {
                    finish = c.get("finish_reason").asText();
                }
            }
        }
        JsonNode message = whole.at("/choices/0/message");
        assertEquals(message.path("reasoning_content").asText(""), reasoning.toString());
        assertEquals(message.get("content").asText(), content.toString());
        assertEquals(thinking.equals("enabled"), message.has("reasoning_content"));
        assertEquals(whole.at("/choices/0/finish_reason").asText(), finish);

        JsonNode usage = events.getLast();
        assertEquals(0, usage.get("choices").size());
        assertEquals(whole.at("/usage/prompt_tokens"), usage.at("/usage/prompt_tokens"));
        assertEquals(whole.at("/usage/completion_tokens"), usage.at("/usage/completion_tokens"));
        assertEquals(whole.at("/usage/completion_tokens_details/reasoning_tokens"),
                usage.at("/usage/completion_tokens_details/reasoning_tokens"));
        assertTrue(usage.at("/usage/cost/total").asDouble() > 0, usage.toString());
    }

    @Test
    void noUsageChunkUnlessAsked() throws Exception {
        ObjectNode req = request("""
                {"model": "fast", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 3, "seed": 1}""");
        List<JsonNode> events = TestServer.events(s.stream("/chat/completions", streamed(req, false).toString()));
        assertTrue(events.stream().noneMatch(e -> e.has("usage")));
        assertFalse(events.getLast().at("/choices/0/finish_reason").isNull());
    }

    @Test
    void repeatedConversationHitsTheContextCache() throws Exception {
        String first = """
                {"model": "fast", "messages": [{"role": "user", "content": "What is the capital of France?"}],
                 "max_tokens": 6, "seed": 3, "user_id": "%s"}""";
        JsonNode a = s.ok("/v1/chat/completions", first.formatted("cache-user"));
        int n = a.at("/usage/prompt_tokens").asInt();
        assertEquals(0, a.at("/usage/prompt_cache_hit_tokens").asInt());
        double hitsBefore = s.metric("moe4j_prefix_cache_hit_tokens_total");

        // the same conversation again: everything up to the generation prompt's marker is a saved unit
        JsonNode b = s.ok("/v1/chat/completions", first.formatted("cache-user"));
        JsonNode u = b.get("usage");
        assertEquals(n - 1, u.get("prompt_cache_hit_tokens").asInt(), u.toString());
        assertEquals(1, u.get("prompt_cache_miss_tokens").asInt());
        assertEquals(n - 1, u.at("/prompt_tokens_details/cached_tokens").asInt());
        assertEquals(hitsBefore + n - 1, s.metric("moe4j_prefix_cache_hit_tokens_total"));

        // the next turn starts with the whole first prompt, a unit of its own
        ObjectNode next = request(first.formatted("cache-user"));
        ArrayNode msgs = (ArrayNode) next.get("messages");
        msgs.addObject().put("role", "assistant").put("content", a.at("/choices/0/message/content").asText());
        msgs.addObject().put("role", "user").put("content", "And of Italy?");
        JsonNode c = s.ok("/v1/chat/completions", next.toString());
        assertTrue(c.at("/usage/prompt_cache_hit_tokens").asInt() >= n, c.get("usage").toString());

        // another user shares nothing
        JsonNode other = s.ok("/v1/chat/completions", first.formatted("someone-else"));
        assertEquals(0, other.at("/usage/prompt_cache_hit_tokens").asInt());
    }

    @ParameterizedTest
    @CsvSource({"demo, enabled, high", "demo, disabled, high", "fast, , high", "expert, , high", "expert, , max",
            "demo, enabled, max", "fast, enabled, high"})
    void thinkingModeShapesThePromptAsTheEncoderSays(String model, String thinking, String effort) throws Exception {
        ObjectNode req = request("""
                {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello"},
                 {"role": "assistant", "content": "Hi!", "reasoning_content": "Greet back."},
                 {"role": "user", "content": "How are you?"}], "max_tokens": 1}""");
        req.put("model", model);
        if (thinking != null) {
            req.putObject("thinking").put("type", thinking);
        }
        req.put("reasoning_effort", effort);
        boolean on = thinking != null ? thinking.equals("enabled") : !model.equals("fast");
        String text = V4Encoder.encode(req.get("messages"), V4Encoder.Options.of(on ? ThinkingMode.THINKING : ThinkingMode.CHAT)
                .withEffort(effort.equals("max") ? ReasoningEffort.MAX : ReasoningEffort.HIGH));
        int[] want = TOKENIZER.encode(text, true);

        JsonNode r = s.ok("/v1/chat/completions", req.toString());
        assertEquals(want.length, r.at("/usage/prompt_tokens").asInt());
        JsonNode tokens = s.ok("/tokenize", req.toString()).get("tokens");
        assertEquals(JSON.valueToTree(want), tokens);
        int last = tokens.get(tokens.size() - 1).asInt();
        assertEquals(TOKENIZER.tokenId(on ? "<think>" : "</think>").getAsInt(), last);
    }

    @Test
    void toolCallHistoryWithReasoningIsAcceptedAndEncoded() throws Exception {
        ObjectNode req = request("""
                {"model": "expert", "max_tokens": 2,
                 "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Weather of a city",
                   "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}],
                 "messages": [{"role": "user", "content": "Weather in Paris?"},
                  {"role": "assistant", "content": "", "reasoning_content": "I need the weather tool.",
                   "tool_calls": [{"id": "call_1", "type": "function",
                     "function": {"name": "get_weather", "arguments": "{\\"city\\": \\"Paris\\"}"}}]},
                  {"role": "tool", "tool_call_id": "call_1", "content": "22 C, sunny"}]}""");
        ArrayNode expected = JSON.createArrayNode();
        expected.addObject().put("role", "system").put("content", "").set("tools", req.get("tools"));
        expected.addAll((ArrayNode) req.get("messages"));
        String text = V4Encoder.encode(expected, V4Encoder.Options.of(ThinkingMode.THINKING));

        JsonNode r = s.ok("/v1/chat/completions", req.toString());
        assertEquals(TOKENIZER.encode(text, true).length, r.at("/usage/prompt_tokens").asInt());
        JsonNode tokens = s.ok("/tokenize", req.toString()).get("tokens");
        String prompt = s.ok("/detokenize", JSON.createObjectNode().set("tokens", tokens).toString()).get("prompt").asText();
        assertEquals(text, prompt);
        assertTrue(prompt.contains("I need the weather tool.</think>"), prompt);
        assertTrue(prompt.contains("<tool_result>22 C, sunny</tool_result>"), prompt);
        assertTrue(prompt.contains("<｜DSML｜invoke name=\"get_weather\">"), prompt);
    }

    @Test
    void prefixCompletionOnlyOnBeta() throws Exception {
        ObjectNode req = request("""
                {"model": "fast", "max_tokens": 4, "seed": 5, "stop": ["```"],
                 "messages": [{"role": "user", "content": "Write a hello world in Python"},
                  {"role": "assistant", "content": "```python\\n", "prefix": true}]}""");
        ArrayNode expected = ((ArrayNode) req.get("messages")).deepCopy();
        ((ObjectNode) expected.get(1)).remove("prefix");
        ((ObjectNode) expected.get(1)).put("wo_eos", true);
        String text = V4Encoder.encode(expected, V4Encoder.Options.of(ThinkingMode.CHAT));
        assertTrue(text.endsWith("```python\n"), text);

        JsonNode r = s.ok("/beta/chat/completions", req.toString());
        assertEquals(TOKENIZER.encode(text, true).length, r.at("/usage/prompt_tokens").asInt());

        HttpResponse<String> plain = s.post("/v1/chat/completions", req.toString());
        assertEquals(400, plain.statusCode(), plain.body());
        assertEquals("messages[1].prefix", JSON.readTree(plain.body()).at("/error/param").asText());
    }

    @Test
    void stopStringCutsTheAnswer() throws Exception {
        ObjectNode req = request("""
                {"model": "fast", "messages": [{"role": "user", "content": "Count"}], "max_tokens": 20,
                 "seed": 11, "ignore_eos": true}""");
        String full = s.ok("/v1/chat/completions", req.toString()).at("/choices/0/message/content").asText();
        assertTrue(full.length() > 6, full);
        String stop = full.substring(3, 6);
        req.put("stop", stop);
        JsonNode cut = s.ok("/v1/chat/completions", req.toString());
        assertEquals(full.substring(0, full.indexOf(stop)), cut.at("/choices/0/message/content").asText());
        assertEquals("stop", cut.at("/choices/0/finish_reason").asText());
    }

    @Test
    void logprobsCarryTheTopAlternatives() throws Exception {
        JsonNode r = s.ok("/v1/chat/completions", """
                {"model": "fast", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 5, "seed": 2,
                 "ignore_eos": true, "logprobs": true, "top_logprobs": 3}""");
        JsonNode content = r.at("/choices/0/logprobs/content");
        assertTrue(content.size() >= 1 && content.size() <= 5, content.toString());
        for (JsonNode t : content) {
            assertEquals(3, t.get("top_logprobs").size());
            assertTrue(t.get("logprob").asDouble() <= 0);
            assertTrue(t.get("logprob").asDouble() <= t.at("/top_logprobs/0/logprob").asDouble() + 1e-6);
            assertTrue(t.get("bytes").isArray());
        }
        assertNotEquals(0, r.at("/usage/completion_tokens").asInt());
    }
}
