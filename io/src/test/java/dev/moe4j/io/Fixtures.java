package dev.moe4j.io;

import java.nio.file.Files;
import java.nio.file.Path;

/** The shared fixtures, found through the moe4j.shared system property that the build sets. */
final class Fixtures {

    private Fixtures() {
    }

    static Path dir(String name) {
        String shared = System.getProperty("moe4j.shared");
        if (shared == null) {
            throw new IllegalStateException("system property moe4j.shared is not set (run the tests through Maven)");
        }
        Path dir = Path.of(shared, "fixtures", name);
        if (!Files.isDirectory(dir)) {
            throw new IllegalStateException("fixture directory " + dir + " is missing");
        }
        return dir;
    }
}
