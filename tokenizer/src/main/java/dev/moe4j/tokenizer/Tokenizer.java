package dev.moe4j.tokenizer;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * A byte-level BPE tokenizer read from a Hugging Face {@code tokenizer.json} (plus the BOS/EOS names of
 * {@code tokenizer_config.json}), producing the same ids as HF's Rust {@code tokenizers} library: added tokens
 * are cut out of the text first, the rest is normalized, split by the pre-tokenizer regexes, mapped to GPT-2
 * byte characters and merged by BPE. {@link #encode} never adds BOS/EOS (HF's
 * {@code add_special_tokens=false}); callers that want them prepend {@link #bos()} themselves. Immutable and
 * thread-safe.
 */
public final class Tokenizer {

    private final String[] tokens;
    private final byte[][] tokenBytes;
    private final Map<String, Integer> ids;
    private final boolean[] added;
    private final AddedTokenMatcher rawTokens;
    private final AddedTokenMatcher normalizedTokens;
    private final TextNormalizer normalizer;
    private final PreTokenizer preTokenizer;
    private final Bpe bpe;
    private final Optional<SpecialToken> bos;
    private final Optional<SpecialToken> eos;

    Tokenizer(String[] tokens, Map<String, Integer> ids, List<AddedToken> addedTokens, TextNormalizer normalizer,
              PreTokenizer preTokenizer, Bpe bpe, Optional<SpecialToken> bos, Optional<SpecialToken> eos) {
        this.tokens = tokens;
        this.ids = ids;
        this.normalizer = normalizer;
        this.preTokenizer = preTokenizer;
        this.bpe = bpe;
        this.bos = bos;
        this.eos = eos;
        tokenBytes = new byte[tokens.length][];
        for (int id = 0; id < tokens.length; id++) {
            if (tokens[id] != null) {
                tokenBytes[id] = ByteLevel.decodeToken(tokens[id]);
            }
        }
        added = new boolean[tokens.length];
        for (AddedToken token : addedTokens) {
            added[token.id()] = true;
        }
        // HF matches non-normalized tokens in the raw text, then normalized ones (with their content put
        // through the normalizer) in the normalized text between them.
        rawTokens = new AddedTokenMatcher(
                addedTokens.stream().filter(t -> !t.normalized()).toList(), content -> content);
        normalizedTokens = new AddedTokenMatcher(
                addedTokens.stream().filter(AddedToken::normalized).toList(), normalizer::apply);
    }

    /**
     * Loads {@code dir/tokenizer.json} and, when present, {@code dir/tokenizer_config.json}.
     *
     * @throws TokenizerLoadException naming the file that is missing, malformed or unsupported
     */
    public static Tokenizer load(Path dir) throws TokenizerLoadException {
        return TokenizerFiles.load(dir);
    }

    /**
     * Loads a tokenizer from the text of its files, for tokenizers that ship as resources (the demo
     * model's). {@code tokenizerConfigJson} may be null; {@code origin} names the files in errors.
     *
     * @throws TokenizerLoadException naming the file that is malformed or unsupported
     */
    public static Tokenizer load(String tokenizerJson, String tokenizerConfigJson, String origin)
            throws TokenizerLoadException {
        return TokenizerFiles.load(tokenizerJson, tokenizerConfigJson, origin);
    }

    /** The ids of {@code text}, added and special tokens in it matched as HF does by default. */
    public int[] encode(String text) {
        return encode(text, true);
    }

    /**
     * The ids of {@code text}. With {@code matchSpecial} false no added token is matched, so text a user typed
     * (a literal {@code <｜User｜>} or {@code <think>}) is encoded as ordinary bytes and cannot forge a
     * control token.
     *
     * @throws InvalidTextException if the text holds a lone surrogate
     */
    public int[] encode(String text, boolean matchSpecial) {
        UnicodeChars.requireWellFormed(text);
        // HF's order: non-normalized added tokens are cut from the raw text; each gap is normalized and
        // searched for normalized added tokens; what remains is pre-tokenized into words for BPE.
        IntArray out = new IntArray(text.length() / 3 + 8);
        PreTokenizer.WordSink words = (s, start, end) -> bpe.encode(s, start, end, out);
        AddedTokenMatcher.GapSink preTokenize = (s, start, end) -> preTokenizer.split(s, start, end, words);
        AddedTokenMatcher.GapSink normalize = (s, start, end) -> {
            if (!normalizer.isIdentity()) {
                s = normalizer.apply(s.substring(start, end));
                start = 0;
                end = s.length();
            }
            if (matchSpecial) {
                normalizedTokens.split(s, start, end, out, preTokenize);
            } else {
                preTokenize.gap(s, start, end);
            }
        };
        if (matchSpecial) {
            rawTokens.split(text, 0, text.length(), out, normalize);
        } else {
            normalize.gap(text, 0, text.length());
        }
        return out.toArray();
    }

    /**
     * The ids of a templated prompt whose {@code literalSpans} ({@code [s0, e0, s1, e1, ...]}, ascending)
     * hold text the request supplied: control tokens are matched in the template only. When no literal
     * span holds an added-token spelling — the normal case — the ids are exactly {@code encode(text)},
     * as the official pipeline tokenizes the whole prompt; otherwise the offending spans are cut out and
     * encoded with {@code matchSpecial} false, the rest as usual.
     *
     * @throws InvalidTextException if the text holds a lone surrogate
     */
    public int[] encode(String text, int[] literalSpans) {
        IntArray out = new IntArray(text.length() / 3 + 8);
        int done = 0;
        for (int k = 0; k + 1 < literalSpans.length; k += 2) {
            int s = literalSpans[k], e = literalSpans[k + 1];
            if (s < done || e < s || e > text.length()) {
                throw new IllegalArgumentException("literal spans must be ascending and inside the text");
            }
            String span = text.substring(s, e);
            if (!containsAddedToken(span)) {
                continue;
            }
            out.addAll(encode(text.substring(done, s), true));
            out.addAll(encode(span, false));
            done = e;
        }
        if (done == 0) {
            return encode(text, true);
        }
        out.addAll(encode(text.substring(done), true));
        return out.toArray();
    }

    private boolean containsAddedToken(String s) {
        for (int id : encode(s, true)) {
            if (isAddedToken(id)) {
                return true;
            }
        }
        return false;
    }

    /**
     * The text of {@code ids} as HF's ByteLevel decoder gives it: token bytes concatenated and read as UTF-8,
     * ill-formed parts as U+FFFD; added and special tokens decode to their content.
     *
     * @throws IllegalArgumentException for an id that names no token
     */
    public String decode(int[] ids) {
        Utf8Decoder utf8 = new Utf8Decoder();
        StringBuilder out = new StringBuilder(ids.length * 4);
        for (int id : ids) {
            utf8.feed(tokenBytes(id), out);
        }
        utf8.finish(out);
        return out.toString();
    }

    /** The id of a vocabulary string (byte-level spelling, e.g. {@code "Ġthe"}) or added token content. */
    public OptionalInt tokenId(String tokenText) {
        Integer id = ids.get(tokenText);
        return id == null ? OptionalInt.empty() : OptionalInt.of(id);
    }

    /** The vocabulary string of an id, as HF's {@code id_to_token}: added tokens give their content. */
    public String tokenText(int id) {
        checkId(id);
        return tokens[id];
    }

    /** One past the highest token id (model vocabulary plus added tokens). */
    public int vocabSize() {
        return tokens.length;
    }

    /** Whether the id is one of tokenizer.json's added tokens (special or not). */
    public boolean isAddedToken(int id) {
        checkId(id);
        return added[id];
    }

    /** The beginning-of-sequence token named by tokenizer_config.json, if any. */
    public Optional<SpecialToken> bos() {
        return bos;
    }

    /** The end-of-sequence token named by tokenizer_config.json, if any. */
    public Optional<SpecialToken> eos() {
        return eos;
    }

    /** Whether {@code id} names a token (a model's vocabulary may have more rows than its tokenizer has tokens). */
    public boolean hasToken(int id) {
        return id >= 0 && id < tokens.length && tokens[id] != null;
    }

    /** The bytes of one token: for byte-level BPE possibly part of a UTF-8 character (OpenAI's logprob {@code bytes}). */
    public byte[] bytes(int id) {
        return tokenBytes(id).clone();
    }

    byte[] tokenBytes(int id) {
        checkId(id);
        return tokenBytes[id];
    }

    private void checkId(int id) {
        if (id < 0 || id >= tokens.length || tokens[id] == null) {
            throw new IllegalArgumentException(
                    "unknown token id " + id + " (vocabulary ids are 0.." + (tokens.length - 1) + ")");
        }
    }
}
