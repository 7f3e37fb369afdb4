package dev.moe4j.server;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;

/** {@code GET /health} (public; 503 until the model is ready) and {@code GET /v1/models}. */
final class StatusHandler {

    static void health(Call call) throws IOException {
        String status = call.closing ? "shutting_down" : call.service == null ? "loading" : "ok";
        call.send(status.equals("ok") ? 200 : 503, Json.object().put("status", status));
    }

    /** The served model, then the two mode aliases as models of their own (clients pick models by id). */
    static void models(Call call) throws IOException {
        ChatService svc = call.service;
        ObjectNode o = Json.object().put("object", "list");
        ArrayNode data = o.putArray("data");
        for (String id : new String[] {svc.modelName, Prompts.FAST, Prompts.EXPERT}) {
            ObjectNode m = data.addObject();
            m.put("id", id);
            m.put("object", "model");
            m.put("created", svc.startedAt);
            m.put("owned_by", "moe4j");
            m.put("root", svc.modelName);
            m.put("max_model_len", svc.maxContext());
        }
        call.send(200, o);
    }

    private StatusHandler() {
    }
}
