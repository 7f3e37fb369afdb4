package dev.moe4j.server;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moe4j.chat.CompletionParser;
import dev.moe4j.chat.ParseEvent;
import dev.moe4j.chat.ParsedCompletion;
import dev.moe4j.chat.ThinkingMode;
import dev.moe4j.chat.ToolCall;
import dev.moe4j.tokenizer.Tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/**
 * The assistant message growing out of a generation: text through the V4 completion parser into
 * reasoning, content and tool calls, plus logprobs and the reasoning token count. Streamed and
 * whole answers both come from here, so they cannot differ.
 */
final class ChatAnswer {

    private static final String THINK_END = "</think>";

    private final CompletionParser parser;
    private final Tokenizer tokenizer;
    private final boolean logprobs;
    private final List<String> callIds = new ArrayList<>();
    private ArrayNode pendingLogprobs = Json.array();
    private final ArrayNode allLogprobs = Json.array();
    private boolean inReasoning;
    private final StringBuilder recent = new StringBuilder();
    private int reasoningTokens;

    ChatAnswer(ThinkingMode mode, Tokenizer tokenizer, boolean logprobs) {
        this.parser = new CompletionParser(mode);
        this.tokenizer = tokenizer;
        this.logprobs = logprobs;
        this.inReasoning = mode == ThinkingMode.THINKING;
    }

    /** Takes one token; returns what it completed. */
    List<ParseEvent> token(Generation.Token t) {
        if (inReasoning) {
            // reasoning tokens run up to and including the one that closes </think>
            reasoningTokens++;
            recent.append(t.text());
            if (recent.indexOf(THINK_END) >= 0) {
                inReasoning = false;
            }
            recent.delete(0, Math.max(0, recent.length() - THINK_END.length()));
        }
        if (logprobs) {
            ObjectNode e = entry(t.id(), t.logprob());
            ArrayNode top = e.putArray("top_logprobs");
            for (int i = 0; i < t.topIds().length; i++) {
                top.add(entry(t.topIds()[i], t.topLogprobs()[i]));
            }
            pendingLogprobs.add(e);
            allLogprobs.add(e);
        }
        return named(parser.feed(t.text()));
    }

    /** The output is over; returns what was still held back. */
    List<ParseEvent> finish(String tail) {
        List<ParseEvent> out = new ArrayList<>(named(parser.feed(tail)));
        out.addAll(named(parser.finish()));
        return out;
    }

    /** Tool calls get their ids ({@code call_…}) as they complete: the model writes none. */
    private List<ParseEvent> named(List<ParseEvent> events) {
        for (ParseEvent e : events) {
            if (e instanceof ParseEvent.ToolCallDone d && d.index() == callIds.size()) {
                callIds.add("call_" + UUID.randomUUID().toString().replace("-", "").substring(0, 24));
            }
        }
        return events;
    }

    private ObjectNode entry(int id, float logprob) {
        byte[] bytes = tokenizer.hasToken(id) ? tokenizer.bytes(id) : new byte[0];
        ObjectNode e = Json.object();
        e.put("token", new String(bytes, StandardCharsets.UTF_8));
        e.put("logprob", logprob);
        ArrayNode b = e.putArray("bytes");
        for (byte x : bytes) {
            b.add(x & 0xff);
        }
        return e;
    }

    /** The logprob entries since the last call, for the next streamed chunk (null without logprobs). */
    ObjectNode takeLogprobs() {
        if (!logprobs || pendingLogprobs.isEmpty()) {
            return null;
        }
        ObjectNode lp = Json.object();
        lp.set("content", pendingLogprobs);
        pendingLogprobs = Json.array();
        return lp;
    }

    ObjectNode toolCallDelta(ParseEvent.ToolCallDone d) {
        ObjectNode call = new ToolCall(callIds.get(d.index()), d.call().name(), d.call().arguments()).toOpenAi();
        call.put("index", d.index());
        return call;
    }

    boolean hasToolCalls() {
        return !callIds.isEmpty();
    }

    int reasoningTokens() {
        return reasoningTokens;
    }

    /** The whole message; call after {@link #finish}. */
    ObjectNode message(boolean thinking) {
        ParsedCompletion r = parser.result();
        ObjectNode m = Json.object();
        m.put("role", "assistant");
        m.put("content", r.content());
        if (thinking) {
            m.put("reasoning_content", r.reasoningContent());
        }
        if (!r.toolCalls().isEmpty()) {
            ArrayNode calls = m.putArray("tool_calls");
            for (int i = 0; i < r.toolCalls().size(); i++) {
                ToolCall c = r.toolCalls().get(i);
                calls.add(new ToolCall(callIds.get(i), c.name(), c.arguments()).toOpenAi());
            }
        }
        return m;
    }

    ObjectNode allLogprobs() {
        if (!logprobs) {
            return null;
        }
        ObjectNode lp = Json.object();
        lp.set("content", allLogprobs);
        return lp;
    }
}
