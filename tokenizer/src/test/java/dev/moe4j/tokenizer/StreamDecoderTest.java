package dev.moe4j.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

class StreamDecoderTest {

    @Test
    void multiByteCharactersSplitAcrossTokensAreHeldBackUntilComplete() throws Exception {
        Tokenizer tokenizer = Fixtures.deepseek();
        String text = "🦙🦙 東京は日本の首都です 😶‍🌫️ 𠀋𡈽 emoji👍🏽end <｜User｜>終";
        int[] ids = tokenizer.encode(text);
        int splitting = 0;
        StreamDecoder stream = new StreamDecoder(tokenizer);
        StringBuilder streamed = new StringBuilder();
        for (int id : ids) {
            byte[] bytes = tokenizer.tokenBytes(id);
            if (!new String(bytes, StandardCharsets.UTF_8).equals(tokenizer.decode(new int[] {id}))
                    || bytes.length > 0 && (bytes[0] & 0xC0) == 0x80) {
                splitting++;
            }
            String piece = stream.push(id);
            assertWholeCharacters(piece);
            streamed.append(piece);
            assertTrue(text.startsWith(streamed.toString()), () -> "streamed text diverged: " + streamed);
        }
        String rest = stream.flush();
        assertEquals("", rest, "nothing pending after complete text");
        assertEquals(text, streamed.toString());
        assertEquals(tokenizer.decode(ids), streamed.toString());
        assertTrue(splitting > 0, "the sample must contain tokens that end or start inside a character");
    }

    @Test
    void concatenationEqualsDecodeForEveryRandomText() throws Exception {
        Tokenizer tokenizer = Fixtures.deepseek();
        for (String text : new RandomTexts(11, List.of("<｜User｜>", "<｜Assistant｜>")).generate(200)) {
            int[] ids = tokenizer.encode(text);
            StreamDecoder stream = new StreamDecoder(tokenizer);
            StringBuilder streamed = new StringBuilder();
            for (int id : ids) {
                String piece = stream.push(id);
                assertWholeCharacters(piece);
                streamed.append(piece);
            }
            streamed.append(stream.flush());
            assertEquals(tokenizer.decode(ids), streamed.toString());
            assertEquals(text, streamed.toString());
        }
    }

    @Test
    void unfinishedCharacterAtEndOfStreamBecomesReplacementCharacter() throws Exception {
        Tokenizer tokenizer = Fixtures.deepseek();
        int[] ids = tokenizer.encode("a🦙");
        List<Integer> cut = new ArrayList<>();
        // Keep tokens up to one whose bytes leave the emoji unfinished.
        StreamDecoder stream = new StreamDecoder(tokenizer);
        StringBuilder streamed = new StringBuilder();
        int byteCount = 0;
        for (int id : ids) {
            byteCount += tokenizer.tokenBytes(id).length;
            cut.add(id);
            streamed.append(stream.push(id));
            if (byteCount > 1 && byteCount < 5) {
                break;
            }
        }
        assertEquals("a", streamed.toString(), "the unfinished emoji is held back");
        String flushed = stream.flush();
        assertEquals("\uFFFD", flushed, "never lost silently");
        int[] prefix = cut.stream().mapToInt(Integer::intValue).toArray();
        assertEquals(tokenizer.decode(prefix), streamed + flushed);
        assertEquals("", stream.flush(), "flush empties the decoder");
        assertEquals("b", stream.push(tokenizer.encode("b")[0]), "and it can be reused");
    }

    @Test
    void invalidByteSequencesDecodeLikeRustLossyUtf8() throws Exception {
        Tokenizer tokenizer = Fixtures.deepseek();
        // Single-byte tokens: the byte-level characters for 0xF0 0x9F (an unfinished 4-byte lead), then 'A',
        // then a stray continuation byte 0x80, then 0xED 0xA0 (a surrogate encoding, ill-formed at 0xA0).
        int[] ids = {byteToken(tokenizer, 0xF0), byteToken(tokenizer, 0x9F), byteToken(tokenizer, 'A'),
            byteToken(tokenizer, 0x80), byteToken(tokenizer, 0xED), byteToken(tokenizer, 0xA0)};
        String expected = "\uFFFDA\uFFFD\uFFFD\uFFFD";
        assertEquals(expected, tokenizer.decode(ids));
        StreamDecoder stream = new StreamDecoder(tokenizer);
        StringBuilder streamed = new StringBuilder();
        for (int id : ids) {
            streamed.append(stream.push(id));
        }
        streamed.append(stream.flush());
        assertEquals(expected, streamed.toString());
    }

    private static int byteToken(Tokenizer tokenizer, int b) {
        return tokenizer.tokenId(String.valueOf(ByteLevel.charOf(b))).orElseThrow();
    }

    private static void assertWholeCharacters(String piece) {
        if (!piece.isEmpty()) {
            assertFalse(Character.isLowSurrogate(piece.charAt(0)), "piece starts mid-character: " + piece);
            assertFalse(Character.isHighSurrogate(piece.charAt(piece.length() - 1)), "piece ends mid-character: " + piece);
        }
        assertFalse(piece.contains("\uFFFD"), "no replacement character for well-formed text: " + piece);
    }
}
