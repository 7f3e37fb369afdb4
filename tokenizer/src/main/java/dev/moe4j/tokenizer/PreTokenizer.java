package dev.moe4j.tokenizer;

import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * HF's pre-tokenizer chain for byte-level BPE: a Sequence of {@code Split} regexes with behaviour
 * {@code Isolated} (each applied to every piece the previous ones produced, keeping both the matches and the
 * text between them), then {@code ByteLevel}. Pieces are ranges of one string, so no substring is made until
 * a word reaches the BPE cache.
 */
final class PreTokenizer {

    /** Receives each final word, {@code text[start, end)}, in order. */
    interface WordSink {
        void word(String text, int start, int end);
    }

    /** The GPT-2 split HF's ByteLevel applies when {@code use_regex} is true. */
    private static final Pattern GPT2 = OnigRegex.compile(
            "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+");

    private final Pattern[] splits;
    private final boolean addPrefixSpace;
    private final boolean useRegex;

    PreTokenizer(List<Pattern> splits, boolean addPrefixSpace, boolean useRegex) {
        this.splits = splits.toArray(Pattern[]::new);
        this.addPrefixSpace = addPrefixSpace;
        this.useRegex = useRegex;
    }

    void split(String text, int start, int end, WordSink sink) {
        Matcher[] matchers = new Matcher[splits.length];
        for (int i = 0; i < splits.length; i++) {
            matchers[i] = splits[i].matcher(text);
        }
        split(matchers, 0, text, start, end, sink);
    }

    private void split(Matcher[] matchers, int level, String text, int start, int end, WordSink sink) {
        if (start == end) {
            return; // HF drops empty pieces
        }
        if (level == matchers.length) {
            byteLevel(text, start, end, sink);
            return;
        }
        // The region's default opaque bounds make look-arounds such as \s+(?!\S) stop at the piece's end, as
        // they do when HF runs the regex on the piece alone.
        Matcher m = matchers[level].region(start, end);
        int last = start;
        while (m.find()) {
            int matchStart = m.start();
            int matchEnd = m.end();
            split(matchers, level + 1, text, last, matchStart, sink);
            split(matchers, level + 1, text, matchStart, matchEnd, sink);
            last = matchEnd;
        }
        split(matchers, level + 1, text, last, end, sink);
    }

    private void byteLevel(String text, int start, int end, WordSink sink) {
        // HF's ByteLevel prepends a space to every piece that does not start with one.
        if (addPrefixSpace && text.charAt(start) != ' ') {
            text = " " + text.substring(start, end);
            start = 0;
            end = text.length();
        }
        if (!useRegex) {
            sink.word(text, start, end);
            return;
        }
        Matcher m = GPT2.matcher(text).region(start, end);
        int last = start;
        while (m.find()) {
            if (last < m.start()) {
                sink.word(text, last, m.start());
            }
            sink.word(text, m.start(), m.end());
            last = m.end();
        }
        if (last < end) {
            sink.word(text, last, end);
        }
    }
}
