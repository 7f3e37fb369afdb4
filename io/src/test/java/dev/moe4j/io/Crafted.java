package dev.moe4j.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.function.Executable;

/** Hand-made safetensors files, including broken ones, and the checks every bad-input test shares. */
final class Crafted {

    private Crafted() {
    }

    /** Writes {@code file}: an 8-byte length, {@code headerJson} (unpadded), then {@code dataBytes} zero bytes. */
    static Path safetensors(Path file, String headerJson, int dataBytes) throws IOException {
        byte[] json = headerJson.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(Long.BYTES + json.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(json.length).put(json);
        Files.write(file, b.array());
        return file;
    }

    /** The 8 little-endian bytes of a header length field. */
    static byte[] lengthField(long length) {
        return ByteBuffer.allocate(Long.BYTES).order(ByteOrder.LITTLE_ENDIAN).putLong(length).array();
    }

    /**
     * Runs {@code action}, expecting a CheckpointException of {@code kind} about {@code file} (and {@code tensor}
     * when not null) whose message names both.
     */
    static CheckpointException assertFails(CheckpointException.Kind kind, Path file, String tensor, Executable action) {
        CheckpointException e = assertThrows(CheckpointException.class, action);
        assertEquals(kind, e.kind(), e::getMessage);
        assertEquals(file, e.file(), e::getMessage);
        assertTrue(e.getMessage().contains(file.toString()), e::getMessage);
        assertEquals(tensor, e.tensor(), e::getMessage);
        if (tensor != null) {
            assertTrue(e.getMessage().contains("'" + tensor + "'"), e::getMessage);
        }
        return e;
    }
}
