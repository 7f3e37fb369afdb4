package dev.moe4j.tokenizer;

import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * Compiles the Oniguruma regexes of tokenizer.json (HF's default regex engine) for {@link java.util.regex}.
 * Both are backtracking engines with leftmost-first alternation and the same {@code \p{L}}, {@code \p{N}},
 * {@code \p{P}}, {@code \p{S}}, {@code \p{M}} general categories, so the syntax carries over except for
 * escapes whose meaning differs: Oniguruma's {@code \s} and {@code \d} are Unicode-wide, Java's are ASCII.
 */
final class OnigRegex {

    private OnigRegex() {
    }

    static Pattern compile(String onig) {
        return Pattern.compile(translate(onig), Pattern.UNICODE_CASE);
    }

    static String translate(String onig) {
        StringBuilder java = new StringBuilder(onig.length() + 32);
        for (int i = 0; i < onig.length(); i++) {
            char c = onig.charAt(i);
            if (c != '\\' || i + 1 == onig.length()) {
                java.append(c);
                continue;
            }
            char e = onig.charAt(++i);
            switch (e) {
                // Oniguruma's Unicode \s is exactly Java's White_Space property (9-D, 85, Zs, Zl, Zp).
                case 's' -> java.append("\\p{IsWhite_Space}");
                case 'S' -> java.append("\\P{IsWhite_Space}");
                case 'd' -> java.append("\\p{Nd}");
                case 'D' -> java.append("\\P{Nd}");
                // Word and hex classes differ between the engines in ways no tokenizer here needs yet.
                case 'w', 'W', 'b', 'B', 'h', 'H' -> throw new PatternSyntaxException(
                        "unsupported Oniguruma escape \\" + e, onig, i - 1);
                default -> java.append('\\').append(e);
            }
        }
        return java.toString();
    }
}
