package dev.moe4j.chat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.core.JsonProcessingException;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class CompletionParserTest {

    private static final String EOS = "<｜end▁of▁sentence｜>";
    private static final String CALL_F = "\n\n<｜DSML｜tool_calls>\n"
            + "<｜DSML｜invoke name=\"f\">\n"
            + "<｜DSML｜parameter name=\"city\" string=\"true\">Paris \"16e\"</｜DSML｜parameter>\n"
            + "<｜DSML｜parameter name=\"days\" string=\"false\">2</｜DSML｜parameter>\n"
            + "</｜DSML｜invoke>\n"
            + "<｜DSML｜invoke name=\"g\">\n\n</｜DSML｜invoke>\n"
            + "</｜DSML｜tool_calls>";
    private static final List<ToolCall> CALLS_F = List.of(
            new ToolCall(null, "f", "{\"city\": \"Paris \\\"16e\\\"\", \"days\": 2}"),
            new ToolCall(null, "g", "{}"));

    private static ParsedCompletion thinking(String text) {
        return CompletionParser.parse(text, ThinkingMode.THINKING);
    }

    private static ParsedCompletion chat(String text) {
        return CompletionParser.parse(text, ThinkingMode.CHAT);
    }

    @Test
    void chatModeStartsInTheAnswer() {
        ParsedCompletion p = chat("Hello there." + EOS);
        assertEquals(new ParsedCompletion("", "Hello there.", List.of(), false, false, null), p);
    }

    @Test
    void missingEndOfSentenceIsNotAProblem() {
        // the engine may stop on the EOS token without passing its text on
        assertEquals(new ParsedCompletion("r", "answer", List.of(), false, false, null), thinking("r</think>answer"));
    }

    @Test
    void thinkingWithToolCalls() {
        ParsedCompletion p = thinking("Need weather.</think>" + CALL_F + EOS);
        assertEquals(new ParsedCompletion("Need weather.", "", CALLS_F, false, false, null), p);
    }

    @Test
    void contentBeforeToolCalls() {
        assertEquals(new ParsedCompletion("", "Let me check.", CALLS_F, false, false, null), chat("Let me check." + CALL_F + EOS));
    }

    /** What the encoder writes for an assistant turn, the parser reads back (modulo ids and JSON spacing). */
    @Test
    void encoderOutputParsesBack() throws JsonProcessingException {
        String messages = """
                [{"role": "user", "content": "Q"},
                 {"role": "assistant", "reasoning_content": "because", "content": "Sure.", "tool_calls": [
                   {"id": "c1", "type": "function", "function": {"name": "search",
                    "arguments": "{\\"q\\":\\"a<b>\\\\n\\",\\"n\\":[1,2.5,{\\"x\\":null}],\\"ok\\":false}"}}]}]""";
        String prompt = V4Encoder.encode(PyJson.parse(messages), V4Encoder.Options.of(ThinkingMode.THINKING));
        String completion = prompt.substring(prompt.indexOf("<think>") + "<think>".length());

        ParsedCompletion p = thinking(completion);

        assertEquals("because", p.reasoningContent());
        assertEquals("Sure.", p.content());
        assertEquals("{\"q\": \"a<b>\\n\", \"n\": [1, 2.5, {\"x\": null}], \"ok\": false}", p.toolCalls().getFirst().arguments());
        assertFalse(p.malformed() || p.truncated(), p.problem());
    }

    /** Completions covering every state and flag; feeding them in pieces must give exactly parse()'s answer. */
    static Stream<Arguments> completions() {
        return Stream.of(
                Arguments.of(ThinkingMode.THINKING, "Let me think 🤔 about it.\n\nYes.</think>The answer: 42 🎉" + EOS),
                Arguments.of(ThinkingMode.THINKING, "Need weather.</think>" + CALL_F + EOS),
                Arguments.of(ThinkingMode.CHAT, "a\n\nb <｜DSML｜ not a tag </think" + CALL_F + "\n" + EOS + "tail"),
                Arguments.of(ThinkingMode.THINKING, "cut off in the reasoning </thi"),
                Arguments.of(ThinkingMode.THINKING, "r</think>x" + CALL_F.substring(0, 90)),
                Arguments.of(ThinkingMode.CHAT, "x\n\n<｜DSML｜tool_calls>\n<｜DSML｜invoke name=\"f\">oops</｜DSML｜invoke>\n</｜DSML｜tool_calls>rest" + EOS),
                Arguments.of(ThinkingMode.CHAT, "x<｜DSML｜tool_calls>\n<｜DSML｜invoke name=\"f\">\n</｜DSML｜invoke>\n</｜DSML｜tool_calls>" + EOS),
                Arguments.of(ThinkingMode.CHAT, "<｜end▁of▁sentence" + "｜x" + EOS));
    }

    @ParameterizedTest
    @MethodSource("completions")
    void feedingOneCharacterAtATimeMatchesParse(ThinkingMode mode, String text) {
        ParsedCompletion whole = CompletionParser.parse(text, mode);
        List<String> units = new ArrayList<>();
        for (int i = 0; i < text.length(); i++) {
            units.add(text.substring(i, i + 1)); // UTF-16 units: emoji arrive as two halves
        }
        assertIncrementalEquals(whole, mode, units);
        assertIncrementalEquals(whole, mode, text.codePoints().mapToObj(Character::toString).toList());
    }

    private static void assertIncrementalEquals(ParsedCompletion whole, ThinkingMode mode, List<String> pieces) {
        CompletionParser parser = new CompletionParser(mode);
        List<ParseEvent> events = new ArrayList<>();
        pieces.forEach(piece -> events.addAll(parser.feed(piece)));
        events.addAll(parser.finish());
        assertEquals(whole, parser.result());

        StringBuilder reasoning = new StringBuilder();
        StringBuilder content = new StringBuilder();
        List<ToolCall> calls = new ArrayList<>();
        for (ParseEvent e : events) {
            switch (e) {
                case ParseEvent.ReasoningDelta d -> reasoning.append(d.text());
                case ParseEvent.ContentDelta d -> content.append(d.text());
                case ParseEvent.ToolCallDone t -> {
                    assertEquals(calls.size(), t.index());
                    calls.add(t.call());
                }
            }
            String delta = e instanceof ParseEvent.ReasoningDelta d ? d.text()
                    : e instanceof ParseEvent.ContentDelta d ? d.text() : "x";
            assertFalse(Character.isHighSurrogate(delta.charAt(delta.length() - 1)), "delta ends in half a character");
        }
        assertEquals(whole.reasoningContent(), reasoning.toString());
        assertEquals(whole.content(), content.toString());
        assertEquals(whole.toolCalls(), calls);
    }

    @Test
    void possibleTagStartsAreHeldBack() {
        CompletionParser p = new CompletionParser(ThinkingMode.THINKING);
        assertEquals(List.of(new ParseEvent.ReasoningDelta("so ")), p.feed("so </thi"));
        assertEquals(List.of(new ParseEvent.ContentDelta("Done")), p.feed("nk>Done\n"));
        assertEquals(List.of(), p.feed("\n<｜DS"));
        assertEquals(List.of(), p.feed("ML｜tool_calls>\n<｜DSML｜invoke name=\"g\">\n"));
        assertEquals(List.of(), p.feed("</｜DSML｜invoke>\n</｜DSML｜tool_calls"));
        assertEquals(List.of(new ParseEvent.ToolCallDone(0, new ToolCall(null, "g", "{}"))), p.feed("><｜end▁of"));
        assertEquals(List.of(), p.feed("▁sentence｜>"));
        assertEquals(List.of(), p.finish());
        assertEquals(new ParsedCompletion("so ", "Done", List.of(new ToolCall(null, "g", "{}")), false, false, null), p.result());
    }

    @Test
    void textThatOnlyLooksLikeATagStartIsReleased() {
        CompletionParser p = new CompletionParser(ThinkingMode.CHAT);
        assertEquals(List.of(new ParseEvent.ContentDelta("a")), p.feed("a<｜DS"));
        assertEquals(List.of(new ParseEvent.ContentDelta("<｜DSx")), p.feed("x"));
        assertEquals(List.of(), p.feed("<｜end"));
        assertEquals(List.of(new ParseEvent.ContentDelta("<｜end")), p.finish());
    }

    @Test
    void reasoningCutOffAtTheTokenLimitIsTruncated() {
        ParsedCompletion p = thinking("Still thinking about </th");
        assertEquals("Still thinking about </th", p.reasoningContent());
        assertEquals("", p.content());
        assertTrue(p.truncated());
        assertFalse(p.malformed());
    }

    @Test
    void unclosedToolCallsBlockIsReturnedAsText() {
        String cut = CALL_F.substring(0, CALL_F.indexOf("</｜DSML｜invoke>"));
        ParsedCompletion p = thinking("r</think>Checking." + cut);
        assertEquals("Checking." + cut, p.content());
        assertEquals(List.of(), p.toolCalls());
        assertTrue(p.truncated());
        assertFalse(p.malformed());
        assertEquals("the output stopped inside an unclosed tool_calls block", p.problem());
    }

    @Test
    void endOfSentenceInsideTheBlockIsMalformed() {
        ParsedCompletion p = chat(CALL_F.substring(0, 40) + EOS);
        assertEquals(CALL_F.substring(0, 40), p.content());
        assertTrue(p.malformed());
        assertFalse(p.truncated());
    }

    @Test
    void badBlockGrammarIsReturnedAsText() {
        String bad = "\n\n<｜DSML｜tool_calls>\n<｜DSML｜invoke name=\"f\">\n"
                + "<｜DSML｜parameter name=\"a\">no string attribute</｜DSML｜parameter>\n</｜DSML｜invoke>\n</｜DSML｜tool_calls>";
        ParsedCompletion p = chat("x" + bad + " and more" + EOS);
        assertEquals("x" + bad + " and more", p.content());
        assertEquals(List.of(), p.toolCalls());
        assertTrue(p.malformed());
        assertTrue(p.problem().startsWith("tool_calls block: bad parameter"), p.problem());
    }

    @Test
    void missingNewlineBetweenTagsIsMalformed() {
        ParsedCompletion p = chat("\n\n<｜DSML｜tool_calls><｜DSML｜invoke name=\"f\">\n</｜DSML｜invoke>\n</｜DSML｜tool_calls>" + EOS);
        assertTrue(p.malformed());
        assertEquals("tool_calls block: expected '>\\n' between tags at offset 0 of the block", p.problem());
    }

    @Test
    void repeatedParameterIsMalformed() {
        String block = "\n\n<｜DSML｜tool_calls>\n<｜DSML｜invoke name=\"f\">\n"
                + "<｜DSML｜parameter name=\"a\" string=\"true\">1</｜DSML｜parameter>\n"
                + "<｜DSML｜parameter name=\"a\" string=\"true\">2</｜DSML｜parameter>\n"
                + "</｜DSML｜invoke>\n</｜DSML｜tool_calls>";
        ParsedCompletion p = chat(block + EOS);
        assertTrue(p.malformed());
        assertEquals("tool_calls block: parameter 'a' given twice in a call of 'f'", p.problem());
        assertEquals(block, p.content());
    }

    @Test
    void nonJsonValueMarkedStringFalseKeepsTheCallButIsFlagged() {
        String block = "\n\n<｜DSML｜tool_calls>\n<｜DSML｜invoke name=\"f\">\n"
                + "<｜DSML｜parameter name=\"n\" string=\"false\">three</｜DSML｜parameter>\n"
                + "</｜DSML｜invoke>\n</｜DSML｜tool_calls>";
        ParsedCompletion p = chat(block + EOS);
        assertEquals(List.of(new ToolCall(null, "f", "{\"n\": three}")), p.toolCalls());
        assertTrue(p.malformed());
    }

    @Test
    void endOfSentenceBeforeThinkEndIsMalformed() {
        ParsedCompletion p = thinking("only reasoning" + EOS);
        assertEquals("only reasoning", p.reasoningContent());
        assertTrue(p.malformed());
        assertFalse(p.truncated());
    }

    @Test
    void toolCallsInsideTheReasoningAreReadButFlagged() {
        ParsedCompletion p = thinking("forgot to close" + CALL_F + EOS);
        assertEquals("forgot to close", p.reasoningContent());
        assertEquals(CALLS_F, p.toolCalls());
        assertTrue(p.malformed());
    }

    @Test
    void blockWithoutBlankLineBeforeItIsReadButFlagged() {
        ParsedCompletion p = chat("text" + CALL_F.substring(2) + EOS);
        assertEquals("text", p.content());
        assertEquals(CALLS_F, p.toolCalls());
        assertTrue(p.malformed());
    }

    @Test
    void textAfterTheToolCallsIsKeptAndFlagged() {
        ParsedCompletion p = chat(CALL_F + "\nextra" + EOS);
        assertEquals(CALLS_F, p.toolCalls());
        assertEquals("\nextra", p.content());
        assertTrue(p.malformed());
    }

    @Test
    void textAfterEndOfSentenceIsIgnoredAndFlagged() {
        ParsedCompletion p = chat("done" + EOS + "more");
        assertEquals("done", p.content());
        assertTrue(p.malformed());
    }

    @Test
    void straySpecialTokenInTheAnswerIsFlagged() {
        ParsedCompletion p = thinking("r</think>a <think> b" + EOS);
        assertEquals("a <think> b", p.content());
        assertTrue(p.malformed());
        assertEquals("special token <think> inside the text", p.problem());
    }

    @Test
    void jsonShapeOfTheResult() {
        ParsedCompletion p = thinking("r</think>" + CALL_F + EOS);
        assertEquals("{\"role\":\"assistant\",\"reasoning_content\":\"r\",\"content\":\"\",\"tool_calls\":["
                        + "{\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"{\\\"city\\\": \\\"Paris \\\\\\\"16e\\\\\\\"\\\", \\\"days\\\": 2}\"}},"
                        + "{\"type\":\"function\",\"function\":{\"name\":\"g\",\"arguments\":\"{}\"}}],"
                        + "\"truncated\":false,\"malformed\":false}",
                p.toJson().toString());
        assertNull(p.problem());
    }
}
