package dev.moe4j.io;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParseException;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonPointer;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;

/**
 * Reads JSON from untrusted checkpoint files into Jackson trees, refusing repeated keys. Jackson's own tree reader
 * keeps the last of two equal keys without a word; a header listing one tensor twice must be rejected instead, since
 * another reader of the same file could pick the other entry and see different weights.
 */
final class StrictJson {

    private static final JsonFactory FACTORY = new JsonFactory();
    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;

    private StrictJson() {
    }

    /** A key that appears twice in one object; {@code parent} points at that object ("" for the top level). */
    static final class DuplicateKeyException extends IOException {
        private final transient JsonPointer parent;
        private final String key;

        DuplicateKeyException(JsonPointer parent, String key) {
            super("key '" + key + "' appears twice" + (parent.matches() ? "" : " in " + parent));
            this.parent = parent;
            this.key = key;
        }

        JsonPointer parent() {
            return parent;
        }

        String key() {
            return key;
        }
    }

    /** The single JSON value in {@code json}; a syntax error or trailing text throws a JsonParseException. */
    static JsonNode parse(byte[] json) throws IOException {
        try (JsonParser p = FACTORY.createParser(json)) {
            if (p.nextToken() == null) {
                throw new JsonParseException(p, "no JSON value (empty text)");
            }
            JsonNode root = read(p);
            if (p.nextToken() != null) {
                throw new JsonParseException(p, "text after the end of the JSON value");
            }
            return root;
        }
    }

    // Recursion depth is bounded by Jackson's nesting limit (StreamReadConstraints), so hostile nesting cannot
    // exhaust the stack.
    private static JsonNode read(JsonParser p) throws IOException {
        JsonToken token = p.currentToken();
        return switch (token) {
            case START_OBJECT -> {
                ObjectNode object = NODES.objectNode();
                while (p.nextToken() == JsonToken.FIELD_NAME) {
                    String key = p.currentName();
                    if (object.has(key)) {
                        throw new DuplicateKeyException(p.getParsingContext().pathAsPointer().head(), key);
                    }
                    p.nextToken();
                    object.set(key, read(p));
                }
                yield object;
            }
            case START_ARRAY -> {
                ArrayNode array = NODES.arrayNode();
                while (p.nextToken() != JsonToken.END_ARRAY) {
                    array.add(read(p));
                }
                yield array;
            }
            case VALUE_STRING -> NODES.textNode(p.getText());
            case VALUE_NUMBER_INT -> switch (p.getNumberType()) {
                case INT -> NODES.numberNode(p.getIntValue());
                case LONG -> NODES.numberNode(p.getLongValue());
                default -> NODES.numberNode(p.getBigIntegerValue());
            };
            case VALUE_NUMBER_FLOAT -> NODES.numberNode(p.getDoubleValue());
            case VALUE_TRUE, VALUE_FALSE -> NODES.booleanNode(token == JsonToken.VALUE_TRUE);
            case VALUE_NULL -> NODES.nullNode();
            default -> throw new JsonParseException(p, "unexpected " + token);
        };
    }
}
