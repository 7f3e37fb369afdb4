package dev.moe4j.chat;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * One function call, OpenAI style.
 *
 * @param id        the caller's id ({@code call_…}), or null: the model does not produce ids, the server assigns them
 * @param name      the function name
 * @param arguments the arguments as a JSON object in text form, as OpenAI's API carries them
 */
public record ToolCall(String id, String name, String arguments) {

    /** {@code {"id":…,"type":"function","function":{"name":…,"arguments":…}}}, the id only when known. */
    public ObjectNode toOpenAi() {
        ObjectNode call = JsonNodeFactory.instance.objectNode();
        if (id != null) {
            call.put("id", id);
        }
        call.put("type", "function");
        ObjectNode function = call.putObject("function");
        function.put("name", name);
        function.put("arguments", arguments);
        return call;
    }
}
