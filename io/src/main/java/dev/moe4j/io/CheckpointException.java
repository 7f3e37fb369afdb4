package dev.moe4j.io;

import java.nio.file.Path;

/**
 * A checkpoint (or its configuration) that cannot be used: the message says, in plain words, which file, which
 * tensor and what is wrong, so that a user holding a broken download knows what to fetch again.
 */
public final class CheckpointException extends RuntimeException {

    /** What went wrong, so that callers and tests can tell problems apart without parsing messages. */
    public enum Kind {
        /** The file ends before its own header says it should. */
        TRUNCATED,
        /** The header is valid JSON but not what safetensors requires (wrong types, missing fields, too large). */
        HEADER,
        /** A JSON file or header that does not parse, or a config.json that is absent. */
        JSON,
        /** An element type this engine does not know. */
        DTYPE,
        /** A shape with negative or overflowing dimensions, or one that disagrees with its byte range or config. */
        SHAPE,
        /** Data offsets that are reversed, past the end of the data, or overlapping another tensor. */
        OFFSETS,
        /** A tensor name that appears twice (in one header or across shards). */
        DUPLICATE,
        /** A shard index that names a missing file or a file name outside the checkpoint directory. */
        INDEX,
        /** A tensor that should be present and is not. */
        MISSING_TENSOR,
        /** A configuration value that is missing or out of range. */
        CONFIG,
        /** A model this engine does not run. */
        ARCHITECTURE,
        /** The file system failed (unreadable file, not a directory). */
        IO
    }

    private final Kind kind;
    private final Path file;
    private final String tensor;

    /**
     * {@code message} says what is wrong; the file and tensor (either may be null) are put before it, so the full
     * message reads "FILE: tensor 'NAME': MESSAGE" and callers need not repeat them.
     */
    public CheckpointException(Kind kind, Path file, String tensor, String message) {
        this(kind, file, tensor, message, null);
    }

    /** As {@link #CheckpointException(Kind, Path, String, String)}, with the underlying cause. */
    public CheckpointException(Kind kind, Path file, String tensor, String message, Throwable cause) {
        super(describe(file, tensor, message), cause);
        this.kind = kind;
        this.file = file;
        this.tensor = tensor;
    }

    private static String describe(Path file, String tensor, String message) {
        StringBuilder s = new StringBuilder();
        if (file != null) {
            s.append(file).append(": ");
        }
        if (tensor != null) {
            s.append("tensor '").append(tensor).append("': ");
        }
        return s.append(message).toString();
    }

    public Kind kind() {
        return kind;
    }

    /** The file at fault, or null when the problem is not tied to one file. */
    public Path file() {
        return file;
    }

    /** The tensor at fault, or null when the problem is not tied to one tensor. */
    public String tensor() {
        return tensor;
    }
}
