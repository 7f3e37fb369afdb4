package dev.moe4j.server.clients;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The web chat page at {@code /} in Debian's headless Chromium, driven by {@code src/test/node/web-page.mjs}
 * (playwright-core with {@code /usr/bin/chromium}; no browser download): a message in Fast mode and one in
 * Expert mode with Enter, the streamed text, the reasoning block only in Expert mode, the usage figures,
 * Stop, Shift+Enter, a narrow screen, and screenshots in {@code target/web-page/}. Without Chromium the
 * test fails and says to run {@code apt-get install chromium}.
 */
class WebPageChromiumTest {

    private static final String KEY = "sk-web-page-test";
    private static DemoServer server;

    @BeforeAll
    static void start() throws Exception {
        server = DemoServer.start(KEY);
    }

    @AfterAll
    static void stop() {
        if (server != null) {
            server.close();
        }
    }

    @Test
    void fastAndExpertTurnsStreamInTheBrowser() throws Exception {
        Path chromium = NodeScripts.chromium();
        NodeScripts.requirePackages("playwright-core");
        Path shots = NodeScripts.outputDir("web-page");
        JsonNode r = NodeScripts.run("web-page.mjs", Duration.ofSeconds(90),
                "--url", server.baseUrl() + "/?seed=11", "--out", shots.toString(), "--chromium", chromium.toString(),
                "--max-tokens", "24", "--api-key", KEY);

        assertEquals("moe4j chat", r.path("title").asText());
        assertTrue(r.path("pageErrors").isEmpty(), "page errors: " + r.path("pageErrors"));
        assertTrue(r.path("consoleErrors").isEmpty(), "console errors: " + r.path("consoleErrors"));
        assertTrue(r.path("offOrigin").isEmpty(), "the page loaded something from elsewhere: " + r.path("offOrigin"));
        // the API key: refused before it is typed, then sent as a Bearer token and kept over a reload
        assertEquals("error", r.path("beforeKey").path("modelsLoaded").asText(), r.path("beforeKey").toString());
        assertTrue(r.path("beforeKey").path("status").asText().contains("401"), r.path("beforeKey").toString());
        assertEquals(KEY, r.path("keyAfterReload").asText());
        assertEquals("true", r.path("modelsLoaded").asText(), "model list from /v1/models");
        assertTrue(r.path("models").toString().contains("\"" + server.modelName() + "\""), "models: " + r.path("models"));

        // Shift+Enter is a new line, not a send
        assertEquals("line one\nline two", r.path("shiftEnter").path("value").asText());
        assertEquals(0, r.path("shiftEnter").path("messages").asInt());

        // what the page sent: the whole conversation, streaming with usage, thinking per mode
        JsonNode requests = r.path("requests");
        assertTrue(requests.size() >= 2, "chat requests seen: " + requests);
        JsonNode fastBody = requests.get(0).path("body");
        JsonNode expertBody = requests.get(1).path("body");
        assertEquals("disabled", fastBody.path("thinking").path("type").asText(), fastBody.toString());
        assertEquals("enabled", expertBody.path("thinking").path("type").asText(), expertBody.toString());
        for (JsonNode q : requests) {
            assertEquals("Bearer " + KEY, q.path("authorization").asText(), q.toString());
        }
        for (JsonNode b : new JsonNode[]{fastBody, expertBody}) {
            assertTrue(b.path("stream").asBoolean(), b.toString());
            assertTrue(b.path("stream_options").path("include_usage").asBoolean(), b.toString());
            assertEquals(server.modelName(), b.path("model").asText());
            assertEquals(24, b.path("max_tokens").asInt());
            assertEquals(11, b.path("seed").asInt(), "the seed of the address: answers that repeat");
        }
        assertEquals(1, fastBody.path("messages").size());
        assertEquals(3, expertBody.path("messages").size(), "the second turn carries the conversation");
        assertEquals("assistant", expertBody.path("messages").get(1).path("role").asText());

        JsonNode fast = r.path("fast");
        assertTrue(r.path("fastChecked").asBoolean());
        assertTurn(fast, "fast");
        assertFalse(fast.path("hasReasoning").asBoolean(), "Fast mode shows no reasoning block: " + fast);
        assertFalse(fast.path("answer").asText().isBlank(), "Fast mode streamed answer text: " + fast);
        assertEquals("0", fast.path("usage").path("reasoning").asText());

        JsonNode expert = r.path("expert");
        assertTrue(r.path("expertChecked").asBoolean());
        assertTurn(expert, "expert");
        assertTrue(expert.path("hasReasoning").asBoolean(), "Expert mode shows the reasoning block: " + expert);
        assertFalse(expert.path("reasoningText").asText().isEmpty(), "streamed reasoning text: " + expert);
        assertTrue(Integer.parseInt(expert.path("usage").path("reasoning").asText()) > 0, expert.toString());
        String summary = expert.path("reasoningSummary").asText();
        if (!expert.path("answer").asText().isEmpty()) {
            // the answer started: the block collapsed and tells how long the model thought
            assertFalse(expert.path("reasoningOpen").asBoolean(), expert.toString());
            assertTrue(summary.startsWith("Thought for"), summary);
        }
        JsonNode toggle = r.path("reasoningToggle");
        assertFalse(toggle.isMissingNode(), "no reasoning summary to toggle");
        assertFalse(toggle.path("before").asBoolean() == toggle.path("after").asBoolean(),
                "Enter on the summary opens or closes the reasoning block: " + toggle);

        assertEquals("streaming", r.path("stopped").path("stateBeforeStop").asText(), "still streaming at Stop: " + r.path("stopped"));
        assertEquals("stopped", r.path("stopped").path("state").asText(), "Stop aborts the stream: " + r.path("stopped"));
        assertTrue(r.path("stopped").path("sendEnabled").asBoolean());

        // an error answer shows the message of the server's error JSON, as an alert
        JsonNode error = r.path("errorTurn");
        assertEquals("error", error.path("state").asText(), error.toString());
        assertEquals(1, error.path("errors").size(), error.toString());
        assertTrue(error.path("errors").get(0).asText().matches("HTTP 4\\d\\d.*max_tokens.*"), error.toString());
        assertEquals("alert", error.path("role").asText());

        JsonNode narrow = r.path("narrow");
        assertTrue(narrow.path("scrollWidth").asInt() <= narrow.path("clientWidth").asInt(), "no sideways scroll at 390 px: " + narrow);
        assertTrue(narrow.path("sendVisible").asBoolean());

        for (String png : new String[]{"web-chat.png", "web-chat-narrow.png"}) {
            Path p = shots.resolve(png);
            assertTrue(Files.size(p) > 10_000, "screenshot " + p);
        }
    }

    private static void assertTurn(JsonNode turn, String mode) {
        assertEquals(mode, turn.path("dataMode").asText(), turn.toString());
        assertEquals("done", turn.path("state").asText(), turn.toString());
        assertTrue(turn.path("errors").isEmpty(), "errors shown: " + turn.path("errors"));
        assertTrue(turn.path("stopEnabledWhileStreaming").asBoolean(), turn.toString());
        assertTrue(turn.path("sendDisabledWhileStreaming").asBoolean(), turn.toString());
        assertTrue(turn.path("sendEnabledAfter").asBoolean(), turn.toString());
        JsonNode u = turn.path("usage");
        for (String k : new String[]{"prompt", "cached", "completion", "reasoning"}) {
            assertNotNull(u.get(k), "usage figure " + k + ": " + u);
            assertTrue(u.path(k).asText().matches("\\d+"), "usage figure " + k + ": " + u);
        }
        assertTrue(Integer.parseInt(u.path("prompt").asText()) > 0, u.toString());
        assertTrue(Integer.parseInt(u.path("completion").asText()) > 0, u.toString());
        assertTrue(u.path("cost").asText().startsWith("$"), "cost from the price table: " + u);
    }
}
