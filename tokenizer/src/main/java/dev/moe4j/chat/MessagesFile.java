package dev.moe4j.chat;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * The two shapes a conversation file comes in: a JSON array of messages (tools inline on a
 * message), or an object {@code {"messages": [...], "tools": [...]}} as in the official test data,
 * whose top-level tools belong to the first message (the official test sets
 * {@code messages[0]["tools"] = tools}).
 */
public final class MessagesFile {

    /** The messages of a conversation file's text, ready for {@link V4Encoder#encode}. */
    public static ArrayNode parse(String json) {
        JsonNode root;
        try {
            root = PyJson.parse(json);
        } catch (JsonProcessingException e) {
            throw new EncodingException("the messages file is not JSON: " + e.getOriginalMessage());
        }
        if (root.isArray()) {
            return (ArrayNode) root;
        }
        if (!root.isObject()) {
            throw new EncodingException("the messages file must hold a JSON array of messages or an object with \"messages\"");
        }
        JsonNode messages = root.get("messages");
        if (messages == null || !messages.isArray()) {
            throw new EncodingException("the messages file has no \"messages\" array");
        }
        JsonNode tools = root.get("tools");
        if (tools != null && !tools.isNull()) {
            if (messages.isEmpty() || !messages.get(0).isObject()) {
                throw new EncodingException("top-level \"tools\" need a first message to attach to");
            }
            ((ObjectNode) messages.get(0)).set("tools", tools);
        }
        return (ArrayNode) messages;
    }

    private MessagesFile() {
    }
}
