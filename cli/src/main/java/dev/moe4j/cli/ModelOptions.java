package dev.moe4j.cli;

import dev.moe4j.engine.Engine;
import dev.moe4j.model.ModelSource;
import dev.moe4j.model.Numerics;
import picocli.CommandLine.Option;

import java.nio.file.Path;

/** The options every command that runs a model shares. */
final class ModelOptions {

    @Option(names = "--model", paramLabel = "DIR|demo", defaultValue = "demo",
            description = "An official V4 checkpoint directory, or 'demo' (a built-in tiny random model; the default).")
    String model;

    @Option(names = "--dummy-weights", paramLabel = "CONFIG",
            description = "Random weights for a config.json (or a directory holding one), in place of --model.")
    Path dummyWeights;

    @Option(names = "--dummy-seed", defaultValue = "1", description = "Seed of --dummy-weights (default ${DEFAULT-VALUE}).")
    long dummySeed;

    @Option(names = "--numerics", defaultValue = "official", paramLabel = "official|float",
            description = "official: the official rounding and quantisation points (default); float: plain float32.")
    String numerics;

    @Option(names = "--max-context", defaultValue = "4096", description = "Tokens the caches hold per sequence (default ${DEFAULT-VALUE}).")
    int maxContext;

    @Option(names = "--chunk", defaultValue = "256", description = "Prompt tokens per forward call (default ${DEFAULT-VALUE}).")
    int chunk;

    @Option(names = "--reference",
            description = "Run the plain scalar kernels instead of the vectorised ones: slow, for checking results.")
    boolean reference;

    ModelSource source() {
        return dummyWeights != null ? ModelSource.dummy(dummyWeights, dummySeed) : ModelSource.open(model);
    }

    Engine.Options engineOptions() {
        return new Engine.Options(Numerics.of(numerics), maxContext, chunk, reference);
    }

    Engine load() {
        return Engine.load(source(), engineOptions());
    }

    static int[] parseIds(String csv) {
        String[] parts = csv.split(",");
        int[] ids = new int[parts.length];
        for (int i = 0; i < parts.length; i++) {
            try {
                ids[i] = Integer.parseInt(parts[i].trim());
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("--tokens/--ids: '" + parts[i] + "' is not a token id");
            }
        }
        return ids;
    }
}
