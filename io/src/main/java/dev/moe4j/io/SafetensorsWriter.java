package dev.moe4j.io;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Tensor;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Map;
import java.util.TreeMap;

/**
 * Writes a safetensors file the way the PyTorch tooling does: names sorted, data packed in that order, header
 * padded with spaces to a multiple of 8 bytes (so the data section starts aligned), metadata {"format":"pt"}.
 * Tensors are added first and written by {@link #write}; their bytes are read only then.
 */
public final class SafetensorsWriter {

    private static final ObjectMapper JSON = new ObjectMapper();
    // Writes go out in slices because a ByteBuffer view of a segment is limited to 2 GB.
    private static final long CHUNK = 1L << 30;

    private record Entry(DType dtype, long[] shape, MemorySegment data) {
    }

    private final Map<String, Entry> entries = new TreeMap<>();

    /** Adds a tensor whose row-major bytes are {@code data}; their length must match the shape and dtype. */
    public SafetensorsWriter add(String name, DType dtype, long[] shape, byte[] data) {
        return add(name, dtype, shape, MemorySegment.ofArray(data));
    }

    /** Adds {@code tensor} under its own name (for example one read from another file, to rewrite it). */
    public SafetensorsWriter add(Tensor tensor) {
        return add(tensor.name(), tensor.dtype(), tensor.shape(), tensor.data());
    }

    private SafetensorsWriter add(String name, DType dtype, long[] shape, MemorySegment data) {
        if (name.isEmpty() || name.equals(SafetensorsHeader.METADATA_KEY)) {
            throw new IllegalArgumentException("invalid tensor name '" + name + "'");
        }
        if (entries.containsKey(name)) {
            throw new IllegalArgumentException("tensor '" + name + "' added twice");
        }
        long numel = 1;
        for (long d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException("tensor '" + name + "': negative dimension in " + Arrays.toString(shape));
            }
            numel = Math.multiplyExact(numel, d);
        }
        long bytes = Math.multiplyExact(numel, dtype.byteSize());
        if (bytes != data.byteSize()) {
            throw new IllegalArgumentException("tensor '" + name + "': shape " + Arrays.toString(shape) + " of " + dtype
                    + " needs " + bytes + " bytes, got " + data.byteSize());
        }
        entries.put(name, new Entry(dtype, shape.clone(), data));
        return this;
    }

    /** Writes every added tensor to {@code file}, replacing it if it exists. */
    public void write(Path file) throws IOException {
        ObjectNode header = JSON.createObjectNode();
        header.putObject(SafetensorsHeader.METADATA_KEY).put("format", "pt");
        long offset = 0;
        for (Map.Entry<String, Entry> e : entries.entrySet()) {
            Entry t = e.getValue();
            ObjectNode node = header.putObject(e.getKey());
            node.put("dtype", t.dtype().safetensorsName());
            ArrayNode shape = node.putArray("shape");
            for (long d : t.shape()) {
                shape.add(d);
            }
            long end = offset + t.data().byteSize();
            node.putArray("data_offsets").add(offset).add(end);
            offset = end;
        }
        byte[] json = JSON.writeValueAsBytes(header);
        int padded = (json.length + 7) & ~7;
        ByteBuffer head = ByteBuffer.allocate(Long.BYTES + padded).order(ByteOrder.LITTLE_ENDIAN);
        head.putLong(padded).put(json);
        while (head.hasRemaining()) {
            head.put((byte) ' ');
        }
        try (FileChannel out = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            writeFully(out, head.flip());
            for (Entry t : entries.values()) {
                for (long at = 0; at < t.data().byteSize(); at += CHUNK) {
                    writeFully(out, t.data().asSlice(at, Math.min(CHUNK, t.data().byteSize() - at)).asByteBuffer());
                }
            }
        }
    }

    private static void writeFully(FileChannel out, ByteBuffer buffer) throws IOException {
        while (buffer.hasRemaining()) {
            out.write(buffer);
        }
    }
}
