package dev.moe4j.tensor;

import java.util.Optional;

/** Element types of tensors as they appear in checkpoint files. Sizes are in bytes per stored element. */
public enum DType {
    F64("F64", 8),
    F32("F32", 4),
    F16("F16", 2),
    BF16("BF16", 2),
    /** FP8 e4m3fn (no infinities, 0x7F/0xFF NaN, max 448). */
    F8_E4M3("F8_E4M3", 1),
    /** UE8M0 power-of-two scale byte: value 2^(b-127), 255 is NaN. */
    F8_E8M0("F8_E8M0", 1),
    /** Signed bytes; V4 uses them to hold two FP4 e2m1 values per byte (low nibble first). */
    I8("I8", 1),
    U8("U8", 1),
    I16("I16", 2),
    I32("I32", 4),
    I64("I64", 8),
    BOOL("BOOL", 1);

    private final String safetensorsName;
    private final int byteSize;

    DType(String safetensorsName, int byteSize) {
        this.safetensorsName = safetensorsName;
        this.byteSize = byteSize;
    }

    public String safetensorsName() {
        return safetensorsName;
    }

    public int byteSize() {
        return byteSize;
    }

    /** The dtype named by a safetensors header, or empty for names this engine does not know. */
    public static Optional<DType> fromSafetensors(String name) {
        for (DType d : values()) {
            if (d.safetensorsName.equals(name)) {
                return Optional.of(d);
            }
        }
        return Optional.empty();
    }
}
