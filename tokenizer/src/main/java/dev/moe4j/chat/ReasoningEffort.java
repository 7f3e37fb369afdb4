package dev.moe4j.chat;

/**
 * The official encoder's {@code reasoning_effort}: {@code high} (the default, same prompt as no
 * effort at all) or {@code max}, which prepends the Think-Max instruction in thinking mode.
 */
public enum ReasoningEffort {
    HIGH("high"),
    MAX("max");

    private final String wireName;

    ReasoningEffort(String wireName) {
        this.wireName = wireName;
    }

    public static ReasoningEffort of(String wireName) {
        for (ReasoningEffort e : values()) {
            if (e.wireName.equals(wireName)) {
                return e;
            }
        }
        throw new IllegalArgumentException("unknown reasoning effort '" + wireName + "' (expected high or max)");
    }
}
