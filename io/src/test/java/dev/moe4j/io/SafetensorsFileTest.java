package dev.moe4j.io;

import static dev.moe4j.io.Crafted.assertFails;
import static dev.moe4j.io.Crafted.safetensors;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moe4j.io.CheckpointException.Kind;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Tensor;
import dev.moe4j.tensor.TensorSource;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

// Every bad input must fail fast: a hang or an allocation sized by the header would hit this timeout (or the heap).
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class SafetensorsFileTest {

    private static final ValueLayout.OfFloat F32_LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    @TempDir
    Path dir;

    @Test
    void readsTensorsAsSlicesOfTheMapping() throws IOException {
        Path file = dir.resolve("ok.safetensors");
        String header = """
                {"__metadata__":{"format":"pt","note":"x"},
                 "b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]},
                 "a":{"dtype":"U8","shape":[2,4],"data_offsets":[0,8]},
                 "empty":{"dtype":"F32","shape":[0,3],"data_offsets":[4,4]},
                 "scalar":{"dtype":"I16","shape":[],"data_offsets":[16,18]}}""";
        safetensors(file, header, 18);
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            assertEquals(Map.of("format", "pt", "note", "x"), f.metadata());
            assertEquals(List.of("b", "a", "empty", "scalar"), List.copyOf(f.names()));
            Tensor b = f.get("b");
            assertEquals(DType.F32, b.dtype());
            assertArrayEquals(new long[] {2}, b.shape());
            assertEquals(8, b.data().byteSize());
            assertTrue(b.data().isReadOnly());
            assertEquals(0, f.get("empty").data().byteSize());
            assertEquals(0, f.get("scalar").rank());
            assertEquals(Files.size(file), f.size());
            assertThrows(TensorSource.MissingTensorException.class, () -> f.get("c"));
        }
    }

    @Test
    void truncatedFile() throws IOException {
        Path file = Files.write(dir.resolve("short.safetensors"), new byte[] {1, 2, 3, 4, 5});
        assertFails(Kind.TRUNCATED, file, null, () -> SafetensorsFile.open(file));
        Path empty = Files.write(dir.resolve("empty.safetensors"), new byte[0]);
        assertFails(Kind.TRUNCATED, empty, null, () -> SafetensorsFile.open(empty));
    }

    @Test
    void headerLengthPastTheEnd() throws IOException {
        Path file = dir.resolve("past.safetensors");
        Files.write(file, Crafted.lengthField(1000));
        Files.write(file, "{}".getBytes(StandardCharsets.UTF_8), StandardOpenOption.APPEND);
        assertFails(Kind.TRUNCATED, file, null, () -> SafetensorsFile.open(file));
        // A length with the top bit set is a huge u64, not a negative number that would pass the check.
        Files.write(file, Crafted.lengthField(-8));
        assertFails(Kind.TRUNCATED, file, null, () -> SafetensorsFile.open(file));
    }

    @Test
    void headerLargerThanTheLimitIsRefusedBeforeReadingIt() throws IOException {
        Path file = dir.resolve("huge-header.safetensors");
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
            raf.setLength(SafetensorsFile.MAX_HEADER_BYTES * 2); // sparse: costs no disk
            raf.write(Crafted.lengthField(SafetensorsFile.MAX_HEADER_BYTES + 1));
        }
        assertFails(Kind.HEADER, file, null, () -> SafetensorsFile.open(file));
    }

    @Test
    void malformedHeaderJson() throws IOException {
        Path file = safetensors(dir.resolve("bad.safetensors"), "{\"w\": {\"dtype\": \"F32\", ", 0);
        assertFails(Kind.JSON, file, null, () -> SafetensorsFile.open(file));
        Path trailing = safetensors(dir.resolve("trailing.safetensors"), "{} {}", 0);
        assertFails(Kind.JSON, trailing, null, () -> SafetensorsFile.open(trailing));
    }

    @Test
    void headerNotAnObject() throws IOException {
        Path file = safetensors(dir.resolve("array.safetensors"), "[1, 2, 3]", 0);
        assertFails(Kind.HEADER, file, null, () -> SafetensorsFile.open(file));
    }

    @Test
    void entryMissingAField() throws IOException {
        Path file = safetensors(dir.resolve("nofield.safetensors"), "{\"w\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8);
        assertFails(Kind.HEADER, file, "w", () -> SafetensorsFile.open(file));
        Path noShape = safetensors(dir.resolve("noshape.safetensors"), "{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", 8);
        assertFails(Kind.HEADER, noShape, "w", () -> SafetensorsFile.open(noShape));
    }

    @Test
    void metadataMustMapStringsToStrings() throws IOException {
        Path file = safetensors(dir.resolve("meta.safetensors"), "{\"__metadata__\":{\"format\":1}}", 0);
        assertFails(Kind.HEADER, file, null, () -> SafetensorsFile.open(file));
    }

    @Test
    void unknownDtype() throws IOException {
        Path file = safetensors(dir.resolve("dtype.safetensors"),
                "{\"w\":{\"dtype\":\"F8_E5M2\",\"shape\":[4],\"data_offsets\":[0,4]}}", 4);
        CheckpointException e = assertFails(Kind.DTYPE, file, "w", () -> SafetensorsFile.open(file));
        assertTrue(e.getMessage().contains("F8_E5M2"), e::getMessage);
    }

    @Test
    void negativeDimension() throws IOException {
        Path file = safetensors(dir.resolve("neg.safetensors"),
                "{\"w\":{\"dtype\":\"F32\",\"shape\":[-2,4],\"data_offsets\":[0,32]}}", 32);
        assertFails(Kind.SHAPE, file, "w", () -> SafetensorsFile.open(file));
    }

    @Test
    void overflowingDimensions() throws IOException {
        long big = 1L << 40;
        Path numel = safetensors(dir.resolve("numel.safetensors"),
                "{\"w\":{\"dtype\":\"U8\",\"shape\":[" + big + "," + big + "],\"data_offsets\":[0,8]}}", 8);
        assertFails(Kind.SHAPE, numel, "w", () -> SafetensorsFile.open(numel));
        // The element count fits in a long; the byte count (x4) does not.
        Path bytes = safetensors(dir.resolve("bytes.safetensors"),
                "{\"w\":{\"dtype\":\"F32\",\"shape\":[" + (1L << 62) + "],\"data_offsets\":[0,8]}}", 8);
        assertFails(Kind.SHAPE, bytes, "w", () -> SafetensorsFile.open(bytes));
        Path dim = safetensors(dir.resolve("dim.safetensors"),
                "{\"w\":{\"dtype\":\"U8\",\"shape\":[100000000000000000000000],\"data_offsets\":[0,8]}}", 8);
        assertFails(Kind.SHAPE, dim, "w", () -> SafetensorsFile.open(dim));
    }

    @Test
    void byteSizeDisagreesWithTheRange() throws IOException {
        Path file = safetensors(dir.resolve("size.safetensors"),
                "{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,12]}}", 16);
        CheckpointException e = assertFails(Kind.SHAPE, file, "w", () -> SafetensorsFile.open(file));
        assertTrue(e.getMessage().contains("16") && e.getMessage().contains("12"), e::getMessage);
    }

    @Test
    void dataOffsetsReversed() throws IOException {
        Path file = safetensors(dir.resolve("rev.safetensors"),
                "{\"w\":{\"dtype\":\"U8\",\"shape\":[8],\"data_offsets\":[8,0]}}", 8);
        assertFails(Kind.OFFSETS, file, "w", () -> SafetensorsFile.open(file));
        Path negative = safetensors(dir.resolve("negoff.safetensors"),
                "{\"w\":{\"dtype\":\"U8\",\"shape\":[8],\"data_offsets\":[-8,0]}}", 8);
        assertFails(Kind.OFFSETS, negative, "w", () -> SafetensorsFile.open(negative));
    }

    @Test
    void dataOffsetsPastTheEndFailFastWhateverTheDeclaredSize() throws IOException {
        // A 10^15-byte tensor declared in a file of a few hundred bytes: the range check must stop it before any
        // read or allocation of that size (the class timeout and the heap would catch either).
        long declared = 1_000_000_000_000_000L;
        Path file = safetensors(dir.resolve("range.safetensors"),
                "{\"w\":{\"dtype\":\"U8\",\"shape\":[" + declared + "],\"data_offsets\":[0," + declared + "]}}", 16);
        CheckpointException e = assertFails(Kind.OFFSETS, file, "w", () -> SafetensorsFile.open(file));
        assertTrue(e.getMessage().contains("16 bytes"), e::getMessage);
        Path oneByte = safetensors(dir.resolve("onebyte.safetensors"),
                "{\"w\":{\"dtype\":\"U8\",\"shape\":[8],\"data_offsets\":[1,9]}}", 8);
        assertFails(Kind.OFFSETS, oneByte, "w", () -> SafetensorsFile.open(oneByte));
    }

    @Test
    void overlappingTensors() throws IOException {
        Path file = safetensors(dir.resolve("overlap.safetensors"), """
                {"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},
                 "b":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}}""", 24);
        CheckpointException e = assertFails(Kind.OFFSETS, file, "b", () -> SafetensorsFile.open(file));
        assertTrue(e.getMessage().contains("'a'"), e::getMessage);
    }

    @Test
    void duplicateTensorName() throws IOException {
        Path file = safetensors(dir.resolve("dup.safetensors"), """
                {"w":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},
                 "w":{"dtype":"U8","shape":[4],"data_offsets":[4,8]}}""", 8);
        assertFails(Kind.DUPLICATE, file, "w", () -> SafetensorsFile.open(file));
        // A repeated field inside one entry is as ambiguous: which dtype holds?
        Path field = safetensors(dir.resolve("dupfield.safetensors"),
                "{\"w\":{\"dtype\":\"U8\",\"dtype\":\"I8\",\"shape\":[4],\"data_offsets\":[0,4]}}", 4);
        assertFails(Kind.HEADER, field, "w", () -> SafetensorsFile.open(field));
    }

    @Test
    void missingFile() {
        Path file = dir.resolve("absent.safetensors");
        assertFails(Kind.IO, file, null, () -> SafetensorsFile.open(file));
    }

    @Test
    void mapsPastTwoGigabytes() throws IOException {
        // A 3 GiB sparse file (no disk blocks) whose only tensor lies beyond the 2 GiB offset: a ByteBuffer-based
        // reader could not slice it.
        Path file = dir.resolve("sparse.safetensors");
        long size = 3L << 30;
        long begin = 2_500_000_000L;
        String header = "{\"far\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[" + begin + "," + (begin + 8) + "]}}";
        byte[] json = header.getBytes(StandardCharsets.UTF_8);
        long dataStart = Long.BYTES + json.length;
        try {
            try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
                raf.setLength(size);
                raf.write(Crafted.lengthField(json.length));
                raf.write(json);
                raf.seek(dataStart + begin);
                raf.write(new byte[] {0, 0, (byte) 0x80, 0x3F, 0, 0, 0x20, (byte) 0xC1}); // 1.0f, -10.0f
            }
            assertTrue(dataStart + begin > Integer.MAX_VALUE);
            try (SafetensorsFile f = SafetensorsFile.open(file)) {
                assertEquals(size, f.size());
                Tensor far = f.get("far");
                assertEquals(1.0f, far.data().get(F32_LE, 0));
                assertEquals(-10.0f, far.data().get(F32_LE, 4));
            }
        } finally {
            Files.deleteIfExists(file);
        }
    }

    @Test
    void closeReleasesTheMapping() throws IOException {
        Path file = safetensors(dir.resolve("c.safetensors"), "{\"w\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]}}", 4);
        SafetensorsFile f = SafetensorsFile.open(file);
        Tensor w = f.get("w");
        assertEquals(0, w.data().get(ValueLayout.JAVA_BYTE, 0));
        f.close();
        f.close(); // idempotent
        assertThrows(IllegalStateException.class, () -> w.data().get(ValueLayout.JAVA_BYTE, 0));
    }
}
