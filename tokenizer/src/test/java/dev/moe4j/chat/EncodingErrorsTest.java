package dev.moe4j.chat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.core.JsonProcessingException;
import org.junit.jupiter.api.Test;

/** Every input the encoder refuses, with the message index and the problem in the message. */
class EncodingErrorsTest {

    private static EncodingException rejected(String messagesJson) {
        return assertThrows(EncodingException.class,
                () -> V4Encoder.encode(PyJson.parse(messagesJson), V4Encoder.Options.of(ThinkingMode.THINKING)));
    }

    private static void assertRejected(String messagesJson, int index, String message) {
        EncodingException e = rejected(messagesJson);
        assertEquals(message, e.getMessage());
        assertEquals(index, e.messageIndex());
    }

    @Test
    void messagesFileThatIsNotJson() {
        EncodingException e = assertThrows(EncodingException.class, () -> MessagesFile.parse("role: user\n"));
        assertEquals(-1, e.messageIndex());
        assertTrue(e.getMessage().startsWith("the messages file is not JSON: "), e.getMessage());
    }

    @Test
    void messagesFileOfTheWrongShape() {
        assertEquals("the messages file has no \"messages\" array",
                assertThrows(EncodingException.class, () -> MessagesFile.parse("{\"tools\": []}")).getMessage());
        assertEquals("top-level \"tools\" need a first message to attach to",
                assertThrows(EncodingException.class, () -> MessagesFile.parse("{\"messages\": [], \"tools\": []}")).getMessage());
        assertEquals("messages must be a JSON array of messages", rejected("{\"role\": \"user\"}").getMessage());
    }

    @Test
    void unknownRole() {
        assertRejected("[{\"role\": \"user\", \"content\": \"a\"}, {\"role\": \"robot\", \"content\": \"b\"}]", 1,
                "messages[1]: unknown role 'robot' (expected system, user, assistant, tool, developer or latest_reminder)");
    }

    @Test
    void missingRole() {
        assertRejected("[{\"content\": \"a\"}]", 0, "messages[0]: missing required field 'role'");
    }

    @Test
    void toolCallArgumentsThatAreNotJson() {
        EncodingException e = rejected("""
                [{"role": "user", "content": "a"},
                 {"role": "assistant", "content": "", "tool_calls": [
                   {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{\\"city\\": Paris}"}}]}]""");
        assertEquals(1, e.messageIndex());
        assertTrue(e.getMessage().startsWith("messages[1]: tool_calls[0] arguments are not valid JSON: "), e.getMessage());
    }

    @Test
    void toolCallArgumentsThatAreNotAnObject() {
        assertRejected("""
                [{"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": "[1, 2]"}}]}]""",
                0, "messages[0]: tool_calls[0] arguments must be a JSON object, got array");
    }

    @Test
    void toolCallWithoutNameOrArguments() {
        assertRejected("[{\"role\": \"assistant\", \"tool_calls\": [{\"function\": {\"arguments\": \"{}\"}}]}]",
                0, "messages[0]: tool_calls[0] needs a string 'function.name'");
        assertRejected("[{\"role\": \"assistant\", \"tool_calls\": [{\"function\": {\"name\": \"f\", \"arguments\": {}}}]}]",
                0, "messages[0]: tool_calls[0] needs 'function.arguments' as a JSON string");
        assertRejected("[{\"role\": \"assistant\", \"tool_calls\": [{\"type\": \"function\"}]}]",
                0, "messages[0]: tool_calls[0] has no 'function' object");
    }

    @Test
    void toolDefinitionWithoutFunction() {
        assertRejected("[{\"role\": \"system\", \"content\": \"s\", \"tools\": [{\"type\": \"function\", \"name\": \"f\"}]}]",
                0, "messages[0]: tools[0] has no 'function' object");
    }

    @Test
    void missingOrMistypedContent() {
        assertRejected("[{\"role\": \"latest_reminder\"}]", 0, "messages[0]: missing required field 'content'");
        assertRejected("[{\"role\": \"system\", \"content\": \"s\"}, {\"role\": \"developer\", \"content\": \"\"}]",
                1, "messages[1]: a developer message needs non-empty 'content'");
        assertRejected("[{\"role\": \"user\", \"content\": [{\"type\": \"text\", \"text\": \"hi\"}]}]",
                0, "messages[0]: 'content' of a user message must be a string");
        assertRejected("[{\"role\": \"assistant\", \"content\": 5}]", 0, "messages[0]: 'content' must be a string");
        assertRejected("[{\"role\": \"tool\", \"content\": {\"a\": 1}}]",
                0, "messages[0]: 'content' of a tool message must be a string or an array of content parts");
    }

    @Test
    void invalidTask() {
        assertRejected("[{\"role\": \"user\", \"content\": \"a\", \"task\": \"fly\"}]",
                0, "messages[0]: invalid task \"fly\" (expected action, query, authority, domain, title or read_url)");
    }

    @Test
    void problemsInTheContextNameTheContext() throws JsonProcessingException {
        EncodingException e = assertThrows(EncodingException.class, () -> V4Encoder.encode(
                PyJson.parse("[{\"role\": \"user\", \"content\": \"a\"}, {\"role\": \"bot\"}]"),
                PyJson.parse("[{\"role\": \"user\", \"content\": \"b\"}]"),
                V4Encoder.Options.of(ThinkingMode.CHAT)));
        assertEquals(1, e.messageIndex());
        assertTrue(e.getMessage().startsWith("context[1]: unknown role 'bot'"), e.getMessage());
    }

    @Test
    void unknownModeAndEffortNames() {
        assertEquals("unknown thinking mode 'deep' (expected chat or thinking)",
                assertThrows(IllegalArgumentException.class, () -> ThinkingMode.of("deep")).getMessage());
        assertEquals("unknown reasoning effort 'low' (expected high or max)",
                assertThrows(IllegalArgumentException.class, () -> ReasoningEffort.of("low")).getMessage());
    }
}
