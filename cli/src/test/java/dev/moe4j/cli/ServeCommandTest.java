package dev.moe4j.cli;

import dev.moe4j.testkit.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code moe4j serve}: clear errors for bad options, and a real process that serves and stops on SIGTERM. */
class ServeCommandTest {

    private static void fails(String expected, String... args) {
        CliRun r = CliRun.of(args);
        assertEquals(2, r.exit(), r.err());
        assertTrue(r.err().contains(expected), r.err());
    }

    @Test
    void badOptionsAreOneClearLine(@TempDir Path tmp) throws Exception {
        fails("price file not found", "serve", "--port", "0", "--prices", tmp.resolve("nope.json").toString());
        Path prices = tmp.resolve("prices.json");
        Files.writeString(prices, "{\"demo\": {\"output\": \"cheap\"}}");
        fails("\"input_cache_hit\" must be a number", "serve", "--port", "0", "--prices", prices.toString());
        fails("--api-key-file not found", "serve", "--port", "0", "--api-key-file", tmp.resolve("keys").toString());
        fails("scheduler limits must be positive", "serve", "--port", "0", "--max-running", "0");
        fails("Invalid value for option '--port'", "serve", "--port", "x");
    }

    @Test
    void aCheckpointNeedsItsTokenizer() {
        String tiny = Fixtures.dir("fixtures/v4-tiny").toString();
        fails("has no tokenizer.json; give the folder that holds it with --tokenizer DIR", "serve", "--port", "0", "--model", tiny);
        fails("the tokenizer has 128815 tokens but the model only 2048 embedding rows", "serve", "--port", "0", "--model", tiny,
                "--tokenizer", Fixtures.dir("fixtures/tokenizer/deepseek-v3").toString());
    }

    /** A started {@code serve} process: its port, and its stderr up to the line that says it serves. */
    private record Started(Process process, int port, String log) {
    }

    private static Started start(String... options) throws Exception {
        String java = ProcessHandle.current().info().command().orElseThrow();
        List<String> cmd = new ArrayList<>(List.of(java, "--add-modules", "jdk.incubator.vector", "-cp",
                System.getProperty("java.class.path"), Main.class.getName(), "serve", "--port", "0"));
        cmd.addAll(List.of(options));
        Process p = new ProcessBuilder(cmd).start();
        BlockingQueue<String> err = new LinkedBlockingQueue<>();
        Thread.ofVirtual().start(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getErrorStream(), StandardCharsets.UTF_8))) {
                r.lines().forEach(err::add);
            } catch (IOException | UncheckedIOException e) {
                // the process is gone
            }
        });
        int port = -1;
        StringBuilder log = new StringBuilder();
        Pattern listening = Pattern.compile("listening on http://127\\.0\\.0\\.1:(\\d+)");
        while (!log.toString().contains("serving 'demo'")) {
            String line = err.poll(60, TimeUnit.SECONDS);
            if (line == null) {
                p.destroyForcibly();
                throw new AssertionError("no startup line; stderr so far:\n" + log);
            }
            log.append(line).append('\n');
            Matcher m = listening.matcher(line);
            if (m.find()) {
                port = Integer.parseInt(m.group(1));
            }
        }
        return new Started(p, port, log.toString());
    }

    /** The loading steps as the bar printed them (stderr is a pipe here: one line per step). */
    private static List<String> steps(String log) {
        return log.lines().filter(l -> l.startsWith("moe4j: loading"))
                .map(l -> l.replaceFirst(".*\\] (\\d+/\\d+) \\([0-9:]+\\) ", "$1 ")).toList();
    }

    @Test
    void noWarmupSkipsTheWarmUpStep() throws Exception {
        Started started = start("--no-warmup");
        try {
            assertEquals(List.of("0/4 tokenizer", "1/4 checkpoint", "2/4 weights", "3/4 caches", "4/4 done"),
                    steps(started.log()), started.log());
        } finally {
            started.process().destroyForcibly();
        }
    }

    @Test
    void servesTheDemoAndEndsStreamsOnSigterm() throws Exception {
        Started started = start("--max-running", "1");
        Process p = started.process();
        try {
            int port = started.port();
            assertEquals(List.of("0/5 tokenizer", "1/5 checkpoint", "2/5 weights", "3/5 caches", "4/5 warm-up",
                    "5/5 done"), steps(started.log()), started.log());
            HttpResponse<String> health = HttpClient.newHttpClient().send(
                    HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/health")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(200, health.statusCode());

            String body = "{\"model\": \"fast\", \"messages\": [{\"role\": \"user\", \"content\": \"Go\"}], "
                    + "\"max_tokens\": 3000, \"ignore_eos\": true, \"stream\": true}";
            try (Socket s = new Socket("127.0.0.1", port)) {
                s.setSoTimeout(30_000);
                s.getOutputStream().write(("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: "
                        + body.getBytes(StandardCharsets.UTF_8).length + "\r\n\r\n" + body).getBytes(StandardCharsets.UTF_8));
                String seen = readUntil(s.getInputStream(), new ByteArrayOutputStream(), "\"content\":\"");
                p.destroy();                                                          // SIGTERM
                seen += readUntil(s.getInputStream(), new ByteArrayOutputStream(), "data: [DONE]");
                assertTrue(seen.contains("\"finish_reason\":\"insufficient_system_resource\""), seen);
            }
            assertTrue(p.waitFor(60, TimeUnit.SECONDS), "the server did not exit after SIGTERM");
            assertEquals(143, p.exitValue(), "exit status of a JVM ended by SIGTERM");
        } finally {
            p.destroyForcibly();
        }
    }

    private static String readUntil(InputStream in, ByteArrayOutputStream seen, String text) throws Exception {
        byte[] buf = new byte[4096];
        while (!seen.toString(StandardCharsets.UTF_8).contains(text)) {
            int n = in.read(buf);
            if (n < 0) {
                throw new AssertionError("the stream ended before \"" + text + "\": " + seen.toString(StandardCharsets.UTF_8));
            }
            seen.write(buf, 0, n);
        }
        return seen.toString(StandardCharsets.UTF_8);
    }
}
