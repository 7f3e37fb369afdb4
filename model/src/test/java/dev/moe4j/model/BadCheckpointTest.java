package dev.moe4j.model;

import dev.moe4j.testkit.Fixtures;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moe4j.io.CheckpointException;
import dev.moe4j.io.CheckpointException.Kind;
import dev.moe4j.io.SafetensorsFile;
import dev.moe4j.io.SafetensorsWriter;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Bad checkpoints at the model level: each test copies the v4-tiny fixture into a temporary directory, alters one
 * thing, and checks that {@code ModelSource.checkpoint} + {@code V4Model.load} (or a forward) fails with a typed
 * {@link CheckpointException} of the right kind whose message names the file and, where there is one, the tensor —
 * quickly, and without allocating what an absurd declared size asks for. The last tests cover run-time misuse
 * (context and vocabulary bounds) and two good-but-unusual checkpoints that must load.
 */
@Timeout(120)
class BadCheckpointTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String CONFIG = "config.json";
    private static final String INDEX = "model.safetensors.index.json";
    private static final String SHARD1 = "model-00001-of-00003.safetensors";
    private static final String SHARD2 = "model-00002-of-00003.safetensors";
    private static final String SHARD3 = "model-00003-of-00003.safetensors";
    private static final String[] FILES = {CONFIG, INDEX, SHARD1, SHARD2, SHARD3};
    private static final int[] PROMPT = {0, 17, 1234};
    private static final int CHUNK = 16;

    @TempDir
    Path tmp;

    // ================================================================== fixture editing

    private static Path fixture() {
        return Fixtures.dir("fixtures/v4-tiny");
    }

    /** A fresh copy of the fixture's config, index and shards (written anew: the fixture files are read-only). */
    private Path copy(String name) throws IOException {
        Path dir = Files.createDirectory(tmp.resolve(name));
        for (String f : FILES) {
            Files.write(dir.resolve(f), Files.readAllBytes(fixture().resolve(f)));
        }
        return dir;
    }

    /** The shard file that holds {@code tensor} according to the fixture's index. */
    private static String shardOf(String tensor) throws IOException {
        return JSON.readTree(fixture().resolve(INDEX).toFile()).get("weight_map").get(tensor).textValue();
    }

    /**
     * Rewrites, in {@code dir}, the shard holding {@code tensor} from the fixture's own tensors with {@code edit}
     * applied to the map name → tensor (replace, remove or add entries), then brings the index in line: entries
     * of removed tensors dropped, total_size recomputed.
     */
    private static void editShard(Path dir, String tensor, Consumer<Map<String, Tensor>> edit) throws IOException {
        String shard = shardOf(tensor);
        try (SafetensorsFile in = SafetensorsFile.open(fixture().resolve(shard))) {
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            for (Tensor t : in.tensors()) {
                tensors.put(t.name(), t);
            }
            edit.accept(tensors);
            SafetensorsWriter w = new SafetensorsWriter();
            tensors.values().forEach(w::add);
            Files.delete(dir.resolve(shard));
            w.write(dir.resolve(shard));
            ObjectNode index = (ObjectNode) JSON.readTree(dir.resolve(INDEX).toFile());
            ObjectNode map = (ObjectNode) index.get("weight_map");
            for (String name : in.names()) {
                if (!tensors.containsKey(name)) {
                    map.remove(name);
                }
            }
            long total = 0;
            for (String f : new String[]{SHARD1, SHARD2, SHARD3}) {
                try (SafetensorsFile s = SafetensorsFile.open(dir.resolve(f))) {
                    for (Tensor t : s.tensors()) {
                        total += t.data().byteSize();
                    }
                }
            }
            ((ObjectNode) index.get("metadata")).put("total_size", total);
            Files.write(dir.resolve(INDEX), JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(index));
        }
    }

    /** Replaces one tensor of its shard by {@code dtype shape data}. */
    private static void replace(Path dir, String tensor, DType dtype, long[] shape, byte[] data) throws IOException {
        editShard(dir, tensor, m -> m.put(tensor, new Tensor(tensor, dtype, shape, MemorySegment.ofArray(data))));
    }

    private static byte[] bytes(Tensor t) {
        return t.data().toArray(ValueLayout.JAVA_BYTE);
    }

    private static Tensor fixtureTensor(String name) throws IOException {
        try (SafetensorsFile f = SafetensorsFile.open(fixture().resolve(shardOf(name)))) {
            Tensor t = f.get(name);
            return new Tensor(name, t.dtype(), t.shape(), MemorySegment.ofArray(bytes(t)));
        }
    }

    private static void editConfig(Path dir, Consumer<ObjectNode> edit) throws IOException {
        ObjectNode c = (ObjectNode) JSON.readTree(dir.resolve(CONFIG).toFile());
        edit.accept(c);
        Files.write(dir.resolve(CONFIG), JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(c));
    }

    /** The standard load: open the directory, bind every tensor with float numerics; closes everything. */
    private static void load(Path dir) {
        try (ModelSource src = ModelSource.checkpoint(dir)) {
            V4Model.load(src.tensors(), src.config(), Numerics.FLOAT, CHUNK);
        }
    }

    /** Loads {@code dir} expecting a CheckpointException of one of {@code kinds}, naming {@code file} (and {@code tensor}). */
    private static CheckpointException expectBad(Executable run, Set<Kind> kinds, String file, String tensor) {
        CheckpointException e = assertThrows(CheckpointException.class, run);
        String msg = e.getMessage();
        assertTrue(kinds.contains(e.kind()), "kind " + e.kind() + ", expected one of " + kinds + ": " + msg);
        assertTrue(msg.contains(file), "the message should name the file " + file + ": " + msg);
        if (tensor != null) {
            assertEquals(tensor, e.tensor(), msg);
            assertTrue(msg.contains(tensor), "the message should name the tensor " + tensor + ": " + msg);
        }
        return e;
    }

    private static CheckpointException expectBad(Path dir, Kind kind, String file, String tensor) {
        return expectBad(() -> load(dir), EnumSet.of(kind), file, tensor);
    }

    /** Last-position logits of {@link #PROMPT} (float numerics, prefill), with the state's max context {@code ctx}. */
    private static float[] logits(Path dir, int ctx) {
        try (ModelSource src = ModelSource.checkpoint(dir)) {
            V4Model m = V4Model.load(src.tensors(), src.config(), Numerics.FLOAT, CHUNK);
            float[] out = new float[m.config().vocabSize()];
            m.forward(PROMPT, PROMPT.length, m.newState(ctx), out, false, null);
            return out;
        }
    }

    // ================================================================== 1-3: tensors vs the config

    /** 1. layers.1.attn.wq_b.weight with one row fewer (bytes adjusted, so the shard itself is consistent). */
    @Test
    void shapeNotMatchingTheConfig() throws IOException {
        Path dir = copy("shape");
        String name = "layers.1.attn.wq_b.weight";
        Tensor t = fixtureTensor(name);
        long[] shape = t.shape();
        shape[0]--;
        replace(dir, name, t.dtype(), shape, Arrays.copyOf(bytes(t), Math.toIntExact(shape[0] * shape[1])));
        CheckpointException e = expectBad(dir, Kind.SHAPE, shardOf(name), name);
        assertTrue(e.getMessage().contains(Arrays.toString(shape)), e.getMessage());
    }

    /** 2. layers.0.attn_norm.weight stored as F32 (same values) instead of BF16. */
    @Test
    void dtypeWrongForItsRole() throws IOException {
        Path dir = copy("dtype");
        String name = "layers.0.attn_norm.weight";
        Tensor t = fixtureTensor(name);
        assertEquals(DType.BF16, t.dtype());
        int n = Math.toIntExact(t.numel());
        ByteBuffer f32 = ByteBuffer.allocate(4 * n).order(ByteOrder.LITTLE_ENDIAN);
        ByteBuffer bf16 = ByteBuffer.wrap(bytes(t)).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < n; i++) {
            f32.putInt((bf16.getShort() & 0xFFFF) << 16);
        }
        replace(dir, name, DType.F32, t.shape(), f32.array());
        CheckpointException e = expectBad(dir, Kind.DTYPE, shardOf(name), name);
        assertTrue(e.getMessage().contains("F32") && e.getMessage().contains("BF16"), e.getMessage());
    }

    /** 3. layers.2.attn.compressor.ape dropped from its shard and from the index. */
    @Test
    void missingTensor() throws IOException {
        Path dir = copy("missing");
        String name = "layers.2.attn.compressor.ape";
        editShard(dir, name, m -> m.remove(name));
        // the checkpoint itself is consistent (the index no longer lists it): only the model notices
        try (ModelSource src = ModelSource.checkpoint(dir)) {
            assertTrue(!src.tensors().has(name));
        }
        CheckpointException e = expectBad(dir, Kind.MISSING_TENSOR, dir.getFileName().toString(), name);
        assertTrue(e.getMessage().contains("missing"), e.getMessage());
    }

    // ================================================================== 4: config.json

    @Test
    void configHiddenSizeZero() throws IOException {
        Path dir = copy("hidden0");
        editConfig(dir, c -> c.put("hidden_size", 0));
        CheckpointException e = expectBad(dir, Kind.CONFIG, CONFIG, null);
        assertTrue(e.getMessage().contains("hidden_size"), e.getMessage());
    }

    /** 10^9 experts must be refused while parsing the config, before any layout or buffer is sized from it. */
    @Test
    @Timeout(5)
    void configBillionExpertsFailsAtParseTime() throws IOException {
        Path dir = copy("experts");
        editConfig(dir, c -> c.put("n_routed_experts", 1_000_000_000));
        CheckpointException e = expectBad(() -> ModelSource.checkpoint(dir).close(), EnumSet.of(Kind.CONFIG), CONFIG, null);
        assertTrue(e.getMessage().contains("n_routed_experts"), e.getMessage());
    }

    @Test
    void configNegativeLayerCount() throws IOException {
        Path dir = copy("layers");
        editConfig(dir, c -> c.put("num_hidden_layers", -1));
        CheckpointException e = expectBad(dir, Kind.CONFIG, CONFIG, null);
        assertTrue(e.getMessage().contains("num_hidden_layers"), e.getMessage());
    }

    @Test
    void configNotJson() throws IOException {
        Path dir = copy("notjson");
        Files.writeString(dir.resolve(CONFIG), "{\"hidden_size\": 256, this is not JSON", StandardCharsets.UTF_8);
        expectBad(dir, Kind.JSON, CONFIG, null);
    }

    @Test
    void configUnknownArchitecture() throws IOException {
        Path dir = copy("llama");
        editConfig(dir, c -> {
            c.putArray("architectures").add("LlamaForCausalLM");
            c.put("model_type", "llama");
        });
        CheckpointException e = expectBad(dir, Kind.ARCHITECTURE, CONFIG, null);
        assertTrue(e.getMessage().contains("LlamaForCausalLM"), e.getMessage());
    }

    // ================================================================== 5: huge max_position_embeddings

    /** The caches are sized by the state's max context, not by the config: 2^40 positions load and run. */
    @Test
    void hugeMaxPositionEmbeddingsLoadsAndRuns() throws IOException {
        Path dir = copy("maxpos");
        editConfig(dir, c -> c.put("max_position_embeddings", 1L << 40));
        float[] got = logits(dir, 64);
        for (float v : got) {
            assertTrue(Float.isFinite(v), "non-finite logit " + v);
        }
        assertArrayEquals(logits(fixture(), 64), got, "max_position_embeddings must not change the logits");
    }

    // ================================================================== 6-7: damaged shard files

    /** 6. model-00002 with its last 1000 bytes cut. */
    @Test
    void truncatedShard() throws IOException {
        Path dir = copy("truncated");
        Path shard = dir.resolve(SHARD2);
        byte[] b = Files.readAllBytes(shard);
        Files.write(shard, Arrays.copyOf(b, b.length - 1000));
        expectBad(() -> load(dir), EnumSet.of(Kind.TRUNCATED, Kind.OFFSETS), SHARD2, null);
    }

    /** 7. A header declaring the dtype "F8_E5M2" (unknown to the engine; same element size, so offsets still fit). */
    @Test
    void unknownDtypeInHeader() throws IOException {
        Path dir = copy("e5m2");
        String name = "layers.2.attn.wkv.weight";
        String shardName = shardOf(name);
        Path shard = dir.resolve(shardName);
        ByteBuffer file = ByteBuffer.wrap(Files.readAllBytes(shard)).order(ByteOrder.LITTLE_ENDIAN);
        int headerLength = Math.toIntExact(file.getLong(0));
        ObjectNode header = (ObjectNode) JSON.readTree(Arrays.copyOfRange(file.array(), 8, 8 + headerLength));
        ObjectNode entry = (ObjectNode) header.get(name);
        assertEquals("F8_E4M3", entry.get("dtype").textValue());
        entry.put("dtype", "F8_E5M2");
        byte[] json = JSON.writeValueAsBytes(header);
        int padded = (json.length + 7) & ~7;
        ByteBuffer out = ByteBuffer.allocate(8 + padded + file.capacity() - 8 - headerLength).order(ByteOrder.LITTLE_ENDIAN);
        out.putLong(padded).put(json);
        while (out.position() < 8 + padded) {
            out.put((byte) ' ');
        }
        out.put(file.array(), 8 + headerLength, file.capacity() - 8 - headerLength);
        Files.write(shard, out.array());
        CheckpointException e = expectBad(dir, Kind.DTYPE, shardName, name);
        assertTrue(e.getMessage().contains("F8_E5M2"), e.getMessage());
    }

    // ================================================================== 8: bad hash routing table

    /** 8. tid2eid routing a token to expert n_routed_experts (one past the last). */
    @Test
    void hashTableExpertOutOfRange() throws IOException {
        Path dir = copy("tid2eid");
        String name = "layers.0.ffn.gate.tid2eid";
        Tensor t = fixtureTensor(name);
        assertEquals(DType.I64, t.dtype());
        int experts = V4Config.parse(Files.readString(dir.resolve(CONFIG)), dir.resolve(CONFIG)).nRoutedExperts();
        byte[] data = bytes(t);
        int token = 5, slot = 2, k = Math.toIntExact(t.dim(1));
        ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN).putLong(8 * (token * k + slot), experts);
        replace(dir, name, DType.I64, t.shape(), data);
        CheckpointException e = assertThrows(CheckpointException.class, () -> load(dir));
        String msg = e.getMessage();
        assertEquals(name, e.tensor(), msg);
        assertTrue(msg.contains(name) && msg.contains(shardOf(name)), "should name tensor and file: " + msg);
        assertTrue(msg.contains("expert " + experts), "should give the bad expert id: " + msg);
    }

    // ================================================================== 9: F32 scales (the Base layout)

    /**
     * 9. FP8/FP4 scales given as F32 powers of two instead of F8_E8M0 bytes, as in the Base checkpoints: the same
     * values, so the logits are bit-identical. Converted: layers.1.attn.wq_a.scale (an FP8 block scale, read by every
     * token) and the FP4 scales of layer 1's routed experts' w1 (every expert, so whichever are routed to).
     */
    @Test
    void f32ScalesGiveTheSameLogitsAsE8m0() throws IOException {
        Path dir = copy("f32scales");
        String wqA = "layers.1.attn.wq_a.scale";
        editShard(dir, wqA, m -> {
            for (Map.Entry<String, Tensor> e : m.entrySet()) {
                String n = e.getKey();
                if (n.equals(wqA) || n.matches("layers\\.1\\.ffn\\.experts\\.\\d+\\.w1\\.scale")) {
                    e.setValue(e8m0ToF32(e.getValue()));
                }
            }
        });
        try (ModelSource src = ModelSource.checkpoint(dir)) {
            assertEquals(DType.F32, src.tensors().get(wqA).dtype());
            assertEquals(DType.F32, src.tensors().get("layers.1.ffn.experts.0.w1.scale").dtype());
        }
        assertArrayEquals(logits(fixture(), 64), logits(dir, 64));
    }

    private static Tensor e8m0ToF32(Tensor t) {
        assertEquals(DType.F8_E8M0, t.dtype(), t.name());
        byte[] b = bytes(t);
        ByteBuffer f = ByteBuffer.allocate(4 * b.length).order(ByteOrder.LITTLE_ENDIAN);
        for (byte x : b) {
            int e = x & 0xFF;
            f.putFloat(e == 255 ? Float.NaN : Math.scalb(1f, e - 127));
        }
        return new Tensor(t.name(), DType.F32, t.shape(), MemorySegment.ofArray(f.array()));
    }

    // ================================================================== 10: run-time bounds

    @Test
    void zeroMaxContextIsRefused() {
        try (ModelSource src = ModelSource.checkpoint(fixture())) {
            V4Model m = V4Model.load(src.tensors(), src.config(), Numerics.FLOAT, CHUNK);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> m.newState(0));
            assertTrue(e.getMessage().contains("context") && e.getMessage().contains("0"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> m.newState(-1));
        }
    }

    @Test
    void forwardPastTheMaxContextIsRefused() {
        try (ModelSource src = ModelSource.checkpoint(fixture())) {
            V4Model m = V4Model.load(src.tensors(), src.config(), Numerics.FLOAT, CHUNK);
            float[] logits = new float[m.config().vocabSize()];
            // in one call
            V4State a = m.newState(2);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> m.forward(PROMPT, PROMPT.length, a, logits, false, null));
            assertTrue(e.getMessage().contains("context") && e.getMessage().contains("2"), e.getMessage());
            assertEquals(0, a.position(), "a refused call must not advance the state");
            // decoding one token past a full state
            V4State b = m.newState(3);
            m.forward(PROMPT, PROMPT.length, b, logits, false, null);
            e = assertThrows(IllegalArgumentException.class, () -> m.forward(new int[]{7}, 1, b, logits, false, null));
            assertTrue(e.getMessage().contains("context") && e.getMessage().contains("3"), e.getMessage());
            assertEquals(3, b.position());
        }
    }

    @Test
    void tokenIdOutsideTheVocabularyIsRefused() {
        try (ModelSource src = ModelSource.checkpoint(fixture())) {
            V4Model m = V4Model.load(src.tensors(), src.config(), Numerics.FLOAT, CHUNK);
            int vocab = m.config().vocabSize();
            float[] logits = new float[vocab];
            for (int bad : new int[]{vocab, 987_654, -1}) {
                V4State st = m.newState(64);
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                        () -> m.forward(new int[]{3, bad, 4}, 3, st, logits, false, null));
                assertTrue(e.getMessage().contains(Integer.toString(bad)), "should name the id " + bad + ": " + e.getMessage());
            }
        }
    }
}
