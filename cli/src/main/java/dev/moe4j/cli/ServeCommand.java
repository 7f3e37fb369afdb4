package dev.moe4j.cli;

import dev.moe4j.engine.Engine;
import dev.moe4j.engine.Scheduler;
import dev.moe4j.model.ModelSource;
import dev.moe4j.server.Backend;
import dev.moe4j.server.DemoTokenizer;
import dev.moe4j.server.PriceTable;
import dev.moe4j.server.Server;
import dev.moe4j.server.ServerConfig;
import dev.moe4j.tokenizer.Tokenizer;
import dev.moe4j.tokenizer.TokenizerLoadException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

/**
 * {@code moe4j serve}: the DeepSeek- and OpenAI-compatible HTTP server. It listens before the model
 * loads ({@code /health} says 503 meanwhile), and on SIGTERM stops taking requests and ends every
 * stream with a final event before it exits.
 */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = "Serve the model over a DeepSeek- and OpenAI-compatible HTTP API, with a web chat page at /.")
final class ServeCommand implements Callable<Integer> {

    @Mixin
    ModelOptions model = new ModelOptions();

    @Option(names = "--host", defaultValue = "127.0.0.1", description = "Address to listen on (default ${DEFAULT-VALUE}).")
    String host;

    @Option(names = "--port", defaultValue = "8000", description = "Port (default ${DEFAULT-VALUE}; 0 = any free port).")
    int port;

    @Option(names = "--served-model-name", paramLabel = "NAME",
            description = "Model id of the API (default: the checkpoint folder's name, 'demo' for the demo model).")
    String servedName;

    @Option(names = "--tokenizer", paramLabel = "DIR",
            description = "Folder with tokenizer.json (default: the checkpoint's own; the built-in one for the demo).")
    Path tokenizer;

    @Option(names = "--api-key", paramLabel = "KEY", description = "Accepted API key (repeatable); without any, no authentication.")
    List<String> apiKeys = new ArrayList<>();

    @Option(names = "--api-key-file", paramLabel = "FILE", description = "Accepted API keys, one per line ('#' comments).")
    Path apiKeyFile;

    @Option(names = "--max-running", defaultValue = "4", description = "Requests generating at once (default ${DEFAULT-VALUE}).")
    int maxRunning;

    @Option(names = "--max-queue", defaultValue = "64",
            description = "Requests waiting beyond those; more get 429 (default ${DEFAULT-VALUE}).")
    int maxQueue;

    @Option(names = "--queue-timeout", defaultValue = "600", paramLabel = "SECONDS",
            description = "Longest wait in the queue (default ${DEFAULT-VALUE}).")
    int queueTimeout;

    @Option(names = "--cache-memory", defaultValue = "256", paramLabel = "MB",
            description = "Memory budget of the context cache (default ${DEFAULT-VALUE}).")
    long cacheMemory;

    @Option(names = "--prices", paramLabel = "FILE",
            description = "Prices per 1M tokens by model: {\"NAME\": {\"input_cache_hit\": …, \"input_cache_miss\": …, \"output\": …}}.")
    Path prices;

    @Option(names = "--no-warmup",
            description = "Skip the warm-up generation before serving (the first request then runs on code the JIT has not compiled yet).")
    boolean noWarmup;

    @Override
    public Integer call() throws Exception {
        PrintStream err = System.err;
        // everything that can be wrong with the options fails here, before the port is taken
        Scheduler.Config sched = new Scheduler.Config(maxRunning, maxQueue, Duration.ofSeconds(queueTimeout),
                Math.multiplyExact(cacheMemory, 1L << 20), Scheduler.Config.defaults().cacheInterval());
        ServerConfig cfg = ServerConfig.defaults(host, port).withApiKeys(keys())
                .withPrices(prices == null ? PriceTable.builtIn() : PriceTable.load(prices));
        long t0 = System.nanoTime();
        Server server = Server.start(cfg);
        Engine engine = null;
        err.printf("moe4j: listening on http://%s:%d (/health answers 503 until the model is ready)%n",
                server.host(), server.port());
        try (StepProgress progress = StepProgress.start("moe4j: loading", noWarmup ? 4 : 5, true)) {
            Tokenizer tok = progress.step("tokenizer", this::tokenizer);
            ModelSource src = progress.step("checkpoint", model::source);
            Engine e = engine = progress.step("weights", () -> Engine.load(src, model.engineOptions()));
            if (tok.vocabSize() > e.config().vocabSize()) {
                throw new IllegalArgumentException("the tokenizer has " + tok.vocabSize() + " tokens but the model only "
                        + e.config().vocabSize() + " embedding rows: they do not belong together");
            }
            Scheduler scheduler = progress.step("caches", () -> new Scheduler(e, sched));
            if (!noWarmup) {
                progress.step("warm-up", e::warmUp);
            }
            progress.done();
            String name = servedName != null ? servedName : src.name();
            server.ready(name, tok, Backend.of(scheduler));
            err.printf("moe4j: serving '%s' on http://%s:%d in %.1f s (chat page at /, API at /v1)%n", name,
                    server.host(), server.port(), (System.nanoTime() - t0) / 1e9);
        } catch (Exception | Error ex) {
            server.close();
            if (engine != null) {
                engine.close();
            }
            throw ex;
        }
        CountDownLatch stopped = new CountDownLatch(1);
        Engine loaded = engine;
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            System.err.println("moe4j: shutting down");
            server.close();
            loaded.close();
            stopped.countDown();
        }, "moe4j-shutdown"));
        stopped.await();
        return 0;
    }

    private List<String> keys() throws IOException {
        List<String> keys = new ArrayList<>(apiKeys);
        if (apiKeyFile != null) {
            try {
                for (String line : Files.readAllLines(apiKeyFile)) {
                    String k = line.strip();
                    if (!k.isEmpty() && !k.startsWith("#")) {
                        keys.add(k);
                    }
                }
            } catch (NoSuchFileException e) {
                throw new IllegalArgumentException("--api-key-file not found: " + apiKeyFile);
            }
        }
        return keys;
    }

    /** --tokenizer, else the checkpoint's own, else (demo, dummy weights without one) the demo tokenizer. */
    private Tokenizer tokenizer() throws TokenizerLoadException {
        Path dir = tokenizer;
        if (dir == null && model.dummyWeights != null) {
            Path configDir = Files.isDirectory(model.dummyWeights) ? model.dummyWeights : model.dummyWeights.getParent();
            dir = configDir != null && Files.exists(configDir.resolve("tokenizer.json")) ? configDir : null;
        } else if (dir == null && !ModelSource.DEMO.equals(model.model)) {
            dir = Path.of(model.model);
            if (!Files.exists(dir.resolve("tokenizer.json"))) {
                throw new IllegalArgumentException("the checkpoint " + dir + " has no tokenizer.json; "
                        + "give the folder that holds it with --tokenizer DIR");
            }
        }
        return dir == null ? DemoTokenizer.load() : Tokenizer.load(dir);
    }
}
