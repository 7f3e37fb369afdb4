package dev.moe4j.testkit;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.fail;

/**
 * The shared fixtures folder beside the repository (system property {@code moe4j.shared}, set by the
 * build). A missing fixture fails the test with the path it looked for; it is never skipped.
 */
public final class Fixtures {

    private Fixtures() {
    }

    public static Path dir(String relative) {
        String root = System.getProperty("moe4j.shared", "../shared");
        Path p = Path.of(root, relative);
        if (!Files.exists(p)) {
            fail("fixture missing: " + p.toAbsolutePath().normalize() + " (the tests need the shared fixtures folder "
                    + "beside the repository, as ../shared)");
        }
        return p;
    }
}
