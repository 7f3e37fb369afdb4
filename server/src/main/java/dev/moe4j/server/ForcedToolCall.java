package dev.moe4j.server;

import dev.moe4j.chat.V4Encoder;
import dev.moe4j.engine.TokenConstraint;
import dev.moe4j.tokenizer.Tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * {@code tool_choice: "required"} or a named function: the answer is made to open a tool call. After the
 * reasoning (thinking mode: once the model wrote {@code </think>}) the tokens of the call block's opening
 * are forced, up to the tool's name; a named choice forces the name too, "required" lets the model pick
 * among the tools' names (every other token masked until one is complete). What follows (the arguments) is
 * the model's own, read by the usual parser. One instance per request: it holds the request's progress.
 */
final class ForcedToolCall implements TokenConstraint {

    private enum Phase { REASONING, OPENING, NAME, FREE }

    private final Tokenizer tokenizer;
    private final NameTokens nameTokens;
    private final float[] kept;
    private final int thinkEnd;
    private final int[] opening;
    /** {@code name">} + newline for each allowed tool; empty when the opening already holds the name. */
    private final List<String> endings;
    private final StringBuilder name = new StringBuilder();
    private Phase phase;
    private int next;

    /**
     * @param nameTokens {@link NameTokens#of} the tokenizer
     * @param names    the tools the model may call: one for a named choice, all of them for "required"
     * @param thinking the answer starts inside the reasoning, which ends with the token {@code </think>}
     */
    ForcedToolCall(Tokenizer tokenizer, NameTokens nameTokens, List<String> names, boolean thinking) {
        this.tokenizer = tokenizer;
        this.nameTokens = nameTokens;
        this.kept = new float[nameTokens.ids.length];
        this.thinkEnd = tokenizer.tokenId("</think>").orElse(-1);
        if (thinking && thinkEnd < 0) {
            throw new IllegalStateException("the tokenizer has no </think> token to end the reasoning");
        }
        String only = names.size() == 1 ? names.get(0) : null;
        this.opening = tokenizer.encode(V4Encoder.toolCallsOpening(only), true);
        this.endings = only != null ? List.of() : names.stream().map(n -> n + "\">\n").toList();
        this.phase = thinking ? Phase.REASONING : Phase.OPENING;
    }

    @Override
    public int forced() {
        return phase == Phase.OPENING ? opening[next] : -1;
    }

    @Override
    public void mask(float[] logits, int off, int vocab) {
        if (phase != Phase.NAME) {
            return;
        }
        int[] ids = nameTokens.ids;
        String sofar = name.toString();
        for (int i = 0; i < ids.length; i++) {
            kept[i] = ids[i] < vocab && fits(sofar, nameTokens.bytes[i]) ? logits[off + ids[i]] : Float.NEGATIVE_INFINITY;
        }
        Arrays.fill(logits, off, off + vocab, Float.NEGATIVE_INFINITY);
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] < vocab) {
                logits[off + ids[i]] = kept[i];
            }
        }
    }

    /** The token keeps the name on the way to one of the endings (or completes one and goes beyond). */
    private boolean fits(String sofar, byte[] token) {
        int n = sofar.length();
        for (String e : endings) {
            if (e.length() <= n || !e.startsWith(sofar)) {
                continue;
            }
            boolean ok = true;
            for (int i = 0; i < token.length && n + i < e.length() && ok; i++) {
                ok = (token[i] & 0xFF) == e.charAt(n + i);
            }
            if (ok) {
                return true;
            }
        }
        return false;
    }

    /**
     * The tokens a tool name and the end of its tag can be written with (letters, digits, {@code _-">}
     * and newline), found once per tokenizer: the mask looks at these only.
     */
    static final class NameTokens {
        final int[] ids;
        final byte[][] bytes;

        private NameTokens(int[] ids, byte[][] bytes) {
            this.ids = ids;
            this.bytes = bytes;
        }

        static NameTokens of(Tokenizer tokenizer) {
            List<Integer> ids = new ArrayList<>();
            List<byte[]> bytes = new ArrayList<>();
            for (int id = 0; id < tokenizer.vocabSize(); id++) {
                if (!tokenizer.hasToken(id) || tokenizer.isAddedToken(id)) {
                    continue;
                }
                byte[] b = tokenizer.bytes(id);
                boolean ok = b.length > 0;
                for (int i = 0; i < b.length && ok; i++) {
                    int c = b[i];
                    ok = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
                            || c == '"' || c == '>' || c == '\n';
                }
                if (ok) {
                    ids.add(id);
                    bytes.add(b);
                }
            }
            return new NameTokens(ids.stream().mapToInt(Integer::intValue).toArray(), bytes.toArray(byte[][]::new));
        }
    }

    @Override
    public void accept(int token) {
        switch (phase) {
            case REASONING -> {
                if (token == thinkEnd) {
                    phase = Phase.OPENING;
                }
            }
            case OPENING -> {
                if (++next == opening.length) {
                    phase = endings.isEmpty() ? Phase.FREE : Phase.NAME;
                }
            }
            case NAME -> {
                name.append(new String(tokenizer.bytes(token), StandardCharsets.ISO_8859_1));
                for (String e : endings) {
                    if (name.toString().startsWith(e)) {
                        phase = Phase.FREE;
                        break;
                    }
                }
            }
            case FREE -> {
            }
        }
    }
}
