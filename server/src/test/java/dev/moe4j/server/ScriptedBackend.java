package dev.moe4j.server;

import dev.moe4j.engine.GenerationRequest;
import dev.moe4j.engine.Histogram;
import dev.moe4j.engine.RequestHandle;
import dev.moe4j.engine.Scheduler;
import dev.moe4j.engine.TokenSink;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A backend that "generates" a fixed text (then end-of-sentence) for every request, and keeps the
 * requests it got: what the random demo model would never write, such as a DSML tool call.
 */
final class ScriptedBackend implements Backend {

    final List<GenerationRequest> requests = new CopyOnWriteArrayList<>();
    private final String script;

    ScriptedBackend(String script) {
        this.script = script;
    }

    @Override
    public RequestHandle submit(GenerationRequest request, TokenSink sink) {
        requests.add(request);
        int[] ids = TestServer.TOKENIZER.encode(script, true);
        int eos = TestServer.TOKENIZER.eos().orElseThrow().id();
        Thread t = Thread.ofVirtual().start(() -> {
            sink.onStart(0);
            int n = 0;
            for (int id : ids) {
                n++;
                if (!sink.onToken(id, -0.5f, new int[0], new float[0])) {
                    sink.onFinish(TokenSink.FinishReason.STOP, new TokenSink.Usage(request.prompt().length, 0, n, null));
                    return;
                }
            }
            sink.onToken(eos, -0.1f, new int[0], new float[0]);
            sink.onFinish(TokenSink.FinishReason.STOP, new TokenSink.Usage(request.prompt().length, 0, n + 1, null));
        });
        return new RequestHandle() {
            @Override
            public void cancel() {
                t.interrupt();
            }

            @Override
            public boolean isDone() {
                return !t.isAlive();
            }
        };
    }

    @Override
    public Scheduler.Metrics metrics() {
        return new Scheduler.Metrics(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, requests.size(), 0, 0, new Histogram(1), new Histogram(1));
    }

    @Override
    public int maxContext() {
        return 4096;
    }

    @Override
    public void close() {
    }
}
