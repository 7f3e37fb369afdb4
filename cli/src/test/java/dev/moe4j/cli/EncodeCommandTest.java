package dev.moe4j.cli;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** {@code moe4j encode} and {@code moe4j parse} through {@link Main#run}, stdout captured as bytes. */
class EncodeCommandTest {

    private static Path fixture(String name) {
        String shared = System.getProperty("moe4j.shared");
        assertNotNull(shared, "system property moe4j.shared is not set (the parent pom sets it for surefire)");
        Path file = Path.of(shared, "fixtures", "encoding", "v4", name);
        assertTrue(Files.isRegularFile(file), "missing official fixture " + file);
        return file;
    }

    /** Runs the command line with {@code stdin} as input; returns the exit code and what went to stdout. */
    private static Result run(byte[] stdin, String... args) {
        PrintStream out = System.out;
        InputStream in = System.in;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(captured, true, UTF_8));
            System.setIn(new ByteArrayInputStream(stdin));
            int code = Main.run(args);
            System.out.flush();
            return new Result(code, captured.toByteArray());
        } finally {
            System.setOut(out);
            System.setIn(in);
        }
    }

    private record Result(int code, byte[] stdout) {
    }

    @Test
    void encodePrintsTheOfficialPromptExactly() throws IOException {
        Result r = run(new byte[0], "encode", "--messages", fixture("test_input_1.json").toString(), "--mode", "thinking");
        assertEquals(0, r.code());
        assertArrayEquals(Files.readAllBytes(fixture("test_output_1.txt")), r.stdout());
    }

    @Test
    void parsePrintsTheMessageAsJson() throws IOException {
        String prompt = Files.readString(fixture("test_output_2.txt"), UTF_8);
        String completion = prompt.substring(prompt.lastIndexOf("<think>") + "<think>".length());

        Result r = run(completion.getBytes(UTF_8), "parse", "--mode", "thinking");

        assertEquals(0, r.code());
        assertEquals("{\"role\":\"assistant\","
                        + "\"reasoning_content\":\"The user asks about the capital of France. It is Paris.\","
                        + "\"content\":\"The capital of France is Paris.\",\"tool_calls\":[],"
                        + "\"truncated\":false,\"malformed\":false}\n",
                new String(r.stdout(), UTF_8));
    }

    @Test
    void badMessagesFileFailsWithExitCode2() throws IOException {
        Path bad = Files.createTempFile("moe4j-messages", ".json");
        try {
            Files.writeString(bad, "[{\"role\": \"robot\"}]");
            Result r = run(new byte[0], "encode", "--messages", bad.toString(), "--mode", "chat");
            assertEquals(2, r.code());
            assertEquals(0, r.stdout().length);
        } finally {
            Files.delete(bad);
        }
    }
}
