package dev.moe4j.chat;

import static dev.moe4j.chat.V4Format.ASSISTANT;
import static dev.moe4j.chat.V4Format.BOS;
import static dev.moe4j.chat.V4Format.EOS;
import static dev.moe4j.chat.V4Format.INVOKE_CLOSE;
import static dev.moe4j.chat.V4Format.INVOKE_OPEN;
import static dev.moe4j.chat.V4Format.PARAMETER_END;
import static dev.moe4j.chat.V4Format.PARAMETER_OPEN;
import static dev.moe4j.chat.V4Format.THINK_END;
import static dev.moe4j.chat.V4Format.THINK_START;
import static dev.moe4j.chat.V4Format.TOOL_CALLS_CLOSE;
import static dev.moe4j.chat.V4Format.TOOL_CALLS_OPEN;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Messages → DeepSeek V4 prompt text, byte for byte what the official {@code encode_messages} of
 * {@code encoding/encoding_dsv4.py} produces. Input messages are OpenAI/DeepSeek-style JSON (roles
 * system, user, assistant, tool, developer, latest_reminder; OpenAI {@code tools} and
 * {@code tool_calls}); the text still contains the special tokens as text, which the tokenizer maps
 * to their ids.
 */
public final class V4Encoder {

    /**
     * The official function's keyword arguments.
     *
     * @param mode               chat or thinking ({@code thinking_mode})
     * @param effort             {@code reasoning_effort}; {@code max} adds the Think-Max prefix in thinking mode
     * @param dropThinking       leave reasoning of finished turns (and earlier developer turns) out of the
     *                           history; suspended when any message defines tools
     * @param addDefaultBosToken start with BOS (only when there is no context)
     */
    public record Options(ThinkingMode mode, ReasoningEffort effort, boolean dropThinking, boolean addDefaultBosToken) {

        public Options {
            Objects.requireNonNull(mode, "mode");
            Objects.requireNonNull(effort, "effort");
        }

        /** The official defaults: effort high, drop_thinking on, BOS on. */
        public static Options of(ThinkingMode mode) {
            return new Options(mode, ReasoningEffort.HIGH, true, true);
        }

        public Options withEffort(ReasoningEffort effort) {
            return new Options(mode, effort, dropThinking, addDefaultBosToken);
        }

        public Options withDropThinking(boolean dropThinking) {
            return new Options(mode, effort, dropThinking, addDefaultBosToken);
        }

        public Options withAddDefaultBosToken(boolean addDefaultBosToken) {
            return new Options(mode, effort, dropThinking, addDefaultBosToken);
        }
    }

    /** The whole prompt for a JSON array of messages. */
    public static String encode(JsonNode messages, Options options) {
        return encode(null, messages, options);
    }

    /**
     * The prompt text for {@code messages} when {@code context} (earlier messages, already encoded
     * and, say, in the KV cache) comes before them: only the continuation is returned, and no BOS.
     * The context still shapes it (tool-result order, where the last user turn is).
     *
     * @throws EncodingException if a message is malformed
     */
    public static String encode(JsonNode context, JsonNode messages, Options options) {
        return encodePrompt(context, messages, options).text();
    }

    /**
     * How an assistant answer with tool calls goes on after its content (empty when the answer is only
     * calls): the opening of the call block and of its first call, up to the tool's name, with the name
     * and the end of the tag when {@code name} is given. Byte for byte what {@link #encode} renders, so a
     * generation forced to start this way continues a text the model knows.
     */
    public static String toolCallsOpening(String name) {
        String open = "\n\n" + TOOL_CALLS_OPEN + ">\n" + INVOKE_OPEN + " name=\"";
        return name == null ? open : open + name + "\">\n";
    }

    /**
     * As {@link #encode(JsonNode, JsonNode, Options)}, keeping which parts of the text the request
     * supplied, so that a tokenizer can keep control tokens out of them.
     */
    public static Prompt encodePrompt(JsonNode context, JsonNode messages, Options options) {
        List<Turn> ctx = TurnRewrites.mergeToolResults(
                noContext(context) ? List.of() : MessageReader.read(context, "context"));
        List<Turn> msgs = TurnRewrites.mergeToolResults(MessageReader.read(messages, "messages"));
        List<Turn> full = new ArrayList<>(ctx);
        full.addAll(msgs);
        full = TurnRewrites.sortToolResults(full);

        boolean anyTools = full.stream().anyMatch(t -> !t.tools().isEmpty());
        boolean drop = options.dropThinking() && !anyTools;
        boolean thinking = options.mode() == ThinkingMode.THINKING;
        int first;
        if (thinking && drop) {
            full = TurnRewrites.dropThinking(full);
            first = TurnRewrites.dropThinking(ctx).size();
        } else {
            first = ctx.size();
        }

        Prompt prompt = new Prompt();
        if (options.addDefaultBosToken() && ctx.isEmpty()) {
            prompt.template(BOS);
        }
        Renderer renderer = new Renderer(full, thinking, drop, options.effort());
        for (int i = first; i < full.size(); i++) {
            renderer.render(i, prompt);
        }
        return prompt;
    }

    /** As the official {@code context if context else []}: null and an empty list both mean none. */
    private static boolean noContext(JsonNode context) {
        return context == null || context.isNull() || (context.isArray() && context.isEmpty());
    }

    /** Renders one turn at a time; what a turn looks like depends on its neighbours and the last user turn. */
    private record Renderer(List<Turn> turns, boolean thinking, boolean drop, ReasoningEffort effort, int lastUser) {

        Renderer(List<Turn> turns, boolean thinking, boolean drop, ReasoningEffort effort) {
            this(turns, thinking, drop, effort, TurnRewrites.lastUserIndex(turns));
        }

        void render(int i, Prompt out) {
            if (i == 0 && thinking && effort == ReasoningEffort.MAX) {
                out.template(V4Format.THINK_MAX_PREFIX);
            }
            Turn turn = turns.get(i);
            switch (turn) {
                case Turn.SystemPrompt s -> {
                    out.literal(s.content());
                    appendToolsAndFormat(s.tools(), s.responseFormat(), out);
                }
                case Turn.Developer d -> {
                    out.template(V4Format.USER).literal(d.content());
                    appendToolsAndFormat(d.tools(), d.responseFormat(), out);
                }
                case Turn.User u -> {
                    out.template(V4Format.USER);
                    for (int b = 0; b < u.blocks().size(); b++) {
                        Turn.Block block = u.blocks().get(b);
                        out.template(b == 0 ? "" : "\n\n");
                        if (block.toolResult()) {
                            out.template("<tool_result>").literal(block.text()).template("</tool_result>");
                        } else {
                            out.literal(block.text());
                        }
                    }
                }
                case Turn.Reminder r -> out.template(V4Format.LATEST_REMINDER).literal(r.content());
                case Turn.Assistant a -> appendAssistant(i, a, out);
                case Turn.ToolOutput t -> throw new IllegalStateException("tool messages are merged before rendering");
            }
            appendTransition(i, turn, out);
        }

        private void appendAssistant(int i, Turn.Assistant a, Prompt out) {
            // the answer to a task marker carries no reasoning; the prompt already chose for it
            boolean answersTask = i > 0 && turns.get(i - 1).task() != null;
            if (thinking && !answersTask && (!drop || i > lastUser)) {
                out.literal(a.reasoning()).template(THINK_END);
            }
            out.literal(a.content());
            if (!a.calls().isEmpty()) {
                out.template("\n\n").template(TOOL_CALLS_OPEN).template(">\n");
                for (int c = 0; c < a.calls().size(); c++) {
                    appendInvoke(a.calls().get(c), out.template(c == 0 ? "" : "\n"));
                }
                out.template("\n").template(TOOL_CALLS_CLOSE);
            }
            if (!a.woEos()) {
                out.template(EOS);
            }
        }

        /**
         * What the model is prompted to produce next. Nothing when the next turn is neither an
         * assistant nor a reminder (the next turn opens itself); else the task marker, or after a
         * user/developer turn the assistant header with {@code <think>} (reasoning expected) or
         * {@code </think>} (answer directly: chat mode, or a turn whose reasoning is dropped).
         */
        private void appendTransition(int i, Turn turn, Prompt out) {
            if (i + 1 < turns.size() && !(turns.get(i + 1) instanceof Turn.Assistant)
                    && !(turns.get(i + 1) instanceof Turn.Reminder)) {
                return;
            }
            Task task = turn.task();
            if (task == Task.ACTION) {
                out.template(ASSISTANT).template(thinking ? THINK_START : THINK_END).template(task.token);
            } else if (task != null) {
                out.template(task.token);
            } else if (turn instanceof Turn.User || turn instanceof Turn.Developer) {
                out.template(ASSISTANT).template(thinking && (!drop || i >= lastUser) ? THINK_START : THINK_END);
            }
        }
    }

    private static void appendToolsAndFormat(List<JsonNode> tools, JsonNode responseFormat, Prompt out) {
        if (!tools.isEmpty()) {
            List<String> schemas = tools.stream().map(PyJson::dumps).toList();
            out.template("\n\n").template(V4Format.toolsSectionHead()).literal(String.join("\n", schemas))
                    .template(V4Format.toolsSectionTail());
        }
        if (responseFormat != null) {
            out.template("\n\n").template(V4Format.RESPONSE_FORMAT_PREFIX).literal(PyJson.dumps(responseFormat));
        }
    }

    /** One call in DSML: string arguments verbatim with {@code string="true"}, anything else as JSON. */
    private static void appendInvoke(Turn.Call call, Prompt out) {
        out.template(INVOKE_OPEN).template(" name=\"").literal(call.name()).template("\">\n");
        boolean firstParam = true;
        for (Map.Entry<String, JsonNode> arg : call.arguments().properties()) {
            JsonNode v = arg.getValue();
            out.template(firstParam ? "" : "\n");
            out.template(PARAMETER_OPEN).template(" name=\"").literal(arg.getKey())
                    .template("\" string=\"").template(String.valueOf(v.isTextual())).template("\">")
                    .literal(v.isTextual() ? v.textValue() : PyJson.dumps(v))
                    .template("<").template(PARAMETER_END).template(">");
            firstParam = false;
        }
        out.template("\n").template(INVOKE_CLOSE).template(">");
    }

    private V4Encoder() {
    }
}
