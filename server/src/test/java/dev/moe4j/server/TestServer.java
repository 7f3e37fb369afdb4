package dev.moe4j.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.moe4j.engine.Engine;
import dev.moe4j.engine.Scheduler;
import dev.moe4j.tokenizer.Tokenizer;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/** A server on an ephemeral loopback port, and a client for it. */
final class TestServer implements AutoCloseable {

    static final ObjectMapper JSON = new ObjectMapper();
    static final Tokenizer TOKENIZER = DemoTokenizer.load();

    final Server server;
    final String base;
    private final Engine engine;
    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5)).build();

    private TestServer(Server server, Engine engine) {
        this.server = server;
        this.engine = engine;
        this.base = "http://127.0.0.1:" + server.port();
    }

    /** The demo model behind a scheduler with these limits. */
    static TestServer demo(ServerConfig cfg, Scheduler.Config limits) throws IOException {
        Engine engine = Engine.load("demo", Engine.Options.defaults());
        Server s = Server.start(cfg);
        s.ready("demo", TOKENIZER, Backend.of(new Scheduler(engine, limits)));
        return new TestServer(s, engine);
    }

    static TestServer demo() throws IOException {
        return demo(config(), Scheduler.Config.defaults());
    }

    static TestServer of(ServerConfig cfg, Backend backend) throws IOException {
        Server s = Server.start(cfg);
        s.ready("demo", TOKENIZER, backend);
        return new TestServer(s, null);
    }

    static ServerConfig config() {
        return ServerConfig.defaults("127.0.0.1", 0);
    }

    HttpResponse<String> post(String path, String body, String... headers) throws IOException, InterruptedException {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(60))
                .POST(HttpRequest.BodyPublishers.ofString(body)).header("Content-Type", "application/json");
        if (headers.length > 0) {
            b.headers(headers);
        }
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    HttpResponse<String> get(String path, String... headers) throws IOException, InterruptedException {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(60)).GET();
        if (headers.length > 0) {
            b.headers(headers);
        }
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    /** POST and parse a 200 JSON answer (fails with the body otherwise). */
    JsonNode ok(String path, String body) throws IOException, InterruptedException {
        HttpResponse<String> r = post(path, body);
        if (r.statusCode() != 200) {
            throw new AssertionError("HTTP " + r.statusCode() + ": " + r.body());
        }
        return JSON.readTree(r.body());
    }

    /** A streamed answer: every SSE line that is not blank, in order (data lines and comments). */
    List<String> stream(String path, String body) throws IOException, InterruptedException {
        HttpRequest req = HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(60))
                .POST(HttpRequest.BodyPublishers.ofString(body)).build();
        HttpResponse<java.util.stream.Stream<String>> r = http.send(req, HttpResponse.BodyHandlers.ofLines());
        if (r.statusCode() != 200) {
            throw new AssertionError("HTTP " + r.statusCode() + ": " + String.join("\n", r.body().toList()));
        }
        if (!r.headers().firstValue("Content-Type").orElse("").startsWith("text/event-stream")) {
            throw new AssertionError("not an event stream: " + r.headers());
        }
        return new ArrayList<>(r.body().filter(l -> !l.isBlank()).toList());
    }

    /** The JSON payloads of a stream's data lines, [DONE] excluded. */
    static List<JsonNode> events(List<String> lines) throws IOException {
        List<JsonNode> out = new ArrayList<>();
        for (String l : lines) {
            if (l.startsWith("data: ") && !l.equals("data: [DONE]")) {
                out.add(JSON.readTree(l.substring(6)));
            }
        }
        return out;
    }

    /** One series of the Prometheus text, e.g. {@code moe4j_requests_running}. */
    double metric(String name) throws IOException, InterruptedException {
        for (String line : get("/metrics").body().split("\n")) {
            if (line.startsWith(name + " ")) {
                return Double.parseDouble(line.substring(name.length() + 1));
            }
        }
        throw new AssertionError("no series " + name);
    }

    @Override
    public void close() {
        server.close();
        if (engine != null) {
            engine.close();
        }
    }
}
