package dev.moe4j.tokenizer;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.text.Normalizer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * Reads tokenizer.json and tokenizer_config.json into a {@link Tokenizer}. Anything whose HF semantics this
 * implementation does not reproduce is refused with the offending field named, rather than encoded
 * differently.
 */
final class TokenizerFiles {

    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path file;

    private TokenizerFiles(Path file) {
        this.file = file;
    }

    static Tokenizer load(Path dir) throws TokenizerLoadException {
        Path tokenizerJson = dir.resolve("tokenizer.json");
        Path configJson = dir.resolve("tokenizer_config.json");
        return build(tokenizerJson, read(tokenizerJson), configJson, Files.exists(configJson) ? read(configJson) : null);
    }

    /** The same from the files' text; {@code origin} names them in errors (e.g. a classpath folder). */
    static Tokenizer load(String tokenizerJson, String configJson, String origin) throws TokenizerLoadException {
        Path tokenizerFile = Path.of(origin, "tokenizer.json");
        Path configFile = Path.of(origin, "tokenizer_config.json");
        return build(tokenizerFile, parse(tokenizerFile, tokenizerJson), configFile,
                configJson == null ? null : parse(configFile, configJson));
    }

    private static Tokenizer build(Path tokenizerJson, JsonNode root, Path configJson, JsonNode configRoot)
            throws TokenizerLoadException {
        TokenizerFiles files = new TokenizerFiles(tokenizerJson);
        JsonNode model = files.bpeModel(root);
        Map<String, Integer> vocab = files.vocab(model);
        List<AddedToken> addedTokens = files.addedTokens(root);

        int maxId = vocab.values().stream().mapToInt(Integer::intValue).max().orElse(-1);
        for (AddedToken t : addedTokens) {
            maxId = Math.max(maxId, t.id());
        }
        String[] tokens = new String[maxId + 1];
        vocab.forEach((text, id) -> tokens[id] = text);
        Map<String, Integer> ids = new HashMap<>(vocab);
        for (AddedToken t : addedTokens) {
            // HF's id_to_token and token_to_id look in the added vocabulary before the model's.
            tokens[t.id()] = t.content();
            ids.put(t.content(), t.id());
        }

        Bpe bpe = new Bpe(files.byteIds(vocab), files.merges(model, vocab), vocab,
                model.path("ignore_merges").asBoolean(false));
        TextNormalizer normalizer = new TextNormalizer(files.normalizer(root.path("normalizer"), new ArrayList<>()));
        PreTokenizer preTokenizer = files.preTokenizer(root.path("pre_tokenizer"));
        files.require("ByteLevel".equals(root.path("decoder").path("type").asText()),
                "decoder must be ByteLevel, found " + root.path("decoder"));

        Optional<SpecialToken> bos = Optional.empty();
        Optional<SpecialToken> eos = Optional.empty();
        if (configRoot != null) {
            TokenizerFiles config = new TokenizerFiles(configJson);
            bos = config.specialToken(configRoot, "bos_token", ids);
            eos = config.specialToken(configRoot, "eos_token", ids);
        }
        return new Tokenizer(tokens, ids, addedTokens, normalizer, preTokenizer, bpe, bos, eos);
    }

    /** The model object, refused unless it is plain BPE (no dropout, byte fallback or subword affixes). */
    private JsonNode bpeModel(JsonNode root) throws TokenizerLoadException {
        JsonNode model = object(root, "model");
        require("BPE".equals(model.path("type").asText()), "model.type must be BPE");
        require(isAbsent(model.path("dropout")), "model.dropout is not supported");
        require(!model.path("byte_fallback").asBoolean(false), "model.byte_fallback is not supported");
        for (String affix : List.of("continuing_subword_prefix", "end_of_word_suffix")) {
            require(isAbsent(model.path(affix)) || model.path(affix).asText().isEmpty(),
                    "model." + affix + " is not supported");
        }
        return model;
    }

    private Map<String, Integer> vocab(JsonNode model) throws TokenizerLoadException {
        Map<String, Integer> vocab = new HashMap<>(262_144);
        for (Map.Entry<String, JsonNode> entry : object(model, "vocab").properties()) {
            require(entry.getValue().canConvertToInt() && entry.getValue().asInt() >= 0,
                    "model.vocab[\"" + entry.getKey() + "\"] is not a token id");
            vocab.put(entry.getKey(), entry.getValue().asInt());
        }
        return vocab;
    }

    /** The added tokens, special ones first: the order in which HF builds its matchers. */
    private List<AddedToken> addedTokens(JsonNode root) throws TokenizerLoadException {
        JsonNode list = root.path("added_tokens");
        require(list.isArray() || list.isMissingNode(), "added_tokens must be an array");
        List<AddedToken> tokens = new ArrayList<>();
        for (JsonNode t : list) {
            require(t.path("id").canConvertToInt() && t.path("id").asInt() >= 0 && t.path("content").isTextual(),
                    "added_tokens entry without id and content: " + t);
            tokens.add(new AddedToken(t.get("id").asInt(), t.get("content").asText(),
                    t.path("special").asBoolean(false), t.path("single_word").asBoolean(false),
                    t.path("lstrip").asBoolean(false), t.path("rstrip").asBoolean(false),
                    t.path("normalized").asBoolean(true)));
        }
        tokens.sort((a, b) -> Boolean.compare(b.special(), a.special()));
        return tokens;
    }

    /** The id of each byte's one-char token: byte-level BPE needs all 256 so no input is unknown. */
    private int[] byteIds(Map<String, Integer> vocab) throws TokenizerLoadException {
        int[] byteIds = new int[256];
        for (int b = 0; b < 256; b++) {
            Integer id = vocab.get(String.valueOf(ByteLevel.charOf(b)));
            require(id != null, String.format("model.vocab lacks the byte-level token for byte 0x%02X", b));
            byteIds[b] = id;
        }
        return byteIds;
    }

    private static JsonNode read(Path file) throws TokenizerLoadException {
        if (!Files.isRegularFile(file)) {
            throw new TokenizerLoadException(file, Files.exists(file) ? "not a regular file" : "file not found");
        }
        JsonNode root;
        try (InputStream in = Files.newInputStream(file)) {
            root = JSON.readTree(in);
        } catch (JacksonException e) {
            throw new TokenizerLoadException(file, "malformed JSON: " + e.getOriginalMessage(), e);
        } catch (IOException e) {
            throw new TokenizerLoadException(file, "cannot read: " + e, e);
        }
        return requireObject(file, root);
    }

    private static JsonNode parse(Path file, String json) throws TokenizerLoadException {
        try {
            return requireObject(file, JSON.readTree(json));
        } catch (JacksonException e) {
            throw new TokenizerLoadException(file, "malformed JSON: " + e.getOriginalMessage(), e);
        }
    }

    private static JsonNode requireObject(Path file, JsonNode root) throws TokenizerLoadException {
        if (root == null || !root.isObject()) {
            throw new TokenizerLoadException(file, "not a JSON object");
        }
        return root;
    }

    /** Merges as "left right" strings (older files) or [left, right] pairs, resolved to ids. */
    private int[][] merges(JsonNode model, Map<String, Integer> vocab) throws TokenizerLoadException {
        JsonNode list = model.path("merges");
        require(list.isArray(), "model.merges must be an array");
        int[][] merges = new int[list.size()][];
        for (int rank = 0; rank < merges.length; rank++) {
            JsonNode merge = list.get(rank);
            String left;
            String right;
            if (merge.isTextual()) {
                String text = merge.asText();
                int space = text.indexOf(' ');
                require(space > 0 && text.indexOf(' ', space + 1) < 0, "model.merges[" + rank + "] is not \"a b\"");
                left = text.substring(0, space);
                right = text.substring(space + 1);
            } else {
                require(merge.isArray() && merge.size() == 2, "model.merges[" + rank + "] is not a pair");
                left = merge.get(0).asText();
                right = merge.get(1).asText();
            }
            Integer leftId = vocab.get(left);
            Integer rightId = vocab.get(right);
            Integer mergedId = vocab.get(left + right);
            require(leftId != null && rightId != null && mergedId != null,
                    "model.merges[" + rank + "] (" + left + " " + right + ") uses a token missing from model.vocab");
            merges[rank] = new int[] {leftId, rightId, mergedId};
        }
        return merges;
    }

    private List<Normalizer.Form> normalizer(JsonNode node, List<Normalizer.Form> forms) throws TokenizerLoadException {
        if (isAbsent(node)) {
            return forms;
        }
        String type = node.path("type").asText();
        switch (type) {
            case "Sequence" -> {
                for (JsonNode inner : node.path("normalizers")) {
                    normalizer(inner, forms);
                }
            }
            case "NFC", "NFD", "NFKC", "NFKD" -> forms.add(Normalizer.Form.valueOf(type));
            default -> throw new TokenizerLoadException(file, "unsupported normalizer type \"" + type + "\"");
        }
        return forms;
    }

    /** A Sequence of Isolated Splits ending in ByteLevel, or ByteLevel alone. */
    private PreTokenizer preTokenizer(JsonNode node) throws TokenizerLoadException {
        List<JsonNode> steps = new ArrayList<>();
        if ("Sequence".equals(node.path("type").asText())) {
            node.path("pretokenizers").forEach(steps::add);
        } else {
            steps.add(node);
        }
        require(!steps.isEmpty() && "ByteLevel".equals(steps.getLast().path("type").asText()),
                "pre_tokenizer must end with ByteLevel (only byte-level BPE is supported)");
        List<Pattern> splits = new ArrayList<>();
        for (JsonNode step : steps.subList(0, steps.size() - 1)) {
            require("Split".equals(step.path("type").asText()),
                    "unsupported pre_tokenizer step " + step.path("type") + " before ByteLevel");
            require("Isolated".equals(step.path("behavior").asText()) && !step.path("invert").asBoolean(false),
                    "unsupported Split behavior " + step.path("behavior") + " (invert " + step.path("invert")
                            + "); only Isolated is supported");
            JsonNode pattern = step.path("pattern");
            try {
                if (pattern.path("Regex").isTextual()) {
                    splits.add(OnigRegex.compile(pattern.get("Regex").asText()));
                } else {
                    require(pattern.path("String").isTextual(), "Split pattern must be Regex or String");
                    splits.add(Pattern.compile(Pattern.quote(pattern.get("String").asText())));
                }
            } catch (PatternSyntaxException e) {
                throw new TokenizerLoadException(file, "Split regex not supported: " + e.getMessage(), e);
            }
        }
        JsonNode byteLevel = steps.getLast();
        return new PreTokenizer(splits, byteLevel.path("add_prefix_space").asBoolean(true),
                byteLevel.path("use_regex").asBoolean(true));
    }

    /** A role token of tokenizer_config.json: a plain string or an AddedToken object, or absent/null. */
    private Optional<SpecialToken> specialToken(JsonNode config, String field, Map<String, Integer> ids)
            throws TokenizerLoadException {
        JsonNode node = config.path(field);
        if (isAbsent(node)) {
            return Optional.empty();
        }
        JsonNode content = node.isObject() ? node.path("content") : node;
        require(content.isTextual(), field + " must be a string or an object with content");
        Integer id = ids.get(content.asText());
        require(id != null, field + " \"" + content.asText() + "\" is not a token of tokenizer.json");
        return Optional.of(new SpecialToken(content.asText(), id));
    }

    private static boolean isAbsent(JsonNode node) {
        return node.isNull() || node.isMissingNode();
    }

    private JsonNode object(JsonNode parent, String field) throws TokenizerLoadException {
        JsonNode node = parent.path(field);
        require(node.isObject(), field + " must be a JSON object");
        return node;
    }

    private void require(boolean condition, String problem) throws TokenizerLoadException {
        if (!condition) {
            throw new TokenizerLoadException(file, problem);
        }
    }
}
