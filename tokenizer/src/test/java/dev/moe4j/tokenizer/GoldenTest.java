package dev.moe4j.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** golden.jsonl: ids checked against HF's Rust tokenizers, and exact decode round trips. */
class GoldenTest {

    private record Case(int line, String text, int[] ids, String decoded) {
    }

    private static List<Case> cases() throws Exception {
        ObjectMapper json = new ObjectMapper();
        List<String> lines = Files.readAllLines(Fixtures.deepseekDir().resolve("golden.jsonl"));
        List<Case> cases = new ArrayList<>();
        for (int i = 0; i < lines.size(); i++) {
            if (lines.get(i).isBlank()) {
                continue;
            }
            JsonNode node = json.readTree(lines.get(i));
            int[] ids = new int[node.get("ids").size()];
            for (int k = 0; k < ids.length; k++) {
                ids[k] = node.get("ids").get(k).asInt();
            }
            cases.add(new Case(i + 1, node.get("text").asText(), ids, node.get("decoded").asText()));
        }
        return cases;
    }

    @Test
    void allGoldenEncodingsMatch() throws Exception {
        Tokenizer tokenizer = Fixtures.deepseek();
        List<Case> cases = cases();
        assertEquals(177, cases.size(), "golden.jsonl case count");
        List<String> failures = new ArrayList<>();
        for (Case c : cases) {
            int[] ids = tokenizer.encode(c.text());
            if (!Arrays.equals(c.ids(), ids)) {
                failures.add("line " + c.line() + " " + abbreviate(c.text()) + "\n  expected " + Arrays.toString(c.ids())
                        + "\n  actual   " + Arrays.toString(ids));
            }
        }
        assertEquals(List.of(), failures, failures.size() + " of " + cases.size() + " golden encodings differ");
    }

    @Test
    void allGoldenDecodingsRoundTrip() throws Exception {
        Tokenizer tokenizer = Fixtures.deepseek();
        for (Case c : cases()) {
            assertEquals(c.decoded(), tokenizer.decode(c.ids()), "decode of golden line " + c.line());
            assertEquals(c.text(), c.decoded(), "golden line " + c.line() + " decoded differs from text");
        }
    }

    @Test
    void goldenIdsSurviveStreaming() throws Exception {
        Tokenizer tokenizer = Fixtures.deepseek();
        for (Case c : cases()) {
            StreamDecoder stream = new StreamDecoder(tokenizer);
            StringBuilder text = new StringBuilder();
            for (int id : c.ids()) {
                text.append(stream.push(id));
            }
            text.append(stream.flush());
            assertEquals(c.text(), text.toString(), "streamed decode of golden line " + c.line());
        }
        assertArrayEquals(new int[0], tokenizer.encode(""));
    }

    private static String abbreviate(String text) {
        String shown = text.length() > 60 ? text.substring(0, 60) + "..." : text;
        return "\"" + shown.replace("\n", "\\n") + "\"";
    }
}
