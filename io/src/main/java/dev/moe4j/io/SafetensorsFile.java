package dev.moe4j.io;

import dev.moe4j.io.CheckpointException.Kind;
import dev.moe4j.tensor.HugePages;
import dev.moe4j.tensor.Tensor;
import dev.moe4j.tensor.TensorSource;
import java.io.EOFException;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.channels.FileChannel.MapMode;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * One {@code .safetensors} file, memory-mapped whole: its tensors are read-only slices of the mapping, so opening
 * a file of hundreds of gigabytes copies nothing to the heap and has no 2 GB limit. The file is treated as
 * untrusted: the header is validated completely (see {@link SafetensorsHeader}) before the first slice is made.
 *
 * <p>Layout: an 8-byte little-endian header length n, n bytes of JSON header, then the data section, to which the
 * header's data offsets are relative.
 */
public final class SafetensorsFile implements AutoCloseable {

    /**
     * The largest header accepted. DeepSeek's shards have headers of a few hundred kilobytes; the bound keeps a
     * corrupt length from making the reader allocate gigabytes of heap before it has seen any JSON.
     */
    public static final long MAX_HEADER_BYTES = 100L << 20;

    private final Path path;
    private final long size;
    private final Map<String, String> metadata;
    private final Map<String, Tensor> tensors;
    private final Arena ownArena;

    private SafetensorsFile(Path path, long size, Map<String, String> metadata, Map<String, Tensor> tensors,
            Arena ownArena) {
        this.path = path;
        this.size = size;
        this.metadata = metadata;
        this.tensors = tensors;
        this.ownArena = ownArena;
    }

    /** Opens {@code file} in an arena of its own, released by {@link #close()}. */
    public static SafetensorsFile open(Path file) {
        Arena arena = Arena.ofShared();
        try {
            return read(file, arena, arena);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    /**
     * Opens {@code file} with its mapping in {@code arena}, which the caller owns and closes (a checkpoint maps all
     * its shards into one arena); {@link #close()} then does nothing.
     */
    public static SafetensorsFile open(Path file, Arena arena) {
        return read(file, arena, null);
    }

    private static SafetensorsFile read(Path file, Arena arena, Arena ownArena) {
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = channel.size();
            if (size < Long.BYTES) {
                throw new CheckpointException(Kind.TRUNCATED, file, null, "the file has " + size
                        + " bytes, fewer than the 8-byte header length every safetensors file starts with");
            }
            long headerLength = readFully(channel, 0, Long.BYTES).order(ByteOrder.LITTLE_ENDIAN).getLong();
            // Compared unsigned: the field is a u64, and a value past 2^63 must read as huge, not negative.
            if (Long.compareUnsigned(headerLength, size - Long.BYTES) > 0) {
                throw new CheckpointException(Kind.TRUNCATED, file, null, "the header length field says "
                        + Long.toUnsignedString(headerLength) + " bytes but only " + (size - Long.BYTES)
                        + " bytes follow it (the file is truncated or not a safetensors file)");
            }
            if (headerLength > MAX_HEADER_BYTES) {
                throw new CheckpointException(Kind.HEADER, file, null, "the header length field says " + headerLength
                        + " bytes, more than the " + MAX_HEADER_BYTES + " accepted");
            }
            byte[] json = readFully(channel, Long.BYTES, (int) headerLength).array();
            long dataStart = Long.BYTES + headerLength;
            SafetensorsHeader header = SafetensorsHeader.parse(file, json, size - dataStart);
            MemorySegment mapping = channel.map(MapMode.READ_ONLY, 0, size, arena);
            HugePages.advise(mapping);
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            for (SafetensorsHeader.Entry e : header.entries()) {
                MemorySegment data = mapping.asSlice(dataStart + e.begin(), e.end() - e.begin());
                tensors.put(e.name(), new Tensor(e.name(), e.dtype(), e.shape(), data));
            }
            return new SafetensorsFile(file, size, header.metadata(), Collections.unmodifiableMap(tensors), ownArena);
        } catch (NoSuchFileException e) {
            throw new CheckpointException(Kind.IO, file, null, "no such file", e);
        } catch (IOException e) {
            throw new CheckpointException(Kind.IO, file, null, "cannot read the file: " + e, e);
        }
    }

    private static ByteBuffer readFully(FileChannel channel, long position, int length) throws IOException {
        ByteBuffer buffer = ByteBuffer.allocate(length);
        while (buffer.hasRemaining()) {
            if (channel.read(buffer, position + buffer.position()) < 0) {
                throw new EOFException("the file shrank while being read");
            }
        }
        return buffer.flip();
    }

    public Path path() {
        return path;
    }

    /** The size of the file in bytes. */
    public long size() {
        return size;
    }

    /** The header's {@code __metadata__} (string to string), empty when it has none. */
    public Map<String, String> metadata() {
        return metadata;
    }

    /** The tensor names, in header order. */
    public Set<String> names() {
        return tensors.keySet();
    }

    public boolean has(String name) {
        return tensors.containsKey(name);
    }

    /** The tensor of that name; its data is a read-only slice of the mapping, valid until the arena closes. */
    public Tensor get(String name) {
        Tensor t = tensors.get(name);
        if (t == null) {
            throw new TensorSource.MissingTensorException(path.toString(), name);
        }
        return t;
    }

    /** All tensors, in header order. */
    public List<Tensor> tensors() {
        return List.copyOf(tensors.values());
    }

    /** Releases the mapping when this file owns its arena; a caller-owned arena is left to its owner. */
    @Override
    public synchronized void close() {
        if (ownArena != null && ownArena.scope().isAlive()) {
            ownArena.close();
        }
    }

    @Override
    public String toString() {
        return path + " (" + tensors.size() + " tensors, " + size + " bytes)";
    }
}
