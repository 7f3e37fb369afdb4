package dev.moe4j.chat;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.core.JsonProcessingException;
import org.junit.jupiter.api.Test;

/**
 * Encoder features beyond the four official cases. Each expected string was worked out by hand from
 * the official {@code encoding_dsv4.py}; the comment on each test names the branches it walks.
 */
class V4EncoderTest {

    private static final String BOS = "<｜begin▁of▁sentence｜>";
    private static final String EOS = "<｜end▁of▁sentence｜>";
    private static final String USER = "<｜User｜>";
    private static final String ASSISTANT = "<｜Assistant｜>";
    private static final String NOW_TOOL = """
            {"type": "function", "function": {"name": "now", "description": "Current time",
             "parameters": {"type": "object", "properties": {}}}}""";
    private static final String NOW_SCHEMA =
            "{\"name\": \"now\", \"description\": \"Current time\", \"parameters\": {\"type\": \"object\", \"properties\": {}}}";
    private static final String TWO_TURNS = """
            [{"role": "system", "content": "S"},
             {"role": "user", "content": "U1"},
             {"role": "assistant", "reasoning_content": "r1", "content": "a1"},
             {"role": "user", "content": "U2"},
             {"role": "assistant", "reasoning_content": "r2", "content": "a2"}]""";

    private static V4Encoder.Options chat() {
        return V4Encoder.Options.of(ThinkingMode.CHAT);
    }

    private static V4Encoder.Options thinking() {
        return V4Encoder.Options.of(ThinkingMode.THINKING);
    }

    private static String encode(String json, V4Encoder.Options options) throws JsonProcessingException {
        return V4Encoder.encode(PyJson.parse(json), options);
    }

    /**
     * encode_messages: any message with tools sets effective_drop_thinking = False, so the earlier
     * turn keeps "r1</think>" and is opened with "<think>" (render_message: "not drop_thinking and
     * thinking"); without tools the same history loses it and its opener is "</think>".
     */
    @Test
    void toolsSuspendDropThinking() throws JsonProcessingException {
        String history = """
                [{"role": "system", "content": "S", "tools": [%s]},
                 {"role": "user", "content": "Q1"},
                 {"role": "assistant", "reasoning_content": "R1", "content": "A1"},
                 {"role": "user", "content": "Q2"}]""";
        assertEquals(BOS + "S\n\n" + V4Format.toolsSection(NOW_SCHEMA)
                        + USER + "Q1" + ASSISTANT + "<think>R1</think>A1" + EOS + USER + "Q2" + ASSISTANT + "<think>",
                encode(history.formatted(NOW_TOOL), thinking()));
        assertEquals(BOS + "S" + USER + "Q1" + ASSISTANT + "</think>A1" + EOS + USER + "Q2" + ASSISTANT + "<think>",
                encode(history.formatted(""), thinking()));
    }

    /** drop_thinking=False by option: the same rendering as the tools suspension, without tools. */
    @Test
    void dropThinkingOffKeepsAllReasoning() throws JsonProcessingException {
        assertEquals(BOS + "S" + USER + "U1" + ASSISTANT + "<think>r1</think>a1" + EOS
                        + USER + "U2" + ASSISTANT + "<think>r2</think>a2" + EOS,
                encode(TWO_TURNS, thinking().withDropThinking(false)));
    }

    /**
     * Chat vs thinking history. Chat: thinking_part stays "" and every user turn ends in
     * "<｜Assistant｜></think>". Thinking (drop on): the turn before the last user message gets
     * "</think>" and no reasoning; the turn after it (index > last_user_idx) gets "r2</think>".
     */
    @Test
    void chatAndThinkingRenderHistoryDifferently() throws JsonProcessingException {
        assertEquals(BOS + "S" + USER + "U1" + ASSISTANT + "</think>a1" + EOS + USER + "U2" + ASSISTANT + "</think>a2" + EOS,
                encode(TWO_TURNS, chat()));
        assertEquals(BOS + "S" + USER + "U1" + ASSISTANT + "</think>a1" + EOS + USER + "U2" + ASSISTANT + "<think>r2</think>a2" + EOS,
                encode(TWO_TURNS, thinking()));
    }

    /**
     * merge_tool_messages folds both tool messages into one user turn; sort_tool_results_by_call_order
     * puts them back in the order of the assistant's tool_calls ids (call_a before call_b), joined by
     * "\n\n". The DSML block shows a string argument with string="true" and a number with "false".
     */
    @Test
    void toolResultsAreSortedByCallOrder() throws JsonProcessingException {
        String messages = """
                [{"role": "system", "content": "S", "tools": [%s]},
                 {"role": "user", "content": "Weather in Paris and Rome?"},
                 {"role": "assistant", "reasoning_content": "Two calls.", "content": "", "tool_calls": [
                   {"id": "call_a", "type": "function", "function": {"name": "get_weather", "arguments": "{\\"city\\": \\"Paris\\"}"}},
                   {"id": "call_b", "type": "function", "function": {"name": "get_weather", "arguments": "{\\"city\\": \\"Rome\\", \\"days\\": 2}"}}]},
                 {"role": "tool", "tool_call_id": "call_b", "content": "rome: rain"},
                 {"role": "tool", "tool_call_id": "call_a", "content": "paris: sun"}]""".formatted(NOW_TOOL);
        assertEquals(BOS + "S\n\n" + V4Format.toolsSection(NOW_SCHEMA)
                        + USER + "Weather in Paris and Rome?" + ASSISTANT + "<think>Two calls.</think>"
                        + "\n\n<｜DSML｜tool_calls>\n"
                        + "<｜DSML｜invoke name=\"get_weather\">\n"
                        + "<｜DSML｜parameter name=\"city\" string=\"true\">Paris</｜DSML｜parameter>\n"
                        + "</｜DSML｜invoke>\n"
                        + "<｜DSML｜invoke name=\"get_weather\">\n"
                        + "<｜DSML｜parameter name=\"city\" string=\"true\">Rome</｜DSML｜parameter>\n"
                        + "<｜DSML｜parameter name=\"days\" string=\"false\">2</｜DSML｜parameter>\n"
                        + "</｜DSML｜invoke>\n"
                        + "</｜DSML｜tool_calls>" + EOS
                        + USER + "<tool_result>paris: sun</tool_result>\n\n<tool_result>rome: rain</tool_result>"
                        + ASSISTANT + "<think>",
                encode(messages, thinking()));
    }

    /**
     * merge_tool_messages: a user message right after tool results (a task-free user turn) joins that
     * turn as one more "\n\n"-separated block. A call without arguments renders an empty parameter
     * list between the invoke tags. Chat mode: "</think>" after every "<｜Assistant｜>".
     */
    @Test
    void userTextAfterToolResultsJoinsTheTurn() throws JsonProcessingException {
        String messages = """
                [{"role": "user", "content": "Q"},
                 {"role": "assistant", "content": "Checking.", "tool_calls": [
                   {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
                 {"role": "tool", "tool_call_id": "call_1", "content": "R"},
                 {"role": "user", "content": "Thanks, and?"}]""";
        assertEquals(BOS + USER + "Q" + ASSISTANT + "</think>Checking."
                        + "\n\n<｜DSML｜tool_calls>\n<｜DSML｜invoke name=\"f\">\n\n</｜DSML｜invoke>\n</｜DSML｜tool_calls>" + EOS
                        + USER + "<tool_result>R</tool_result>\n\nThanks, and?" + ASSISTANT + "</think>",
                encode(messages, chat()));
    }

    /** merge_tool_messages also joins two consecutive user messages into one turn. */
    @Test
    void consecutiveUserMessagesShareOneTurn() throws JsonProcessingException {
        assertEquals(BOS + USER + "a\n\nb" + ASSISTANT + "<think>",
                encode("[{\"role\": \"user\", \"content\": \"a\"}, {\"role\": \"user\", \"content\": \"b\"}]", thinking()));
    }

    /**
     * Tool content given as parts: text parts joined by "\n\n", others as "[Unsupported type]".
     * Tool results with no matching call id sort as position 0 and keep their order (stable sort).
     */
    @Test
    void toolContentPartsAndUnknownIds() throws JsonProcessingException {
        String messages = """
                [{"role": "user", "content": "Q"},
                 {"role": "assistant", "content": "", "tool_calls": [
                   {"id": "x", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
                 {"role": "tool", "tool_call_id": "unknown", "content": [
                   {"type": "text", "text": "part1"}, {"type": "image_url"}, {"type": "text", "text": "part2"}]},
                 {"role": "tool", "content": "second"}]""";
        assertEquals(BOS + USER + "Q" + ASSISTANT + "</think>"
                        + "\n\n<｜DSML｜tool_calls>\n<｜DSML｜invoke name=\"f\">\n\n</｜DSML｜invoke>\n</｜DSML｜tool_calls>" + EOS
                        + USER + "<tool_result>part1\n\n[Unsupported image_url]\n\npart2</tool_result>\n\n<tool_result>second</tool_result>"
                        + ASSISTANT + "</think>",
                encode(messages, chat()));
    }

    /**
     * encode_arguments_to_dsml: string values verbatim (no escaping, newlines and quotes kept), every
     * other value as json.dumps(ensure_ascii=False): floats in Python repr, ", "/": " separators.
     */
    @Test
    void nonStringArgumentsAreRenderedAsPythonJson() throws JsonProcessingException {
        String messages = """
                [{"role": "user", "content": "Q"},
                 {"role": "assistant", "content": "", "tool_calls": [{"type": "function", "function": {"name": "f",
                   "arguments": "{\\"s\\": \\"é\\\\\\"\\\\n\\", \\"n\\": 3, \\"x\\": 1.50, \\"big\\": 1e20, \\"ok\\": true, \\"tags\\": [\\"a\\", \\"ü\\"], \\"o\\": {\\"k\\": null}}"}}]}]""";
        assertEquals(BOS + USER + "Q" + ASSISTANT + "</think>\n\n<｜DSML｜tool_calls>\n<｜DSML｜invoke name=\"f\">\n"
                        + "<｜DSML｜parameter name=\"s\" string=\"true\">é\"\n</｜DSML｜parameter>\n"
                        + "<｜DSML｜parameter name=\"n\" string=\"false\">3</｜DSML｜parameter>\n"
                        + "<｜DSML｜parameter name=\"x\" string=\"false\">1.5</｜DSML｜parameter>\n"
                        + "<｜DSML｜parameter name=\"big\" string=\"false\">1e+20</｜DSML｜parameter>\n"
                        + "<｜DSML｜parameter name=\"ok\" string=\"false\">true</｜DSML｜parameter>\n"
                        + "<｜DSML｜parameter name=\"tags\" string=\"false\">[\"a\", \"ü\"]</｜DSML｜parameter>\n"
                        + "<｜DSML｜parameter name=\"o\" string=\"false\">{\"k\": null}</｜DSML｜parameter>\n"
                        + "</｜DSML｜invoke>\n</｜DSML｜tool_calls>" + EOS,
                encode(messages, chat()));
    }

    /**
     * latest_reminder: "<｜latest_reminder｜>" + content. After a system message it changes nothing
     * else. Right after a user message it does not stop the transition (the next role is in
     * ["assistant", "latest_reminder"]), so the generation prompt comes before the reminder and the
     * reminder itself, last, appends nothing.
     */
    @Test
    void latestReminder() throws JsonProcessingException {
        assertEquals(BOS + "S<｜latest_reminder｜>2026-01-01" + USER + "Hi" + ASSISTANT + "<think>",
                encode("""
                        [{"role": "system", "content": "S"},
                         {"role": "latest_reminder", "content": "2026-01-01"},
                         {"role": "user", "content": "Hi"}]""", thinking()));
        assertEquals(BOS + USER + "Hi" + ASSISTANT + "<think><｜latest_reminder｜>R",
                encode("""
                        [{"role": "user", "content": "Hi"},
                         {"role": "latest_reminder", "content": "R"}]""", thinking()));
    }

    /**
     * developer renders as "<｜User｜>" + content (+ response format). With drop_thinking,
     * _drop_thinking_messages removes developer messages before the last user/developer message: here
     * "D1" disappears and the system text runs straight into the assistant text.
     */
    @Test
    void developerTurns() throws JsonProcessingException {
        assertEquals(BOS + "S" + USER + "Extract the date.\n\n## Response Format:\n\n"
                        + "You MUST strictly adhere to the following schema to reply:\n{\"type\": \"json_object\"}"
                        + ASSISTANT + "</think>",
                encode("""
                        [{"role": "system", "content": "S"},
                         {"role": "developer", "content": "Extract the date.", "response_format": {"type": "json_object"}}]""",
                        chat()));
        assertEquals(BOS + "Sa1" + EOS + USER + "U2" + ASSISTANT + "<think>",
                encode("""
                        [{"role": "system", "content": "S"},
                         {"role": "developer", "content": "D1"},
                         {"role": "assistant", "reasoning_content": "r1", "content": "a1"},
                         {"role": "user", "content": "U2"}]""", thinking()));
    }

    /**
     * System with tools and response_format: tools section first, then the format; the tools text ends
     * with "\n", so three newlines precede "## Response Format". Schema numbers in Python repr
     * (1e-05, 100.0).
     */
    @Test
    void responseFormatOnSystem() throws JsonProcessingException {
        String messages = """
                [{"role": "system", "content": "S", "tools": [%s],
                  "response_format": {"type": "json_schema", "json_schema": {"name": "score", "strict": true,
                    "schema": {"type": "number", "minimum": 1e-5, "maximum": 100.0}}}},
                 {"role": "user", "content": "Rate it."}]""".formatted(NOW_TOOL);
        assertEquals(BOS + "S\n\n" + V4Format.toolsSection(NOW_SCHEMA) + "\n\n## Response Format:\n\n"
                        + "You MUST strictly adhere to the following schema to reply:\n"
                        + "{\"type\": \"json_schema\", \"json_schema\": {\"name\": \"score\", \"strict\": true, "
                        + "\"schema\": {\"type\": \"number\", \"minimum\": 1e-05, \"maximum\": 100.0}}}"
                        + USER + "Rate it." + ASSISTANT + "<think>",
                encode(messages, thinking()));
    }

    /**
     * Task markers. A non-action task appends only its token (no "<｜Assistant｜>"); the assistant
     * answering it has no thinking part (prev_has_task). The action task appends
     * "<｜Assistant｜>" + "<think>" (thinking mode) + "<｜action｜>".
     */
    @Test
    void taskMarkers() throws JsonProcessingException {
        assertEquals(BOS + USER + "Summarise this chat<｜title｜>",
                encode("[{\"role\": \"user\", \"content\": \"Summarise this chat\", \"task\": \"title\"}]", chat()));
        assertEquals(BOS + USER + "Q<｜query｜>search terms" + EOS,
                encode("""
                        [{"role": "user", "content": "Q", "task": "query"},
                         {"role": "assistant", "content": "search terms"}]""", thinking()));
        assertEquals(BOS + USER + "Q" + ASSISTANT + "<think><｜action｜>",
                encode("[{\"role\": \"user\", \"content\": \"Q\", \"task\": \"action\"}]", thinking()));
    }

    /**
     * reasoning_effort="max" adds REASONING_EFFORT_MAX at index 0 in thinking mode only, after BOS and
     * before whatever the first message is; "high" adds nothing.
     */
    @Test
    void thinkMaxPrefix() throws JsonProcessingException {
        String prefix = "Reasoning Effort: Absolute maximum with no shortcuts permitted.\n"
                + "You MUST be very thorough in your thinking and comprehensively decompose the problem to resolve the root cause, rigorously stress-testing your logic against all potential paths, edge cases, and adversarial scenarios.\n"
                + "Explicitly write out your entire deliberation process, documenting every intermediate step, considered alternative, and rejected hypothesis to ensure absolutely no assumption is left unchecked.\n\n";
        String withSystem = "[{\"role\": \"system\", \"content\": \"S\"}, {\"role\": \"user\", \"content\": \"Hi\"}]";
        String userOnly = "[{\"role\": \"user\", \"content\": \"Hi\"}]";
        assertEquals(BOS + prefix + "S" + USER + "Hi" + ASSISTANT + "<think>",
                encode(withSystem, thinking().withEffort(ReasoningEffort.MAX)));
        assertEquals(BOS + prefix + USER + "Hi" + ASSISTANT + "<think>",
                encode(userOnly, thinking().withEffort(ReasoningEffort.MAX)));
        assertEquals(BOS + "S" + USER + "Hi" + ASSISTANT + "<think>",
                encode(withSystem, thinking().withEffort(ReasoningEffort.HIGH)));
        assertEquals(BOS + "S" + USER + "Hi" + ASSISTANT + "</think>",
                encode(withSystem, chat().withEffort(ReasoningEffort.MAX)));
    }

    /** wo_eos: the assistant template without EOS, so the model continues the given prefix. */
    @Test
    void assistantPrefixWithoutEos() throws JsonProcessingException {
        String messages = """
                [{"role": "user", "content": "Write a haiku"},
                 {"role": "assistant", "reasoning_content": "Five seven five.", "content": "Autumn", "wo_eos": true}]""";
        assertEquals(BOS + USER + "Write a haiku" + ASSISTANT + "<think>Five seven five.</think>Autumn",
                encode(messages, thinking()));
        assertEquals(BOS + USER + "Write a haiku" + ASSISTANT + "</think>Autumn", encode(messages, chat()));
    }

    /**
     * context: only the new messages are rendered and no BOS; the split point is
     * len(_drop_thinking_messages(context)). add_default_bos_token=False drops BOS without context.
     */
    @Test
    void contextAndBosOptions() throws JsonProcessingException {
        String context = """
                [{"role": "system", "content": "S"},
                 {"role": "user", "content": "U1"},
                 {"role": "assistant", "reasoning_content": "r1", "content": "a1"}]""";
        assertEquals(USER + "U2" + ASSISTANT + "<think>",
                V4Encoder.encode(PyJson.parse(context), PyJson.parse("[{\"role\": \"user\", \"content\": \"U2\"}]"), thinking()));
        assertEquals(USER + "Hi" + ASSISTANT + "</think>",
                encode("[{\"role\": \"user\", \"content\": \"Hi\"}]", chat().withAddDefaultBosToken(false)));
    }
}
