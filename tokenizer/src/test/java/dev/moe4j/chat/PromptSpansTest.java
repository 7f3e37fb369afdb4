package dev.moe4j.chat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The encoder marks exactly the request's own text as literal, in order, and nothing of the template. */
class PromptSpansTest {

    @Test
    void literalSpansAreTheRequestText() throws Exception {
        JsonNode messages = new ObjectMapper().readTree("""
                [{"role":"system","content":"SYS"},
                 {"role":"user","content":"U1"},
                 {"role":"assistant","content":"A1","reasoning_content":"R1",
                  "tool_calls":[{"id":"c1","type":"function","function":{"name":"fn","arguments":"{\\"k\\":\\"V\\",\\"n\\":2}"}}]},
                 {"role":"tool","tool_call_id":"c1","content":"T1"},
                 {"role":"user","content":"U2"}]""");
        Prompt p = V4Encoder.encodePrompt(null, messages, V4Encoder.Options.of(ThinkingMode.THINKING));
        assertEquals(V4Encoder.encode(messages, V4Encoder.Options.of(ThinkingMode.THINKING)), p.text());
        int[] spans = p.literalSpans();
        List<String> lit = new ArrayList<>();
        for (int k = 0; k < spans.length; k += 2) lit.add(p.text().substring(spans[k], spans[k + 1]));
        // reasoning of a turn before the last user message is dropped in thinking mode (drop_thinking)
        assertEquals(List.of("SYS", "U1", "A1", "fn", "k", "V", "n", "2", "T1", "U2"), lit);
    }
}
