package dev.moe4j.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moe4j.io.SafetensorsWriter;
import dev.moe4j.model.ModelSource;
import dev.moe4j.model.V4Layout;
import dev.moe4j.tensor.Tensor;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * {@code moe4j export}: writes a model (the demo, or {@code --dummy-weights}) as an official-format
 * checkpoint directory: config.json, safetensors shards and model.safetensors.index.json. Useful to
 * run the generated weights from disk through memory mapping, e.g. with less RAM than the model.
 */
@Command(name = "export", mixinStandardHelpOptions = true, description = "Write a model as an official-format checkpoint.")
final class ExportCommand implements Callable<Integer> {

    @Mixin
    ModelOptions model = new ModelOptions();

    @Option(names = "--out", required = true, description = "The directory to write (created; must be empty).")
    Path out;

    @Option(names = "--shard-bytes", defaultValue = "4000000000", description = "Largest shard (default ${DEFAULT-VALUE}).")
    long shardBytes;

    @Override
    public Integer call() throws Exception {
        Files.createDirectories(out);
        try (var entries = Files.list(out)) {
            if (entries.findAny().isPresent()) {
                throw new IllegalArgumentException(out + " is not empty");
            }
        }
        try (ModelSource src = model.source()) {
            V4Layout layout = new V4Layout(src.config());
            List<List<String>> shards = new ArrayList<>();
            long size = 0;
            for (String name : layout.names()) {
                long b = layout.spec(name).bytes();
                if (shards.isEmpty() || size + b > shardBytes) {
                    shards.add(new ArrayList<>());
                    size = 0;
                }
                shards.getLast().add(name);
                size += b;
            }
            ObjectMapper json = new ObjectMapper();
            ObjectNode index = json.createObjectNode();
            index.putObject("metadata").put("total_size", layout.totalBytes());
            ObjectNode map = index.putObject("weight_map");
            for (int i = 0; i < shards.size(); i++) {
                String file = String.format("model-%05d-of-%05d.safetensors", i + 1, shards.size());
                SafetensorsWriter w = new SafetensorsWriter();
                for (String name : shards.get(i)) {
                    Tensor t = src.tensors().get(name);
                    w.add(t);
                    map.put(name, file);
                }
                w.write(out.resolve(file));
                System.err.printf("wrote %s (%d tensors)%n", file, shards.get(i).size());
            }
            Files.writeString(out.resolve("model.safetensors.index.json"), json.writerWithDefaultPrettyPrinter()
                    .writeValueAsString(index));
            Files.writeString(out.resolve("config.json"), src.configJson());
        }
        return 0;
    }
}
