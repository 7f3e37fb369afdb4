package dev.moe4j.chat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The four golden cases and the parse checks of the official {@code encoding/tests} suite: whole
 * prompts compared byte for byte.
 */
class OfficialCasesTest {

    private static final String ASSISTANT_THINK = "<｜Assistant｜><think>";

    private static String encode(int n, ThinkingMode mode) throws IOException {
        JsonNode messages = MessagesFile.parse(OfficialFixtures.read("test_input_" + n + ".json"));
        return V4Encoder.encode(messages, V4Encoder.Options.of(mode));
    }

    private static String gold(int n) throws IOException {
        return OfficialFixtures.read("test_output_" + n + ".txt");
    }

    @Test
    void case1ThinkingWithTools() throws IOException {
        assertEquals(gold(1), encode(1, ThinkingMode.THINKING));
    }

    @Test
    void case2ThinkingDropsEarlierReasoning() throws IOException {
        String prompt = encode(2, ThinkingMode.THINKING);
        assertEquals(gold(2), prompt);
        assertFalse(prompt.contains("The user said hello"));
    }

    @Test
    void case3DeveloperToolsAndLatestReminder() throws IOException {
        assertEquals(gold(3), encode(3, ThinkingMode.THINKING));
    }

    @Test
    void case4ChatModeActionTask() throws IOException {
        assertEquals(gold(4), encode(4, ThinkingMode.CHAT));
    }

    @Test
    void case1FirstAssistantTurnParsesToOneToolCall() throws IOException {
        String prompt = gold(1);
        int start = prompt.indexOf(ASSISTANT_THINK) + ASSISTANT_THINK.length();
        String completion = prompt.substring(start, prompt.indexOf("<｜User｜>", start));

        ParsedCompletion parsed = CompletionParser.parse(completion, ThinkingMode.THINKING);

        assertEquals("The user wants to know the weather in Beijing. I should use the get_weather tool.",
                parsed.reasoningContent());
        assertEquals("", parsed.content());
        assertEquals(List.of(new ToolCall(null, "get_weather", "{\"location\": \"Beijing\", \"unit\": \"celsius\"}")),
                parsed.toolCalls());
        assertEquals(PyJson.MAPPER.readTree("{\"location\": \"Beijing\", \"unit\": \"celsius\"}"),
                PyJson.MAPPER.readTree(parsed.toolCalls().getFirst().arguments()));
        assertClean(parsed);
    }

    @Test
    void case1LastAssistantTurnParsesToTheAnswer() throws IOException {
        String prompt = gold(1);
        ParsedCompletion parsed = CompletionParser.parse(
                prompt.substring(prompt.lastIndexOf(ASSISTANT_THINK) + ASSISTANT_THINK.length()), ThinkingMode.THINKING);

        assertEquals("Got the weather data. Let me format a nice response.", parsed.reasoningContent());
        assertTrue(parsed.content().contains("22°C"), parsed.content());
        assertEquals(List.of(), parsed.toolCalls());
        assertClean(parsed);
    }

    @Test
    void case2LastAssistantTurnParses() throws IOException {
        String prompt = gold(2);
        ParsedCompletion parsed = CompletionParser.parse(
                prompt.substring(prompt.lastIndexOf(ASSISTANT_THINK) + ASSISTANT_THINK.length()), ThinkingMode.THINKING);

        assertEquals("The user asks about the capital of France. It is Paris.", parsed.reasoningContent());
        assertEquals("The capital of France is Paris.", parsed.content());
        assertEquals(List.of(), parsed.toolCalls());
        assertClean(parsed);
    }

    private static void assertClean(ParsedCompletion parsed) {
        assertFalse(parsed.truncated(), parsed.problem());
        assertFalse(parsed.malformed(), parsed.problem());
    }
}
