package dev.moe4j.server.clients;

import dev.moe4j.engine.GenerationRequest;
import dev.moe4j.engine.Histogram;
import dev.moe4j.engine.RequestHandle;
import dev.moe4j.engine.Scheduler;
import dev.moe4j.engine.TokenSink;
import dev.moe4j.server.Backend;
import dev.moe4j.tokenizer.Tokenizer;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * A backend that plays a model which uses a {@code get_weather} tool, so that real clients see a real
 * tool call (the random demo model never writes one): while the prompt holds no tool result it "generates"
 * a V4 DSML call for Paris; once it does, a short answer from the result. In thinking mode (the prompt
 * ends with {@code <think>}) the output starts with a line of reasoning and {@code </think>}. The text
 * goes through the server's own parser and streamer like any model output.
 */
final class WeatherToolBackend implements Backend {

    static final String TOOL = "get_weather";
    static final String ANSWER = "It is sunny in Paris.";
    /** What the tool's result must contain for the backend to answer instead of calling. */
    static final String RESULT_MARK = "temperature_c";

    private static final String CALL = """
            <｜DSML｜tool_calls>
            <｜DSML｜invoke name="get_weather">
            <｜DSML｜parameter name="city" string="true">Paris</｜DSML｜parameter>
            </｜DSML｜invoke>
            </｜DSML｜tool_calls>""";

    private final Tokenizer tokenizer;
    private final int eos;
    final AtomicInteger calls = new AtomicInteger();
    final AtomicInteger answers = new AtomicInteger();

    WeatherToolBackend(Tokenizer tokenizer) {
        this.tokenizer = tokenizer;
        this.eos = tokenizer.eos().orElseThrow().id();
    }

    @Override
    public RequestHandle submit(GenerationRequest request, TokenSink sink) {
        int[] prompt = request.prompt();
        String text = tokenizer.decode(prompt);
        boolean thinking = text.endsWith("<think>");
        boolean answered = text.contains(RESULT_MARK);
        (answered ? answers : calls).incrementAndGet();
        String out = (thinking ? (answered ? "The tool answered." : "The user wants the weather.") + "</think>" : "")
                + (answered ? ANSWER : CALL);
        int[] ids = tokenizer.encode(out, true);
        int max = request.params().maxTokens();
        Thread t = Thread.ofVirtual().start(() -> {
            sink.onStart(0);
            int n = 0;
            for (int id : ids) {
                if (n == max) {
                    sink.onFinish(TokenSink.FinishReason.LENGTH, new TokenSink.Usage(prompt.length, 0, n, null));
                    return;
                }
                n++;
                if (Thread.currentThread().isInterrupted() || !sink.onToken(id, Float.NaN, new int[0], new float[0])) {
                    sink.onFinish(TokenSink.FinishReason.STOP, new TokenSink.Usage(prompt.length, 0, n, null));
                    return;
                }
            }
            if (n < max) {
                n++;
                sink.onToken(eos, Float.NaN, new int[0], new float[0]);
            }
            sink.onFinish(n <= ids.length && n == max ? TokenSink.FinishReason.LENGTH : TokenSink.FinishReason.STOP,
                    new TokenSink.Usage(prompt.length, 0, n, null));
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
        return new Scheduler.Metrics(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, calls.get() + answers.get(), 0, 0,
                new Histogram(1), new Histogram(1));
    }

    @Override
    public int maxContext() {
        return 4096;
    }

    @Override
    public void close() {
    }
}
