package dev.moe4j.tokenizer;

/**
 * An incremental UTF-8 decoder that replaces each maximal ill-formed subpart with one U+FFFD, the Unicode
 * recommended practice that Rust's {@code String::from_utf8_lossy} (and so HF's ByteLevel decoder) follows.
 * Fed byte by byte it gives the same text as decoding all bytes at once, which is what lets
 * {@link StreamDecoder} agree with {@link Tokenizer#decode}.
 */
final class Utf8Decoder {

    private int needed;
    private int seen;
    private int codePoint;
    private int lower = 0x80;
    private int upper = 0xBF;

    /** Decodes {@code bytes}, appending every completed character; an unfinished one is kept for later. */
    void feed(byte[] bytes, StringBuilder out) {
        for (int i = 0; i < bytes.length; i++) {
            int b = bytes[i] & 0xFF;
            if (needed == 0) {
                start(b, out);
            } else if (b < lower || b > upper) {
                // The pending sequence is ill-formed: it becomes one U+FFFD and this byte starts afresh.
                reset();
                out.append('\uFFFD');
                start(b, out);
            } else {
                lower = 0x80;
                upper = 0xBF;
                codePoint = (codePoint << 6) | (b & 0x3F);
                if (++seen == needed) {
                    out.appendCodePoint(codePoint);
                    reset();
                }
            }
        }
    }

    /** Ends the stream: an unfinished character becomes one U+FFFD. */
    void finish(StringBuilder out) {
        if (needed != 0) {
            reset();
            out.append('\uFFFD');
        }
    }

    private void start(int b, StringBuilder out) {
        if (b < 0x80) {
            out.append((char) b);
        } else if (b >= 0xC2 && b <= 0xDF) {
            needed = 1;
            codePoint = b & 0x1F;
        } else if (b >= 0xE0 && b <= 0xEF) {
            lower = b == 0xE0 ? 0xA0 : 0x80; // no overlong 3-byte forms
            upper = b == 0xED ? 0x9F : 0xBF; // no surrogates
            needed = 2;
            codePoint = b & 0x0F;
        } else if (b >= 0xF0 && b <= 0xF4) {
            lower = b == 0xF0 ? 0x90 : 0x80; // no overlong 4-byte forms
            upper = b == 0xF4 ? 0x8F : 0xBF; // nothing above U+10FFFF
            needed = 3;
            codePoint = b & 0x07;
        } else {
            out.append('\uFFFD');
        }
    }

    private void reset() {
        needed = 0;
        seen = 0;
        codePoint = 0;
        lower = 0x80;
        upper = 0xBF;
    }
}
