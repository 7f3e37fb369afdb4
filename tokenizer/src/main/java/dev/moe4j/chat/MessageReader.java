package dev.moe4j.chat;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;

/**
 * Checks OpenAI/DeepSeek-style message JSON and turns it into {@link Turn}s. Everything that can be
 * wrong with the input is found here, with the message index at hand, so rendering never fails.
 * Where the official code would crash or print Python's {@code None} into the prompt, this rejects
 * the message instead.
 */
final class MessageReader {

    private final String list;

    private MessageReader(String list) {
        this.list = list;
    }

    /** Reads a JSON array of messages; {@code list} names it in error messages ("messages", "context"). */
    static List<Turn> read(JsonNode messages, String list) {
        if (messages == null || !messages.isArray()) {
            throw new EncodingException(list + " must be a JSON array of messages");
        }
        MessageReader reader = new MessageReader(list);
        List<Turn> turns = new ArrayList<>(messages.size());
        for (int i = 0; i < messages.size(); i++) {
            turns.add(reader.message(i, messages.get(i)));
        }
        return turns;
    }

    private Turn message(int i, JsonNode m) {
        if (!m.isObject()) {
            throw error(i, "a message must be a JSON object");
        }
        JsonNode role = m.get("role");
        if (role == null || role.isNull()) {
            throw error(i, "missing required field 'role'");
        }
        if (!role.isTextual()) {
            throw error(i, "'role' must be a string");
        }
        return switch (role.textValue()) {
            case "system" -> new Turn.SystemPrompt(optionalText(i, m, "content"), tools(i, m),
                    responseFormat(m), task(i, m));
            case "developer" -> new Turn.Developer(developerContent(i, m), tools(i, m), responseFormat(m), task(i, m));
            case "latest_reminder" -> new Turn.Reminder(requiredText(i, m, "content"), tools(i, m), task(i, m));
            case "user" -> new Turn.User(List.of(Turn.Block.ofText(userContent(i, m))), task(i, m));
            case "tool" -> new Turn.ToolOutput(optionalText(i, m, "tool_call_id"), toolContent(i, m));
            case "assistant" -> new Turn.Assistant(optionalText(i, m, "content"),
                    optionalText(i, m, "reasoning_content"), calls(i, m), tools(i, m),
                    PyJson.truthy(m.get("wo_eos")), task(i, m));
            default -> throw error(i, "unknown role '" + role.textValue()
                    + "' (expected system, user, assistant, tool, developer or latest_reminder)");
        };
    }

    /** A text field that may be absent or null (rendered as ""). */
    private String optionalText(int i, JsonNode m, String field) {
        JsonNode v = m.get(field);
        if (v == null || v.isNull()) {
            return "";
        }
        if (!v.isTextual()) {
            throw error(i, "'" + field + "' must be a string");
        }
        return v.textValue();
    }

    private String requiredText(int i, JsonNode m, String field) {
        JsonNode v = m.get(field);
        if (v == null || v.isNull()) {
            throw error(i, "missing required field '" + field + "'");
        }
        return optionalText(i, m, field);
    }

    /** The official code asserts a developer message has non-empty content. */
    private String developerContent(int i, JsonNode m) {
        String content = requiredText(i, m, "content");
        if (content.isEmpty()) {
            throw error(i, "a developer message needs non-empty 'content'");
        }
        return content;
    }

    /** Absent means "" (as in the official code); null is rejected (the official code fails on it). */
    private String userContent(int i, JsonNode m) {
        JsonNode v = m.get("content");
        if (v != null && !v.isTextual()) {
            throw error(i, "'content' of a user message must be a string");
        }
        return v == null ? "" : v.textValue();
    }

    /** A tool result: a string, or content parts whose texts are joined by blank lines. */
    private String toolContent(int i, JsonNode m) {
        JsonNode v = m.get("content");
        if (v == null) {
            return "";
        }
        if (v.isTextual()) {
            return v.textValue();
        }
        if (!v.isArray()) {
            throw error(i, "'content' of a tool message must be a string or an array of content parts");
        }
        List<String> parts = new ArrayList<>();
        for (JsonNode part : v) {
            JsonNode type = part.get("type");
            if (type != null && "text".equals(type.textValue())) {
                JsonNode text = part.get("text");
                if (text != null && !text.isTextual()) {
                    throw error(i, "a text content part needs a string 'text'");
                }
                parts.add(text == null ? "" : text.textValue());
            } else {
                // the official wording for parts it cannot show, Python's None included
                parts.add("[Unsupported " + (type == null || type.isNull() ? "None" : type.asText()) + "]");
            }
        }
        return String.join("\n\n", parts);
    }

    private Task task(int i, JsonNode m) {
        JsonNode v = m.get("task");
        if (v == null || v.isNull()) {
            return null;
        }
        Task task = v.isTextual() ? Task.byWireName(v.textValue()) : null;
        if (task == null) {
            throw error(i, "invalid task " + v + " (expected action, query, authority, domain, title or read_url)");
        }
        return task;
    }

    private static JsonNode responseFormat(JsonNode m) {
        JsonNode v = m.get("response_format");
        return PyJson.truthy(v) ? v : null;
    }

    /** OpenAI tool definitions {@code {"type":"function","function":{…}}}; the prompt shows the function objects. */
    private List<JsonNode> tools(int i, JsonNode m) {
        JsonNode v = m.get("tools");
        if (v == null || v.isNull()) {
            return List.of();
        }
        if (!v.isArray()) {
            throw error(i, "'tools' must be an array");
        }
        List<JsonNode> functions = new ArrayList<>(v.size());
        for (int t = 0; t < v.size(); t++) {
            JsonNode function = v.get(t).get("function");
            if (function == null || !function.isObject()) {
                throw error(i, "tools[" + t + "] has no 'function' object");
            }
            functions.add(function);
        }
        return functions;
    }

    private List<Turn.Call> calls(int i, JsonNode m) {
        JsonNode v = m.get("tool_calls");
        if (v == null || v.isNull()) {
            return List.of();
        }
        if (!v.isArray()) {
            throw error(i, "'tool_calls' must be an array");
        }
        List<Turn.Call> calls = new ArrayList<>(v.size());
        for (int c = 0; c < v.size(); c++) {
            String where = "tool_calls[" + c + "]";
            JsonNode function = v.get(c).get("function");
            if (function == null || !function.isObject()) {
                throw error(i, where + " has no 'function' object");
            }
            JsonNode name = function.get("name");
            if (name == null || !name.isTextual()) {
                throw error(i, where + " needs a string 'function.name'");
            }
            JsonNode arguments = function.get("arguments");
            if (arguments == null || !arguments.isTextual()) {
                throw error(i, where + " needs 'function.arguments' as a JSON string");
            }
            calls.add(new Turn.Call(callId(v.get(c), function), name.textValue(),
                    argumentsObject(i, where, arguments.textValue())));
        }
        return calls;
    }

    /** As the official code: the call's own id, else an id inside {@code function}, else "". */
    private static String callId(JsonNode call, JsonNode function) {
        for (JsonNode id : new JsonNode[] {call.get("id"), function.get("id")}) {
            if (id != null && id.isTextual() && !id.textValue().isEmpty()) {
                return id.textValue();
            }
        }
        return "";
    }

    /**
     * The official code would quietly render unparsable arguments as one string parameter named
     * "arguments"; that teaches the model nothing useful, so a bad history is rejected instead.
     */
    private ObjectNode argumentsObject(int i, String where, String arguments) {
        JsonNode parsed;
        try {
            parsed = PyJson.parse(arguments);
        } catch (JsonProcessingException e) {
            throw error(i, where + " arguments are not valid JSON: " + e.getOriginalMessage());
        }
        if (!parsed.isObject()) {
            throw error(i, where + " arguments must be a JSON object, got " + parsed.getNodeType().name().toLowerCase());
        }
        return (ObjectNode) parsed;
    }

    private EncodingException error(int i, String problem) {
        return new EncodingException(list, i, problem);
    }
}
