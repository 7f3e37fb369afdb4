package dev.moe4j.chat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.core.JsonProcessingException;
import org.junit.jupiter.api.Test;

/** Expected strings are what CPython's {@code json.dumps(json.loads(s), ensure_ascii=False)} prints. */
class PyJsonTest {

    @Test
    void separatorsOrderAndUnescapedUnicode() throws JsonProcessingException {
        assertEquals("{\"b\": [1, \"é✓\", null], \"a\": {\"t\": true, \"f\": false}}",
                PyJson.dumps(PyJson.parse("{\"b\":[1,\"\\u00e9✓\",null],\"a\":{\"t\":true,\"f\":false}}")));
    }

    @Test
    void stringEscapes() {
        assertEquals("\"q\\\" b\\\\ n\\n r\\r t\\t \\b\\f \\u001b \u007f /\"", PyJson.quote("q\" b\\ n\n r\r t\t \b\f \u001b \u007f /"));
    }

    @Test
    void floatsInPythonReprForm() {
        assertEquals("1.0", PyJson.floatRepr(1.0));
        assertEquals("-0.0", PyJson.floatRepr(-0.0));
        assertEquals("0.1", PyJson.floatRepr(0.1));
        assertEquals("0.30000000000000004", PyJson.floatRepr(0.1 + 0.2));
        assertEquals("1000000000000000.0", PyJson.floatRepr(1e15));
        assertEquals("1e+16", PyJson.floatRepr(1e16));
        assertEquals("0.0001", PyJson.floatRepr(1e-4));
        assertEquals("1e-05", PyJson.floatRepr(1e-5));
        assertEquals("-2.5e-07", PyJson.floatRepr(-2.5e-7));
        assertEquals("1.2345678901234568e+17", PyJson.floatRepr(123456789012345678.0));
        assertEquals("5e-324", PyJson.floatRepr(Double.MIN_VALUE));
        assertEquals("1.7976931348623157e+308", PyJson.floatRepr(Double.MAX_VALUE));
        assertEquals("644201731257661.8", PyJson.floatRepr(644201731257661.75)); // a tie goes to the even digit
        assertEquals("Infinity", PyJson.floatRepr(Double.POSITIVE_INFINITY));
        assertEquals("NaN", PyJson.floatRepr(Double.NaN));
    }

    @Test
    void numbersKeepTheirKind() throws JsonProcessingException {
        assertEquals("[100.0, 3, 0, 123456789012345678901234567890, 1.5]",
                PyJson.dumps(PyJson.parse("[1E2, 3, -0, 123456789012345678901234567890, 1.50]")));
    }

    @Test
    void parseRejectsWhatJsonLoadsRejects() {
        assertThrows(JsonProcessingException.class, () -> PyJson.parse("{\"a\": 1} x"));
        assertThrows(JsonProcessingException.class, () -> PyJson.parse("   "));
        assertThrows(JsonProcessingException.class, () -> PyJson.parse("{a: 1}"));
    }

    @Test
    void pythonTruthiness() throws JsonProcessingException {
        for (String falsy : new String[] {"null", "false", "0", "0.0", "\"\"", "[]", "{}"}) {
            assertFalse(PyJson.truthy(PyJson.parse(falsy)), falsy);
        }
        for (String truthy : new String[] {"true", "1", "-0.5", "\"x\"", "[0]", "{\"a\": null}"}) {
            assertTrue(PyJson.truthy(PyJson.parse(truthy)), truthy);
        }
        assertFalse(PyJson.truthy(null));
    }
}
