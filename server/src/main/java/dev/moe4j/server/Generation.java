package dev.moe4j.server;

import dev.moe4j.engine.RequestHandle;
import dev.moe4j.engine.TokenSink;
import dev.moe4j.tokenizer.StreamDecoder;
import dev.moe4j.tokenizer.Tokenizer;

import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * One request's generation seen from the HTTP thread: the scheduler calls this sink on its own
 * thread, which turns tokens into text and matches stop strings there (a cheap, non-blocking step,
 * and the only place where "stop now" can be answered in time), then hands events to the request's
 * thread through a queue. The end-of-sentence token is counted by the engine but never shown.
 */
final class Generation implements TokenSink {

    sealed interface Event {
    }

    /** Left the queue; {@code cachedTokens} of the prompt came from the context cache. */
    record Started(int cachedTokens) implements Event {
    }

    /** A generated token and the text it released (possibly "" while a character or stop string is incomplete). */
    record Token(int id, String text, float logprob, int[] topIds, float[] topLogprobs) implements Event {
    }

    /** The score of prompt token {@code position} (prompt log-probabilities). */
    record PromptToken(int position, float logprob, int[] topIds, float[] topLogprobs) implements Event {
    }

    /** The end; {@code tail} is text held back until now. */
    record Finished(FinishReason reason, Usage usage, String tail) implements Event {
    }

    private final BlockingQueue<Event> events = new LinkedBlockingQueue<>();
    private final Tokenizer tokenizer;
    private final StreamDecoder decoder;
    private final StopStrings stops;
    private final int eos;
    private RequestHandle handle;

    Generation(Tokenizer tokenizer, int eos, List<String> stops) {
        this.tokenizer = tokenizer;
        this.decoder = new StreamDecoder(tokenizer);
        this.stops = new StopStrings(stops);
        this.eos = eos;
    }

    void attach(RequestHandle h) {
        this.handle = h;
    }

    /** Stops the generation (the client left); its slot is free within one scheduler step. */
    void cancel() {
        handle.cancel();
    }

    /** The next event, or null after {@code timeoutMillis} without one. */
    Event next(long timeoutMillis) throws InterruptedException {
        return events.poll(timeoutMillis, TimeUnit.MILLISECONDS);
    }

    @Override
    public void onStart(int cachedTokens) {
        events.add(new Started(cachedTokens));
    }

    @Override
    public void onPromptToken(int position, float logprob, int[] topIds, float[] topLogprobs) {
        events.add(new PromptToken(position, logprob, topIds, topLogprobs));
    }

    @Override
    public boolean onToken(int token, float logprob, int[] topIds, float[] topLogprobs) {
        if (token == eos) {
            return true;
        }
        // ids the model has but the tokenizer lacks (padding rows of the embedding) print as nothing
        String text = tokenizer.hasToken(token) ? decoder.push(token) : "";
        events.add(new Token(token, stops.push(text), logprob, topIds, topLogprobs));
        return !stops.matched();
    }

    @Override
    public void onFinish(FinishReason reason, Usage usage) {
        String tail = stops.matched() ? "" : stops.flush(decoder.flush());
        events.add(new Finished(reason, usage, tail));
    }

    /**
     * Stop sequences over the text stream: text that might be the start of a stop string is held
     * back until it is known not to be, so no part of a stop string is ever released.
     */
    static final class StopStrings {
        private final List<String> stops;
        private final StringBuilder held = new StringBuilder();
        private boolean matched;

        StopStrings(List<String> stops) {
            this.stops = List.copyOf(stops);
        }

        boolean matched() {
            return matched;
        }

        /** Adds text; returns what can be released. */
        String push(String text) {
            if (matched) {
                return "";
            }
            if (stops.isEmpty()) {
                return text;
            }
            held.append(text);
            int at = -1;
            for (String s : stops) {
                int i = held.indexOf(s);
                if (i >= 0 && (at < 0 || i < at)) {
                    at = i;
                }
            }
            if (at >= 0) {
                matched = true;
                String out = held.substring(0, at);
                held.setLength(0);
                return out;
            }
            int keep = 0;
            for (String s : stops) {
                for (int k = Math.min(s.length() - 1, held.length()); k > keep; k--) {
                    if (s.startsWith(held.substring(held.length() - k))) {
                        keep = k;
                        break;
                    }
                }
            }
            String out = held.substring(0, held.length() - keep);
            held.delete(0, held.length() - keep);
            return out;
        }

        /** The text is over: releases what was held back (after {@code last}, unless a stop string completes). */
        String flush(String last) {
            String out = push(last);
            if (matched) {
                return out;
            }
            String rest = held.toString();
            held.setLength(0);
            return out + rest;
        }
    }
}
