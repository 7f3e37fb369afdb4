package dev.moe4j.tokenizer;

import java.io.IOException;
import java.nio.file.Path;

/** A tokenizer file is missing, is not valid JSON, or describes something this tokenizer does not support. */
public final class TokenizerLoadException extends IOException {

    private final transient Path file;

    TokenizerLoadException(Path file, String problem) {
        super(file + ": " + problem);
        this.file = file;
    }

    TokenizerLoadException(Path file, String problem, Throwable cause) {
        super(file + ": " + problem, cause);
        this.file = file;
    }

    /** The file at fault. */
    public Path file() {
        return file;
    }
}
