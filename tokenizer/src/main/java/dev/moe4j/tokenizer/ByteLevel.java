package dev.moe4j.tokenizer;

import java.nio.charset.StandardCharsets;

/**
 * GPT-2's byte-to-unicode table, as HF's ByteLevel pre-tokenizer and decoder use it: printable Latin-1 bytes
 * stand for themselves, the other 68 bytes map in order to U+0100 and up, so every byte string is a
 * printable vocabulary string.
 */
final class ByteLevel {

    private static final char[] BYTE_TO_CHAR = new char[256];
    private static final int[] CHAR_TO_BYTE;

    static {
        int shifted = 0;
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
            BYTE_TO_CHAR[b] = (char) (printable ? b : 256 + shifted++);
        }
        CHAR_TO_BYTE = new int[256 + shifted];
        java.util.Arrays.fill(CHAR_TO_BYTE, -1);
        for (int b = 0; b < 256; b++) {
            CHAR_TO_BYTE[BYTE_TO_CHAR[b]] = b;
        }
    }

    private ByteLevel() {
    }

    static char charOf(int b) {
        return BYTE_TO_CHAR[b & 0xFF];
    }

    /** The byte-level spelling of a UTF-8 byte string. */
    static String toChars(byte[] bytes) {
        char[] chars = new char[bytes.length];
        for (int i = 0; i < bytes.length; i++) {
            chars[i] = charOf(bytes[i]);
        }
        return new String(chars);
    }

    /**
     * The bytes HF's ByteLevel decoder emits for one token: the mapped bytes when every char of the token is
     * in the table, otherwise the token's own UTF-8 (so added tokens such as {@code <｜User｜>} decode to
     * their content).
     */
    static byte[] decodeToken(String token) {
        byte[] bytes = new byte[token.length()];
        for (int i = 0; i < token.length(); i++) {
            char c = token.charAt(i);
            if (c >= CHAR_TO_BYTE.length || CHAR_TO_BYTE[c] < 0) {
                return token.getBytes(StandardCharsets.UTF_8);
            }
            bytes[i] = (byte) CHAR_TO_BYTE[c];
        }
        return bytes;
    }
}
