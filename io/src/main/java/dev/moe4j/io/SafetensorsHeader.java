package dev.moe4j.io;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import dev.moe4j.io.CheckpointException.Kind;
import dev.moe4j.tensor.DType;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * The parsed and fully validated JSON header of one safetensors file. Every entry is checked against the size of
 * the data section before anything is sliced, so a hostile header can neither reach outside the file nor make the
 * reader allocate what it declares.
 */
record SafetensorsHeader(Map<String, String> metadata, List<Entry> entries) {

    static final String METADATA_KEY = "__metadata__";

    /** One tensor: offsets are relative to the start of the data section, {@code end} exclusive. */
    record Entry(String name, DType dtype, long[] shape, long begin, long end) {
    }

    /** Parses {@code json}, the header of {@code file}, whose data section holds {@code dataLength} bytes. */
    static SafetensorsHeader parse(Path file, byte[] json, long dataLength) {
        JsonNode root;
        try {
            root = StrictJson.parse(json);
        } catch (StrictJson.DuplicateKeyException e) {
            if (e.parent().matches()) {
                throw new CheckpointException(Kind.DUPLICATE, file, e.key(), "the header lists this tensor twice");
            }
            String owner = e.parent().getMatchingProperty();
            throw new CheckpointException(Kind.HEADER, file, METADATA_KEY.equals(owner) ? null : owner,
                    "field '" + e.key() + "' appears twice in " + (METADATA_KEY.equals(owner) ? METADATA_KEY : "its entry"));
        } catch (JsonProcessingException e) {
            throw new CheckpointException(Kind.JSON, file, null, "the header is not valid JSON: " + e.getOriginalMessage(), e);
        } catch (IOException e) {
            throw new CheckpointException(Kind.JSON, file, null, "the header cannot be read as JSON: " + e.getMessage(), e);
        }
        if (!root.isObject()) {
            throw new CheckpointException(Kind.HEADER, file, null, "the header is not a JSON object but " + kindOf(root));
        }
        Map<String, String> metadata = Map.of();
        List<Entry> entries = new ArrayList<>(root.size());
        for (Map.Entry<String, JsonNode> field : root.properties()) {
            if (field.getKey().equals(METADATA_KEY)) {
                metadata = metadata(file, field.getValue());
            } else {
                entries.add(entry(file, field.getKey(), field.getValue(), dataLength));
            }
        }
        checkNoOverlap(file, entries);
        return new SafetensorsHeader(metadata, List.copyOf(entries));
    }

    private static Map<String, String> metadata(Path file, JsonNode node) {
        if (!node.isObject()) {
            throw new CheckpointException(Kind.HEADER, file, null, METADATA_KEY + " is not a JSON object but " + kindOf(node));
        }
        Map<String, String> metadata = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> field : node.properties()) {
            if (!field.getValue().isTextual()) {
                throw new CheckpointException(Kind.HEADER, file, null, METADATA_KEY + " value '" + field.getKey()
                        + "' is not a string but " + kindOf(field.getValue()));
            }
            metadata.put(field.getKey(), field.getValue().textValue());
        }
        return Collections.unmodifiableMap(metadata);
    }

    private static Entry entry(Path file, String name, JsonNode node, long dataLength) {
        if (name.isEmpty()) {
            throw new CheckpointException(Kind.HEADER, file, null, "the header has a tensor with an empty name");
        }
        if (!node.isObject()) {
            throw new CheckpointException(Kind.HEADER, file, name, "the entry is not a JSON object but " + kindOf(node));
        }
        JsonNode dtypeNode = node.get("dtype");
        if (dtypeNode == null || !dtypeNode.isTextual()) {
            throw new CheckpointException(Kind.HEADER, file, name, "the entry has no \"dtype\" string");
        }
        DType dtype = DType.fromSafetensors(dtypeNode.textValue()).orElseThrow(() -> new CheckpointException(
                Kind.DTYPE, file, name, "unknown dtype '" + dtypeNode.textValue() + "' (known: "
                        + Stream.of(DType.values()).map(DType::safetensorsName).collect(Collectors.joining(", ")) + ")"));
        long[] shape = shape(file, name, node.get("shape"));
        long bytes;
        try {
            long numel = 1;
            for (long d : shape) {
                numel = Math.multiplyExact(numel, d);
            }
            bytes = Math.multiplyExact(numel, dtype.byteSize());
        } catch (ArithmeticException e) {
            throw new CheckpointException(Kind.SHAPE, file, name,
                    "shape " + Arrays.toString(shape) + " of " + dtype + " has more bytes than a 64-bit count can hold");
        }
        JsonNode offsets = node.get("data_offsets");
        if (offsets == null || !offsets.isArray() || offsets.size() != 2) {
            throw new CheckpointException(Kind.HEADER, file, name, "the entry has no \"data_offsets\" [begin, end] pair");
        }
        long begin = offset(file, name, offsets.get(0));
        long end = offset(file, name, offsets.get(1));
        String range = "data_offsets [" + begin + ", " + end + "]";
        if (end < begin) {
            throw new CheckpointException(Kind.OFFSETS, file, name, range + " are reversed (end before begin)");
        }
        if (end > dataLength) {
            throw new CheckpointException(Kind.OFFSETS, file, name, range + " run past the end of the data section, which holds "
                    + dataLength + " bytes (the file is truncated or the header is corrupt)");
        }
        if (end - begin != bytes) {
            throw new CheckpointException(Kind.SHAPE, file, name, "shape " + Arrays.toString(shape) + " of " + dtype
                    + " needs " + bytes + " bytes but " + range + " hold " + (end - begin));
        }
        return new Entry(name, dtype, shape, begin, end);
    }

    private static long[] shape(Path file, String name, JsonNode node) {
        if (node == null || !node.isArray()) {
            throw new CheckpointException(Kind.HEADER, file, name, "the entry has no \"shape\" array");
        }
        long[] shape = new long[node.size()];
        for (int i = 0; i < shape.length; i++) {
            JsonNode d = node.get(i);
            if (!d.isIntegralNumber()) {
                throw new CheckpointException(Kind.SHAPE, file, name, "dimension " + i + " is not an integer: " + d);
            }
            if (!d.canConvertToLong() || d.longValue() < 0) {
                throw new CheckpointException(Kind.SHAPE, file, name, "dimension " + i + " is "
                        + (d.bigIntegerValue().signum() < 0 ? "negative: " : "too large: ") + d);
            }
            shape[i] = d.longValue();
        }
        return shape;
    }

    private static long offset(Path file, String name, JsonNode node) {
        if (!node.isIntegralNumber() || !node.canConvertToLong() || node.longValue() < 0) {
            throw new CheckpointException(Kind.OFFSETS, file, name,
                    "data offset " + node + " is not a non-negative 64-bit integer");
        }
        return node.longValue();
    }

    // Two tensors sharing bytes would alias each other's weights; safetensors forbids it. Empty tensors own no
    // bytes, so they cannot overlap anything.
    private static void checkNoOverlap(Path file, List<Entry> entries) {
        List<Entry> byBegin = entries.stream().filter(e -> e.end > e.begin)
                .sorted(Comparator.comparingLong(Entry::begin)).toList();
        for (int i = 1; i < byBegin.size(); i++) {
            Entry previous = byBegin.get(i - 1);
            Entry current = byBegin.get(i);
            // Sorted by begin and disjoint so far, the previous entry has the largest end seen.
            if (current.begin < previous.end) {
                throw new CheckpointException(Kind.OFFSETS, file, current.name, "data_offsets [" + current.begin + ", "
                        + current.end + "] overlap those of tensor '" + previous.name + "' [" + previous.begin + ", "
                        + previous.end + "]");
            }
        }
    }

    private static String kindOf(JsonNode node) {
        return node.getNodeType().name().toLowerCase(Locale.ROOT);
    }
}
