package dev.moe4j.server;

import com.sun.net.httpserver.HttpServer;
import dev.moe4j.tokenizer.Tokenizer;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * The DeepSeek- and OpenAI-compatible HTTP server. It listens from {@link #start} on, answering
 * {@code /health} with 503 until {@link #ready} hands it a model, so a supervisor can watch the load.
 * Every request runs on its own virtual thread; generation happens on the backend's thread.
 */
public final class Server implements AutoCloseable {

    /** Seconds {@link #close} lets streams write their last event after the backend stopped. */
    private static final int DRAIN_SECONDS = 5;

    static {
        // the JDK server waits for request headers forever by default: a slow-header client would hold a
        // connection without end; an operator's own -D setting wins
        if (System.getProperty("sun.net.httpserver.maxReqTime") == null) {
            System.setProperty("sun.net.httpserver.maxReqTime", "60");
        }
    }

    private final HttpServer http;
    private final ExecutorService executor;
    private final ServerConfig cfg;
    private volatile ChatService service;
    private volatile boolean closing;

    private Server(ServerConfig cfg) throws IOException {
        this.cfg = cfg;
        this.http = HttpServer.create(new InetSocketAddress(cfg.host(), cfg.port()), 0);
        this.executor = Executors.newVirtualThreadPerTaskExecutor();
        http.setExecutor(executor);
        http.createContext("/", new Router(cfg, () -> service, () -> closing));
    }

    /** Binds and starts listening; model endpoints answer 503 until {@link #ready}. */
    public static Server start(ServerConfig cfg) throws IOException {
        Server s = new Server(cfg);
        s.http.start();
        return s;
    }

    /** Starts serving {@code modelName} (requests may also name the aliases {@code fast} and {@code expert}). */
    public void ready(String modelName, Tokenizer tokenizer, Backend backend) {
        service = new ChatService(modelName, tokenizer, backend, cfg);
    }

    public int port() {
        return http.getAddress().getPort();
    }

    public String host() {
        return http.getAddress().getHostString();
    }

    /**
     * Graceful stop: new requests get 503, the backend cancels what runs (each stream ends with a
     * final event and {@code [DONE]}), then the listener closes once the streams are written.
     */
    @Override
    public void close() {
        closing = true;
        ChatService s = service;
        if (s != null) {
            s.backend.close();
        }
        http.stop(DRAIN_SECONDS);
        executor.shutdownNow();
    }
}
