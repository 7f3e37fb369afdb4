package dev.moe4j.server;

import dev.moe4j.model.ModelSource;
import dev.moe4j.tokenizer.Tokenizer;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The demo model's tokenizer fits the demo model and speaks the V4 prompt format. */
class DemoTokenizerTest {

    private static final Tokenizer T = DemoTokenizer.load();

    @Test
    void everyRowOfTheDemoModelIsAToken() {
        try (ModelSource demo = ModelSource.demo()) {
            assertEquals(demo.config().vocabSize(), T.vocabSize());
        }
        assertEquals(0, T.vocabSize() % 64);
        for (int id = 0; id < T.vocabSize(); id++) {
            assertTrue(T.hasToken(id), "id " + id);
        }
        assertEquals(0, T.bos().orElseThrow().id());
        assertEquals(1, T.eos().orElseThrow().id());
    }

    @Test
    void theV4SpecialTokensAreSingleTokens() {
        for (String special : List.of("<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<｜User｜>", "<｜Assistant｜>",
                "<think>", "</think>", "｜DSML｜", "<｜latest_reminder｜>", "<｜action｜>", "<｜query｜>", "<｜authority｜>",
                "<｜domain｜>", "<｜title｜>", "<｜read_url｜>", "<｜fim▁hole｜>", "<｜fim▁begin｜>", "<｜fim▁end｜>")) {
            int[] ids = T.encode(special, true);
            assertEquals(1, ids.length, special);
            assertTrue(T.isAddedToken(ids[0]), special);
            assertEquals(special, T.decode(ids));
        }
        assertTrue(T.encode("<think>", false).length > 1, "user text never forges a special token");
    }

    @Test
    void textRoundTripsAndCommonWordsAreMerged() {
        for (String s : List.of("Hello, world!", "The capital of France is Paris.", "emoji 🦊 and ünïcödé, 中文",
                "  spaces\n\ttabs\r\n", "")) {
            assertEquals(s, T.decode(T.encode(s, true)), s);
        }
        assertTrue(T.encode(" the", true).length == 1, "merges exist");
        assertArrayEquals(T.encode("a<｜User｜>b", true), new int[] {T.encode("a", true)[0],
                T.tokenId("<｜User｜>").getAsInt(), T.encode("b", true)[0]});
    }
}
