package dev.moe4j.chat;

/** The quick-instruction tasks of the official encoder ({@code "task"} on a message) and their marker tokens. */
enum Task {
    ACTION("action", "<｜action｜>"),
    QUERY("query", "<｜query｜>"),
    AUTHORITY("authority", "<｜authority｜>"),
    DOMAIN("domain", "<｜domain｜>"),
    TITLE("title", "<｜title｜>"),
    READ_URL("read_url", "<｜read_url｜>");

    final String wireName;
    final String token;

    Task(String wireName, String token) {
        this.wireName = wireName;
        this.token = token;
    }

    /** The task with this spelling, or null. */
    static Task byWireName(String wireName) {
        for (Task t : values()) {
            if (t.wireName.equals(wireName)) {
                return t;
            }
        }
        return null;
    }
}
