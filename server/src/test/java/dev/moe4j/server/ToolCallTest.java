package dev.moe4j.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moe4j.chat.ThinkingMode;
import dev.moe4j.chat.V4Encoder;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.List;

import static dev.moe4j.server.TestServer.JSON;
import static dev.moe4j.server.TestServer.TOKENIZER;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The DSML → tool_calls mapping over HTTP, and the round trip back into the prompt. The random demo
 * model never writes a tool call, so a scripted backend "generates" one in the V4 format.
 */
class ToolCallTest {

    private static final String CALL = """
            I will look it up.

            <｜DSML｜tool_calls>
            <｜DSML｜invoke name="get_weather">
            <｜DSML｜parameter name="city" string="true">Paris</｜DSML｜parameter>
            <｜DSML｜parameter name="days" string="false">3</｜DSML｜parameter>
            </｜DSML｜invoke>
            </｜DSML｜tool_calls>""";
    private static final String REQUEST = """
            {"model": "expert", "max_tokens": 200,
             "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Weather of a city",
               "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"}}}}}],
             "messages": [{"role": "user", "content": "Weather in Paris for 3 days?"}]}""";

    private static ScriptedBackend backend;
    private static TestServer s;

    @BeforeAll
    static void start() throws IOException {
        backend = new ScriptedBackend("The user wants the weather.</think>" + CALL);
        s = TestServer.of(TestServer.config(), backend);
    }

    @AfterAll
    static void stop() {
        s.close();
    }

    @Test
    void wholeAnswerCarriesTheToolCall() throws Exception {
        JsonNode r = s.ok("/v1/chat/completions", REQUEST);
        JsonNode choice = r.at("/choices/0");
        assertEquals("tool_calls", choice.get("finish_reason").asText());
        JsonNode m = choice.get("message");
        assertEquals("The user wants the weather.", m.get("reasoning_content").asText());
        assertEquals("I will look it up.", m.get("content").asText());
        JsonNode call = m.at("/tool_calls/0");
        assertTrue(call.get("id").asText().startsWith("call_"), call.toString());
        assertEquals("function", call.get("type").asText());
        assertEquals("get_weather", call.at("/function/name").asText());
        assertEquals(JSON.readTree("{\"city\": \"Paris\", \"days\": 3}"), JSON.readTree(call.at("/function/arguments").asText()));
    }

    @Test
    void streamedToolCallComesAsOneDeltaAfterReasoningAndContent() throws Exception {
        ObjectNode req = (ObjectNode) JSON.readTree(REQUEST);
        req.put("stream", true);
        List<String> lines = s.stream("/v1/chat/completions", req.toString());
        List<JsonNode> events = TestServer.events(lines);
        StringBuilder order = new StringBuilder();
        JsonNode call = null;
        String finish = null;
        for (JsonNode e : events) {
            JsonNode c = e.at("/choices/0");
            JsonNode d = c.get("delta");
            if (d.has("reasoning_content")) {
                order.append(order.toString().endsWith("R") ? "" : "R");
            }
            if (d.has("content") && !d.get("content").asText().isEmpty()) {
                order.append(order.toString().endsWith("C") ? "" : "C");
            }
            if (d.has("tool_calls")) {
                order.append("T");
                call = d.get("tool_calls").get(0);
            }
            if (!c.get("finish_reason").isNull()) {
                finish = c.get("finish_reason").asText();
            }
        }
        assertEquals("RCT", order.toString());
        assertEquals("tool_calls", finish);
        assertEquals(0, call.get("index").asInt());
        assertTrue(call.get("id").asText().startsWith("call_"));
        assertEquals("get_weather", call.at("/function/name").asText());
        assertEquals("data: [DONE]", lines.getLast());
    }

    @Test
    void theAnswerGoesBackIntoThePromptAsTheModelWroteIt() throws Exception {
        JsonNode answer = s.ok("/v1/chat/completions", REQUEST).at("/choices/0/message");
        ObjectNode req = (ObjectNode) JSON.readTree(REQUEST);
        ArrayNode msgs = (ArrayNode) req.get("messages");
        msgs.add(answer);
        msgs.addObject().put("role", "tool").put("tool_call_id", answer.at("/tool_calls/0/id").asText())
                .put("content", "{\"temperature\": 22}");
        int before = backend.requests.size();
        s.ok("/v1/chat/completions", req.toString());
        int[] prompt = backend.requests.get(before).prompt();

        ArrayNode expected = JSON.createArrayNode();
        expected.addObject().put("role", "system").put("content", "").set("tools", req.get("tools"));
        expected.addAll(msgs);
        String text = V4Encoder.encode(expected, V4Encoder.Options.of(ThinkingMode.THINKING));
        assertArrayEquals(TOKENIZER.encode(text, true), prompt);
        // the model's own words come back: reasoning, answer and the DSML block
        assertTrue(text.contains("The user wants the weather.</think>" + CALL + "<｜end▁of▁sentence｜>"), text);
        assertTrue(text.contains("<tool_result>{\"temperature\": 22}</tool_result>"), text);
    }
}
