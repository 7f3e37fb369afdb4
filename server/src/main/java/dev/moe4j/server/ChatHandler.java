package dev.moe4j.server;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moe4j.chat.ParseEvent;
import dev.moe4j.chat.ThinkingMode;
import dev.moe4j.engine.TokenSink.FinishReason;

import java.io.IOException;
import java.util.List;
import java.util.UUID;

/** {@code POST /v1/chat/completions}, {@code /chat/completions} and {@code /beta/chat/completions}. */
final class ChatHandler {

    static void handle(Call call, boolean beta) throws IOException {
        ChatService svc = call.service;
        Fields f = new Fields(call.json());
        Prompts.ChatPrompt prompt = svc.prompts.chat(f, beta);
        boolean logprobs = f.bool("logprobs", false);
        int top = (int) f.integer("top_logprobs", 0, 20, 0);
        if (top > 0 && !logprobs) {
            throw ApiError.invalid("top_logprobs", "'top_logprobs' needs \"logprobs\": true");
        }
        boolean stream = f.bool("stream", false);
        Fields options = f.object("stream_options");
        boolean includeUsage = options != null && options.bool("include_usage", false);
        ForcedToolCall forced = prompt.forcedTools() == null ? null : new ForcedToolCall(svc.tokenizer, svc.nameTokens(),
                prompt.forcedTools(), prompt.mode() == ThinkingMode.THINKING);
        ChatService.Job job = svc.job(f, prompt.ids(), prompt.boundaries(), "messages", 0, logprobs, top, false, forced,
                call.apiKey);
        Generation g = svc.start(job);
        ChatAnswer answer = new ChatAnswer(prompt.mode(), svc.tokenizer, logprobs);
        Reply reply = new Reply(svc, "chatcmpl-" + UUID.randomUUID().toString().replace("-", ""),
                System.currentTimeMillis() / 1000);
        if (stream) {
            new Streamer(call, g, answer, reply, prompt.thinking(), includeUsage).run();
        } else {
            whole(call, g, answer, reply, prompt.thinking());
        }
    }

    /** The fixed fields of every chunk or answer of one request. */
    record Reply(ChatService svc, String id, long created) {
        ObjectNode start(String object) {
            ObjectNode o = Json.object();
            o.put("id", id);
            o.put("object", object);
            o.put("created", created);
            o.put("model", svc.modelName);
            o.put("system_fingerprint", ChatService.FINGERPRINT);
            return o;
        }
    }

    private static void whole(Call call, Generation g, ChatAnswer answer, Reply reply, boolean thinking)
            throws IOException {
        Whole whole = new Whole(call);
        Generation.Finished end;
        try {
            end = drain(g, answer, whole);
        } catch (IOException e) {
            g.cancel();                                                       // the client left: free its slot
            return;
        } catch (InterruptedException e) {
            g.cancel();
            Thread.currentThread().interrupt();
            return;
        }
        ApiError failure = ChatService.failure(end.reason(), end.usage());
        if (failure != null) {
            whole.fail(failure);
            return;
        }
        ObjectNode o = reply.start("chat.completion");
        ObjectNode choice = o.putArray("choices").addObject();
        choice.put("index", 0);
        choice.set("message", answer.message(thinking));
        choice.set("logprobs", answer.allLogprobs());
        choice.put("finish_reason", finishReason(end.reason(), answer));
        o.set("usage", reply.svc().usage(end.usage(), answer.reasoningTokens()));
        whole.send(200, o);
    }

    /** Reads the generation to its end, probing the connection while it runs. */
    private static Generation.Finished drain(Generation g, ChatAnswer answer, Whole whole)
            throws InterruptedException, IOException {
        while (true) {
            Generation.Event e = g.next(Whole.PROBE_MILLIS);
            switch (e) {
                case Generation.Token t -> answer.token(t);
                case Generation.Finished end -> {
                    answer.finish(end.tail());
                    return end;
                }
                case Generation.Started s -> {
                }
                case Generation.PromptToken p -> {
                }
                case null -> {
                }
            }
            whole.after(e);
        }
    }

    /**
     * OpenAI's reasons, and DeepSeek's {@code insufficient_system_resource} for a generation the
     * server had to interrupt (shutdown).
     */
    static String finishReason(FinishReason reason, ChatAnswer answer) {
        return switch (reason) {
            case STOP -> answer != null && answer.hasToolCalls() ? "tool_calls" : "stop";
            case LENGTH -> "length";
            case CANCELLED, QUEUE_TIMEOUT, ERROR -> "insufficient_system_resource";
        };
    }

    /** One streamed answer: role first, then reasoning and content deltas and tool calls, the finish, usage, [DONE]. */
    private record Streamer(Call call, Generation g, ChatAnswer answer, Reply reply, boolean thinking,
                            boolean includeUsage) {

        void run() throws IOException {
            Sse sse = Sse.open(call.exchange);
            long keepAlive = call.keepAliveMillis;
            boolean generating = false;
            try {
                while (true) {
                    switch (g.next(keepAlive)) {
                        case null -> {
                            if (!generating) {
                                sse.keepAlive();
                            }
                        }
                        case Generation.Started s -> {
                            ObjectNode delta = Json.object().put("role", "assistant").put("content", "");
                            sse.data(chunk(delta, null, null));
                        }
                        case Generation.Token t -> {
                            generating = true;
                            send(sse, answer.token(t));
                        }
                        case Generation.PromptToken p -> {
                        }
                        case Generation.Finished end -> {
                            send(sse, answer.finish(end.tail()));
                            finish(sse, end);
                            return;
                        }
                    }
                }
            } catch (IOException e) {
                g.cancel();                                                   // the client left: free its slot
            } catch (InterruptedException e) {
                g.cancel();
                Thread.currentThread().interrupt();
            }
        }

        private void send(Sse sse, List<ParseEvent> events) throws IOException {
            for (ParseEvent e : events) {
                ObjectNode delta = Json.object();
                switch (e) {
                    case ParseEvent.ReasoningDelta r -> delta.put("reasoning_content", r.text());
                    case ParseEvent.ContentDelta c -> delta.put("content", c.text());
                    case ParseEvent.ToolCallDone d -> delta.putArray("tool_calls").add(answer.toolCallDelta(d));
                }
                sse.data(chunk(delta, answer.takeLogprobs(), null));
            }
        }

        private void finish(Sse sse, Generation.Finished end) throws IOException {
            ApiError failure = ChatService.failure(end.reason(), end.usage());
            if (failure != null && end.reason() != FinishReason.CANCELLED) {
                sse.data(Json.error(failure));
            } else {
                sse.data(chunk(Json.object(), answer.takeLogprobs(), finishReason(end.reason(), answer)));
                if (includeUsage) {
                    ObjectNode u = reply.start("chat.completion.chunk");
                    u.putArray("choices");
                    u.set("usage", reply.svc().usage(end.usage(), answer.reasoningTokens()));
                    sse.data(u);
                }
            }
            sse.done();
        }

        private ObjectNode chunk(ObjectNode delta, ObjectNode logprobs, String finishReason) {
            ObjectNode o = reply.start("chat.completion.chunk");
            ObjectNode choice = o.putArray("choices").addObject();
            choice.put("index", 0);
            choice.set("delta", delta);
            choice.set("logprobs", logprobs);
            choice.put("finish_reason", finishReason);
            return o;
        }
    }

    private ChatHandler() {
    }
}
