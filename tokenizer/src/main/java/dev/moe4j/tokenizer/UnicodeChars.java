package dev.moe4j.tokenizer;

/** The Unicode character predicates HF tokenizers relies on, spelled out so they do not depend on Java's defaults. */
final class UnicodeChars {

    private UnicodeChars() {
    }

    /**
     * The Unicode White_Space property: what Rust's {@code char::is_whitespace}, the regex crate's {@code \s}
     * and Oniguruma's Unicode {@code \s} all match (unlike {@link Character#isWhitespace}, which leaves out
     * NBSP and adds the ASCII separators U+001C..U+001F).
     */
    static boolean isWhiteSpace(int cp) {
        if (cp <= 0x20) {
            return cp == 0x20 || (cp >= 0x09 && cp <= 0x0D);
        }
        if (cp == 0x85) {
            return true;
        }
        int type = Character.getType(cp);
        return type == Character.SPACE_SEPARATOR || type == Character.LINE_SEPARATOR
                || type == Character.PARAGRAPH_SEPARATOR;
    }

    /** The regex crate's Unicode {@code \w} (UTS #18): Alphabetic, marks, decimal digits, connectors, joiners. */
    static boolean isWordChar(int cp) {
        if (Character.isAlphabetic(cp) || cp == 0x200C || cp == 0x200D) {
            return true;
        }
        int type = Character.getType(cp);
        return type == Character.NON_SPACING_MARK || type == Character.ENCLOSING_MARK
                || type == Character.COMBINING_SPACING_MARK || type == Character.DECIMAL_DIGIT_NUMBER
                || type == Character.CONNECTOR_PUNCTUATION;
    }

    /** Throws {@link InvalidTextException} at the first surrogate that is not half of a pair. */
    static void requireWellFormed(String text) {
        int n = text.length();
        for (int i = 0; i < n; i++) {
            char c = text.charAt(i);
            if (Character.isSurrogate(c)) {
                if (Character.isHighSurrogate(c) && i + 1 < n && Character.isLowSurrogate(text.charAt(i + 1))) {
                    i++;
                } else {
                    throw new InvalidTextException(i, c);
                }
            }
        }
    }
}
