package dev.moe4j.chat;

/** What {@link CompletionParser#feed} recognised in the text so far, in output order. */
public sealed interface ParseEvent {

    /** More chain-of-thought ({@code reasoning_content}). */
    record ReasoningDelta(String text) implements ParseEvent {
    }

    /** More answer text ({@code content}). */
    record ContentDelta(String text) implements ParseEvent {
    }

    /** A tool call, complete; {@code index} is its position among the completion's calls. */
    record ToolCallDone(int index, ToolCall call) implements ParseEvent {
    }
}
