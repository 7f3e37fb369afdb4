package dev.moe4j.server.clients;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.fail;

/**
 * Runs the Node scripts of {@code src/test/node} (the OpenAI SDK client, the browser driver) and reads
 * the one JSON object each prints. The scripts' packages come from {@code npm ci} in that folder, which
 * {@code .ci/run} and {@code bin/test} do; a missing Node, package or browser fails the test with the
 * command that installs it, and is never a skip.
 */
final class NodeScripts {

    private static final ObjectMapper JSON = new ObjectMapper();

    private NodeScripts() {
    }

    /** The server module's folder: Surefire runs tests there. */
    static Path moduleDir() {
        String basedir = System.getProperty("basedir");
        return Path.of(basedir != null ? basedir : System.getProperty("user.dir")).toAbsolutePath();
    }

    static Path nodeDir() {
        return moduleDir().resolve("src/test/node");
    }

    /** A folder under {@code target/} for what a test leaves to look at (screenshots, logs). */
    static Path outputDir(String name) throws IOException {
        return Files.createDirectories(moduleDir().resolve("target").resolve(name));
    }

    /** Fails with the install command unless {@code node} runs and {@code npm ci} has installed the packages. */
    static void requirePackages(String... packages) {
        String node = onPath("node");
        if (node == null) {
            fail("Node.js is not installed (no `node` on the PATH): install it, e.g. `apt-get install nodejs npm`, "
                    + "then run `npm ci --prefix server/src/test/node`");
        }
        for (String p : packages) {
            if (!Files.isRegularFile(nodeDir().resolve("node_modules").resolve(p).resolve("package.json"))) {
                fail("the npm package '" + p + "' is not installed for the client tests: run "
                        + "`npm ci --prefix server/src/test/node` (bin/test and .ci/run do it)");
            }
        }
    }

    /** Debian's Chromium ({@code apt-get install chromium}); {@code MOE4J_CHROMIUM} names another binary. */
    static Path chromium() {
        String override = System.getenv("MOE4J_CHROMIUM");
        List<String> candidates = new ArrayList<>();
        if (override != null && !override.isBlank()) {
            candidates.add(override);
        }
        candidates.add("/usr/bin/chromium");
        String onPath = onPath("chromium");
        if (onPath != null) {
            candidates.add(onPath);
        }
        for (String c : candidates) {
            Path p = Path.of(c);
            if (Files.isRegularFile(p) && Files.isExecutable(p)) {
                return p;
            }
        }
        fail("Chromium is not installed: run `apt-get install chromium` (Debian's package, /usr/bin/chromium; "
                + ".ci/run installs it) or set MOE4J_CHROMIUM to a Chromium binary");
        throw new AssertionError();
    }

    /**
     * Runs {@code node SCRIPT ARGS...} in {@code src/test/node}, waits at most {@code timeout}, and returns
     * the JSON object on the last line of its standard output; stderr goes to {@code target/node-logs/}.
     */
    static JsonNode run(String script, Duration timeout, String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>();
        command.add("node");
        command.add(script);
        command.addAll(List.of(args));
        Path logs = outputDir("node-logs");
        String base = script.replaceAll("\\.[a-z]+$", "");
        Path out = logs.resolve(base + ".out.txt");
        Path err = logs.resolve(base + ".err.txt");
        ProcessBuilder pb = new ProcessBuilder(command)
                .directory(nodeDir().toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .redirectOutput(out.toFile())
                .redirectError(err.toFile());
        // never let a package fetch a browser or anything else at run time
        pb.environment().put("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1");
        pb.environment().remove("NODE_OPTIONS");
        Process p = pb.start();
        if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
            fail("node " + script + " did not finish within " + timeout.toSeconds() + " s; stderr:\n" + tail(err));
        }
        String stdout = Files.readString(out, StandardCharsets.UTF_8).strip();
        if (p.exitValue() != 0) {
            fail("node " + script + " exited with " + p.exitValue() + "; stderr:\n" + tail(err) + "\nstdout:\n"
                    + stdout);
        }
        String last = stdout.isEmpty() ? "" : stdout.substring(stdout.lastIndexOf('\n') + 1);
        try {
            return JSON.readTree(last);
        } catch (IOException e) {
            fail("node " + script + " printed no JSON result; stdout:\n" + stdout + "\nstderr:\n" + tail(err));
            throw new AssertionError(e);
        }
    }

    private static String tail(Path file) throws IOException {
        String s = Files.exists(file) ? Files.readString(file, StandardCharsets.UTF_8) : "";
        return s.length() > 4000 ? "…" + s.substring(s.length() - 4000) : s;
    }

    private static String onPath(String command) {
        String path = System.getenv("PATH");
        if (path == null) {
            return null;
        }
        for (String dir : path.split(File.pathSeparator)) {
            Path p = Path.of(dir.isEmpty() ? "." : dir, command);
            if (Files.isRegularFile(p) && Files.isExecutable(p)) {
                return p.toString();
            }
        }
        return null;
    }
}
