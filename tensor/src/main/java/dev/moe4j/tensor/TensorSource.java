package dev.moe4j.tensor;

import java.util.Set;

/** Where a model's tensors come from: a checkpoint on disk, or generated (dummy / demo) weights. */
public interface TensorSource extends AutoCloseable {

    /** The tensor of that official name; throws {@link MissingTensorException} when absent. */
    Tensor get(String name);

    boolean has(String name);

    Set<String> names();

    /** A human-readable origin (a directory, "demo", "dummy weights for ..."), used in error messages. */
    String origin();

    /** The file that holds tensor {@code name} (for error messages); {@link #origin()} when not a file. */
    default String fileOf(String name) {
        return origin();
    }

    @Override
    default void close() {
    }

    /** Thrown when a tensor the model needs is not in the source. */
    final class MissingTensorException extends IllegalArgumentException {
        private final String tensor;

        public MissingTensorException(String origin, String tensor) {
            super(origin + ": missing tensor '" + tensor + "'");
            this.tensor = tensor;
        }

        public String tensor() {
            return tensor;
        }
    }
}
