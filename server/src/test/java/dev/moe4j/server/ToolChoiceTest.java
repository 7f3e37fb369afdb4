package dev.moe4j.server;

import com.fasterxml.jackson.databind.JsonNode;
import dev.moe4j.chat.V4Encoder;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static dev.moe4j.server.TestServer.TOKENIZER;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * tool_choice "required" and named: the constraint on its own (thinking first, forced opening, names
 * masked), and through the server on the demo model, whose random weights would never write a tool
 * call by themselves.
 */
class ToolChoiceTest {

    private static final String TOOLS = """
            [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}},
             {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object"}}}]""";
    private static final ForcedToolCall.NameTokens NAMES = ForcedToolCall.NameTokens.of(TOKENIZER);
    private static TestServer s;

    @BeforeAll
    static void start() throws IOException {
        s = TestServer.demo();
    }

    @AfterAll
    static void stop() {
        s.close();
    }

    private static int[] forcedRun(ForcedToolCall c) {
        int[] out = new int[200];
        int n = 0;
        for (int t = c.forced(); t >= 0; t = c.forced()) {
            out[n++] = t;
            c.accept(t);
        }
        return Arrays.copyOf(out, n);
    }

    @Test
    void thinkingComesFirstThenTheNamedCallIsForced() {
        ForcedToolCall c = new ForcedToolCall(TOKENIZER, NAMES, List.of("get_time"), true);
        int word = TOKENIZER.encode("hmm")[0];
        for (int i = 0; i < 5; i++) {
            assertEquals(-1, c.forced(), "free while reasoning");
            c.accept(word);
        }
        c.accept(TOKENIZER.tokenId("</think>").orElseThrow());
        int[] forced = forcedRun(c);
        assertEquals(V4Encoder.toolCallsOpening("get_time"), TOKENIZER.decode(forced));
        float[] logits = new float[TOKENIZER.vocabSize()];
        Arrays.fill(logits, 1f);
        c.mask(logits, 0, logits.length);
        assertTrue(Arrays.stream(new int[] {0, 1, 100}).allMatch(i -> logits[i] == 1f), "the arguments are free");
    }

    @Test
    void requiredLetsTheModelPickOnlyAToolName() {
        ForcedToolCall c = new ForcedToolCall(TOKENIZER, NAMES, List.of("get_weather", "get_time"), false);
        assertEquals(V4Encoder.toolCallsOpening(null), TOKENIZER.decode(forcedRun(c)));
        int vocab = TOKENIZER.vocabSize();
        StringBuilder name = new StringBuilder();
        // always take the allowed token with the highest id: a path no model would prefer
        for (int step = 0; step < 40 && !name.toString().endsWith("\">\n"); step++) {
            float[] logits = new float[vocab + 8];
            for (int i = 0; i < logits.length; i++) {
                logits[i] = i;
            }
            c.mask(logits, 4, vocab);
            int best = -1;
            for (int id = 0; id < vocab; id++) {
                if (logits[4 + id] != Float.NEGATIVE_INFINITY) {
                    String t = name + TOKENIZER.decode(new int[] {id});
                    assertTrue("get_weather\">\n".startsWith(t) || "get_time\">\n".startsWith(t)
                            || t.startsWith("get_weather\">\n") || t.startsWith("get_time\">\n"), "allowed: " + t);
                    best = id;
                }
            }
            assertEquals(0f, logits[0], "outside the row untouched");
            assertTrue(best >= 0, "some token always fits");
            c.accept(best);
            name.append(TOKENIZER.decode(new int[] {best}));
        }
        assertTrue(name.toString().equals("get_weather\">\n") || name.toString().equals("get_time\">\n"), name.toString());
        float[] free = new float[vocab];
        c.mask(free, 0, vocab);
        assertFalse(Arrays.stream(toDouble(free)).anyMatch(Double::isInfinite), "after the name the model is free");
    }

    private static double[] toDouble(float[] f) {
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) {
            d[i] = f[i];
        }
        return d;
    }

    private static final Pattern CALL = Pattern.compile("<｜DSML｜tool_calls>\n<｜DSML｜invoke name=\"(\\w+)\">\n");

    private static String answerText(JsonNode r) {
        JsonNode m = r.at("/choices/0/message");
        return m.path("content").asText("") + m.path("tool_calls").toString();
    }

    @Test
    void theServerForcesTheNamedTool() throws Exception {
        JsonNode r = s.ok("/v1/chat/completions", """
                {"model": "fast", "messages": [{"role": "user", "content": "Weather in Paris?"}], "tools": %s,
                 "tool_choice": {"type": "function", "function": {"name": "get_time"}}, "max_tokens": 40,
                 "seed": 1}""".formatted(TOOLS));
        Matcher m = CALL.matcher(answerText(r));
        assertTrue(m.find(), r.toString());
        assertEquals("get_time", m.group(1));
    }

    @Test
    void theServerMakesRequiredCallSomeTool() throws Exception {
        for (int seed = 0; seed < 3; seed++) {
            JsonNode r = s.ok("/v1/chat/completions", """
                    {"model": "fast", "messages": [{"role": "user", "content": "Weather in Paris?"}], "tools": %s,
                     "tool_choice": "required", "max_tokens": 60, "seed": %d}""".formatted(TOOLS, seed));
            Matcher m = CALL.matcher(answerText(r));
            assertTrue(m.find(), r.toString());
            assertTrue(List.of("get_weather", "get_time").contains(m.group(1)), m.group(1));
        }
        // "auto" leaves the random demo model to itself: no call opening
        JsonNode auto = s.ok("/v1/chat/completions", """
                {"model": "fast", "messages": [{"role": "user", "content": "Weather in Paris?"}], "tools": %s,
                 "max_tokens": 20, "seed": 1}""".formatted(TOOLS));
        assertFalse(CALL.matcher(answerText(auto)).find(), auto.toString());
    }

    @Test
    void theOpeningIsWhatTheEncoderWritesForACall() {
        String text = V4Encoder.encode(TestServer.JSON.valueToTree(List.of(
                java.util.Map.of("role", "user", "content", "hi"),
                java.util.Map.of("role", "assistant", "content", "", "tool_calls", List.of(java.util.Map.of(
                        "type", "function", "id", "c1",
                        "function", java.util.Map.of("name", "get_time", "arguments", "{}")))))),
                V4Encoder.Options.of(dev.moe4j.chat.ThinkingMode.CHAT));
        assertTrue(text.contains(V4Encoder.toolCallsOpening("get_time")), text);
    }
}
