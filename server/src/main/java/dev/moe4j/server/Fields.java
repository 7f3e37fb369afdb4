package dev.moe4j.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * Typed reads of a request body's fields. A JSON null counts as absent (SDKs send nulls for unset
 * options). A wrong JSON type is a 400, a value outside its range a 422; both name the field.
 */
final class Fields {

    private final ObjectNode body;
    private final String prefix;

    Fields(ObjectNode body) {
        this(body, "");
    }

    private Fields(ObjectNode body, String prefix) {
        this.body = body;
        this.prefix = prefix;
    }

    boolean has(String name) {
        JsonNode v = body.get(name);
        return v != null && !v.isNull();
    }

    JsonNode get(String name) {
        JsonNode v = body.get(name);
        return v == null || v.isNull() ? null : v;
    }

    /** An integer field in [min, max], or {@code dflt} when absent. */
    long integer(String name, long min, long max, long dflt) {
        JsonNode v = get(name);
        if (v == null) {
            return dflt;
        }
        if (!v.isIntegralNumber()) {
            throw ApiError.badRequest(prefix + name, "'" + prefix + name + "' must be an integer");
        }
        long x = v.longValue();
        if (!v.canConvertToLong() || x < min || x > max) {
            throw ApiError.invalid(prefix + name, "'" + prefix + name + "' must be in [" + min + ", " + max + "], got " + v.asText());
        }
        return x;
    }

    /** A number in [min, max], or {@code dflt} when absent. */
    double number(String name, double min, double max, double dflt) {
        JsonNode v = get(name);
        if (v == null) {
            return dflt;
        }
        if (!v.isNumber()) {
            throw ApiError.badRequest(prefix + name, "'" + prefix + name + "' must be a number");
        }
        double x = v.doubleValue();
        if (!(x >= min && x <= max)) {
            throw ApiError.invalid(prefix + name, "'" + prefix + name + "' must be in [" + min + ", " + max + "], got " + v.asText());
        }
        return x;
    }

    boolean bool(String name, boolean dflt) {
        JsonNode v = get(name);
        if (v == null) {
            return dflt;
        }
        if (!v.isBoolean()) {
            throw ApiError.badRequest(prefix + name, "'" + prefix + name + "' must be true or false");
        }
        return v.booleanValue();
    }

    String string(String name, String dflt) {
        JsonNode v = get(name);
        if (v == null) {
            return dflt;
        }
        if (!v.isTextual()) {
            throw ApiError.badRequest(prefix + name, "'" + prefix + name + "' must be a string");
        }
        return v.textValue();
    }

    /** An object field wrapped for further reads (its fields are named {@code name.field} in errors), or null. */
    Fields object(String name) {
        JsonNode v = get(name);
        if (v == null) {
            return null;
        }
        if (!v.isObject()) {
            throw ApiError.badRequest(prefix + name, "'" + prefix + name + "' must be an object");
        }
        return new Fields((ObjectNode) v, prefix + name + ".");
    }

    ArrayNode array(String name) {
        JsonNode v = get(name);
        if (v == null) {
            return null;
        }
        if (!v.isArray()) {
            throw ApiError.badRequest(prefix + name, "'" + prefix + name + "' must be an array");
        }
        return (ArrayNode) v;
    }
}
