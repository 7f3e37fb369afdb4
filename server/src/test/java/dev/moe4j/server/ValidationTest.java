package dev.moe4j.server;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.net.http.HttpResponse;
import java.util.stream.Stream;

import static dev.moe4j.server.TestServer.JSON;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.params.provider.Arguments.arguments;

/** Every kind of bad request gets its status and an OpenAI-shaped error naming the field; the server carries on. */
class ValidationTest {

    private static final String CHAT = "/v1/chat/completions";
    private static final String OK_MESSAGES = "\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]";

    private static TestServer s;

    @BeforeAll
    static void start() throws IOException {
        s = TestServer.demo();
    }

    @AfterAll
    static void stop() {
        s.close();
    }

    /** A valid chat request with {@code extra} fields added. */
    private static String chat(String extra) {
        return "{\"model\": \"demo\", " + OK_MESSAGES + ", \"max_tokens\": 2" + (extra.isEmpty() ? "" : ", " + extra) + "}";
    }

    private static String messages(String messages) {
        return "{\"model\": \"demo\", \"max_tokens\": 2, \"messages\": " + messages + "}";
    }

    static Stream<Arguments> badRequests() {
        String longText = "word ".repeat(5000);
        return Stream.of(
                // body format
                arguments(CHAT, "{\"model\": ", 400, null),
                arguments(CHAT, "[]", 400, null),
                arguments(CHAT, "{\"model\": \"demo\", \"model\": \"demo\", " + OK_MESSAGES + "}", 400, null),
                arguments(CHAT, chat("") + " {}", 400, null),
                // messages
                arguments(CHAT, "{\"model\": \"demo\"}", 400, "messages"),
                arguments(CHAT, messages("[]"), 400, "messages"),
                arguments(CHAT, messages("{\"role\": \"user\"}"), 400, "messages"),
                arguments(CHAT, messages("[\"hi\"]"), 400, "messages[0]"),
                arguments(CHAT, messages("[{\"role\": \"wizard\", \"content\": \"hi\"}]"), 400, "messages[0].role"),
                arguments(CHAT, messages("[{\"role\": 7, \"content\": \"hi\"}]"), 400, "messages[0].role"),
                arguments(CHAT, messages("[{\"content\": \"hi\"}]"), 400, "messages[0].role"),
                arguments(CHAT, messages("[{\"role\": \"user\", \"content\": 42}]"), 400, "messages[0].content"),
                arguments(CHAT, messages("[{\"role\": \"user\", \"content\": [{\"type\": \"image_url\", \"image_url\": {\"url\": \"x\"}}]}]"),
                        422, "messages[0].content"),
                arguments(CHAT, messages("[{\"role\": \"user\", \"content\": \"hi\"}, {\"role\": \"assistant\", \"content\": \"yo\"}]"),
                        400, "messages"),
                arguments(CHAT, messages("[{\"role\": \"user\", \"content\": \"hi\"}, {\"role\": \"tool\", \"content\": \"r\"}]"),
                        400, "messages[1].tool_call_id"),
                arguments(CHAT, messages("[{\"role\": \"user\", \"content\": \"hi\"}, {\"role\": \"assistant\", \"tool_calls\": "
                        + "[{\"id\": \"c\", \"type\": \"function\", \"function\": {\"name\": \"f\", \"arguments\": \"{bad\"}}]},"
                        + " {\"role\": \"tool\", \"tool_call_id\": \"c\", \"content\": \"r\"}]"), 400, "messages"),
                arguments(CHAT, messages("[{\"role\": \"user\", \"content\": \"" + longText + "\"}]"), 422, "messages"),
                // model and modes
                arguments(CHAT, chat("\"model\": \"gpt-4\"").replace("\"model\": \"demo\", ", ""), 400, "model"),
                arguments(CHAT, chat("").replace("\"demo\"", "42"), 400, "model"),
                arguments(CHAT, chat("\"thinking\": {\"type\": \"maybe\"}"), 422, "thinking.type"),
                arguments(CHAT, chat("\"thinking\": \"on\""), 400, "thinking"),
                arguments(CHAT, chat("\"reasoning_effort\": \"extreme\""), 422, "reasoning_effort"),
                arguments(CHAT, chat("\"response_format\": {\"type\": \"json_schema\"}"), 422, "response_format.type"),
                // numbers
                arguments(CHAT, chat("\"temperature\": \"hot\""), 400, "temperature"),
                arguments(CHAT, chat("\"temperature\": 3"), 422, "temperature"),
                arguments(CHAT, chat("\"temperature\": -0.5"), 422, "temperature"),
                arguments(CHAT, chat("\"top_p\": 0"), 422, "top_p"),
                arguments(CHAT, chat("\"top_p\": 1.5"), 422, "top_p"),
                arguments(CHAT, chat("\"top_p\": [1]"), 400, "top_p"),
                arguments(CHAT, chat("\"top_k\": -2"), 422, "top_k"),
                arguments(CHAT, chat("").replace("\"max_tokens\": 2", "\"max_tokens\": 0"), 422, "max_tokens"),
                arguments(CHAT, chat("").replace("\"max_tokens\": 2", "\"max_tokens\": -5"), 422, "max_tokens"),
                arguments(CHAT, chat("").replace("\"max_tokens\": 2", "\"max_tokens\": 1.5"), 400, "max_tokens"),
                arguments(CHAT, chat("").replace("\"max_tokens\": 2", "\"max_tokens\": \"10\""), 400, "max_tokens"),
                arguments(CHAT, chat("").replace("\"max_tokens\": 2", "\"max_tokens\": 5000"), 422, "max_tokens"),
                arguments(CHAT, chat("").replace("\"max_tokens\": 2", "\"max_tokens\": 99999999999"), 422, "max_tokens"),
                arguments(CHAT, chat("\"presence_penalty\": 3"), 422, "presence_penalty"),
                arguments(CHAT, chat("\"frequency_penalty\": -2.5"), 422, "frequency_penalty"),
                arguments(CHAT, chat("\"presence_penalty\": \"a\""), 400, "presence_penalty"),
                arguments(CHAT, chat("\"logprobs\": true, \"top_logprobs\": 21"), 422, "top_logprobs"),
                arguments(CHAT, chat("\"top_logprobs\": 2"), 422, "top_logprobs"),
                arguments(CHAT, chat("\"logprobs\": \"yes\""), 400, "logprobs"),
                arguments(CHAT, chat("\"n\": 2"), 422, "n"),
                arguments(CHAT, chat("\"seed\": \"x\""), 400, "seed"),
                arguments(CHAT, chat("\"seed\": 1.5"), 400, "seed"),
                arguments(CHAT, chat("\"seed\": 1180591620717411303424"), 422, "seed"),
                arguments(CHAT, chat("\"stream\": \"yes\""), 400, "stream"),
                arguments(CHAT, chat("\"stream_options\": {\"include_usage\": 1}"), 400, "stream_options.include_usage"),
                arguments(CHAT, chat("\"stop\": 5"), 400, "stop"),
                arguments(CHAT, chat("\"stop\": [\"\"]"), 422, "stop"),
                arguments(CHAT, chat("\"stop\": [" + "\"x\",".repeat(16) + "\"y\"]"), 422, "stop"),
                arguments(CHAT, chat("\"user_id\": \"" + "u".repeat(600) + "\""), 422, "user_id"),
                // tools
                arguments(CHAT, chat("\"tools\": {}"), 400, "tools"),
                arguments(CHAT, chat("\"tools\": [{\"type\": \"function\", \"function\": {\"name\": \"bad name\"}}]"),
                        422, "tools[0].function.name"),
                arguments(CHAT, chat("\"tools\": [{\"type\": \"retrieval\"}]"), 400, "tools[0]"),
                arguments(CHAT, chat("\"tools\": [{\"type\": \"function\", \"function\": {\"name\": \"f\"}}], "
                        + "\"tool_choice\": {\"type\": \"function\", \"function\": {\"name\": \"g\"}}"), 422, "tool_choice"),
                arguments(CHAT, chat("\"tool_choice\": \"required\""), 422, "tool_choice"),
                // completions
                arguments("/v1/completions", "{\"model\": \"demo\"}", 400, "prompt"),
                arguments("/v1/completions", "{\"prompt\": []}", 422, "prompt"),
                arguments("/v1/completions", "{\"prompt\": {}}", 400, "prompt"),
                arguments("/v1/completions", "{\"prompt\": [99999]}", 422, "prompt"),
                arguments("/v1/completions", "{\"prompt\": [1, \"a\"]}", 400, "prompt"),
                arguments("/v1/completions", "{\"prompt\": [\"a\", \"b\"]}", 422, "prompt"),
                arguments("/v1/completions", "{\"prompt\": \"a\", \"logprobs\": 21}", 422, "logprobs"),
                arguments("/v1/completions", "{\"prompt\": \"a\", \"suffix\": \"b\", \"echo\": true}", 422, "echo"),
                arguments("/v1/completions", "{\"prompt\": [1, 2], \"suffix\": \"b\"}", 422, "suffix"),
                arguments("/v1/completions", "{\"prompt\": \"a\", \"max_tokens\": 4096}", 422, "max_tokens"),
                // tokenizer endpoints
                arguments("/tokenize", "{}", 400, "prompt"),
                arguments("/detokenize", "{\"tokens\": [-1]}", 422, "tokens"),
                arguments("/detokenize", "{\"tokens\": \"x\"}", 400, "tokens"));
    }

    @ParameterizedTest(name = "{0} {2} {3}")
    @MethodSource("badRequests")
    void badRequestsGetTheirErrorAndTheServerCarriesOn(String path, String body, int status, String param) throws Exception {
        HttpResponse<String> r = s.post(path, body);
        assertEquals(status, r.statusCode(), r.body());
        assertTrue(r.headers().firstValue("Content-Type").orElse("").startsWith("application/json"));
        JsonNode e = JSON.readTree(r.body()).get("error");
        assertTrue(e.get("message").isTextual() && !e.get("message").asText().isEmpty(), r.body());
        assertTrue(e.get("type").isTextual() && e.get("code").isTextual(), r.body());
        assertEquals(param, e.get("param").isNull() ? null : e.get("param").asText(), r.body());
        assertEquals(200, s.post(CHAT, chat("\"max_tokens\": 1").replace("\"max_tokens\": 2, ", "")).statusCode());
    }

    @Test
    void contextOverflowAndUnknownModelCodes() throws Exception {
        JsonNode e = JSON.readTree(s.post(CHAT, chat("").replace("\"max_tokens\": 2", "\"max_tokens\": 5000")).body());
        assertEquals("context_length_exceeded", e.at("/error/code").asText());
        e = JSON.readTree(s.post(CHAT, chat("").replace("\"demo\"", "\"nope\"")).body());
        assertEquals("model_not_found", e.at("/error/code").asText());
    }

    @Test
    void hugeBodiesAreRefusedUnread() throws Exception {
        String huge = "{\"model\": \"demo\", \"messages\": [{\"role\": \"user\", \"content\": \"" + "x".repeat(5 << 20) + "\"}]}";
        HttpResponse<String> r = s.post(CHAT, huge);
        assertEquals(413, r.statusCode(), r.body());
        assertEquals("request_too_large", JSON.readTree(r.body()).at("/error/code").asText());
        assertEquals(200, s.post(CHAT, chat("")).statusCode());
    }

    @Test
    void deepNestingIsRefused() throws Exception {
        String deep = "[".repeat(5000) + "]".repeat(5000);
        HttpResponse<String> r = s.post(CHAT, "{\"model\": \"demo\", \"x\": " + deep + "}");
        assertEquals(400, r.statusCode(), r.body());
    }

    @Test
    void unknownPathsAndMethods() throws Exception {
        HttpResponse<String> r = s.get("/v2/whatever");
        assertEquals(404, r.statusCode());
        assertEquals("not_found", JSON.readTree(r.body()).at("/error/code").asText());
        r = s.get(CHAT);
        assertEquals(405, r.statusCode());
        assertEquals("POST", r.headers().firstValue("Allow").orElseThrow());
        assertEquals(404, s.get("/web/../../secret").statusCode());
        assertEquals(404, s.get("/web/no-such-file.js").statusCode());
    }
}
