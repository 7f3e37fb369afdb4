package dev.moe4j.chat;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.math.BigDecimal;
import java.math.MathContext;
import java.math.RoundingMode;
import java.util.Iterator;
import java.util.Map;

/**
 * JSON read and written the way Python's {@code json} module does it, because the official encoder
 * embeds {@code json.dumps(value, ensure_ascii=False)} output in the prompt (tool schemas, non-string
 * tool arguments, response formats) and the model saw exactly that spelling: {@code ", "} and
 * {@code ": "} separators, keys in input order, non-ASCII characters unescaped, floats in
 * {@code repr} form ({@code 1.0}, {@code 1e+16}).
 */
final class PyJson {

    /** Like {@code json.loads}: NaN/Infinity literals allowed, trailing data rejected. */
    static final ObjectMapper MAPPER = JsonMapper.builder()
            .enable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build();

    static JsonNode parse(String text) throws JsonProcessingException {
        JsonNode node = MAPPER.readTree(text);
        if (node == null || node.isMissingNode()) {
            // readTree answers "no content" for blank input instead of failing as json.loads does
            throw new BlankInput();
        }
        return node;
    }

    static String dumps(JsonNode value) {
        StringBuilder out = new StringBuilder();
        write(value, out);
        return out.toString();
    }

    /** A JSON string literal, escaped as {@code json.dumps(s, ensure_ascii=False)} does. */
    static String quote(String s) {
        StringBuilder out = new StringBuilder(s.length() + 2);
        writeString(s, out);
        return out.toString();
    }

    /** Python's truth value of a JSON value ({@code if x:}): null, false, 0, "", [] and {} are false. */
    static boolean truthy(JsonNode v) {
        if (v == null || v.isNull() || v.isMissingNode()) {
            return false;
        }
        if (v.isBoolean()) {
            return v.booleanValue();
        }
        if (v.isNumber()) {
            return v.isFloatingPointNumber() ? v.doubleValue() != 0.0 : v.bigIntegerValue().signum() != 0;
        }
        if (v.isTextual()) {
            return !v.textValue().isEmpty();
        }
        return !v.isEmpty();
    }

    private static void write(JsonNode v, StringBuilder out) {
        if (v.isObject()) {
            out.append('{');
            Iterator<Map.Entry<String, JsonNode>> it = v.properties().iterator();
            while (it.hasNext()) {
                Map.Entry<String, JsonNode> e = it.next();
                writeString(e.getKey(), out);
                out.append(": ");
                write(e.getValue(), out);
                if (it.hasNext()) {
                    out.append(", ");
                }
            }
            out.append('}');
        } else if (v.isArray()) {
            out.append('[');
            for (int i = 0; i < v.size(); i++) {
                if (i > 0) {
                    out.append(", ");
                }
                write(v.get(i), out);
            }
            out.append(']');
        } else if (v.isTextual()) {
            writeString(v.textValue(), out);
        } else if (v.isFloatingPointNumber()) {
            out.append(floatRepr(v.doubleValue()));
        } else if (v.isNumber()) {
            out.append(v.bigIntegerValue());
        } else if (v.isBoolean()) {
            out.append(v.booleanValue() ? "true" : "false");
        } else {
            out.append("null");
        }
    }

    private static void writeString(String s, StringBuilder out) {
        out.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                case '\b' -> out.append("\\b");
                case '\f' -> out.append("\\f");
                default -> {
                    if (c < 0x20) {
                        out.append(String.format("\\u%04x", (int) c));
                    } else {
                        out.append(c);
                    }
                }
            }
        }
        out.append('"');
    }

    /**
     * Python's {@code repr(float)}: the shortest decimal that reads back as the same double (the
     * closest one if several, the even one on a tie), fixed notation for decimal exponents -4..15,
     * else {@code 1e+16} style.
     */
    static String floatRepr(double d) {
        if (Double.isNaN(d)) {
            return "NaN";
        }
        if (Double.isInfinite(d)) {
            return d > 0 ? "Infinity" : "-Infinity";
        }
        String sign = (d < 0 || (d == 0 && 1 / d < 0)) ? "-" : "";
        double a = Math.abs(d);
        String digits;
        int decpt; // value = 0.digits × 10^decpt
        if (a == 0) {
            digits = "0";
            decpt = 1;
        } else {
            BigDecimal shortest = shortestRoundTrip(a).stripTrailingZeros();
            digits = shortest.unscaledValue().toString();
            decpt = digits.length() - shortest.scale();
        }
        if (decpt <= -4 || decpt > 16) {
            int exp = decpt - 1;
            String mantissa = digits.length() == 1 ? digits : digits.charAt(0) + "." + digits.substring(1);
            return sign + mantissa + "e" + (exp < 0 ? "-" : "+") + (Math.abs(exp) < 10 ? "0" : "") + Math.abs(exp);
        }
        if (decpt <= 0) {
            return sign + "0." + "0".repeat(-decpt) + digits;
        }
        if (decpt >= digits.length()) {
            return sign + digits + "0".repeat(decpt - digits.length()) + ".0";
        }
        return sign + digits.substring(0, decpt) + "." + digits.substring(decpt);
    }

    private static BigDecimal shortestRoundTrip(double a) {
        BigDecimal exact = new BigDecimal(a);
        for (int precision = 1; ; precision++) {
            BigDecimal down = exact.round(new MathContext(precision, RoundingMode.FLOOR));
            BigDecimal up = exact.round(new MathContext(precision, RoundingMode.CEILING));
            boolean downOk = Double.parseDouble(down.toString()) == a;
            boolean upOk = Double.parseDouble(up.toString()) == a;
            if (downOk && upOk) {
                int nearer = exact.subtract(down).compareTo(up.subtract(exact));
                if (nearer != 0) {
                    return nearer < 0 ? down : up;
                }
                return down.unscaledValue().testBit(0) ? up : down; // a tie goes to the even digit
            }
            if (downOk || upOk) {
                return downOk ? down : up;
            }
        }
    }

    /** Lets {@link #parse} report blank input through the same exception type as a syntax error. */
    private static final class BlankInput extends JsonProcessingException {
        BlankInput() {
            super("no JSON value");
        }
    }

    private PyJson() {
    }
}
