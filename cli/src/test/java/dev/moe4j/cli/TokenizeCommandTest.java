package dev.moe4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** {@code moe4j tokenize} and {@code detokenize} against golden.jsonl of the shared tokenizer fixture. */
class TokenizeCommandTest {

    private record Run(int exit, String out, String err) {
    }

    private static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void tokenizeTextPrintsTheGoldenIdsLine() throws Exception {
        JsonNode golden = golden("Hello, world!");
        Run run = run("tokenize", "--tokenizer", tokenizerDir(), "--text", "Hello, world!");
        assertEquals(0, run.exit(), run.err());
        assertEquals("{\"ids\":" + golden.get("ids") + "}\n", run.out());
    }

    @Test
    void tokenizeJsonlPrintsOneLinePerInput(@TempDir Path tmp) throws Exception {
        List<JsonNode> cases = List.of(golden("東京は日本の首都です。"), golden("<｜begin▁of▁sentence｜>Hi<｜User｜>hello<｜Assistant｜>"),
                golden(""));
        List<String> lines = new ArrayList<>();
        StringBuilder expected = new StringBuilder();
        for (JsonNode c : cases) {
            lines.add(JSON.writeValueAsString(c)); // "ids" and "decoded" ride along and are ignored
            lines.add("");
            expected.append("{\"ids\":").append(c.get("ids")).append("}\n");
        }
        Path file = Files.write(tmp.resolve("in.jsonl"), lines, StandardCharsets.UTF_8);
        Run run = run("tokenize", "--tokenizer", tokenizerDir(), "--jsonl", file.toString());
        assertEquals(0, run.exit(), run.err());
        assertEquals(expected.toString(), run.out());
    }

    @Test
    void noSpecialEncodesSpecialSpellingsAsText() throws Exception {
        String text = "<｜User｜>hi";
        Run special = run("tokenize", "--tokenizer", tokenizerDir(), "--text", text);
        Run plain = run("tokenize", "--tokenizer", tokenizerDir(), "--text", text, "--no-special");
        assertEquals(0, plain.exit(), plain.err());
        JsonNode ids = JSON.readTree(plain.out()).get("ids");
        assertEquals(128803, JSON.readTree(special.out()).get("ids").get(0).asInt());
        ids.forEach(id -> assertTrue(id.asInt() < 128000, "no added token id in " + ids));
        Run back = run("detokenize", "--tokenizer", tokenizerDir(), "--ids", ids.toString().replaceAll("[\\[\\]]", ""));
        assertEquals(text, back.out());
    }

    @Test
    void detokenizePrintsExactlyTheText() throws Exception {
        JsonNode golden = golden("我想在apple工作1314151天～");
        StringBuilder ids = new StringBuilder();
        golden.get("ids").forEach(id -> ids.append(ids.isEmpty() ? "" : ",").append(id.asInt()));
        Run run = run("detokenize", "--tokenizer", tokenizerDir(), "--ids", ids.toString());
        assertEquals(0, run.exit(), run.err());
        assertEquals(golden.get("text").asText(), run.out());
    }

    @Test
    void errorsAreOneClearLineAndNonZeroExit(@TempDir Path tmp) throws Exception {
        Run missing = run("tokenize", "--tokenizer", tmp.toString(), "--text", "x");
        assertEquals(2, missing.exit());
        assertOneLine(missing.err(), "tokenizer.json", "not found");

        Run badId = run("detokenize", "--tokenizer", tokenizerDir(), "--ids", "1,x,3");
        assertEquals(2, badId.exit());
        assertOneLine(badId.err(), "'x' is not a token id");

        Run unknownId = run("detokenize", "--tokenizer", tokenizerDir(), "--ids", "1,99999999");
        assertEquals(2, unknownId.exit());
        assertOneLine(unknownId.err(), "unknown token id 99999999");

        Path bad = Files.writeString(tmp.resolve("bad.jsonl"), "{\"text\": \"ok\"}\n{\"txt\": 1}\n");
        Run badLine = run("tokenize", "--tokenizer", tokenizerDir(), "--jsonl", bad.toString());
        assertEquals(2, badLine.exit());
        assertOneLine(badLine.err(), "bad.jsonl:2", "\"text\"");

        Path surrogate = Files.writeString(tmp.resolve("s.jsonl"), "{\"text\": \"a\\ud800\"}\n");
        Run lone = run("tokenize", "--tokenizer", tokenizerDir(), "--jsonl", surrogate.toString());
        assertEquals(2, lone.exit());
        assertOneLine(lone.err(), "s.jsonl:1", "lone surrogate U+D800 at index 1");
    }

    private static void assertOneLine(String err, String... parts) {
        assertEquals(1, err.strip().lines().count(), "one error line expected: " + err);
        for (String part : parts) {
            assertTrue(err.contains(part), "error should mention " + part + ": " + err);
        }
        assertFalse(err.contains("Exception"), "no stack trace or exception class: " + err);
    }

    private static String tokenizerDir() {
        String shared = System.getProperty("moe4j.shared");
        if (shared == null) {
            fail("system property moe4j.shared is not set (the parent pom sets it for surefire)");
        }
        Path dir = Path.of(shared, "fixtures", "tokenizer", "deepseek-v3");
        if (!Files.isRegularFile(dir.resolve("tokenizer.json"))) {
            fail("tokenizer fixture missing: " + dir.toAbsolutePath().normalize());
        }
        return dir.toString();
    }

    private static JsonNode golden(String text) throws Exception {
        for (String line : Files.readAllLines(Path.of(tokenizerDir(), "golden.jsonl"))) {
            JsonNode node = JSON.readTree(line);
            if (node.get("text").asText().equals(text)) {
                return node;
            }
        }
        return fail("golden.jsonl has no case for " + text);
    }

    private static synchronized Run run(String... args) {
        PrintStream oldOut = System.out;
        PrintStream oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            int exit = Main.run(args);
            return new Run(exit, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }
}
