package dev.moe4j.model;

import dev.moe4j.io.Checkpoint;
import dev.moe4j.io.CheckpointException;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.TensorSource;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Where a model comes from: an official checkpoint directory, random weights for a config
 * ({@code --dummy-weights}), or the built-in demo model (a tiny V4 config with seeded random weights,
 * so that a newcomer needs no download).
 *
 * @param bytesOnDisk size of the weight files (0 for generated weights)
 * @param configJson  the config.json text the config was parsed from
 */
public record ModelSource(String name, V4Config config, TensorSource tensors, long bytesOnDisk, String configJson)
        implements AutoCloseable {

    public static final String DEMO = "demo";
    /** Seed of the demo model's weights: the demo is the same model on every machine. */
    public static final long DEMO_SEED = 20260424L;
    private static final String DEMO_CONFIG = "demo/config.json";

    /** {@code "demo"} or a checkpoint directory. */
    public static ModelSource open(String model) {
        return DEMO.equals(model) ? demo() : checkpoint(Path.of(model));
    }

    public static ModelSource checkpoint(Path dir) {
        Checkpoint ck = Checkpoint.open(dir);
        try {
            String json = ck.configJson();
            V4Config cfg = V4Config.parse(json, dir.resolve(Checkpoint.CONFIG_FILE));
            String probe = "layers.0.ffn.experts.0.w1.weight";
            if (cfg.expertDtype() == null && ck.has(probe)) {
                // the first V4 upload's config had no expert_dtype: the tensors tell (I8 pairs = FP4)
                cfg = cfg.withExpertDtype(ck.get(probe).dtype() == DType.I8 ? "fp4" : "fp8");
            }
            return new ModelSource(dir.toAbsolutePath().normalize().getFileName().toString().toLowerCase(), cfg, ck,
                    ck.bytesOnDisk(), json);
        } catch (RuntimeException e) {
            ck.close();
            throw e;
        }
    }

    public static ModelSource demo() {
        String json;
        try (InputStream in = ModelSource.class.getResourceAsStream(DEMO_CONFIG)) {
            if (in == null) {
                throw new IllegalStateException("demo config missing from the build");
            }
            json = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        V4Config cfg = V4Config.parse(json, Path.of(DEMO, "config.json"));
        return new ModelSource(DEMO, cfg, new DummyWeights(new V4Layout(cfg), DEMO_SEED, DEMO), 0, json);
    }

    /** Random weights for the config in {@code configPath} (a config.json, or a directory holding one). */
    public static ModelSource dummy(Path configPath, long seed) {
        Path file = Files.isDirectory(configPath) ? configPath.resolve(Checkpoint.CONFIG_FILE) : configPath;
        String json;
        try {
            json = Files.readString(file);
        } catch (IOException e) {
            throw new CheckpointException(CheckpointException.Kind.IO, file, null, "cannot read config: " + e.getMessage(), e);
        }
        V4Config cfg = V4Config.parse(json, file);
        String name = "dummy-" + file.toAbsolutePath().normalize().getParent().getFileName();
        return new ModelSource(name, cfg, new DummyWeights(new V4Layout(cfg), seed, "dummy weights for " + file), 0, json);
    }

    @Override
    public void close() {
        try {
            tensors.close();
        } catch (Exception e) {
            throw new IllegalStateException("closing " + tensors.origin(), e);
        }
    }
}
