package dev.moe4j.server.clients;

import dev.langchain4j.agent.tool.ToolExecutionRequest;
import dev.langchain4j.agent.tool.ToolSpecification;
import dev.langchain4j.data.message.AiMessage;
import dev.langchain4j.data.message.ChatMessage;
import dev.langchain4j.data.message.SystemMessage;
import dev.langchain4j.data.message.ToolExecutionResultMessage;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.json.JsonObjectSchema;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.chat.response.PartialThinking;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;
import dev.langchain4j.model.openai.OpenAiChatModel;
import dev.langchain4j.model.openai.OpenAiStreamingChatModel;
import dev.langchain4j.model.openai.OpenAiTokenUsage;
import dev.langchain4j.model.output.FinishReason;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * LangChain4j's OpenAI client ({@code dev.langchain4j:langchain4j-open-ai}) against the server: a chat,
 * a streamed chat (content and thinking), and tool specifications with tool-call round trips, over an
 * API key. The random demo model writes no tool call of its own: on it the round trip puts an assistant's
 * call and the tool's result into the conversation and checks the server takes them; on the
 * {@link WeatherToolBackend} the client gets a real call, parsed by LangChain4j, and sends its result back.
 */
class LangChain4jClientTest {

    private static final String KEY = "sk-langchain4j-test";
    private static final Set<FinishReason> FINISH = Set.of(FinishReason.STOP, FinishReason.LENGTH, FinishReason.TOOL_EXECUTION);
    private static DemoServer server;
    private static DemoServer tools;

    @BeforeAll
    static void start() throws Exception {
        server = DemoServer.start(KEY);
        tools = DemoServer.weatherTool(KEY);
    }

    @AfterAll
    static void stop() {
        if (server != null) {
            server.close();
        }
        if (tools != null) {
            tools.close();
        }
    }

    private static final ToolSpecification WEATHER = ToolSpecification.builder()
            .name(WeatherToolBackend.TOOL).description("Current weather of a city")
            .parameters(JsonObjectSchema.builder().addStringProperty("city", "City name").required("city").build())
            .build();

    private static OpenAiChatModel chatModel(boolean thinking) {
        return OpenAiChatModel.builder()
                .baseUrl(server.baseUrl() + "/v1").apiKey(KEY).modelName(server.modelName())
                .maxTokens(12).temperature(0.0).seed(7).maxRetries(0).timeout(Duration.ofSeconds(30))
                .customParameters(Map.of("thinking", Map.of("type", thinking ? "enabled" : "disabled")))
                .returnThinking(true)
                .build();
    }

    private static OpenAiStreamingChatModel streamingModel(boolean thinking) {
        return OpenAiStreamingChatModel.builder()
                .baseUrl(server.baseUrl() + "/v1").apiKey(KEY).modelName(server.modelName())
                .maxTokens(12).temperature(0.0).seed(7).timeout(Duration.ofSeconds(30))
                .customParameters(Map.of("thinking", Map.of("type", thinking ? "enabled" : "disabled")))
                .returnThinking(true)
                .build();
    }

    private static final List<ChatMessage> HELLO = List.of(SystemMessage.from("You are terse."),
            UserMessage.from("Say hello in five words."));

    @Test
    void chat() {
        ChatResponse r = chatModel(false).chat(ChatRequest.builder().messages(HELLO).build());
        assertNotNull(r.aiMessage().text(), r.toString());
        assertTrue(FINISH.contains(r.finishReason()), r.toString());
        assertEquals(server.modelName(), r.modelName());
        assertFalse(r.id() == null || r.id().isEmpty(), r.toString());
        assertUsage(r);
    }

    @Test
    void streamingChatMatchesTheAnswer() throws Exception {
        ChatResponse plain = chatModel(false).chat(ChatRequest.builder().messages(HELLO).build());
        Streamed s = stream(streamingModel(false), ChatRequest.builder().messages(HELLO).build());
        assertTrue(s.parts() > 0, "partial responses: " + s);
        assertEquals(plain.aiMessage().text(), s.content().toString(), "the deltas add up to the same seeded answer");
        assertEquals(s.content().toString(), s.response().aiMessage().text());
        assertTrue(FINISH.contains(s.response().finishReason()), s.response().toString());
        assertUsage(s.response());
    }

    @Test
    void streamingThinkingArrivesAsThinking() throws Exception {
        Streamed s = stream(streamingModel(true), ChatRequest.builder().messages(HELLO).build());
        assertFalse(s.thinking().isEmpty(), "reasoning_content deltas reach onPartialThinking: " + s);
        assertEquals(s.thinking().toString(), s.response().aiMessage().thinking());
        assertUsage(s.response());
        OpenAiTokenUsage u = (OpenAiTokenUsage) s.response().tokenUsage();
        assertTrue(u.outputTokensDetails().reasoningTokens() > 0, u.toString());
    }

    @Test
    void toolSpecificationsAndACallRoundTrip() throws Exception {
        ToolSpecification weather = WEATHER;
        UserMessage question = UserMessage.from("What is the weather in Paris?");
        ChatResponse offered = chatModel(false).chat(ChatRequest.builder()
                .messages(question).toolSpecifications(weather).build());
        assertTrue(FINISH.contains(offered.finishReason()), offered.toString());
        assertUsage(offered);
        for (ToolExecutionRequest call : offered.aiMessage().toolExecutionRequests()) {
            assertFalse(call.id().isEmpty(), call.toString());
            assertNotNull(call.arguments(), call.toString());
        }

        ToolExecutionRequest call = ToolExecutionRequest.builder()
                .id("call_0").name("get_weather").arguments("{\"city\":\"Paris\"}").build();
        List<ChatMessage> roundTrip = List.of(question, AiMessage.from(call),
                ToolExecutionResultMessage.from(call, "{\"temperature_c\":21,\"sky\":\"clear\"}"));
        ChatResponse back = chatModel(false).chat(ChatRequest.builder()
                .messages(roundTrip).toolSpecifications(weather).build());
        assertNotNull(back.aiMessage(), back.toString());
        assertTrue(FINISH.contains(back.finishReason()), back.toString());
        assertUsage(back);
        assertTrue(back.tokenUsage().inputTokenCount() > offered.tokenUsage().inputTokenCount(),
                "the call and its result are in the prompt: " + back.tokenUsage() + " vs " + offered.tokenUsage());

        Streamed streamed = stream(streamingModel(false), ChatRequest.builder()
                .messages(roundTrip).toolSpecifications(weather).build());
        assertTrue(FINISH.contains(streamed.response().finishReason()), streamed.response().toString());
        assertUsage(streamed.response());
    }

    @Test
    void realToolCallRoundTrip() {
        // thinking on: the call's reasoning comes back as thinking and is sent back with the call
        OpenAiChatModel model = OpenAiChatModel.builder()
                .baseUrl(tools.baseUrl() + "/v1").apiKey(KEY).modelName(tools.modelName())
                .maxTokens(200).maxRetries(0).timeout(Duration.ofSeconds(30))
                .customParameters(Map.of("thinking", Map.of("type", "enabled")))
                .returnThinking(true).sendThinking(true)
                .build();
        UserMessage question = UserMessage.from("What is the weather in Paris?");
        ChatResponse first = model.chat(ChatRequest.builder().messages(question).toolSpecifications(WEATHER).build());
        assertEquals(FinishReason.TOOL_EXECUTION, first.finishReason(), first.toString());
        assertTrue(first.aiMessage().hasToolExecutionRequests(), first.toString());
        ToolExecutionRequest call = first.aiMessage().toolExecutionRequests().getFirst();
        assertEquals(WeatherToolBackend.TOOL, call.name());
        assertFalse(call.id().isEmpty());
        assertEquals("{\"city\": \"Paris\"}".replace(" ", ""), call.arguments().replace(" ", ""));
        assertEquals("The user wants the weather.", first.aiMessage().thinking());
        assertUsage(first);

        ChatResponse second = model.chat(ChatRequest.builder().toolSpecifications(WEATHER).messages(question,
                first.aiMessage(), ToolExecutionResultMessage.from(call, "{\"temperature_c\":21,\"sky\":\"clear\"}")).build());
        assertEquals(FinishReason.STOP, second.finishReason(), second.toString());
        assertEquals(WeatherToolBackend.ANSWER, second.aiMessage().text());
        assertFalse(second.aiMessage().hasToolExecutionRequests());
        assertUsage(second);
    }

    @Test
    void realToolCallStreamed() throws Exception {
        OpenAiStreamingChatModel model = OpenAiStreamingChatModel.builder()
                .baseUrl(tools.baseUrl() + "/v1").apiKey(KEY).modelName(tools.modelName())
                .maxTokens(200).timeout(Duration.ofSeconds(30))
                .customParameters(Map.of("thinking", Map.of("type", "disabled")))
                .build();
        UserMessage question = UserMessage.from("What is the weather in Paris?");
        Streamed first = stream(model, ChatRequest.builder().messages(question).toolSpecifications(WEATHER).build());
        assertEquals(FinishReason.TOOL_EXECUTION, first.response().finishReason(), first.response().toString());
        List<ToolExecutionRequest> calls = first.response().aiMessage().toolExecutionRequests();
        assertEquals(1, calls.size(), first.response().toString());
        assertEquals(WeatherToolBackend.TOOL, calls.getFirst().name());
        assertEquals("{\"city\":\"Paris\"}", calls.getFirst().arguments().replace(" ", ""));
        assertUsage(first.response());

        Streamed second = stream(model, ChatRequest.builder().toolSpecifications(WEATHER).messages(question,
                first.response().aiMessage(), ToolExecutionResultMessage.from(calls.getFirst(), "{\"temperature_c\":21}")).build());
        assertEquals(WeatherToolBackend.ANSWER, second.content().toString());
        assertEquals(FinishReason.STOP, second.response().finishReason());
        assertUsage(second.response());
    }

    private record Streamed(StringBuilder content, StringBuilder thinking, int parts, ChatResponse response) {
    }

    private static Streamed stream(OpenAiStreamingChatModel model, ChatRequest request) throws Exception {
        StringBuilder content = new StringBuilder();
        StringBuilder thinking = new StringBuilder();
        int[] parts = {0};
        CompletableFuture<ChatResponse> done = new CompletableFuture<>();
        model.chat(request, new StreamingChatResponseHandler() {
            @Override
            public void onPartialResponse(String partial) {
                content.append(partial);
                parts[0]++;
            }

            @Override
            public void onPartialThinking(PartialThinking partial) {
                thinking.append(partial.text());
            }

            @Override
            public void onCompleteResponse(ChatResponse response) {
                done.complete(response);
            }

            @Override
            public void onError(Throwable error) {
                done.completeExceptionally(error);
            }
        });
        ChatResponse r = done.get(30, TimeUnit.SECONDS);
        return new Streamed(content, thinking, parts[0], r);
    }

    private static void assertUsage(ChatResponse r) {
        assertTrue(r.tokenUsage() instanceof OpenAiTokenUsage, "usage: " + r.tokenUsage());
        OpenAiTokenUsage u = (OpenAiTokenUsage) r.tokenUsage();
        assertTrue(u.inputTokenCount() > 0, u.toString());
        assertTrue(u.outputTokenCount() > 0, u.toString());
        assertEquals(u.inputTokenCount() + u.outputTokenCount(), u.totalTokenCount(), u.toString());
        assertNotNull(u.inputTokensDetails(), "prompt_tokens_details: " + u);
        assertNotNull(u.inputTokensDetails().cachedTokens(), "prompt_tokens_details.cached_tokens: " + u);
        assertNotNull(u.outputTokensDetails(), "completion_tokens_details: " + u);
        assertNotNull(u.outputTokensDetails().reasoningTokens(), "completion_tokens_details.reasoning_tokens: " + u);
    }
}
