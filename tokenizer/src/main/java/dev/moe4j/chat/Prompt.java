package dev.moe4j.chat;

import java.util.Arrays;

/**
 * An encoded prompt: its text, and the spans of it that came from the request (message contents,
 * reasoning, tool schemas and arguments) rather than from the template. A tokenizer matches control
 * tokens in the template only, so text a user typed can never forge {@code <｜User｜>} or a DSML tag
 * ({@code Tokenizer.encode(text, literalSpans)}).
 */
public final class Prompt {

    private final StringBuilder text = new StringBuilder();
    private int[] spans = new int[16];
    private int n;

    /** Template text: the encoder's own markers and fixed sentences. */
    Prompt template(CharSequence s) {
        text.append(s);
        return this;
    }

    /** Text the request supplied. */
    Prompt literal(CharSequence s) {
        if (!s.isEmpty()) {
            if (n + 2 > spans.length) {
                spans = Arrays.copyOf(spans, spans.length * 2);
            }
            spans[n++] = text.length();
            text.append(s);
            spans[n++] = text.length();
        }
        return this;
    }

    public String text() {
        return text.toString();
    }

    /** Start and end offsets of every literal span, ascending: {@code [s0, e0, s1, e1, ...]}. */
    public int[] literalSpans() {
        return Arrays.copyOf(spans, n);
    }

    @Override
    public String toString() {
        return text.toString();
    }
}
