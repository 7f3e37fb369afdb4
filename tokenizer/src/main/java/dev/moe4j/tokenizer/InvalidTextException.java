package dev.moe4j.tokenizer;

/**
 * Text that has no UTF-8 form: a Java {@code String} holding a lone surrogate. HF tokenizers take Rust
 * {@code &str}, which cannot hold one, so there is no behaviour to match and the input is refused.
 */
public final class InvalidTextException extends IllegalArgumentException {

    private final int index;

    InvalidTextException(int index, char surrogate) {
        super(String.format("lone surrogate U+%04X at index %d", (int) surrogate, index));
        this.index = index;
    }

    /** The UTF-16 index of the offending char. */
    public int index() {
        return index;
    }
}
