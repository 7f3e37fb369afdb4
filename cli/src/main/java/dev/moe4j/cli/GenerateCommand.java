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

    @Override
    public Integer call() throws Exception {
        int[] prompt = ModelOptions.parseIds(tokens);
        GenerationParams p = new GenerationParams(maxTokens, temperature, topP, topK, seed, ignoreEos);
        try (Engine e = model.load()) {
            int[] out = e.generate(prompt, p);
            System.out.println(new ObjectMapper().writeValueAsString(Map.of("tokens", out)));
        }
        return 0;
    }
}
