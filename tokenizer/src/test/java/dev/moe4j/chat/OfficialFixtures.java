package dev.moe4j.chat;

import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/** The official encoding test data under {@code <moe4j.shared>/fixtures/encoding/v4}; a missing file fails the test. */
final class OfficialFixtures {

    static Path file(String name) {
        String shared = System.getProperty("moe4j.shared");
        assertNotNull(shared, "system property moe4j.shared is not set (the parent pom sets it for surefire)");
        Path file = Path.of(shared, "fixtures", "encoding", "v4", name);
        assertTrue(Files.isRegularFile(file), "missing official fixture " + file);
        return file;
    }

    static String read(String name) throws IOException {
        return Files.readString(file(name), StandardCharsets.UTF_8);
    }

    private OfficialFixtures() {
    }
}
