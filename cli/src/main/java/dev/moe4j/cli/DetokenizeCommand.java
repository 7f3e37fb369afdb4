package dev.moe4j.cli;

import dev.moe4j.tokenizer.Tokenizer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code moe4j detokenize}: token ids to text, printed exactly (no newline added). */
@Command(name = "detokenize", mixinStandardHelpOptions = true,
        description = "Decode token ids to text; prints exactly the text, as UTF-8, with no newline added.")
final class DetokenizeCommand implements Callable<Integer> {

    @Option(names = "--tokenizer", paramLabel = "DIR", required = true,
            description = "Directory holding tokenizer.json (and tokenizer_config.json).")
    Path tokenizer;

    @Option(names = "--ids", paramLabel = "ID,ID,...", required = true, description = "Comma-separated token ids.")
    String ids;

    @Override
    public Integer call() throws IOException {
        int[] parsed = parseIds(ids);
        String text = Tokenizer.load(tokenizer).decode(parsed);
        // Raw UTF-8 bytes, so the text survives whatever encoding the console stream was set up with.
        System.out.writeBytes(text.getBytes(StandardCharsets.UTF_8));
        System.out.flush();
        return 0;
    }

    /** Parsed here rather than by picocli so a bad id is one error line, not a usage dump. */
    private static int[] parseIds(String list) {
        if (list.isBlank()) {
            return new int[0];
        }
        String[] parts = list.split(",", -1);
        int[] result = new int[parts.length];
        for (int i = 0; i < parts.length; i++) {
            try {
                result[i] = Integer.parseInt(parts[i].strip());
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("--ids: '" + parts[i].strip() + "' is not a token id", e);
            }
        }
        return result;
    }
}
