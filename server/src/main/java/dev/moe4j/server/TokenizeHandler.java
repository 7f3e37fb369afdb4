package dev.moe4j.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.nio.charset.StandardCharsets;

/**
 * {@code POST /tokenize} ({@code prompt} text, or {@code messages} encoded exactly as a chat request
 * would be) and {@code POST /detokenize}, in vLLM's shape.
 */
final class TokenizeHandler {

    static void tokenize(Call call) throws IOException {
        ChatService svc = call.service;
        Fields f = new Fields(call.json());
        int[] ids;
        if (f.has("messages")) {
            ids = svc.prompts.chat(f, true).ids();
        } else {
            svc.prompts.checkModel(f);
            String text = f.string("prompt", null);
            if (text == null) {
                throw ApiError.badRequest("prompt", "give 'prompt' (text) or 'messages'");
            }
            ids = f.bool("add_special_tokens", true) ? svc.prompts.text(text) : svc.tokenizer.encode(text, true);
        }
        ObjectNode o = Json.object();
        o.put("count", ids.length);
        o.put("max_model_len", svc.maxContext());
        ArrayNode tokens = o.putArray("tokens");
        for (int id : ids) {
            tokens.add(id);
        }
        if (f.bool("return_token_strs", false)) {
            ArrayNode strs = o.putArray("token_strs");
            for (int id : ids) {
                strs.add(new String(svc.tokenizer.bytes(id), StandardCharsets.UTF_8));
            }
        }
        call.send(200, o);
    }

    static void detokenize(Call call) throws IOException {
        ChatService svc = call.service;
        Fields f = new Fields(call.json());
        svc.prompts.checkModel(f);
        JsonNode tokens = f.array("tokens");
        if (tokens == null) {
            throw ApiError.badRequest("tokens", "'tokens' (an array of token ids) is required");
        }
        call.send(200, Json.object().put("prompt", svc.tokenizer.decode(svc.prompts.ids(tokens, "tokens"))));
    }

    private TokenizeHandler() {
    }
}
