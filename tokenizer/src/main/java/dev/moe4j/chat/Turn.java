package dev.moe4j.chat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;

/**
 * A validated message, typed by role, in the shape the encoder works on. Fields a role does not
 * use are absent; text fields are never null (the official code renders a missing text as "").
 */
sealed interface Turn {

    /** The quick-instruction task on this message, or null. */
    Task task();

    /** Tools defined on this message; any non-empty list suspends drop_thinking for the whole prompt. */
    default List<JsonNode> tools() {
        return List.of();
    }

    record SystemPrompt(String content, List<JsonNode> tools, JsonNode responseFormat, Task task) implements Turn {
    }

    /** Rendered like a user turn, with the tools and response format appended to its text. */
    record Developer(String content, List<JsonNode> tools, JsonNode responseFormat, Task task) implements Turn {
    }

    record Reminder(String content, List<JsonNode> tools, Task task) implements Turn {
    }

    record User(List<Block> blocks, Task task) implements Turn {
    }

    /** A {@code tool} message; it exists only until {@link TurnRewrites#mergeToolResults} folds it into a user turn. */
    record ToolOutput(String toolCallId, String content) implements Turn {
        @Override
        public Task task() {
            return null;
        }
    }

    /** @param woEos the turn is an unfinished prefix: no end-of-sentence after it */
    record Assistant(String content, String reasoning, List<Call> calls, List<JsonNode> tools, boolean woEos, Task task)
            implements Turn {
    }

    /** A tool call of an assistant turn, arguments already parsed (the prompt renders them key by key). */
    record Call(String id, String name, ObjectNode arguments) {
    }

    /** A piece of a user turn: its own text, or one tool result. */
    record Block(boolean toolResult, String text, String toolUseId) {

        static Block ofText(String text) {
            return new Block(false, text, "");
        }

        static Block ofToolResult(String content, String toolUseId) {
            return new Block(true, content, toolUseId);
        }
    }
}
