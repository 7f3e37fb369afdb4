package dev.moe4j.tokenizer;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.IntSupplier;

/**
 * Seeded random texts that stress the pre-tokenizer regexes and added-token matching: mixes of scripts,
 * emoji sequences, combining marks, digit and whitespace runs, code and special-token spellings. Only
 * characters assigned long ago are drawn, so Java's and Oniguruma's Unicode tables agree on them.
 */
final class RandomTexts {

    private static final String[] CODE = {
        "def f(x):\n    return x**2  # square\n", "for (int i = 0; i < n; ++i) { a[i] += b[i]; }",
        "if (a && b || !c) {\r\n\treturn null;\r\n}", "<div class=\"x\">&nbsp;</div>", "SELECT * FROM t WHERE id=42;",
        "const f = async () => await g?.h ?? 0;", "x = {'a': [1, 2.5e-3], \"b\": None}", "#include <stdio.h>\n",
        "$ ls -la | grep '\\.java$' > out.txt 2>&1", "fn main() { println!(\"{}\", 1_000); }", "a->b::c<T>()",
        "```json\n{\"k\": \"v\"}\n```", "    \t  indented\tline  \n", "i++; j--; k **= 2; l //= 3",
    };
    private static final String[] WORDS = {
        "Hello", "world", "I'm", "you'RE", "they'll", "it's", "DON'T", "we've", "x'd", "naïve", "café", "Straße",
        "İstanbul", "ǅemal", "ﬁne", "Ⅻ", "½", "①", "µs", "ABCdef", "snake_case", "camelCase", "URL", "e.g.",
        "user@example.org", "https://example.com/a?b=1&c=2#d", "C:\\Windows\\System32", "--flag=value",
    };
    private static final String[] EMOJI = {
        "😀", "😂", "🚀", "🦙", "👍🏽", "👨‍👩‍👧‍👦", "🇯🇵", "🇺🇸", "1️⃣", "❤️", "☺︎", "😶‍🌫️", "🏳️‍🌈", "✅", "⭐", "🌍",
    };
    private static final String[] SPACES = {" ", "  ", "\t", "\n", "\r\n", "\r", "\u00A0", "\u3000", "\u2009", "\u000B",
        "\f", "\u0085", "\u2028", "\u200B", "\uFEFF", "\u00AD", "\u200D", "\u200C"};
    private static final String PUNCT = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~«»„“”‘’—–…¿¡·、。，！？「」『』【】《》：；¶§†‡";
    private static final String SYMBOLS = "€£¥©®™°±×÷→←↑∑∞≠≤≥♠♥♦♣★☆■□▲►◆✓✗⌘⌥⎋";

    private final Random random;
    private final List<String> specialSpellings;

    RandomTexts(long seed, List<String> specialSpellings) {
        this.random = new Random(seed);
        this.specialSpellings = specialSpellings;
    }

    List<String> generate(int count) {
        List<String> texts = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            StringBuilder text = new StringBuilder();
            int fragments = 1 + random.nextInt(10);
            for (int f = 0; f < fragments; f++) {
                fragment(text);
                if (random.nextInt(3) == 0) {
                    text.append(' ');
                }
            }
            texts.add(text.toString());
        }
        return texts;
    }

    private void fragment(StringBuilder out) {
        switch (random.nextInt(16)) {
            case 0 -> out.append(pick(WORDS));
            case 1 -> run(out, 1, 12, () -> range(0x4E00, 0x9FFF)); // CJK, crossing the 一-龥 (U+9FA5) edge
            case 2 -> run(out, 1, 8, () -> random.nextBoolean() ? range(0x3041, 0x30FF) : range(0xFF66, 0xFF9D));
            case 3 -> {
                int n = 1 + random.nextInt(3);
                for (int k = 0; k < n; k++) {
                    out.append(pick(EMOJI));
                }
            }
            case 4 -> { // combining marks, on a base letter or leading
                if (random.nextInt(4) > 0) {
                    out.appendCodePoint(range('a', 'z'));
                }
                run(out, 1, 3, () -> range(0x0300, 0x036F));
            }
            case 5 -> run(out, 1, 10, () -> random.nextInt(5) == 0 ? range(0x064B, 0x0652)
                    : random.nextInt(6) == 0 ? range(0x0660, 0x0669) : range(0x0621, 0x063A));
            case 6 -> run(out, 1, 14, () -> random.nextInt(8) == 0 ? pick("٣०๓０１２²³¼") : range('0', '9'));
            case 7 -> {
                int n = 1 + random.nextInt(6);
                for (int k = 0; k < n; k++) {
                    out.append(pick(SPACES));
                }
            }
            case 8 -> out.append(pick(CODE));
            case 9 -> run(out, 1, 5, () -> PUNCT.charAt(random.nextInt(PUNCT.length())));
            case 10 -> specialSpelling(out);
            case 11 -> run(out, 1, 4, () -> SYMBOLS.charAt(random.nextInt(SYMBOLS.length())));
            case 12 -> run(out, 2, 9, () -> switch (random.nextInt(5)) {
                case 0 -> range(0x0391, 0x03A9); // Greek
                case 1 -> range(0x0410, 0x044F); // Cyrillic
                case 2 -> range(0x05D0, 0x05EA); // Hebrew
                case 3 -> range(0xAC00, 0xD7A3); // Hangul syllables
                default -> range(0x1D400, 0x1D433); // mathematical bold letters (supplementary)
            });
            case 13 -> run(out, 1, 6, () -> random.nextBoolean() ? range(0x0915, 0x0939) : range(0x093E, 0x094D));
            case 14 -> run(out, 1, 6, () -> random.nextInt(6) == 0 ? range(0x3400, 0x4DB5) : range(0x20000, 0x2A6D6));
            default -> run(out, 1, 8, () -> random.nextBoolean() ? range(0xC0, 0xFF) : range(0x0E01, 0x0E3A));
        }
    }

    private void specialSpelling(StringBuilder out) {
        String token = specialSpellings.get(random.nextInt(specialSpellings.size()));
        switch (random.nextInt(6)) {
            case 0 -> out.append(token, 0, Math.max(1, token.length() - 1)); // broken spelling
            case 1 -> out.append(token.replace('｜', '|').replace('▁', '_')); // ASCII look-alike
            case 2 -> out.append(pick(new String[] {"<think>", "</think>", "｜DSML｜", "<tool_call>", "<|im_start|>"}));
            case 3 -> out.append(' ').append(token).append(' ');
            default -> out.append(token);
        }
    }

    private void run(StringBuilder out, int min, int max, IntSupplier codePoint) {
        int n = min + random.nextInt(max - min + 1);
        for (int k = 0; k < n; k++) {
            out.appendCodePoint(codePoint.getAsInt());
        }
    }

    private int range(int from, int to) {
        return from + random.nextInt(to - from + 1);
    }

    private char pick(String chars) {
        return chars.charAt(random.nextInt(chars.length()));
    }

    private String pick(String[] options) {
        return options[random.nextInt(options.length)];
    }
}
