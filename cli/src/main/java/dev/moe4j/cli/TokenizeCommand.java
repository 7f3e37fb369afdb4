package dev.moe4j.cli;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.moe4j.tokenizer.InvalidTextException;
import dev.moe4j.tokenizer.Tokenizer;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code moe4j tokenize}: text to token ids, one {@code {"ids":[...]}} JSON line per input. */
@Command(name = "tokenize", mixinStandardHelpOptions = true,
        description = "Encode text to token ids; prints one JSON line {\"ids\":[...]} per input.")
final class TokenizeCommand implements Callable<Integer> {

    @Option(names = "--tokenizer", paramLabel = "DIR", required = true,
            description = "Directory holding tokenizer.json (and tokenizer_config.json).")
    Path tokenizer;

    @ArgGroup(exclusive = true, multiplicity = "1")
    Input input;

    static final class Input {
        @Option(names = "--text", paramLabel = "TEXT", description = "The text to encode.")
        String text;

        @Option(names = "--jsonl", paramLabel = "FILE",
                description = "UTF-8 JSON lines, each with a \"text\" string (other fields ignored, blank lines skipped).")
        Path jsonl;
    }

    @Option(names = "--no-special",
            description = "Match no added or special token: their spellings in the text encode as plain text.")
    boolean noSpecial;

    private final ObjectMapper json = new ObjectMapper();

    @Override
    public Integer call() throws IOException {
        Tokenizer tok = Tokenizer.load(tokenizer);
        if (input.text != null) {
            print(tok.encode(input.text, !noSpecial));
            return 0;
        }
        try (BufferedReader lines = Files.newBufferedReader(input.jsonl, StandardCharsets.UTF_8)) {
            int number = 0;
            for (String line = lines.readLine(); line != null; line = lines.readLine()) {
                number++;
                if (!line.isBlank()) {
                    print(encodeLine(tok, line, number));
                }
            }
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException("--jsonl file not found: " + input.jsonl, e);
        } catch (CharacterCodingException e) {
            throw new IllegalArgumentException(input.jsonl + ": not valid UTF-8", e);
        }
        return 0;
    }

    private int[] encodeLine(Tokenizer tok, String line, int number) {
        String where = input.jsonl + ":" + number + ": ";
        JsonNode node;
        try {
            node = json.readTree(line);
        } catch (JacksonException e) {
            throw new IllegalArgumentException(where + "not valid JSON: " + e.getOriginalMessage(), e);
        }
        JsonNode text = node.path("text");
        if (!text.isTextual()) {
            throw new IllegalArgumentException(where + "no \"text\" string field");
        }
        try {
            return tok.encode(text.asText(), !noSpecial);
        } catch (InvalidTextException e) {
            throw new IllegalArgumentException(where + e.getMessage(), e);
        }
    }

    private void print(int[] ids) throws IOException {
        System.out.println(json.writeValueAsString(Map.of("ids", ids)));
    }
}
