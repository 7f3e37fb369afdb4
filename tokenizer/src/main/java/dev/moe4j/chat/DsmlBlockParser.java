package dev.moe4j.chat;

import static dev.moe4j.chat.V4Format.INVOKE_CLOSE;
import static dev.moe4j.chat.V4Format.INVOKE_OPEN;
import static dev.moe4j.chat.V4Format.PARAMETER_END;
import static dev.moe4j.chat.V4Format.PARAMETER_OPEN;
import static dev.moe4j.chat.V4Format.TOOL_CALLS_CLOSE;

import com.fasterxml.jackson.core.JsonProcessingException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.StringJoiner;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads one DSML tool-calls block with the official grammar ({@code parse_tool_calls}): between tags
 * exactly {@code ">\n"}, an invoke header matching {@code ^\s*name="(.*?)">\n$}, a parameter matching
 * {@code ^ name="(.*?)" string="(true|false)">(.*?)<$}, no repeated parameter names.
 *
 * <p>The block text grows while the model writes it; {@link #advance} resumes where it stopped and
 * never searches the same text twice, so feeding one character at a time stays linear.
 */
final class DsmlBlockParser {

    enum Status { INCOMPLETE, COMPLETE, ERROR }

    private enum Phase { BEFORE_INVOKE, INVOKE_HEADER, PARAMETER, AFTER_PARAMETER }

    // UNIX_LINES: '$' may match before one final '\n', as in Python; only '\n' counts as a line end there
    private static final Pattern HEADER = Pattern.compile("^\\s*name=\"(.*?)\">\n$",
            Pattern.DOTALL | Pattern.UNIX_LINES | Pattern.UNICODE_CHARACTER_CLASS);
    private static final Pattern PARAMETER = Pattern.compile("^ name=\"(.*?)\" string=\"(true|false)\">(.*?)<$",
            Pattern.DOTALL | Pattern.UNIX_LINES);
    private static final String GAP = ">\n";

    private record Match(int start, String stop) {
    }

    private record Value(String text, boolean isString) {
    }

    private Phase phase = Phase.BEFORE_INVOKE;
    private int pos;
    private int scanFrom;
    private String name;
    private Map<String, Value> args;
    private final List<ToolCall> calls = new ArrayList<>();
    private int end = -1;
    private String problem;
    private String invalidValue;

    /** Reads on through {@code text} (the block after its opening {@code <｜DSML｜tool_calls}, grown since the last call). */
    Status advance(StringBuilder text) {
        while (true) {
            switch (phase) {
                case BEFORE_INVOKE -> {
                    Match m = find(text, INVOKE_OPEN, TOOL_CALLS_CLOSE);
                    if (m == null) {
                        return unfinishedGap(text, INVOKE_OPEN, TOOL_CALLS_CLOSE);
                    }
                    if (!gapIsExact(text, m)) {
                        return badGap();
                    }
                    skip(m);
                    if (m.stop().equals(TOOL_CALLS_CLOSE)) {
                        end = pos;
                        return Status.COMPLETE;
                    }
                    phase = Phase.INVOKE_HEADER;
                }
                case INVOKE_HEADER -> {
                    Match m = find(text, PARAMETER_OPEN, INVOKE_CLOSE);
                    if (m == null) {
                        return Status.INCOMPLETE;
                    }
                    Matcher header = HEADER.matcher(text.substring(pos, m.start()));
                    if (!header.find()) {
                        return fail("bad invoke header '" + clip(text.substring(pos, m.start())) + "'");
                    }
                    name = header.group(1);
                    args = new LinkedHashMap<>();
                    skip(m);
                    phase = afterTag(m);
                }
                case PARAMETER -> {
                    Match m = find(text, PARAMETER_END);
                    if (m == null) {
                        return Status.INCOMPLETE;
                    }
                    Matcher p = PARAMETER.matcher(text.substring(pos, m.start()));
                    if (!p.find()) {
                        return fail("bad parameter '" + clip(text.substring(pos, m.start())) + "'");
                    }
                    if (args.containsKey(p.group(1))) {
                        return fail("parameter '" + p.group(1) + "' given twice in a call of '" + name + "'");
                    }
                    args.put(p.group(1), new Value(p.group(3), p.group(2).equals("true")));
                    skip(m);
                    phase = Phase.AFTER_PARAMETER;
                }
                case AFTER_PARAMETER -> {
                    Match m = find(text, PARAMETER_OPEN, INVOKE_CLOSE);
                    if (m == null) {
                        return unfinishedGap(text, PARAMETER_OPEN, INVOKE_CLOSE);
                    }
                    if (!gapIsExact(text, m)) {
                        return badGap();
                    }
                    skip(m);
                    phase = afterTag(m);
                }
            }
        }
    }

    /** The calls read so far (all of them once {@link Status#COMPLETE}). */
    List<ToolCall> calls() {
        return calls;
    }

    /** Where the block ended (just after its closing tag); valid once complete. */
    int end() {
        return end;
    }

    /** Why reading failed; valid after {@link Status#ERROR}. */
    String problem() {
        return problem;
    }

    /** A {@code string="false"} value that is not JSON (the call is kept, as the official code does), or null. */
    String invalidValue() {
        return invalidValue;
    }

    private Phase afterTag(Match m) {
        if (m.stop().equals(INVOKE_CLOSE)) {
            calls.add(new ToolCall(null, name, argumentsJson()));
            return Phase.BEFORE_INVOKE;
        }
        return Phase.PARAMETER;
    }

    /** The official {@code decode_dsml_to_arguments}: strings are JSON-quoted, other values go in verbatim. */
    private String argumentsJson() {
        StringJoiner json = new StringJoiner(", ", "{", "}");
        for (Map.Entry<String, Value> arg : args.entrySet()) {
            Value v = arg.getValue();
            if (!v.isString() && invalidValue == null && !isJson(v.text())) {
                invalidValue = "parameter '" + arg.getKey() + "' of '" + name + "' is marked string=\"false\" but is not JSON";
            }
            json.add(PyJson.quote(arg.getKey()) + ": " + (v.isString() ? PyJson.quote(v.text()) : v.text()));
        }
        return json.toString();
    }

    private static boolean isJson(String text) {
        try {
            PyJson.parse(text);
            return true;
        } catch (JsonProcessingException e) {
            return false;
        }
    }

    /**
     * The earliest of {@code stops} at or after {@link #pos} (the first listed wins a tie, as in the
     * official {@code _read_until_stop}), or null. Text already searched in vain is not searched again,
     * except for a tail that could still be the start of a stop.
     */
    private Match find(StringBuilder text, String... stops) {
        Match best = null;
        int longest = 0;
        for (String stop : stops) {
            int at = text.indexOf(stop, Math.max(pos, scanFrom));
            if (at >= 0 && (best == null || at < best.start())) {
                best = new Match(at, stop);
            }
            longest = Math.max(longest, stop.length());
        }
        if (best == null) {
            scanFrom = Math.max(pos, text.length() - longest + 1);
        }
        return best;
    }

    private void skip(Match m) {
        pos = m.start() + m.stop().length();
        scanFrom = pos;
    }

    private boolean gapIsExact(StringBuilder text, Match m) {
        return GAP.contentEquals(text.subSequence(pos, m.start()));
    }

    /** Between tags only {@code ">\n"} may come: give up as soon as the text cannot become that plus a tag. */
    private Status unfinishedGap(StringBuilder text, String... stops) {
        String gap = text.substring(pos);
        if (GAP.startsWith(gap)) {
            return Status.INCOMPLETE;
        }
        if (gap.startsWith(GAP)) {
            String tagStart = gap.substring(GAP.length());
            for (String stop : stops) {
                if (stop.startsWith(tagStart)) {
                    return Status.INCOMPLETE;
                }
            }
        }
        return badGap();
    }

    /** Says where, not what: fed piece by piece, less of the bad text may be known when it is seen. */
    private Status badGap() {
        return fail("expected '>\\n' between tags at offset " + pos + " of the block");
    }

    private Status fail(String why) {
        problem = "tool_calls block: " + why;
        return Status.ERROR;
    }

    private static String clip(String s) {
        String oneLine = s.replace("\n", "\\n");
        return oneLine.length() <= 60 ? oneLine : oneLine.substring(0, 60) + "…";
    }
}
