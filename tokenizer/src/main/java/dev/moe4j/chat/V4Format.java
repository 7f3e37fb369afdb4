package dev.moe4j.chat;

/**
 * The fixed strings of the DeepSeek V4 prompt format, byte for byte as in the official
 * {@code encoding/encoding_dsv4.py}. The model was trained on exactly these bytes, so none of them
 * may be reworded, re-wrapped or trimmed.
 */
final class V4Format {

    static final String BOS = "<｜begin▁of▁sentence｜>";
    static final String EOS = "<｜end▁of▁sentence｜>";
    static final String THINK_START = "<think>";
    static final String THINK_END = "</think>";
    static final String DSML = "｜DSML｜";
    static final String USER = "<｜User｜>";
    static final String ASSISTANT = "<｜Assistant｜>";
    static final String LATEST_REMINDER = "<｜latest_reminder｜>";

    static final String TOOL_CALLS_OPEN = "<" + DSML + "tool_calls";
    static final String TOOL_CALLS_CLOSE = "</" + DSML + "tool_calls>";
    static final String INVOKE_OPEN = "<" + DSML + "invoke";
    static final String INVOKE_CLOSE = "</" + DSML + "invoke";
    static final String PARAMETER_OPEN = "<" + DSML + "parameter";
    /** The official parser reads a parameter up to this (no leading {@code <}: it is part of the value pattern). */
    static final String PARAMETER_END = "/" + DSML + "parameter";

    /** Prepended to the first message in thinking mode with reasoning effort {@code max} ("Think Max"). */
    static final String THINK_MAX_PREFIX =
            "Reasoning Effort: Absolute maximum with no shortcuts permitted.\n"
            + "You MUST be very thorough in your thinking and comprehensively decompose the problem to resolve the root cause, rigorously stress-testing your logic against all potential paths, edge cases, and adversarial scenarios.\n"
            + "Explicitly write out your entire deliberation process, documenting every intermediate step, considered alternative, and rejected hypothesis to ensure absolutely no assumption is left unchecked.\n\n";

    static final String RESPONSE_FORMAT_PREFIX =
            "## Response Format:\n\nYou MUST strictly adhere to the following schema to reply:\n";

    /** The tools section; {@code %s} is the tool schemas, one JSON object per line. */
    private static final String TOOLS_TEMPLATE = """
            ## Tools

            You have access to a set of tools to help answer the user's question. You can invoke tools by writing a "<｜DSML｜tool_calls>" block like the following:

            <｜DSML｜tool_calls>
            <｜DSML｜invoke name="$TOOL_NAME">
            <｜DSML｜parameter name="$PARAMETER_NAME" string="true|false">$PARAMETER_VALUE</｜DSML｜parameter>
            ...
            </｜DSML｜invoke>
            <｜DSML｜invoke name="$TOOL_NAME2">
            ...
            </｜DSML｜invoke>
            </｜DSML｜tool_calls>

            String parameters should be specified as is and set `string="true"`. For all other types (numbers, booleans, arrays, objects), pass the value in JSON format and set `string="false"`.

            If thinking_mode is enabled (triggered by <think>), you MUST output your complete reasoning inside <think>...</think> BEFORE any tool calls or final response.

            Otherwise, output directly after </think> with tool calls or final response.

            ### Available Tool Schemas

            %s

            You MUST strictly follow the above defined tool name and parameter schemas to invoke tool calls.
            """;

    static String toolsSection(String toolSchemaLines) {
        return toolsSectionHead() + toolSchemaLines + toolsSectionTail();
    }

    /** The tools template up to where the schemas go. */
    static String toolsSectionHead() {
        return TOOLS_TEMPLATE.substring(0, TOOLS_TEMPLATE.indexOf("%s"));
    }

    /** The tools template after the schemas. */
    static String toolsSectionTail() {
        return TOOLS_TEMPLATE.substring(TOOLS_TEMPLATE.indexOf("%s") + 2);
    }

    private V4Format() {
    }
}
