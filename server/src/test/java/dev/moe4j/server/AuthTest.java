package dev.moe4j.server;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.http.HttpResponse;
import java.util.List;

import static dev.moe4j.server.TestServer.JSON;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

/** With --api-key, everything but /health and the page needs a valid key, in either header. */
class AuthTest {

    private static final String CHAT = "{\"model\": \"fast\", \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"max_tokens\": 1}";
    private static TestServer s;

    @BeforeAll
    static void start() throws IOException {
        s = TestServer.of(TestServer.config().withApiKeys(List.of("key-one", "key-two")), new ScriptedBackend("Hello."));
    }

    @AfterAll
    static void stop() {
        s.close();
    }

    private static void unauthorized(HttpResponse<String> r) throws IOException {
        assertEquals(401, r.statusCode(), r.body());
        assertEquals("authentication_error", JSON.readTree(r.body()).at("/error/type").asText());
        assertEquals("invalid_api_key", JSON.readTree(r.body()).at("/error/code").asText());
    }

    @Test
    void withoutAValidKeyEveryApiIs401() throws Exception {
        unauthorized(s.post("/v1/chat/completions", CHAT));
        unauthorized(s.post("/v1/chat/completions", CHAT, "Authorization", "Bearer key-three"));
        unauthorized(s.post("/v1/chat/completions", CHAT, "x-api-key", "key-one-and-more"));
        unauthorized(s.post("/v1/chat/completions", CHAT, "Authorization", "key-one"));
        unauthorized(s.get("/v1/models"));
        unauthorized(s.get("/metrics"));
        unauthorized(s.post("/tokenize", "{\"prompt\": \"a\"}"));
    }

    @Test
    void eitherHeaderWithEitherKeyWorks() throws Exception {
        assertEquals(200, s.post("/v1/chat/completions", CHAT, "Authorization", "Bearer key-one").statusCode());
        assertEquals(200, s.post("/v1/chat/completions", CHAT, "Authorization", "bearer key-two").statusCode());
        assertEquals(200, s.post("/v1/chat/completions", CHAT, "x-api-key", "key-two").statusCode());
        assertEquals(200, s.post("/v1/chat/completions", CHAT, "Authorization", "Bearer wrong", "x-api-key", "key-one")
                .statusCode());
        assertEquals(200, s.get("/v1/models", "Authorization", "Bearer key-one").statusCode());
    }

    @Test
    void healthAndThePageArePublic() throws Exception {
        assertEquals(200, s.get("/health").statusCode());
        assertNotEquals(401, s.get("/").statusCode());
        assertNotEquals(401, s.get("/web/app.js").statusCode());
    }
}
