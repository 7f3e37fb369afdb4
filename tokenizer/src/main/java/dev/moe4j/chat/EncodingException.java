package dev.moe4j.chat;

/**
 * A conversation the V4 encoder cannot render: not JSON, an unknown role, a missing or mistyped
 * field, tool-call arguments that are not a JSON object. Callers (the HTTP server, the CLI) turn it
 * into a client error; the message says what is wrong and, when one message is at fault, which.
 */
public final class EncodingException extends IllegalArgumentException {

    private final int messageIndex;

    /** A problem with the input as a whole. */
    public EncodingException(String problem) {
        super(problem);
        this.messageIndex = -1;
    }

    /** A problem with one message; {@code list} names the list it sits in ("messages" or "context"). */
    public EncodingException(String list, int messageIndex, String problem) {
        super(list + "[" + messageIndex + "]: " + problem);
        this.messageIndex = messageIndex;
    }

    /** The position of the faulty message in its list, or -1 when no single message is at fault. */
    public int messageIndex() {
        return messageIndex;
    }
}
