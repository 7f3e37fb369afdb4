package dev.moe4j.server;

import dev.moe4j.model.ModelSource;
import dev.moe4j.tokenizer.Tokenizer;
import dev.moe4j.tokenizer.TokenizerLoadException;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;

/**
 * The demo model's tokenizer: a small byte-level BPE with every V4 special token, shipped beside the
 * demo config (the DeepSeek tokenizer is not ours to ship). Real checkpoints bring their own
 * {@code tokenizer.json}.
 */
public final class DemoTokenizer {

    public static Tokenizer load() {
        try {
            return Tokenizer.load(resource("tokenizer.json"), resource("tokenizer_config.json"), "demo");
        } catch (TokenizerLoadException e) {
            throw new IllegalStateException("the demo tokenizer of this build is broken: " + e.getMessage(), e);
        }
    }

    private static String resource(String name) {
        try (InputStream in = ModelSource.class.getResourceAsStream("demo/" + name)) {
            if (in == null) {
                throw new IllegalStateException("demo/" + name + " is missing from the build");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private DemoTokenizer() {
    }
}
