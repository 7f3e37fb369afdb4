package dev.moe4j.server.clients;

import dev.moe4j.engine.Engine;
import dev.moe4j.engine.Scheduler;
import dev.moe4j.server.Backend;
import dev.moe4j.server.DemoTokenizer;
import dev.moe4j.server.Server;
import dev.moe4j.server.ServerConfig;
import dev.moe4j.tokenizer.Tokenizer;

import java.util.List;

/**
 * The server in this JVM on the demo model, on a free loopback port, as {@code bin/moe4j serve --model demo}
 * sets it up (or, for tool calls, on the {@link WeatherToolBackend}); the client tests talk to it over real HTTP.
 */
final class DemoServer implements AutoCloseable {

    static final String MODEL = "demo";

    private static final Tokenizer TOKENIZER = DemoTokenizer.load();

    private final Engine engine;
    private final Server server;
    private final Backend backend;

    private DemoServer(Engine engine, Server server, Backend backend) {
        this.engine = engine;
        this.server = server;
        this.backend = backend;
    }

    /** No API key. */
    static DemoServer start() throws Exception {
        return start(new String[0]);
    }

    /** With these accepted API keys (none: no authentication). */
    static DemoServer start(String... apiKeys) throws Exception {
        Engine engine = Engine.load("demo", Engine.Options.defaults());
        Server server = null;
        try {
            Backend backend = Backend.of(new Scheduler(engine, Scheduler.Config.defaults()));
            server = Server.start(ServerConfig.defaults("127.0.0.1", 0).withApiKeys(List.of(apiKeys)));
            server.ready(MODEL, TOKENIZER, backend);
            return new DemoServer(engine, server, backend);
        } catch (Exception | Error e) {
            if (server != null) {
                server.close();
            }
            engine.close();
            throw e;
        }
    }

    /** The same HTTP server with a backend that calls {@code get_weather} (see {@link WeatherToolBackend}). */
    static DemoServer weatherTool(String... apiKeys) throws Exception {
        WeatherToolBackend backend = new WeatherToolBackend(TOKENIZER);
        Server server = Server.start(ServerConfig.defaults("127.0.0.1", 0).withApiKeys(List.of(apiKeys)));
        server.ready(MODEL, TOKENIZER, backend);
        return new DemoServer(null, server, backend);
    }

    /** The tool-calling backend of {@link #weatherTool}. */
    WeatherToolBackend weather() {
        return (WeatherToolBackend) backend;
    }

    /** {@code http://127.0.0.1:PORT}, without a trailing slash. */
    String baseUrl() {
        return "http://127.0.0.1:" + server.port();
    }

    String modelName() {
        return MODEL;
    }

    @Override
    public void close() {
        try {
            server.close();
        } finally {
            if (engine != null) {
                engine.close();
            }
        }
    }
}
