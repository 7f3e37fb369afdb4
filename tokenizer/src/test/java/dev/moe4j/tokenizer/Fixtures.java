package dev.moe4j.tokenizer;

import static org.junit.jupiter.api.Assertions.fail;

import java.nio.file.Files;
import java.nio.file.Path;

/** The shared DeepSeek tokenizer fixture; a missing fixture fails the test, it is never skipped. */
final class Fixtures {

    private static Tokenizer deepseek;

    private Fixtures() {
    }

    static Path deepseekDir() {
        String shared = System.getProperty("moe4j.shared");
        if (shared == null) {
            fail("system property moe4j.shared is not set (the parent pom sets it for surefire)");
        }
        Path dir = Path.of(shared, "fixtures", "tokenizer", "deepseek-v3");
        if (!Files.isRegularFile(dir.resolve("tokenizer.json")) || !Files.isRegularFile(dir.resolve("golden.jsonl"))) {
            fail("tokenizer fixture folder missing or incomplete: " + dir.toAbsolutePath()
                    + " (expected tokenizer.json, tokenizer_config.json, golden.jsonl)");
        }
        return dir;
    }

    /** Loaded once per test JVM: the file is 8 MB. */
    static synchronized Tokenizer deepseek() throws TokenizerLoadException {
        if (deepseek == null) {
            deepseek = Tokenizer.load(deepseekDir());
        }
        return deepseek;
    }
}
