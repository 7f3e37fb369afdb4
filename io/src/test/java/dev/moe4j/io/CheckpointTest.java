package dev.moe4j.io;

import static dev.moe4j.io.Crafted.assertFails;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moe4j.io.CheckpointException.Kind;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Tensor;
import dev.moe4j.tensor.TensorSource;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

@Timeout(value = 60, unit = TimeUnit.SECONDS)
class CheckpointTest {

    private static final String SHARD1 = "model-00001-of-00003.safetensors";
    private static final String CONFIG = "{\"model_type\": \"deepseek_v4\"}";

    @TempDir
    Path dir;

    // Expected bytes below were read with Python (json + numpy on the raw file: 8-byte length, header, data at
    // data_offsets), independently of this reader, and hard-coded.

    @Test
    void readsTheTinyFp4Checkpoint() {
        try (Checkpoint c = Checkpoint.open(Fixtures.dir("v4-tiny"))) {
            assertEquals(667, c.names().size());
            assertEquals(5665540L + 5896720L + 1990988L, c.bytesOnDisk());

            Tensor wqa = c.get("layers.0.attn.wq_a.weight");
            assertEquals(DType.F8_E4M3, wqa.dtype());
            assertArrayEquals(new long[] {128, 256}, wqa.shape());
            assertBytes("5f41ed6459ddf168e14f5a4851f2dbe1", wqa.data());
            Tensor scale = c.get("layers.0.attn.wq_a.scale");
            assertEquals(DType.F8_E8M0, scale.dtype());
            assertArrayEquals(new long[] {1, 2}, scale.shape());
            assertBytes("7575", scale.data());

            Tensor tid2eid = c.get("layers.0.ffn.gate.tid2eid");
            assertEquals(DType.I64, tid2eid.dtype());
            assertArrayEquals(new long[] {2048, 4}, tid2eid.shape());
            ValueLayout.OfLong i64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
            assertArrayEquals(new long[] {12, 13, 11, 1, 0, 9, 6, 14}, tid2eid.data().asSlice(0, 64).toArray(i64));
            assertArrayEquals(new long[] {13, 3, 6, 4}, tid2eid.data().asSlice(2047 * 32, 32).toArray(i64));

            Tensor embed = c.get("embed.weight");
            assertEquals(DType.BF16, embed.dtype());
            assertArrayEquals(new long[] {2048, 256}, embed.shape());
            assertBytes("cdbf833d3e3f1c3e5d3f3a40bdbf723f", embed.data());

            // FP4 experts: two e2m1 values per I8 byte, one UE8M0 scale per 32 values of a row.
            Tensor w1 = c.get("layers.0.ffn.experts.0.w1.weight");
            assertEquals(DType.I8, w1.dtype());
            assertArrayEquals(new long[] {128, 128}, w1.shape());
            assertBytes("6816434fd59126d27614c02c52c5c3a9", w1.data());
            assertArrayEquals(new long[] {128, 8}, c.get("layers.0.ffn.experts.0.w1.scale").shape());

            Tensor eproj = c.get("mtp.0.e_proj.weight");
            assertArrayEquals(new long[] {256, 256}, eproj.shape());
            assertBytes("6bd350d9f06dedde", eproj.data());
            assertBytes("75757575", c.get("mtp.0.e_proj.scale").data());

            assertEquals(SHARD1, c.fileOf("embed.weight"));
            assertEquals("model-00002-of-00003.safetensors", c.fileOf("head.weight"));
            assertEquals("model-00003-of-00003.safetensors", c.fileOf("mtp.0.e_proj.weight"));
            assertEquals(c.origin(), c.fileOf("no.such.tensor"));
            assertTrue(c.configJson().contains("\"model_type\": \"deepseek_v4\""));
            assertFp8BlockScales(c);
        }
    }

    @Test
    void readsTheTinyBaseCheckpointWithF32Scales() {
        try (Checkpoint c = Checkpoint.open(Fixtures.dir("v4-tiny-base"))) {
            assertEquals(667, c.names().size());
            assertEquals(7141040L + 7372220L + 2728772L, c.bytesOnDisk());
            Tensor scale = c.get("layers.0.attn.wq_a.scale");
            assertEquals(DType.F32, scale.dtype());
            assertArrayEquals(new long[] {1, 2}, scale.shape());
            ValueLayout.OfFloat f32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
            assertArrayEquals(new float[] {0x1p-10f, 0x1p-10f}, scale.data().toArray(f32));
            Tensor w1 = c.get("layers.0.ffn.experts.0.w1.weight");
            assertEquals(DType.F8_E4M3, w1.dtype());
            assertArrayEquals(new long[] {128, 256}, w1.shape());
            assertBytes("eae4f5d0f070635eeeeef26bee6d60e6", w1.data());
            assertEquals(DType.F32, c.get("layers.0.ffn.experts.0.w1.scale").dtype());
            assertFp8BlockScales(c);
        }
    }

    /** Every FP8 weight has one scale per 128x128 block: shape [ceil(out/128), ceil(in/128)]. */
    private static void assertFp8BlockScales(Checkpoint c) {
        int checked = 0;
        for (String name : c.names()) {
            if (name.endsWith(".weight") && c.get(name).dtype() == DType.F8_E4M3) {
                Tensor w = c.get(name);
                Tensor s = c.get(name.substring(0, name.length() - ".weight".length()) + ".scale");
                assertArrayEquals(new long[] {(w.dim(0) + 127) / 128, (w.dim(1) + 127) / 128}, s.shape(), name);
                checked++;
            }
        }
        assertTrue(checked > 0);
    }

    private static void assertBytes(String hex, MemorySegment data) {
        byte[] expected = HexFormat.of().parseHex(hex);
        assertArrayEquals(expected, data.asSlice(0, expected.length).toArray(ValueLayout.JAVA_BYTE));
    }

    @Test
    void singleFileWithoutIndex() throws IOException {
        config(CONFIG);
        new SafetensorsWriter().add("w", DType.U8, new long[] {2}, new byte[] {4, 2}).write(dir.resolve("model.safetensors"));
        try (Checkpoint c = Checkpoint.open(dir)) {
            assertEquals(1, c.names().size());
            assertEquals(4, c.get("w").data().get(ValueLayout.JAVA_BYTE, 0));
            assertEquals("model.safetensors", c.fileOf("w"));
            assertEquals(Files.size(dir.resolve("model.safetensors")), c.bytesOnDisk());
        }
    }

    @Test
    void configOnlyDirectoryOpensWithNoTensors() throws IOException {
        config(CONFIG);
        try (Checkpoint c = Checkpoint.open(dir)) {
            assertTrue(c.names().isEmpty());
            assertEquals(0, c.bytesOnDisk());
            assertEquals(CONFIG, c.configJson());
        }
    }

    @Test
    void emptyDirectoryOrFileIsNotACheckpoint() throws IOException {
        assertFails(Kind.IO, dir, null, () -> Checkpoint.open(dir));
        Path file = config(CONFIG);
        assertFails(Kind.IO, file, null, () -> Checkpoint.open(file));
    }

    @Test
    void configJsonMalformedOrAbsent() throws IOException {
        shard("model.safetensors", "w");
        Path config = dir.resolve("config.json");
        try (Checkpoint c = Checkpoint.open(dir)) {
            assertFails(Kind.JSON, config, null, c::configJson);
            config("{\"hidden_size\": 4096,");
            assertFails(Kind.JSON, config, null, c::configJson);
            config("[4096]");
            assertFails(Kind.JSON, config, null, c::configJson);
            config("{\"hidden_size\": 1, \"hidden_size\": 2}");
            assertFails(Kind.JSON, config, null, c::configJson);
        }
    }

    @Test
    void missingTensorOnGet() throws IOException {
        shard("model.safetensors", "w");
        try (Checkpoint c = Checkpoint.open(dir)) {
            assertFalse(c.has("layers.0.attn.wq_a.weight"));
            TensorSource.MissingTensorException e =
                    assertThrows(TensorSource.MissingTensorException.class, () -> c.get("layers.0.attn.wq_a.weight"));
            assertEquals("layers.0.attn.wq_a.weight", e.tensor());
            assertTrue(e.getMessage().contains(dir.toString()) && e.getMessage().contains("'layers.0.attn.wq_a.weight'"),
                    e::getMessage);
        }
    }

    @Test
    void duplicateTensorAcrossShardsWithoutIndex() throws IOException {
        shard("model-00001-of-00002.safetensors", "a", "shared");
        Path second = shard("model-00002-of-00002.safetensors", "b", "shared");
        CheckpointException e = assertFails(Kind.DUPLICATE, second, "shared", () -> Checkpoint.open(dir));
        assertTrue(e.getMessage().contains("model-00001-of-00002.safetensors"), e::getMessage);
    }

    @Test
    void duplicateTensorAcrossShardsWithIndex() throws IOException {
        shard("s1.safetensors", "a", "shared");
        Path second = shard("s2.safetensors", "b", "shared");
        index("{\"a\": \"s1.safetensors\", \"b\": \"s2.safetensors\", \"shared\": \"s1.safetensors\"}");
        assertFails(Kind.DUPLICATE, second, "shared", () -> Checkpoint.open(dir));
    }

    @Test
    void indexListingATensorTwice() throws IOException {
        shard("s1.safetensors", "a");
        shard("s2.safetensors", "a2");
        Path index = index("{\"a\": \"s1.safetensors\", \"a\": \"s2.safetensors\"}");
        assertFails(Kind.DUPLICATE, index, "a", () -> Checkpoint.open(dir));
    }

    @Test
    void indexNamingAMissingFile() throws IOException {
        shard("s1.safetensors", "a");
        Path index = index("{\"a\": \"s1.safetensors\", \"b\": \"s2.safetensors\"}");
        CheckpointException e = assertFails(Kind.INDEX, index, "b", () -> Checkpoint.open(dir));
        assertTrue(e.getMessage().contains("s2.safetensors"), e::getMessage);
    }

    @Test
    void indexNamingATensorAbsentFromItsFile() throws IOException {
        Path s1 = shard("s1.safetensors", "a");
        shard("s2.safetensors", "b");
        index("{\"a\": \"s1.safetensors\", \"b\": \"s2.safetensors\", \"c\": \"s1.safetensors\"}");
        assertFails(Kind.MISSING_TENSOR, s1, "c", () -> Checkpoint.open(dir));
    }

    @Test
    void indexPathEscapingTheDirectory() throws IOException {
        Path checkpoint = Files.createDirectory(dir.resolve("ckpt"));
        // A valid shard outside the checkpoint: opening it would succeed, so only the name check can stop it.
        Path outside = writeShard(dir.resolve("outside.safetensors"), "a");
        Files.createDirectory(checkpoint.resolve("sub"));
        Files.copy(outside, checkpoint.resolve("sub").resolve("inner.safetensors"));
        for (String name : new String[] {"../outside.safetensors", outside.toString(), "sub/inner.safetensors", "..", ""}) {
            Path index = Files.writeString(checkpoint.resolve(Checkpoint.INDEX_FILE),
                    "{\"metadata\": {}, \"weight_map\": {\"a\": \"" + name + "\"}}");
            CheckpointException e = assertFails(Kind.INDEX, index, "a", () -> Checkpoint.open(checkpoint));
            assertTrue(e.getMessage().contains("'" + name + "'"), e::getMessage);
        }
    }

    @Test
    void indexWithoutWeightMap() throws IOException {
        shard("s1.safetensors", "a");
        Path index = Files.writeString(dir.resolve(Checkpoint.INDEX_FILE), "{\"metadata\": {}}");
        assertFails(Kind.INDEX, index, null, () -> Checkpoint.open(dir));
        Files.writeString(index, "{\"weight_map\": ");
        assertFails(Kind.JSON, index, null, () -> Checkpoint.open(dir));
    }

    @Test
    void badShardIsReportedWithItsOwnPath() throws IOException {
        shard("s1.safetensors", "a");
        Path broken = Files.write(dir.resolve("s2.safetensors"), new byte[] {1, 2});
        assertFails(Kind.TRUNCATED, broken, null, () -> Checkpoint.open(dir));
    }

    @Test
    void closeReleasesEveryMapping() throws IOException {
        shard("s1.safetensors", "a");
        shard("s2.safetensors", "b");
        Checkpoint c = Checkpoint.open(dir);
        Tensor a = c.get("a");
        Tensor b = c.get("b");
        assertEquals(1, a.data().get(ValueLayout.JAVA_BYTE, 0));
        c.close();
        c.close();
        assertThrows(IllegalStateException.class, () -> a.data().get(ValueLayout.JAVA_BYTE, 0));
        assertThrows(IllegalStateException.class, () -> b.data().get(ValueLayout.JAVA_BYTE, 0));
    }

    private Path config(String json) throws IOException {
        return Files.writeString(dir.resolve(Checkpoint.CONFIG_FILE), json);
    }

    private Path index(String weightMap) throws IOException {
        return Files.writeString(dir.resolve(Checkpoint.INDEX_FILE),
                "{\"metadata\": {\"total_size\": 8}, \"weight_map\": " + weightMap + "}");
    }

    /** A shard in the test directory holding one-byte U8 tensors of value 1. */
    private Path shard(String fileName, String... tensors) throws IOException {
        return writeShard(dir.resolve(fileName), tensors);
    }

    private static Path writeShard(Path file, String... tensors) throws IOException {
        SafetensorsWriter w = new SafetensorsWriter();
        for (String t : tensors) {
            w.add(t, DType.U8, new long[] {1}, new byte[] {1});
        }
        w.write(file);
        return file;
    }
}
