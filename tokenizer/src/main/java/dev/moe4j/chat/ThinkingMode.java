package dev.moe4j.chat;

/**
 * Whether the model reasons before answering. The choice changes the prompt (the generation prompt
 * ends with {@code <think>} or {@code </think>}, and how much past reasoning is kept) and therefore
 * where the completion starts (inside the reasoning, or in the answer).
 */
public enum ThinkingMode {
    CHAT("chat"),
    THINKING("thinking");

    private final String wireName;

    ThinkingMode(String wireName) {
        this.wireName = wireName;
    }

    public static ThinkingMode of(String wireName) {
        for (ThinkingMode m : values()) {
            if (m.wireName.equals(wireName)) {
                return m;
            }
        }
        throw new IllegalArgumentException("unknown thinking mode '" + wireName + "' (expected chat or thinking)");
    }
}
