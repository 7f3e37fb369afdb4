package dev.moe4j.server.clients;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The official OpenAI Node SDK (npm {@code openai}) against the server, through
 * {@code src/test/node/openai-sdk.mjs}: models, a chat completion, streamed ones (the SDK's own SSE and
 * {@code [DONE]} handling), thinking on, tool-call round trips and an error body, over an API key. The
 * tool calls run twice: on the demo model (tools and a call history accepted, valid answers) and on the
 * {@link WeatherToolBackend}, whose real {@code tool_calls} the SDK parses, and its tool runner answers.
 */
class OpenAiNodeSdkTest {

    static final Set<String> FINISH_REASONS = Set.of("stop", "length", "tool_calls");
    private static final String KEY = "sk-node-sdk-test";
    private static DemoServer server;
    private static DemoServer tools;
    private static JsonNode result;

    @BeforeAll
    static void run() throws Exception {
        NodeScripts.requirePackages("openai");
        server = DemoServer.start(KEY);
        tools = DemoServer.weatherTool(KEY);
        result = NodeScripts.run("openai-sdk.mjs", Duration.ofSeconds(60),
                "--base-url", server.baseUrl() + "/v1", "--tool-base-url", tools.baseUrl() + "/v1", "--api-key", KEY);
    }

    @AfterAll
    static void stop() {
        if (server != null) {
            server.close();
        }
        if (tools != null) {
            tools.close();
        }
    }

    private static JsonNode step(String name) {
        JsonNode s = result.path(name);
        assertFalse(s.isMissingNode(), "no result for " + name + ": " + result);
        assertFalse(s.has("error"), name + " failed in the SDK: " + s.path("error"));
        return s;
    }

    @Test
    void listsTheServedModel() {
        JsonNode ids = step("models").path("ids");
        assertTrue(ids.toString().contains("\"" + server.modelName() + "\""), ids.toString());
        assertEquals(server.modelName(), result.path("model").asText());
        assertFalse(result.path("sdkVersion").asText().isEmpty(), "the SDK's version: " + result);
    }

    @Test
    void chatCompletion() {
        JsonNode c = step("chat");
        assertEquals("chat.completion", c.path("object").asText());
        assertFalse(c.path("id").asText().isEmpty());
        assertTrue(c.path("created").asLong() > 0);
        assertEquals(1, c.path("choices").asInt());
        assertEquals("assistant", c.path("role").asText());
        assertTrue(c.path("content").isTextual(), c.toString());
        assertTrue(FINISH_REASONS.contains(c.path("finishReason").asText()), c.toString());
        assertUsage(c.path("usage"));
        assertEquals(0, c.path("usage").path("completion_tokens_details").path("reasoning_tokens").asInt(),
                "thinking disabled: no reasoning tokens");
    }

    @Test
    void streamedChatEndsAtDoneAndMatchesTheAnswer() {
        JsonNode s = step("stream");
        assertTrue(s.path("chunks").asInt() >= 2, s.toString());
        assertEquals("[\"chat.completion.chunk\"]", s.path("objects").toString());
        assertEquals(1, s.path("distinctIds").asInt(), "one id for every chunk of a stream");
        assertTrue(FINISH_REASONS.contains(s.path("finishReason").asText()), s.toString());
        assertUsage(s.path("usage"));
        assertEquals(0, s.path("usageChunkChoices").asInt(), "the usage chunk has empty choices");
        // same request, same seed, temperature 0: the deltas add up to the non-streamed answer
        assertEquals(step("chat").path("content").asText(), s.path("content").asText());
        assertEquals(step("chat").path("usage").path("completion_tokens").asInt(),
                s.path("usage").path("completion_tokens").asInt());
    }

    @Test
    void streamedThinkingGivesReasoningFirst() {
        JsonNode s = step("streamThinking");
        assertFalse(s.path("reasoning").asText().isEmpty(), "thinking enabled streams reasoning_content: " + s);
        assertFalse(s.path("reasoningAfterContent").asBoolean(), "reasoning deltas come before content: " + s);
        assertTrue(FINISH_REASONS.contains(s.path("finishReason").asText()), s.toString());
        assertUsage(s.path("usage"));
        assertTrue(s.path("usage").path("completion_tokens_details").path("reasoning_tokens").asInt() > 0, s.toString());
    }

    @Test
    void toolCallRoundTrip() {
        JsonNode offered = step("toolsOffered");
        assertEquals("chat.completion", offered.path("object").asText());
        assertTrue(FINISH_REASONS.contains(offered.path("finishReason").asText()), offered.toString());
        assertUsage(offered.path("usage"));
        if (offered.path("toolCalls").isArray()) {
            for (JsonNode call : offered.path("toolCalls")) {
                assertEquals("function", call.path("type").asText(), call.toString());
                assertFalse(call.path("id").asText().isEmpty(), call.toString());
                assertTrue(call.path("function").path("arguments").isTextual(), call.toString());
            }
        }
        // the assistant's tool call (with its reasoning) and the tool's result are accepted back
        JsonNode back = step("toolRoundTrip");
        assertEquals("chat.completion", back.path("object").asText());
        assertEquals("assistant", back.path("role").asText());
        assertTrue(FINISH_REASONS.contains(back.path("finishReason").asText()), back.toString());
        assertUsage(back.path("usage"));
        assertTrue(back.path("usage").path("prompt_tokens").asInt() > offered.path("usage").path("prompt_tokens").asInt(),
                "the tool call and its result are in the prompt: " + back.path("usage") + " vs " + offered.path("usage"));

        JsonNode streamed = step("toolRoundTripStream");
        assertTrue(FINISH_REASONS.contains(streamed.path("finishReason").asText()), streamed.toString());
        assertUsage(streamed.path("usage"));
    }

    @Test
    void realToolCallsByHand() throws Exception {
        JsonNode s = step("weatherByHand");
        JsonNode first = s.path("first");
        assertEquals("tool_calls", first.path("finishReason").asText(), first.toString());
        JsonNode call = first.path("toolCalls").path(0);
        assertEquals("function", call.path("type").asText(), call.toString());
        assertEquals(WeatherToolBackend.TOOL, call.path("function").path("name").asText(), call.toString());
        assertFalse(call.path("id").asText().isEmpty(), call.toString());
        assertEquals("{\"city\":\"Paris\"}", s.path("arguments").toString());
        assertFalse(first.path("reasoningContent").asText().isEmpty(), "thinking is on by default: " + first);
        assertUsage(first.path("usage"));
        JsonNode second = s.path("second");
        assertEquals("stop", second.path("finishReason").asText(), second.toString());
        assertEquals(WeatherToolBackend.ANSWER, second.path("content").asText(), second.toString());
        assertTrue(second.path("toolCalls").isNull() || second.path("toolCalls").isEmpty(), second.toString());
    }

    @Test
    void sdkToolRunnerDoesTheRoundTrip() {
        for (String name : new String[]{"weatherRunTools", "weatherRunToolsStream"}) {
            JsonNode s = step(name);
            assertEquals(WeatherToolBackend.ANSWER, s.path("content").asText(), name + ": " + s);
            assertEquals("[{\"city\":\"Paris\"}]", s.path("seen").toString(), name + ": the SDK called the function once: " + s);
            // user, the assistant's call, the tool's result, the answer
            assertEquals("[\"user\",\"assistant\",\"tool\",\"assistant\"]", s.path("messages").toString(), name + ": " + s);
        }
        JsonNode streamed = step("weatherRunToolsStream");
        assertEquals(WeatherToolBackend.ANSWER, streamed.path("deltas").asText(), "content deltas of the stream: " + streamed);
        assertEquals(1, streamed.path("calls").size(), streamed.toString());
        assertEquals(WeatherToolBackend.TOOL, streamed.path("calls").path(0).path("name").asText(), streamed.toString());
        assertTrue(streamed.path("usage").path("total_tokens").asInt() > 0, "usage over both requests: " + streamed);
        // three round trips (by hand, runner, streamed runner): three calls made, three results answered
        assertEquals(3, tools.weather().calls.get());
        assertEquals(3, tools.weather().answers.get());
    }

    @Test
    void errorBodyReachesTheSdk() {
        JsonNode e = step("badRequest");
        int status = e.path("status").asInt();
        assertTrue(status == 400 || status == 422, "max_tokens < 1 is refused: " + e);
        assertFalse(e.path("message").asText().isEmpty(), e.toString());
    }

    static void assertUsage(JsonNode u) {
        assertNotNull(u, "usage");
        assertTrue(u.isObject(), "usage: " + u);
        int prompt = u.path("prompt_tokens").asInt(-1);
        int completion = u.path("completion_tokens").asInt(-1);
        assertTrue(prompt > 0, u.toString());
        assertTrue(completion > 0, u.toString());
        assertEquals(prompt + completion, u.path("total_tokens").asInt(), u.toString());
        assertEquals(prompt, u.path("prompt_cache_hit_tokens").asInt() + u.path("prompt_cache_miss_tokens").asInt(),
                u.toString());
        assertEquals(u.path("prompt_cache_hit_tokens").asInt(), u.path("prompt_tokens_details").path("cached_tokens").asInt(),
                u.toString());
        assertTrue(u.path("completion_tokens_details").path("reasoning_tokens").isInt(), u.toString());
        assertTrue(u.path("cost").path("total").isNumber(), "cost from the price table: " + u);
    }
}
