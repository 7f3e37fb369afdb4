package dev.moe4j.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Compares ids with HF's Rust tokenizers (through DJL's JNI binding, test scope only) on seeded random
 * texts: the DeepSeek file as shipped, and variants of it that switch on the options the shipped file leaves
 * off (normalizer, ByteLevel prefix space and regex, ignore_merges, added-token flags).
 */
class HfOracleTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    static {
        // DJL otherwise "calls home" on first use: an HTTP probe of the cloud metadata address 169.254.169.254.
        // Offline mode skips that (and any download); the native library is extracted from the jar.
        System.setProperty("ai.djl.offline", "true");
        System.setProperty("OPT_OUT_TRACKING", "true");
    }

    @Test
    void deepseekMatchesHfOnRandomTexts() throws Exception {
        Path dir = Fixtures.deepseekDir();
        compare(Fixtures.deepseek(), dir.resolve("tokenizer.json"), texts(dir, 1, 400));
    }

    @Test
    void variantWithNfkcNormalizer(@TempDir Path tmp) throws Exception {
        compareVariant(tmp, 2, root -> ((ObjectNode) root).set("normalizer", JSON.createObjectNode().put("type", "NFKC")));
    }

    @Test
    void variantWithByteLevelPrefixSpaceAndRegex(@TempDir Path tmp) throws Exception {
        compareVariant(tmp, 3, root -> {
            for (JsonNode step : root.path("pre_tokenizer").path("pretokenizers")) {
                if (step.path("type").asText().equals("ByteLevel")) {
                    ((ObjectNode) step).put("add_prefix_space", true).put("use_regex", true);
                }
            }
        });
    }

    @Test
    void variantWithIgnoreMerges(@TempDir Path tmp) throws Exception {
        compareVariant(tmp, 4, root -> ((ObjectNode) root.path("model")).put("ignore_merges", true));
    }

    @Test
    void variantWithAddedTokenFlags(@TempDir Path tmp) throws Exception {
        compareVariant(tmp, 5, root -> {
            ((ObjectNode) root).set("normalizer", JSON.createObjectNode().put("type", "NFKC"));
            for (JsonNode token : root.path("added_tokens")) {
                ObjectNode t = (ObjectNode) token;
                switch (t.path("content").asText()) {
                    case "<｜User｜>" -> t.put("lstrip", true);
                    case "<｜Assistant｜>" -> t.put("rstrip", true);
                    case "<|EOT|>" -> t.put("single_word", true);
                    case "<｜tool▁sep｜>" -> t.put("lstrip", true).put("rstrip", true).put("single_word", true);
                    case "<｜end▁of▁sentence｜>" -> t.put("normalized", true);
                    case "<｜fim▁hole｜>" -> t.put("normalized", false);
                    default -> { }
                }
            }
        });
    }

    private static void compareVariant(Path tmp, long seed, Consumer<JsonNode> edit) throws Exception {
        Path dir = Fixtures.deepseekDir();
        JsonNode root = JSON.readTree(dir.resolve("tokenizer.json").toFile());
        edit.accept(root);
        JSON.writeValue(tmp.resolve("tokenizer.json").toFile(), root);
        compare(Tokenizer.load(tmp), tmp.resolve("tokenizer.json"), texts(dir, seed, 150));
    }

    private static List<String> texts(Path dir, long seed, int count) throws IOException {
        List<String> specials = new ArrayList<>();
        for (JsonNode token : JSON.readTree(dir.resolve("tokenizer.json").toFile()).path("added_tokens")) {
            specials.add(token.path("content").asText());
        }
        List<String> texts = new ArrayList<>(new RandomTexts(seed, specials).generate(count));
        // Fixed cases around the flags: whitespace next to tokens, tokens glued to words.
        texts.addAll(List.of("a <｜User｜> b", "x  \t<｜User｜>y", "<｜Assistant｜>  \n z", "w<|EOT|>w", "w <|EOT|> w",
                "<|EOT|>", " <｜tool▁sep｜> ", "a<｜tool▁sep｜>b", "<|User|>", "<｜fim▁hole｜>", "ﬁ<｜User｜>①"));
        return texts;
    }

    private static void compare(Tokenizer ours, Path tokenizerJson, List<String> texts) throws IOException {
        try (HuggingFaceTokenizer hf = loadOracle(tokenizerJson)) {
            List<String> failures = new ArrayList<>();
            for (String text : texts) {
                long[] expected = hf.encode(text, false, false).getIds();
                int[] actual = ours.encode(text);
                if (!Arrays.equals(Arrays.stream(expected).mapToInt(Math::toIntExact).toArray(), actual)) {
                    failures.add(escape(text) + "\n  hf   " + Arrays.toString(expected) + "\n  ours "
                            + Arrays.toString(actual));
                }
            }
            assertEquals(List.of(), failures.subList(0, Math.min(10, failures.size())),
                    failures.size() + " of " + texts.size() + " texts encode differently from HF tokenizers "
                            + hf.getVersion());
        }
    }

    private static HuggingFaceTokenizer loadOracle(Path tokenizerJson) throws IOException {
        // No truncation or padding: DJL otherwise cuts encodings at 512 ids.
        Map<String, String> options = Map.of("truncation", "false", "padding", "false", "addSpecialTokens", "false");
        try {
            return HuggingFaceTokenizer.newInstance(tokenizerJson, options);
        } catch (UnsatisfiedLinkError | RuntimeException e) {
            return fail("DJL's HF tokenizers native library could not load on this machine (" + System.getProperty("os.name")
                    + " " + System.getProperty("os.arch") + "): " + e, e);
        }
    }

    private static String escape(String text) {
        StringBuilder out = new StringBuilder("\"");
        text.codePoints().forEach(cp -> {
            if (cp < 0x20 || (cp >= 0x7F && cp < 0xA0) || Character.getType(cp) == Character.FORMAT
                    || Character.isWhitespace(cp) && cp != ' ') {
                out.append(String.format("\\u%04X", cp));
            } else {
                out.appendCodePoint(cp);
            }
        });
        return out.append('"').toString();
    }
}
