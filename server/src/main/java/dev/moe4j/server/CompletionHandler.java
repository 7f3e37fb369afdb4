package dev.moe4j.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moe4j.engine.GenerationParams;
import dev.moe4j.engine.TokenSink.FinishReason;
import dev.moe4j.tokenizer.StreamDecoder;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.UUID;

/**
 * {@code POST /v1/completions} (also {@code /completions} and DeepSeek's {@code /beta/completions}):
 * raw text continuation of a prompt given as text or token ids, with {@code echo}, {@code logprobs}
 * (OpenAI's legacy shape) and fill-in-the-middle through {@code suffix}.
 */
final class CompletionHandler {

    /** OpenAI's default for this endpoint. */
    private static final int DEFAULT_MAX_TOKENS = 16;

    static void handle(Call call) throws IOException {
        ChatService svc = call.service;
        Fields f = new Fields(call.json());
        svc.prompts.checkModel(f);
        String suffix = f.string("suffix", null);
        boolean echo = f.bool("echo", false);
        if (echo && suffix != null) {
            throw ApiError.invalid("echo", "'echo' cannot be combined with 'suffix'");
        }
        int[] prompt = prompt(svc, f.get("prompt"), suffix);
        JsonNode lpField = f.get("logprobs");
        boolean logprobs = lpField != null && !(lpField.isBoolean() && !lpField.booleanValue());
        int top = lpField != null && lpField.isBoolean() ? 0
                : (int) f.integer("logprobs", 0, GenerationParams.MAX_TOP_LOGPROBS, 0);
        boolean stream = f.bool("stream", false);
        Fields options = f.object("stream_options");
        boolean includeUsage = options != null && options.bool("include_usage", false);
        boolean score = echo && logprobs;                               // the echoed prompt gets its logprobs
        ChatService.Job job = svc.job(f, prompt, svc.prompts.boundaries(prompt), "prompt", DEFAULT_MAX_TOKENS, logprobs, top,
                score, null, call.apiKey);
        Generation g = svc.start(job);
        Text text = new Text(svc, logprobs);
        if (echo) {
            text.echo(prompt, score);
        }
        ChatHandler.Reply reply = new ChatHandler.Reply(svc, "cmpl-" + UUID.randomUUID().toString().replace("-", ""),
                System.currentTimeMillis() / 1000);
        try {
            if (stream) {
                stream(call, g, text, reply, includeUsage);
            } else {
                whole(call, g, text, reply);
            }
        } catch (InterruptedException e) {
            g.cancel();
            Thread.currentThread().interrupt();
        }
    }

    /** A string (BOS added as for chat) or token ids; FIM when a suffix is given; batches of one are unwrapped. */
    private static int[] prompt(ChatService svc, JsonNode p, String suffix) {
        if (p != null && p.isArray() && p.size() == 1 && (p.get(0).isTextual() || p.get(0).isArray())) {
            p = p.get(0);
        }
        if (p == null || p.isNull()) {
            throw ApiError.badRequest("prompt", "'prompt' is required");
        }
        if (p.isTextual()) {
            return suffix != null ? svc.prompts.fim(p.textValue(), suffix) : svc.prompts.text(p.textValue());
        }
        if (!p.isArray()) {
            throw ApiError.badRequest("prompt", "'prompt' must be a string or an array of token ids");
        }
        if (p.isEmpty()) {
            throw ApiError.invalid("prompt", "'prompt' is empty");
        }
        if (!p.get(0).isNumber()) {
            throw ApiError.invalid("prompt", "one prompt per request: batches of prompts are not supported");
        }
        if (suffix != null) {
            throw ApiError.invalid("suffix", "'suffix' needs the prompt as text");
        }
        return svc.prompts.ids(p, "prompt");
    }

    private static void whole(Call call, Generation g, Text text, ChatHandler.Reply reply)
            throws IOException, InterruptedException {
        Whole whole = new Whole(call);
        try {
            while (true) {
                Generation.Event ev = g.next(Whole.PROBE_MILLIS);
                switch (ev) {
                    case Generation.Token t -> text.add(t);
                    case Generation.PromptToken p -> text.score(p);
                    case Generation.Finished end -> {
                        ApiError failure = ChatService.failure(end.reason(), end.usage());
                        if (failure != null) {
                            whole.fail(failure);
                            return;
                        }
                        text.tail(end.tail());
                        ObjectNode o = reply.start("text_completion");
                        o.putArray("choices").add(choice(text.all(), text.allLogprobs(),
                                ChatHandler.finishReason(end.reason(), null)));
                        o.set("usage", reply.svc().usage(end.usage(), 0));
                        whole.send(200, o);
                        return;
                    }
                    case Generation.Started s -> {
                    }
                    case null -> {
                    }
                }
                whole.after(ev);
            }
        } catch (IOException e) {
            g.cancel();                                                       // the client left: free its slot
        }
    }

    private static void stream(Call call, Generation g, Text text, ChatHandler.Reply reply, boolean includeUsage)
            throws IOException, InterruptedException {
        Sse sse = Sse.open(call.exchange);
        boolean generating = false;
        try {
            if (text.hasText()) {
                sse.data(chunk(reply, text.take(), text.takeLogprobs(), null));          // the echoed prompt
            }
            while (true) {
                switch (g.next(call.keepAliveMillis)) {
                    case null -> {
                        if (!generating) {
                            sse.keepAlive();
                        }
                    }
                    case Generation.Started s -> {
                    }
                    case Generation.PromptToken p -> {
                        text.score(p);
                        if (text.hasText()) {
                            sse.data(chunk(reply, text.take(), text.takeLogprobs(), null));
                        }
                    }
                    case Generation.Token t -> {
                        generating = true;
                        text.add(t);
                        if (text.hasText()) {
                            sse.data(chunk(reply, text.take(), text.takeLogprobs(), null));
                        }
                    }
                    case Generation.Finished end -> {
                        ApiError failure = ChatService.failure(end.reason(), end.usage());
                        if (failure != null && end.reason() != FinishReason.CANCELLED) {
                            sse.data(Json.error(failure));
                        } else {
                            text.tail(end.tail());
                            sse.data(chunk(reply, text.take(), text.takeLogprobs(),
                                    ChatHandler.finishReason(end.reason(), null)));
                            if (includeUsage) {
                                ObjectNode u = reply.start("text_completion");
                                u.putArray("choices");
                                u.set("usage", reply.svc().usage(end.usage(), 0));
                                sse.data(u);
                            }
                        }
                        sse.done();
                        return;
                    }
                }
            }
        } catch (IOException e) {
            g.cancel();                                                       // the client left: free its slot
        }
    }

    private static ObjectNode chunk(ChatHandler.Reply reply, String text, ObjectNode logprobs, String finishReason) {
        ObjectNode o = reply.start("text_completion");
        o.putArray("choices").add(choice(text, logprobs, finishReason));
        return o;
    }

    private static ObjectNode choice(String text, ObjectNode logprobs, String finishReason) {
        ObjectNode c = Json.object();
        c.put("text", text);
        c.put("index", 0);
        c.set("logprobs", logprobs);
        c.put("finish_reason", finishReason);
        return c;
    }

    /**
     * The completion text and its logprobs in the legacy shape ({@code tokens}, {@code token_logprobs},
     * {@code top_logprobs}, {@code text_offset}). With logprobs the echoed prompt is scored by the model:
     * each prompt token but the first (which nothing precedes: null, as OpenAI has it) gets its
     * log-probability and alternatives, and the echo is released once the last score arrived.
     */
    private static final class Text {
        private final ChatService svc;
        private final boolean logprobs;
        private final StringBuilder all = new StringBuilder();
        private int taken;
        private final ObjectNode allLp = fresh();
        private ObjectNode pendingLp = fresh();
        private int[] echoed;
        private Generation.PromptToken[] scores;

        Text(ChatService svc, boolean logprobs) {
            this.svc = svc;
            this.logprobs = logprobs;
        }

        private static ObjectNode fresh() {
            ObjectNode o = Json.object();
            for (String k : new String[] {"tokens", "token_logprobs", "top_logprobs", "text_offset"}) {
                o.putArray(k);
            }
            return o;
        }

        /** The prompt, shown at once, or with {@code scored} once {@link #score} had every prompt token. */
        void echo(int[] prompt, boolean scored) {
            echoed = prompt;
            if (scored && prompt.length > 1) {
                return;
            }
            release(null);
        }

        void score(Generation.PromptToken p) {
            if (scores == null) {
                scores = new Generation.PromptToken[echoed.length];
            }
            scores[p.position()] = p;
            if (p.position() == echoed.length - 1) {
                release(scores);
            }
        }

        private void release(Generation.PromptToken[] scored) {
            StreamDecoder decoder = new StreamDecoder(svc.tokenizer);
            for (int i = 0; i < echoed.length; i++) {
                Generation.PromptToken p = scored == null ? null : scored[i];
                if (p == null) {
                    record(echoed[i], null, null, null);
                } else {
                    record(echoed[i], p.logprob(), p.topIds(), p.topLogprobs());
                }
                all.append(decoder.push(echoed[i]));
            }
            all.append(decoder.flush());
        }

        void add(Generation.Token t) {
            record(t.id(), t.logprob(), t.topIds(), t.topLogprobs());
            all.append(t.text());
        }

        void tail(String s) {
            all.append(s);
        }

        private void record(int id, Float logprob, int[] topIds, float[] topLps) {
            if (!logprobs) {
                return;
            }
            for (ObjectNode o : new ObjectNode[] {allLp, pendingLp}) {
                ((ArrayNode) o.get("tokens")).add(piece(id));
                ArrayNode lp = (ArrayNode) o.get("token_logprobs");
                if (logprob == null) {
                    lp.addNull();
                } else {
                    lp.add(logprob);
                }
                ArrayNode tops = (ArrayNode) o.get("top_logprobs");
                if (topIds == null) {
                    tops.addNull();
                } else {
                    ObjectNode m = tops.addObject();
                    for (int i = 0; i < topIds.length; i++) {
                        m.put(piece(topIds[i]), topLps[i]);
                    }
                }
                ((ArrayNode) o.get("text_offset")).add(all.length());
            }
        }

        private String piece(int id) {
            return svc.tokenizer.hasToken(id) ? new String(svc.tokenizer.bytes(id), StandardCharsets.UTF_8) : "";
        }

        boolean hasText() {
            return all.length() > taken || logprobs && !pendingLp.get("tokens").isEmpty();
        }

        /** Text since the last take. */
        String take() {
            String s = all.substring(taken);
            taken = all.length();
            return s;
        }

        ObjectNode takeLogprobs() {
            if (!logprobs) {
                return null;
            }
            ObjectNode o = pendingLp;
            pendingLp = fresh();
            return o;
        }

        String all() {
            return all.toString();
        }

        ObjectNode allLogprobs() {
            return logprobs ? allLp : null;
        }
    }

    private CompletionHandler() {
    }
}
