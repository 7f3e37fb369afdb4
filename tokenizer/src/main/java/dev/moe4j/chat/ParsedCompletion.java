package dev.moe4j.chat;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;

/**
 * A completion split into the assistant message fields. Output that breaks the V4 grammar is not an
 * error: it comes back as text, with a flag and the first problem found.
 *
 * @param reasoningContent the chain of thought ("" in chat mode)
 * @param content          the answer
 * @param toolCalls        the calls, without ids (the model writes none)
 * @param truncated        the text stopped inside an open structure (reasoning without {@code </think>},
 *                         an unclosed tool-calls block): typically the token limit
 * @param malformed        the text breaks the official grammar (a bad tool-calls block, end-of-sentence
 *                         before {@code </think>}, text after the calls, stray special tokens)
 * @param problem          what went wrong first, or null
 */
public record ParsedCompletion(String reasoningContent, String content, List<ToolCall> toolCalls,
                               boolean truncated, boolean malformed, String problem) {

    public ParsedCompletion {
        toolCalls = List.copyOf(toolCalls);
    }

    /** The message as the API returns it, plus the flags (and the problem when there is one). */
    public ObjectNode toJson() {
        ObjectNode message = JsonNodeFactory.instance.objectNode();
        message.put("role", "assistant");
        message.put("reasoning_content", reasoningContent);
        message.put("content", content);
        ArrayNode calls = message.putArray("tool_calls");
        toolCalls.forEach(c -> calls.add(c.toOpenAi()));
        message.put("truncated", truncated);
        message.put("malformed", malformed);
        if (problem != null) {
            message.put("problem", problem);
        }
        return message;
    }
}
