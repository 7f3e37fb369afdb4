package dev.moe4j.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moe4j.chat.EncodingException;
import dev.moe4j.chat.ReasoningEffort;
import dev.moe4j.chat.ThinkingMode;
import dev.moe4j.chat.Prompt;
import dev.moe4j.chat.V4Encoder;
import dev.moe4j.tokenizer.Tokenizer;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.TreeSet;
import java.util.regex.Pattern;
import java.util.stream.IntStream;

/**
 * Requests → prompt token ids: chat messages through the V4 encoder (thinking mode, effort, tools,
 * response format, prefix continuation) with the context cache units marked, text and
 * fill-in-the-middle prompts, and client-given ids, every field checked on the way.
 */
final class Prompts {

    /** Model aliases of the DeepSeek app's modes: Fast answers directly, Expert thinks first. */
    static final String FAST = "fast", EXPERT = "expert";
    private static final int MAX_TOOLS = 128;
    private static final Pattern TOOL_NAME = Pattern.compile("[a-zA-Z0-9_-]{1,64}");

    private final String modelName;
    private final Tokenizer tokenizer;
    private final int bos, eos, assistant, think, thinkEnd, fimBegin, fimHole, fimEnd;

    Prompts(String modelName, Tokenizer tokenizer) {
        this.modelName = modelName;
        this.tokenizer = tokenizer;
        this.bos = tokenizer.bos().map(t -> t.id()).orElse(-1);
        this.eos = tokenizer.eos().map(t -> t.id()).orElse(-1);
        this.assistant = id("<｜Assistant｜>");
        this.think = id("<think>");
        this.thinkEnd = id("</think>");
        this.fimBegin = id("<｜fim▁begin｜>");
        this.fimHole = id("<｜fim▁hole｜>");
        this.fimEnd = id("<｜fim▁end｜>");
    }

    private int id(String token) {
        return tokenizer.tokenId(token).orElse(-1);
    }

    /**
     * @param mode        how to read the output: {@code THINKING} when it starts inside the reasoning
     * @param forcedTools the tools one of which the answer must call ({@code tool_choice} required or
     *                    named), or null when the model decides
     */
    record ChatPrompt(int[] ids, int[] boundaries, boolean thinking, ThinkingMode mode, List<String> forcedTools) {
    }

    /** The tools shown in the prompt (null: none) and those the answer must call (null: the model decides). */
    private record Tools(ArrayNode shown, List<String> forced) {
    }

    /** The V4 prompt of a chat request; {@code beta} allows an assistant prefix ({@code prefix: true}) last. */
    ChatPrompt chat(Fields f, boolean beta) {
        Boolean aliasThinking = model(f);
        boolean thinking = thinking(f, aliasThinking);
        ReasoningEffort effort = effort(f);
        ArrayNode in = f.array("messages");
        if (in == null || in.isEmpty()) {
            throw ApiError.badRequest("messages", "'messages' must be a non-empty array");
        }
        ArrayNode messages = Json.array();
        boolean prefix = false;
        for (int i = 0; i < in.size(); i++) {
            ObjectNode m = message(i, in.get(i), beta && i == in.size() - 1);
            prefix |= m.has("wo_eos");
            messages.add(m);
        }
        String lastRole = messages.get(messages.size() - 1).get("role").textValue();
        if (!prefix && !List.of("user", "tool", "developer").contains(lastRole)) {
            throw ApiError.badRequest("messages", "the last message must come from the user or a tool"
                    + (beta ? ", or be an assistant prefix with \"prefix\": true" : ""));
        }
        Tools choice = tools(f);
        ArrayNode tools = choice.shown();
        JsonNode format = responseFormat(f);
        if (tools != null || format != null) {
            // the V4 prompt carries tools and the response format in the system prompt
            ObjectNode system = messages.get(0).get("role").textValue().equals("system")
                    ? (ObjectNode) messages.get(0) : messages.insertObject(0).put("role", "system").put("content", "");
            if (tools != null) {
                system.set("tools", tools);
            }
            if (format != null) {
                system.set("response_format", format);
            }
        }
        Prompt prompt;
        try {
            prompt = V4Encoder.encodePrompt(null, messages,
                    V4Encoder.Options.of(thinking ? ThinkingMode.THINKING : ThinkingMode.CHAT).withEffort(effort));
        } catch (EncodingException e) {
            throw ApiError.badRequest("messages", e.getMessage());
        }
        // control tokens come from the template only: a user who types <｜Assistant｜> gets text
        int[] ids = tokenizer.encode(prompt.text(), prompt.literalSpans());
        // after a prefix the model continues the answer, whatever the mode
        return new ChatPrompt(ids, boundaries(ids), thinking, thinking && !prefix ? ThinkingMode.THINKING : ThinkingMode.CHAT,
                choice.forced());
    }

    /** Null for the served model, else the alias's thinking mode; 400 for any other name. */
    private Boolean model(Fields f) {
        String model = f.string("model", modelName);
        if (model.equals(FAST)) {
            return false;
        }
        if (model.equals(EXPERT)) {
            return true;
        }
        if (!model.equals(modelName)) {
            throw new ApiError(400, "invalid_request_error", "model_not_found", "model",
                    "Model Not Exist: '" + model + "' (this server serves '" + modelName + "', '" + FAST + "' and '"
                            + EXPERT + "')", 0);
        }
        return null;
    }

    void checkModel(Fields f) {
        model(f);
    }

    /** An explicit {@code thinking} wins over the alias; DeepSeek's default is enabled. */
    private static boolean thinking(Fields f, Boolean aliasThinking) {
        Fields t = f.object("thinking");
        if (t == null) {
            return aliasThinking == null || aliasThinking;
        }
        String type = t.string("type", "enabled");
        return switch (type) {
            case "enabled" -> true;
            case "disabled" -> false;
            default -> throw ApiError.invalid("thinking.type", "'thinking.type' must be enabled or disabled, got '" + type + "'");
        };
    }

    /** DeepSeek's mapping of requested efforts onto the two the model knows. */
    private static ReasoningEffort effort(Fields f) {
        String e = f.string("reasoning_effort", "high");
        return switch (e) {
            case "minimal", "low", "medium", "high" -> ReasoningEffort.HIGH;
            case "xhigh", "max", "ultra" -> ReasoningEffort.MAX;
            default -> throw ApiError.invalid("reasoning_effort", "'reasoning_effort' must be low, medium, high, xhigh or max");
        };
    }

    /**
     * A clean copy of one message with only the fields the API defines, so a client cannot reach
     * encoder internals (task markers, {@code wo_eos}) except through {@code prefix} on /beta.
     */
    private static ObjectNode message(int i, JsonNode node, boolean prefixAllowed) {
        String where = "messages[" + i + "]";
        if (!node.isObject()) {
            throw ApiError.badRequest(where, where + " must be an object");
        }
        Fields m = new Fields((ObjectNode) node);
        JsonNode roleNode = m.get("role");
        if (roleNode == null || !roleNode.isTextual()) {
            throw ApiError.badRequest(where + ".role", where + " needs a string 'role'");
        }
        String role = roleNode.textValue();
        ObjectNode out = Json.object().put("role", role);
        switch (role) {
            case "system", "user", "developer" -> out.put("content", text(where, m.get("content")));
            case "tool" -> {
                JsonNode id = m.get("tool_call_id");
                if (id == null || !id.isTextual()) {
                    throw ApiError.badRequest(where + ".tool_call_id", where + " (a tool result) needs a string 'tool_call_id'");
                }
                out.put("tool_call_id", id.textValue()).put("content", text(where, m.get("content")));
            }
            case "assistant" -> {
                out.put("content", text(where, m.get("content")));
                JsonNode reasoning = m.get("reasoning_content") != null ? m.get("reasoning_content") : m.get("reasoning");
                if (reasoning != null) {
                    if (!reasoning.isTextual()) {
                        throw ApiError.badRequest(where + ".reasoning_content", where + ".reasoning_content must be a string");
                    }
                    out.put("reasoning_content", reasoning.textValue());
                }
                JsonNode calls = m.get("tool_calls");
                if (calls != null) {
                    out.set("tool_calls", calls);
                }
                if (m.has("prefix")) {
                    boolean p = m.bool("prefix", false);
                    if (p && !prefixAllowed) {
                        throw ApiError.badRequest(where + ".prefix", "\"prefix\": true is allowed only on the last message, "
                                + "and only on /beta/chat/completions");
                    }
                    if (p) {
                        out.put("wo_eos", true);
                    }
                }
            }
            default -> throw ApiError.badRequest(where + ".role", "unknown role '" + role
                    + "' (expected system, user, assistant, tool or developer)");
        }
        return out;
    }

    /** Message content: a string, or OpenAI content parts of which only text is supported. */
    private static String text(String where, JsonNode content) {
        if (content == null || content.isNull()) {
            return "";
        }
        if (content.isTextual()) {
            return content.textValue();
        }
        if (!content.isArray()) {
            throw ApiError.badRequest(where + ".content", where + ".content must be a string or an array of parts");
        }
        StringBuilder s = new StringBuilder();
        for (JsonNode part : content) {
            if (!"text".equals(part.path("type").asText()) || !part.path("text").isTextual()) {
                throw ApiError.invalid(where + ".content", where + ": only text content parts are supported");
            }
            s.append(s.isEmpty() ? "" : "\n").append(part.get("text").textValue());
        }
        return s.toString();
    }

    /** The tools the prompt shows (none with {@code tool_choice: "none"}) and those tool_choice forces. */
    private static Tools tools(Fields f) {
        ArrayNode tools = f.array("tools");
        JsonNode choice = f.get("tool_choice");
        if (tools == null || tools.isEmpty()) {
            if (choice != null && !(choice.isTextual() && List.of("none", "auto").contains(choice.textValue()))) {
                throw ApiError.invalid("tool_choice", "'tool_choice' names a tool but no tools are given");
            }
            return new Tools(null, null);
        }
        if (tools.size() > MAX_TOOLS) {
            throw ApiError.invalid("tools", "at most " + MAX_TOOLS + " tools");
        }
        List<String> names = new ArrayList<>();
        for (int t = 0; t < tools.size(); t++) {
            String where = "tools[" + t + "]";
            JsonNode tool = tools.get(t);
            JsonNode fn = tool.path("function");
            if (!tool.isObject() || !"function".equals(tool.path("type").asText()) || !fn.isObject()) {
                throw ApiError.badRequest(where, where + " must be {\"type\": \"function\", \"function\": {...}}");
            }
            if (!fn.path("name").isTextual() || !TOOL_NAME.matcher(fn.get("name").textValue()).matches()) {
                throw ApiError.invalid(where + ".function.name", where + ".function.name must match [a-zA-Z0-9_-]{1,64}");
            }
            if (fn.has("parameters") && !fn.get("parameters").isObject()) {
                throw ApiError.badRequest(where + ".function.parameters", where + ".function.parameters must be a JSON schema object");
            }
            names.add(fn.get("name").textValue());
        }
        if (choice == null || choice.isTextual() && choice.textValue().equals("auto")) {
            return new Tools(tools, null);
        }
        if (choice.isTextual() && choice.textValue().equals("required")) {
            return new Tools(tools, List.copyOf(names));
        }
        if (choice.isTextual() && choice.textValue().equals("none")) {
            return new Tools(null, null);
        }
        String named = choice.path("function").path("name").asText(null);
        if (!"function".equals(choice.path("type").asText()) || named == null || !names.contains(named)) {
            throw ApiError.invalid("tool_choice", "'tool_choice' must be none, auto, required or "
                    + "{\"type\": \"function\", \"function\": {\"name\": one of the tools}}");
        }
        return new Tools(tools, List.of(named));
    }

    private static JsonNode responseFormat(Fields f) {
        Fields rf = f.object("response_format");
        if (rf == null) {
            return null;
        }
        return switch (rf.string("type", "text")) {
            case "text" -> null;
            case "json_object" -> Json.object().put("type", "json_object");
            default -> throw ApiError.invalid("response_format.type", "'response_format.type' must be text or json_object");
        };
    }

    /**
     * The context cache units of a V4 prompt: after each {@code <｜Assistant｜>} (the end of a user
     * input; in thinking mode the next turn shares only this, as it renders {@code </think>} where this
     * prompt has {@code <think>}), after the thinking marker that follows it (what the next turn shares
     * in chat mode), after each end-of-sentence (the end of an earlier answer), and the whole prompt.
     * Each unit inside a prompt costs its prefill one more step, so there are no others.
     */
    int[] boundaries(int[] ids) {
        TreeSet<Integer> b = new TreeSet<>();
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] == assistant) {
                b.add(i + 1);
                if (i + 1 < ids.length && (ids[i + 1] == think || ids[i + 1] == thinkEnd)) {
                    b.add(i + 2);
                }
            } else if (ids[i] == eos) {
                b.add(i + 1);
            }
        }
        b.add(ids.length);
        return b.stream().mapToInt(Integer::intValue).toArray();
    }

    /** A text prompt for /v1/completions: BOS (as the chat prompt has) and the text, added tokens matched. */
    int[] text(String text) {
        int[] ids = tokenizer.encode(text, true);
        return bos < 0 || ids.length > 0 && ids[0] == bos ? ids : concat(new int[] {bos}, ids);
    }

    /**
     * Fill-in-the-middle: BOS, {@code <｜fim▁begin｜>} prefix {@code <｜fim▁hole｜>} suffix
     * {@code <｜fim▁end｜>}; the two texts are user data, so their added-token spellings stay text.
     */
    int[] fim(String prefix, String suffix) {
        if (fimBegin < 0 || fimHole < 0 || fimEnd < 0) {
            throw ApiError.invalid("suffix", "this model's tokenizer has no fill-in-the-middle tokens");
        }
        int[] head = bos < 0 ? new int[] {fimBegin} : new int[] {bos, fimBegin};
        return concat(head, tokenizer.encode(prefix, false), new int[] {fimHole}, tokenizer.encode(suffix, false),
                new int[] {fimEnd});
    }

    private static int[] concat(int[]... parts) {
        return Arrays.stream(parts).flatMapToInt(IntStream::of).toArray();
    }

    /** Token ids given by the client: each must name a token. */
    int[] ids(JsonNode ids, String param) {
        int[] out = new int[ids.size()];
        for (int i = 0; i < out.length; i++) {
            JsonNode v = ids.get(i);
            if (!v.isIntegralNumber()) {
                throw ApiError.badRequest(param, "'" + param + "' must hold integer token ids");
            }
            if (!v.canConvertToInt() || !tokenizer.hasToken(v.intValue())) {
                throw ApiError.invalid(param, "token id " + v.asText() + " is outside the vocabulary (0.."
                        + (tokenizer.vocabSize() - 1) + ")");
            }
            out[i] = v.intValue();
        }
        return out;
    }
}
