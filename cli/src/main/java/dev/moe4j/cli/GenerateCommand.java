package dev.moe4j.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.moe4j.engine.Engine;
import dev.moe4j.engine.GenerationParams;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.util.Map;
import java.util.concurrent.Callable;

/** {@code moe4j generate}: continues a prompt of token ids; prints {@code {"tokens":[...]}}. */
@Command(name = "generate", mixinStandardHelpOptions = true, description = "Continue a prompt of token ids.")
final class GenerateCommand implements Callable<Integer> {

    @Mixin
    ModelOptions model = new ModelOptions();

    @Option(names = "--tokens", required = true, description = "Prompt token ids, comma-separated.")
    String tokens;

    @Option(names = "--max-tokens", defaultValue = "16", description = "Tokens to generate at most (default ${DEFAULT-VALUE}).")
    int maxTokens;

    @Option(names = "--temperature", defaultValue = "0", description = "0 = greedy (default).")
    float temperature;

    @Option(names = "--top-p", defaultValue = "1")
    float topP;

    @Option(names = "--top-k", defaultValue = "0", description = "0 = off.")
    int topK;

    @Option(names = "--seed", defaultValue = "0")
    long seed;

    @Option(names = "--ignore-eos", description = "Do not stop at the end-of-sequence token.")
    boolean ignoreEos;

    @Option(names = "--stats", description = "Print load time, prompt and decode tokens/s to standard error.")
    boolean stats;

    @Override
    public Integer call() throws Exception {
        int[] prompt = ModelOptions.parseIds(tokens);
        GenerationParams p = new GenerationParams(maxTokens, temperature, topP, topK, seed, ignoreEos);
        long t0 = System.nanoTime();
        try (Engine e = model.load()) {
            long t1 = System.nanoTime();
            int[] out = new int[maxTokens];
            long[] firstAt = {0};
            int[] n = {0};
            e.generate(prompt, p, tok -> {
                if (n[0] == 0) {
                    firstAt[0] = System.nanoTime();
                }
                out[n[0]++] = tok;
                return true;
            });
            long t2 = System.nanoTime();
            System.out.println(new ObjectMapper().writeValueAsString(Map.of("tokens", java.util.Arrays.copyOf(out, n[0]))));
            if (stats) {
                // the first token comes out of the prefill; the others each took one decode step
                System.err.printf("load %.2f s | prompt %d tokens, %.1f t/s | decode %d tokens, %.2f t/s%n",
                        (t1 - t0) / 1e9, prompt.length, prompt.length / ((firstAt[0] - t1) / 1e9),
                        n[0] - 1, n[0] > 1 ? (n[0] - 1) / ((t2 - firstAt[0]) / 1e9) : 0.0);
            }
        }
        return 0;
    }
}
