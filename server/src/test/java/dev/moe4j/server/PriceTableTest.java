package dev.moe4j.server;

import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PriceTableTest {

    @Test
    void costIsTokensTimesPricePerMillion(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("prices.json");
        Files.writeString(f, "{\"mine\": {\"input_cache_hit\": 1, \"input_cache_miss\": 2, \"output\": 4, \"currency\": \"CNY\"}}");
        PriceTable t = PriceTable.load(f);
        ObjectNode c = t.cost("mine", 500_000, 250_000, 1_000_000);
        assertEquals(0.5, c.get("input_cache_hit").asDouble(), 1e-12);
        assertEquals(0.5, c.get("input_cache_miss").asDouble(), 1e-12);
        assertEquals(4.0, c.get("output").asDouble(), 1e-12);
        assertEquals(5.0, c.get("total").asDouble(), 1e-12);
        assertEquals("CNY", c.get("currency").asText());
        assertEquals(0.28, t.cost("demo", 0, 0, 1_000_000).get("output").asDouble(), 1e-12, "built-in prices stay");
        assertNull(t.cost("unknown", 1, 1, 1));
    }

    @Test
    void badFilesSayWhatIsWrong(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("p.json");
        assertTrue(message(f).contains("not found"));
        Files.writeString(f, "{\"m\": ");
        assertTrue(message(f).contains("not valid JSON"), message(f));
        Files.writeString(f, "[1]");
        assertTrue(message(f).contains("JSON object"));
        Files.writeString(f, "{\"m\": {\"input_cache_hit\": 1, \"input_cache_miss\": 2}}");
        assertTrue(message(f).contains("\"output\""), message(f));
        Files.writeString(f, "{\"m\": {\"input_cache_hit\": -1, \"input_cache_miss\": 2, \"output\": 1}}");
        assertTrue(message(f).contains("\"input_cache_hit\" must be a number ≥ 0"), message(f));
        Files.writeString(f, "{\"m\": {\"input\": 1, \"input_cache_hit\": 1, \"input_cache_miss\": 2, \"output\": 1}}");
        assertTrue(message(f).contains("unknown field \"input\""), message(f));
    }

    private static String message(Path f) {
        return assertThrows(IllegalArgumentException.class, () -> PriceTable.load(f)).getMessage();
    }
}
