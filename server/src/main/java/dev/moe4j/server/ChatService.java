package dev.moe4j.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moe4j.engine.GenerationParams;
import dev.moe4j.engine.GenerationRequest;
import dev.moe4j.engine.QueueFullException;
import dev.moe4j.engine.TokenConstraint;
import dev.moe4j.engine.TokenSink;
import dev.moe4j.tokenizer.Tokenizer;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.LongAdder;

/**
 * The engine side of a request: checks the sampling fields against the prompt, picks the cache
 * tenant, queues the generation, and builds the usage object with its cost. The served model's
 * state (name, tokenizer, backend) lives here from {@link Server#ready} on.
 */
final class ChatService {

    static final String FINGERPRINT = "moe4j-0.1.0";
    private static final int MAX_STOPS = 16, MAX_USER_BYTES = 512;

    final String modelName;
    final Tokenizer tokenizer;
    final Backend backend;
    final Prompts prompts;
    final long startedAt = System.currentTimeMillis() / 1000;
    /** Requests refused with 429, for /metrics. */
    final LongAdder rejected = new LongAdder();
    private final PriceTable prices;
    private final int eos;

    ChatService(String modelName, Tokenizer tokenizer, Backend backend, ServerConfig cfg) {
        this.modelName = modelName;
        this.tokenizer = tokenizer;
        this.backend = backend;
        this.prompts = new Prompts(modelName, tokenizer);
        this.prices = cfg.prices();
        this.eos = tokenizer.eos().map(t -> t.id()).orElse(-1);
    }

    private volatile ForcedToolCall.NameTokens nameTokens;

    /** The tokens tool names are written with, found on first use (a pass over the vocabulary). */
    ForcedToolCall.NameTokens nameTokens() {
        ForcedToolCall.NameTokens n = nameTokens;
        if (n == null) {
            nameTokens = n = ForcedToolCall.NameTokens.of(tokenizer);
        }
        return n;
    }

    int maxContext() {
        return backend.maxContext();
    }

    record Job(GenerationRequest request, List<String> stop) {
    }

    /**
     * The sampling fields shared by chat and completions, checked against the prompt.
     *
     * @param promptParam the field the prompt came from, named when it alone fills the context
     * @param defaultMax  max_tokens when absent; 0 = the rest of the context
     * @param scorePrompt the prompt tokens are scored too (echo with logprobs); max_tokens may then be 0
     * @param constraint  steers the answer (a forced tool call), or null
     */
    Job job(Fields f, int[] prompt, int[] boundaries, String promptParam, int defaultMax, boolean logprobs,
            int topLogprobs, boolean scorePrompt, TokenConstraint constraint, String apiKey) {
        int ctx = maxContext();
        if (prompt.length >= ctx) {
            throw ApiError.contextTooLong(promptParam, "the prompt has " + prompt.length
                    + " tokens; this server's context is " + ctx + " tokens (prompt + max_tokens)");
        }
        f.integer("n", 1, 1, 1);
        String maxField = f.has("max_completion_tokens") && !f.has("max_tokens") ? "max_completion_tokens" : "max_tokens";
        long maxTokens = f.integer(maxField, scorePrompt ? 0 : 1, Integer.MAX_VALUE, defaultMax == 0 ? ctx - prompt.length : defaultMax);
        if (prompt.length + maxTokens > ctx) {
            if (f.has(maxField)) {
                throw ApiError.contextTooLong(maxField, "prompt (" + prompt.length + " tokens) + " + maxField + " ("
                        + maxTokens + ") exceed this server's context of " + ctx + " tokens");
            }
            maxTokens = ctx - prompt.length;
        }
        float temperature = (float) f.number("temperature", 0, 2, 1);
        double topP = f.number("top_p", 0, 1, 1);
        if (topP == 0) {
            throw ApiError.invalid("top_p", "'top_p' must be in (0, 1]");
        }
        long topK = f.integer("top_k", -1, Integer.MAX_VALUE, 0);
        long seed = f.integer("seed", Long.MIN_VALUE, Long.MAX_VALUE, ThreadLocalRandom.current().nextLong());
        float presence = (float) f.number("presence_penalty", -2, 2, 0);
        float frequency = (float) f.number("frequency_penalty", -2, 2, 0);
        boolean ignoreEos = f.bool("ignore_eos", false);
        GenerationParams p = new GenerationParams((int) maxTokens, temperature, (float) topP, (int) Math.max(0, topK),
                seed, ignoreEos, presence, frequency, logprobs, topLogprobs, scorePrompt);
        String tenant = tenant(apiKey, user(f));
        return new Job(new GenerationRequest(prompt, p, tenant, boundaries, constraint), stops(f));
    }

    private static List<String> stops(Fields f) {
        JsonNode stop = f.get("stop");
        if (stop == null) {
            return List.of();
        }
        List<String> out = new ArrayList<>();
        if (stop.isTextual()) {
            out.add(stop.textValue());
        } else if (stop.isArray()) {
            for (JsonNode s : stop) {
                if (!s.isTextual()) {
                    throw ApiError.badRequest("stop", "'stop' must be a string or an array of strings");
                }
                out.add(s.textValue());
            }
        } else {
            throw ApiError.badRequest("stop", "'stop' must be a string or an array of strings");
        }
        if (out.size() > MAX_STOPS || out.stream().anyMatch(String::isEmpty)) {
            throw ApiError.invalid("stop", "'stop' takes at most " + MAX_STOPS + " non-empty strings");
        }
        return out;
    }

    /** DeepSeek's {@code user_id}, or OpenAI's {@code user}. */
    private static String user(Fields f) {
        String name = f.has("user_id") ? "user_id" : "user";
        String user = f.string(name, null);
        if (user != null && user.getBytes(StandardCharsets.UTF_8).length > MAX_USER_BYTES) {
            throw ApiError.invalid(name, "'" + name + "' is longer than " + MAX_USER_BYTES + " bytes");
        }
        return user;
    }

    /**
     * The context cache tenant: a digest of the API key and the user, so cached prefixes are never
     * shared across keys or users and no raw key is kept.
     */
    static String tenant(String apiKey, String user) {
        if (apiKey == null && user == null) {
            return null;
        }
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            md.update(("key:" + (apiKey == null ? "" : apiKey) + "\nuser:" + (user == null ? "" : user))
                    .getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(md.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK has no SHA-256", e);
        }
    }

    /** Queues the job; 429 with Retry-After when the queue is full. */
    Generation start(Job job) {
        Generation g = new Generation(tokenizer, eos, job.stop());
        try {
            g.attach(backend.submit(job.request(), g));
        } catch (QueueFullException e) {
            throw ApiError.busy(e.getMessage(), e.retryAfterSeconds());
        } catch (IllegalStateException e) {
            throw ApiError.unavailable("shutting_down", "the server is shutting down", 0);
        } catch (IllegalArgumentException e) {
            throw ApiError.contextTooLong("max_tokens", e.getMessage());
        }
        return g;
    }

    /** The error a generation that ended without an answer turns into (null when it has one). */
    static ApiError failure(TokenSink.FinishReason reason, TokenSink.Usage usage) {
        return switch (reason) {
            case QUEUE_TIMEOUT -> ApiError.unavailable("queue_timeout", "Server Overloaded: the request waited in the "
                    + "queue longer than the queue timeout; retry later", 5);
            case ERROR -> ApiError.internal("the engine failed: " + usage.error());
            case CANCELLED -> ApiError.unavailable("shutting_down", "the server is shutting down", 0);
            case STOP, LENGTH -> null;
        };
    }

    /** DeepSeek's usage fields, OpenAI's cached-token shape too, and the cost when the model has a price. */
    ObjectNode usage(TokenSink.Usage u, int reasoningTokens) {
        ObjectNode o = Json.object();
        o.put("prompt_tokens", u.promptTokens());
        o.put("completion_tokens", u.generatedTokens());
        o.put("total_tokens", u.promptTokens() + u.generatedTokens());
        o.put("prompt_cache_hit_tokens", u.cachedTokens());
        o.put("prompt_cache_miss_tokens", u.promptTokens() - u.cachedTokens());
        o.putObject("prompt_tokens_details").put("cached_tokens", u.cachedTokens());
        o.putObject("completion_tokens_details").put("reasoning_tokens", reasoningTokens);
        ObjectNode cost = prices.cost(modelName, u.cachedTokens(), u.promptTokens() - u.cachedTokens(),
                u.generatedTokens());
        if (cost != null) {
            o.set("cost", cost);
        }
        return o;
    }
}
