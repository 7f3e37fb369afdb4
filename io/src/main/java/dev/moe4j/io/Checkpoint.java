package dev.moe4j.io;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import dev.moe4j.io.CheckpointException.Kind;
import dev.moe4j.tensor.Tensor;
import dev.moe4j.tensor.TensorSource;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * A checkpoint directory as DeepSeek publishes it: {@code config.json} beside either one {@code .safetensors}
 * file, or shards listed by {@code model.safetensors.index.json}, or shards without an index. All shards are mapped
 * into one shared arena, so tensors can be read from any thread until {@link #close()}.
 */
public final class Checkpoint implements TensorSource {

    public static final String CONFIG_FILE = "config.json";
    public static final String INDEX_FILE = "model.safetensors.index.json";
    private static final String SAFETENSORS_SUFFIX = ".safetensors";
    /** Config and index files are a few kilobytes; the bound keeps a wrong path from filling the heap. */
    private static final long MAX_JSON_BYTES = 64L << 20;

    private final Path directory;
    private final Arena arena;
    private final List<SafetensorsFile> files;
    private final Map<String, SafetensorsFile> byName;

    private Checkpoint(Path directory, Arena arena, List<SafetensorsFile> files, Map<String, SafetensorsFile> byName) {
        this.directory = directory;
        this.arena = arena;
        this.files = files;
        this.byName = byName;
    }

    /**
     * Opens the checkpoint in {@code dir}, validating every shard's header (and the index, when there is one). A
     * directory holding only {@code config.json} opens with no tensors.
     */
    public static Checkpoint open(Path dir) {
        if (!Files.isDirectory(dir)) {
            throw new CheckpointException(Kind.IO, dir, null, "not a directory; a checkpoint is a directory holding "
                    + CONFIG_FILE + " and .safetensors files");
        }
        Arena arena = Arena.ofShared();
        try {
            List<SafetensorsFile> files = Files.exists(dir.resolve(INDEX_FILE)) ? openIndexed(dir, arena) : openAll(dir, arena);
            if (files.isEmpty() && !Files.exists(dir.resolve(CONFIG_FILE))) {
                throw new CheckpointException(Kind.IO, dir, null, "holds neither " + CONFIG_FILE
                        + " nor any .safetensors file; is this the checkpoint directory?");
            }
            Map<String, SafetensorsFile> byName = new TreeMap<>();
            for (SafetensorsFile file : files) {
                for (String name : file.names()) {
                    SafetensorsFile earlier = byName.putIfAbsent(name, file);
                    if (earlier != null) {
                        throw new CheckpointException(Kind.DUPLICATE, file.path(), name, "the tensor is also in "
                                + earlier.path().getFileName() + "; a tensor must live in exactly one shard");
                    }
                }
            }
            return new Checkpoint(dir, arena, files, Collections.unmodifiableMap(byName));
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    private static List<SafetensorsFile> openAll(Path dir, Arena arena) {
        List<Path> paths;
        try (Stream<Path> listing = Files.list(dir)) {
            paths = listing.filter(p -> p.getFileName().toString().endsWith(SAFETENSORS_SUFFIX) && Files.isRegularFile(p))
                    .sorted().toList();
        } catch (IOException e) {
            throw new CheckpointException(Kind.IO, dir, null, "cannot list the directory: " + e, e);
        }
        List<SafetensorsFile> files = new ArrayList<>(paths.size());
        for (Path p : paths) {
            files.add(SafetensorsFile.open(p, arena));
        }
        return files;
    }

    private static List<SafetensorsFile> openIndexed(Path dir, Arena arena) {
        Path index = dir.resolve(INDEX_FILE);
        Map<String, SafetensorsFile> shards = new LinkedHashMap<>();
        for (Map.Entry<String, String> e : weightMap(index).entrySet()) {
            String tensor = e.getKey();
            String fileName = e.getValue();
            SafetensorsFile shard = shards.get(fileName);
            if (shard == null) {
                Path path = dir.resolve(fileName);
                if (!Files.isRegularFile(path)) {
                    throw new CheckpointException(Kind.INDEX, index, tensor, "the index places this tensor in '"
                            + fileName + "', which is not in " + dir + " (incomplete download?)");
                }
                shard = SafetensorsFile.open(path, arena);
                shards.put(fileName, shard);
            }
            if (!shard.has(tensor)) {
                throw new CheckpointException(Kind.MISSING_TENSOR, shard.path(), tensor,
                        "the index " + INDEX_FILE + " places this tensor in this file, but the file does not hold it");
            }
        }
        return List.copyOf(shards.values());
    }

    /** The index's weight_map (tensor name to file name), with every file name checked to stay inside the directory. */
    private static Map<String, String> weightMap(Path index) {
        JsonNode root;
        try {
            root = StrictJson.parse(readSmall(index));
        } catch (StrictJson.DuplicateKeyException e) {
            if (e.parent().toString().equals("/weight_map")) {
                throw new CheckpointException(Kind.DUPLICATE, index, e.key(),
                        "the index lists this tensor twice; a tensor must live in exactly one shard");
            }
            throw new CheckpointException(Kind.JSON, index, null, "the index is not usable JSON: " + e.getMessage(), e);
        } catch (JsonProcessingException e) {
            throw new CheckpointException(Kind.JSON, index, null, "the index is not valid JSON: " + e.getOriginalMessage(), e);
        } catch (IOException e) {
            throw new CheckpointException(Kind.IO, index, null, "cannot read the index: " + e, e);
        }
        JsonNode map = root.get("weight_map");
        if (!root.isObject() || map == null || !map.isObject()) {
            throw new CheckpointException(Kind.INDEX, index, null, "the index has no \"weight_map\" object");
        }
        Map<String, String> weightMap = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> e : map.properties()) {
            JsonNode file = e.getValue();
            if (!file.isTextual()) {
                throw new CheckpointException(Kind.INDEX, index, e.getKey(), "the file name is not a string: " + file);
            }
            if (!isPlainFileName(file.textValue())) {
                throw new CheckpointException(Kind.INDEX, index, e.getKey(), "the file name '" + file.textValue()
                        + "' is not a plain file name inside the checkpoint directory");
            }
            weightMap.put(e.getKey(), file.textValue());
        }
        return weightMap;
    }

    // An index from the internet must not make us open files elsewhere on the machine (../../etc/..., absolute
    // paths), so only names without separators are allowed.
    private static boolean isPlainFileName(String name) {
        return !name.isEmpty() && !name.equals(".") && !name.equals("..")
                && name.indexOf('/') < 0 && name.indexOf('\\') < 0 && name.indexOf('\0') < 0;
    }

    private static byte[] readSmall(Path file) throws IOException {
        long size = Files.size(file);
        if (size > MAX_JSON_BYTES) {
            throw new IOException("the file has " + size + " bytes, more than the " + MAX_JSON_BYTES + " accepted");
        }
        return Files.readAllBytes(file);
    }

    @Override
    public Tensor get(String name) {
        SafetensorsFile file = byName.get(name);
        if (file == null) {
            throw new MissingTensorException(origin(), name);
        }
        return file.get(name);
    }

    @Override
    public boolean has(String name) {
        return byName.containsKey(name);
    }

    /** All tensor names, sorted. */
    @Override
    public Set<String> names() {
        return byName.keySet();
    }

    @Override
    public String origin() {
        return directory.toString();
    }

    /** The name of the shard file holding {@code name}, or {@link #origin()} when no shard holds it. */
    @Override
    public String fileOf(String name) {
        SafetensorsFile file = byName.get(name);
        return file == null ? origin() : file.path().getFileName().toString();
    }

    public Path directory() {
        return directory;
    }

    /** The total size of the safetensors files in use. */
    public long bytesOnDisk() {
        long total = 0;
        for (SafetensorsFile f : files) {
            total += f.size();
        }
        return total;
    }

    /**
     * The text of {@code config.json}, checked to be a JSON object; the model module parses it into its own
     * configuration. Throws a {@link CheckpointException} of kind JSON when it is absent or malformed, IO when it
     * cannot be read.
     */
    public String configJson() {
        Path config = directory.resolve(CONFIG_FILE);
        if (!Files.isRegularFile(config)) {
            throw new CheckpointException(Kind.JSON, config, null,
                    "no such file; the model's configuration must sit beside its weights");
        }
        byte[] bytes;
        JsonNode root;
        try {
            bytes = readSmall(config);
            root = StrictJson.parse(bytes);
        } catch (StrictJson.DuplicateKeyException e) {
            throw new CheckpointException(Kind.JSON, config, null, "ambiguous configuration: " + e.getMessage(), e);
        } catch (JsonProcessingException e) {
            throw new CheckpointException(Kind.JSON, config, null, "not valid JSON: " + e.getOriginalMessage(), e);
        } catch (IOException e) {
            throw new CheckpointException(Kind.IO, config, null, "cannot be read: " + e, e);
        }
        if (!root.isObject()) {
            throw new CheckpointException(Kind.JSON, config, null, "not a JSON object");
        }
        String text = new String(bytes, StandardCharsets.UTF_8);
        // Editors on Windows may prepend a byte-order mark, which a parser reading the text would reject.
        return text.startsWith("\uFEFF") ? text.substring(1) : text;
    }

    /** Releases every mapping; tensors obtained from this checkpoint must not be read afterwards. */
    @Override
    public synchronized void close() {
        if (arena.scope().isAlive()) {
            arena.close();
        }
    }

    @Override
    public String toString() {
        return directory + " (" + byName.size() + " tensors in " + files.size() + " files)";
    }
}
