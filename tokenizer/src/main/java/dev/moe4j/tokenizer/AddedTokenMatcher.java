package dev.moe4j.tokenizer;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;

/**
 * Finds added tokens in text as HF's {@code AddedVocabulary::find_matches} does: non-overlapping
 * leftmost-longest matches (its Aho-Corasick automaton's {@code MatchKind::LeftmostLongest}), scanned in
 * order, then each match filtered and widened by its token's {@code single_word}, {@code lstrip} and
 * {@code rstrip} flags. A trie walked from each candidate start gives the same matches as the automaton.
 */
final class AddedTokenMatcher {

    /** Receives the text between tokens, {@code text[start, end)}, in order. */
    interface GapSink {
        void gap(String text, int start, int end);
    }

    private static final class Node {
        final Map<Character, Node> children = new HashMap<>(4);
        AddedToken token;
    }

    private final Node root = new Node();
    private final boolean[] startsToken = new boolean[Character.MAX_VALUE + 1];

    /**
     * @param tokens  in HF's order (special tokens first); when two spell the same pattern the first wins
     * @param pattern what to match for a token: its content, or for normalized tokens its normalized content
     */
    AddedTokenMatcher(List<AddedToken> tokens, UnaryOperator<String> pattern) {
        for (AddedToken token : tokens) {
            String text = pattern.apply(token.content());
            if (text.isEmpty()) {
                continue;
            }
            Node node = root;
            for (int i = 0; i < text.length(); i++) {
                node = node.children.computeIfAbsent(text.charAt(i), c -> new Node());
            }
            if (node.token == null) {
                node.token = token;
            }
            startsToken[text.charAt(0)] = true;
        }
    }

    /** Splits {@code text[start, end)}: token ids go to {@code ids}, the text around them to {@code gaps}. */
    void split(String text, int start, int end, IntArray ids, GapSink gaps) {
        int done = start; // HF's start_offset: the end of the last token taken
        int i = start;
        while (i < end) {
            if (!startsToken[text.charAt(i)]) {
                i++;
                continue;
            }
            AddedToken token = null;
            int matchEnd = -1;
            Node node = root;
            for (int j = i; j < end && (node = node.children.get(text.charAt(j))) != null; j++) {
                if (node.token != null) {
                    token = node.token;
                    matchEnd = j + 1;
                }
            }
            if (token == null) {
                i++;
                continue;
            }
            int matchStart = i;
            i = matchEnd; // the automaton resumes after the raw match, whatever the filters below decide
            if (token.singleWord() && !isSingleWord(text, start, end, matchStart, matchEnd)) {
                continue;
            }
            if (token.lstrip()) {
                matchStart = Math.max(spaceRunStart(text, start, matchStart), done);
            }
            if (token.rstrip()) {
                matchEnd = spaceRunEnd(text, matchEnd, end);
            }
            if (matchStart < done) {
                // Only a token spelled with leading whitespace can start inside the previous token's rstrip;
                // HF would emit the overlapping text twice, this drops the second match instead.
                continue;
            }
            if (done < matchStart) {
                gaps.gap(text, done, matchStart);
            }
            ids.add(token.id());
            done = matchEnd;
        }
        if (done < end) {
            gaps.gap(text, done, end);
        }
    }

    /** HF: no word character (regex {@code \w}) directly before or after the match. */
    private static boolean isSingleWord(String text, int start, int end, int matchStart, int matchEnd) {
        boolean before = matchStart == start || !UnicodeChars.isWordChar(text.codePointBefore(matchStart));
        boolean after = matchEnd == end || !UnicodeChars.isWordChar(text.codePointAt(matchEnd));
        return before && after;
    }

    /** Where the whitespace run ending at {@code to} starts (not before {@code from}). */
    private static int spaceRunStart(String text, int from, int to) {
        int i = to;
        while (i > from) {
            int cp = text.codePointBefore(i);
            if (!UnicodeChars.isWhiteSpace(cp)) {
                break;
            }
            i -= Character.charCount(cp);
        }
        return i;
    }

    /** Where the whitespace run starting at {@code from} ends (not after {@code to}). */
    private static int spaceRunEnd(String text, int from, int to) {
        int i = from;
        while (i < to) {
            int cp = text.codePointAt(i);
            if (!UnicodeChars.isWhiteSpace(cp)) {
                break;
            }
            i += Character.charCount(cp);
        }
        return i;
    }
}
