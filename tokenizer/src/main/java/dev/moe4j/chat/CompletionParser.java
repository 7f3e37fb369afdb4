package dev.moe4j.chat;

import static dev.moe4j.chat.V4Format.EOS;
import static dev.moe4j.chat.V4Format.THINK_END;
import static dev.moe4j.chat.V4Format.TOOL_CALLS_OPEN;

import java.util.ArrayList;
import java.util.List;

/**
 * Model output text → {@code reasoning_content}, {@code content} and {@code tool_calls}, following the
 * official {@code parse_message_from_completion_text}, but incremental (for streaming) and forgiving:
 * bad output is returned as text with a flag instead of raising.
 *
 * <p>In thinking mode the prompt ended with {@code <think>}, so the output starts in the reasoning
 * and {@code </think>} switches to the answer; in chat mode it starts in the answer. A
 * {@code "\n\n<｜DSML｜tool_calls"} in the answer opens the tool-calls block. Text is held back while
 * it could still be the start of one of these markers or of the end-of-sentence token, so no delta
 * ever carries part of a tag. Tool calls are reported when their whole block has closed; a block
 * that fails to parse is returned as content. Reading stops at end-of-sentence.
 *
 * <p>Not thread-safe: one parser per completion.
 */
public final class CompletionParser {

    private static final String TOOL_CALLS_START = "\n\n" + TOOL_CALLS_OPEN;
    /** Special tokens the official parser refuses to see inside reasoning or content. */
    private static final List<String> FOREIGN_TOKENS =
            List.of(V4Format.BOS, V4Format.THINK_START, THINK_END, V4Format.DSML);

    private enum State { REASONING, CONTENT, TOOL_CALLS, AFTER_TOOL_CALLS, RAW, ENDED }

    private State state;
    private final StringBuilder eosHeld = new StringBuilder();
    private final StringBuilder pending = new StringBuilder();
    private final StringBuilder reasoning = new StringBuilder();
    private final StringBuilder content = new StringBuilder();
    private final List<ToolCall> toolCalls = new ArrayList<>();
    private StringBuilder block;
    private String blockOpener;
    private DsmlBlockParser dsml;
    private boolean truncated;
    private boolean malformed;
    private String problem;
    private boolean finished;
    private List<ParseEvent> events;

    public CompletionParser(ThinkingMode mode) {
        this.state = mode == ThinkingMode.THINKING ? State.REASONING : State.CONTENT;
    }

    /** Parses a whole completion at once (the same machinery as feeding it in pieces). */
    public static ParsedCompletion parse(String text, ThinkingMode mode) {
        CompletionParser parser = new CompletionParser(mode);
        parser.feed(text);
        parser.finish();
        return parser.result();
    }

    /** Takes the next piece of output; returns what it completed, possibly nothing. */
    public List<ParseEvent> feed(String delta) {
        if (finished) {
            throw new IllegalStateException("feed after finish");
        }
        events = new ArrayList<>();
        if (state == State.ENDED) {
            noteTextAfterEos(delta);
            return events;
        }
        eosHeld.append(delta);
        int eos = eosHeld.indexOf(EOS);
        if (eos >= 0) {
            String after = eosHeld.substring(eos + EOS.length());
            consume(eosHeld.substring(0, eos));
            eosHeld.setLength(0);
            end(true);
            noteTextAfterEos(after);
        } else {
            int keep = heldBack(eosHeld, EOS);
            consume(eosHeld.substring(0, eosHeld.length() - keep));
            eosHeld.delete(0, eosHeld.length() - keep);
        }
        return events;
    }

    /** The output is over (end-of-sentence, stop sequence or token limit): flushes what was held back. */
    public List<ParseEvent> finish() {
        if (finished) {
            throw new IllegalStateException("finish called twice");
        }
        events = new ArrayList<>();
        if (state != State.ENDED) {
            consume(eosHeld.toString());
            eosHeld.setLength(0);
            end(false);
        }
        finished = true;
        return events;
    }

    /** The parsed message; call after {@link #finish}. */
    public ParsedCompletion result() {
        if (!finished) {
            throw new IllegalStateException("result before finish");
        }
        return new ParsedCompletion(reasoning.toString(), content.toString(), toolCalls, truncated, malformed, problem);
    }

    /** Runs the state machine over text known to contain no end-of-sentence. */
    private void consume(String text) {
        pending.append(text);
        while (!pending.isEmpty()) {
            switch (state) {
                case REASONING, CONTENT -> {
                    if (!scanForMarker()) {
                        return;
                    }
                }
                case TOOL_CALLS -> {
                    block.append(pending);
                    pending.setLength(0);
                    readBlock();
                }
                case AFTER_TOOL_CALLS -> {
                    flag(false, "text after the tool_calls block");
                    emitContent(pending.toString());
                    pending.setLength(0);
                }
                case RAW -> {
                    emitContent(pending.toString());
                    pending.setLength(0);
                }
                case ENDED -> throw new IllegalStateException("text after the end");
            }
        }
    }

    /**
     * Emits reasoning or content up to the next marker and switches state on it; returns false when
     * no marker is complete yet (the possible start of one stays in {@link #pending}).
     */
    private boolean scanForMarker() {
        // a bare "<｜DSML｜tool_calls" in the answer is taken as a block too (flagged): models drop the blank line
        String[] markers = state == State.REASONING
                ? new String[] {THINK_END, TOOL_CALLS_START}
                : new String[] {TOOL_CALLS_START, TOOL_CALLS_OPEN};
        int at = -1;
        String marker = null;
        for (String m : markers) {
            int i = pending.indexOf(m);
            if (i >= 0 && (at < 0 || i < at)) {
                at = i;
                marker = m;
            }
        }
        if (marker == null) {
            int keep = heldBack(pending, markers);
            emit(pending.substring(0, pending.length() - keep));
            pending.delete(0, pending.length() - keep);
            return false;
        }
        emit(pending.substring(0, at));
        pending.delete(0, at + marker.length());
        if (marker.equals(THINK_END)) {
            state = State.CONTENT;
        } else {
            if (state == State.REASONING) {
                flag(false, "tool calls inside the reasoning (no </think> before them)");
            } else if (marker.equals(TOOL_CALLS_OPEN)) {
                flag(false, "tool_calls block without the blank line before it");
            }
            state = State.TOOL_CALLS;
            block = new StringBuilder();
            blockOpener = marker;
            dsml = new DsmlBlockParser();
        }
        return true;
    }

    private void readBlock() {
        switch (dsml.advance(block)) {
            case INCOMPLETE -> {
            }
            case COMPLETE -> {
                for (ToolCall call : dsml.calls()) {
                    events.add(new ParseEvent.ToolCallDone(toolCalls.size(), call));
                    toolCalls.add(call);
                }
                if (dsml.invalidValue() != null) {
                    flag(false, dsml.invalidValue());
                }
                pending.append(block, dsml.end(), block.length());
                state = State.AFTER_TOOL_CALLS;
            }
            case ERROR -> {
                flag(false, dsml.problem());
                emitContent(blockOpener + block);
                state = State.RAW;
            }
        }
    }

    /** The output is over; {@code eos} tells whether it ended with end-of-sentence or just stopped. */
    private void end(boolean eos) {
        switch (state) {
            case REASONING -> {
                emit(pending.toString());
                if (eos) {
                    flag(false, "end-of-sentence before </think>");
                } else {
                    flag(true, "the output stopped inside the reasoning (no </think>)");
                }
            }
            case CONTENT -> emit(pending.toString());
            case TOOL_CALLS -> {
                emitContent(blockOpener + block);
                if (eos) {
                    flag(false, "end-of-sentence inside an unclosed tool_calls block");
                } else {
                    flag(true, "the output stopped inside an unclosed tool_calls block");
                }
            }
            case AFTER_TOOL_CALLS, RAW, ENDED -> {
            }
        }
        pending.setLength(0);
        state = State.ENDED;
        if (!truncated && !malformed) {
            for (String token : FOREIGN_TOKENS) {
                if (reasoning.indexOf(token) >= 0 || content.indexOf(token) >= 0) {
                    flag(false, "special token " + token + " inside the text");
                    break;
                }
            }
        }
    }

    private void noteTextAfterEos(String text) {
        if (!text.isEmpty()) {
            flag(false, "text after end-of-sentence (ignored)");
        }
    }

    private void emit(String text) {
        if (state == State.REASONING) {
            if (!text.isEmpty()) {
                reasoning.append(text);
                events.add(new ParseEvent.ReasoningDelta(text));
            }
        } else {
            emitContent(text);
        }
    }

    private void emitContent(String text) {
        if (!text.isEmpty()) {
            content.append(text);
            events.add(new ParseEvent.ContentDelta(text));
        }
    }

    private void flag(boolean truncation, String why) {
        if (truncation) {
            truncated = true;
        } else {
            malformed = true;
        }
        if (problem == null) {
            problem = why;
        }
    }

    /**
     * How many trailing chars to hold back: the longest tail that is a proper start of a marker, and
     * a lone high surrogate, so a delta never ends in half a character.
     */
    private static int heldBack(StringBuilder text, String... markers) {
        int keep = 0;
        for (String m : markers) {
            for (int k = Math.min(text.length(), m.length() - 1); k > keep; k--) {
                if (m.startsWith(text.substring(text.length() - k))) {
                    keep = k;
                    break;
                }
            }
        }
        if (keep < text.length() && Character.isHighSurrogate(text.charAt(text.length() - keep - 1))) {
            keep++;
        }
        return keep;
    }
}
