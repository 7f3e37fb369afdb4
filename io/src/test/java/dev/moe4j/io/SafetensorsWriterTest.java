package dev.moe4j.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Tensor;
import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsWriterTest {

    @TempDir
    Path dir;

    @Test
    void writesSortedPaddedFilesThatReadBack() throws IOException {
        Path file = dir.resolve("w.safetensors");
        byte[] b = {1, 2, 3, 4, 5, 6, 7, 8};
        byte[] a = {9, 10, 11};
        new SafetensorsWriter()
                .add("b", DType.F32, new long[] {2}, b)
                .add("a", DType.U8, new long[] {1, 3}, a)
                .add("scalar", DType.I16, new long[] {}, new byte[] {7, 0})
                .add("empty", DType.BF16, new long[] {0, 5}, new byte[0])
                .write(file);

        byte[] raw = Files.readAllBytes(file);
        long headerLength = ByteBuffer.wrap(raw, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        assertEquals(0, headerLength % 8, "header padded to 8 bytes");
        assertEquals(8 + headerLength + 13, raw.length);
        String header = new String(raw, 8, (int) headerLength, StandardCharsets.UTF_8);
        assertEquals(header.strip(), header.substring(0, header.strip().length()), "padding is trailing spaces");

        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            assertEquals(Map.of("format", "pt"), f.metadata());
            assertEquals(List.of("a", "b", "empty", "scalar"), List.copyOf(f.names()));
            assertArrayEquals(a, f.get("a").data().toArray(ValueLayout.JAVA_BYTE));
            assertArrayEquals(b, f.get("b").data().toArray(ValueLayout.JAVA_BYTE));
            assertArrayEquals(new long[] {1, 3}, f.get("a").shape());
            assertArrayEquals(new long[] {0, 5}, f.get("empty").shape());
            assertEquals(0, f.get("scalar").rank());
            // Packed in name order: "a" starts the data section.
            assertEquals(9, raw[(int) (8 + headerLength)]);
        }
    }

    @Test
    void copiesTensorsFromAnotherFile() throws IOException {
        Path shard = Fixtures.dir("v4-tiny").resolve("model-00003-of-00003.safetensors");
        Path copy = dir.resolve("copy.safetensors");
        try (SafetensorsFile source = SafetensorsFile.open(shard)) {
            SafetensorsWriter writer = new SafetensorsWriter();
            source.tensors().forEach(writer::add);
            writer.write(copy);
            try (SafetensorsFile read = SafetensorsFile.open(copy)) {
                assertEquals(source.names().size(), read.names().size());
                for (Tensor t : source.tensors()) {
                    Tensor u = read.get(t.name());
                    assertEquals(t.dtype(), u.dtype());
                    assertArrayEquals(t.shape(), u.shape());
                    assertEquals(-1, t.data().mismatch(u.data()), t.name());
                }
            }
        }
    }

    @Test
    void rejectsInconsistentEntries() {
        SafetensorsWriter w = new SafetensorsWriter().add("x", DType.U8, new long[] {2}, new byte[2]);
        assertThrows(IllegalArgumentException.class, () -> w.add("y", DType.F32, new long[] {2}, new byte[4]));
        assertThrows(IllegalArgumentException.class, () -> w.add("x", DType.U8, new long[] {2}, new byte[2]));
        assertThrows(IllegalArgumentException.class, () -> w.add("z", DType.U8, new long[] {-2}, new byte[2]));
        assertThrows(IllegalArgumentException.class, () -> w.add("__metadata__", DType.U8, new long[] {0}, new byte[0]));
    }
}
