package dev.moe4j.chat;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The official encoder's rewrites of a conversation before rendering. V4 has no tool role in its
 * token stream: tool results travel inside user turns, in the order the assistant made the calls,
 * and reasoning from finished turns is left out of the history.
 */
final class TurnRewrites {

    /**
     * Folds tool messages into user turns: a tool result joins the user turn just before it (or
     * starts one), and a user message right after a task-free user turn joins it too. As in the
     * official code, the joining message's own task is lost.
     */
    static List<Turn> mergeToolResults(List<Turn> turns) {
        List<Turn> merged = new ArrayList<>(turns.size());
        for (Turn turn : turns) {
            Turn last = merged.isEmpty() ? null : merged.getLast();
            switch (turn) {
                case Turn.ToolOutput t -> {
                    Turn.Block block = Turn.Block.ofToolResult(t.content(), t.toolCallId());
                    if (last instanceof Turn.User u) {
                        merged.set(merged.size() - 1, new Turn.User(append(u.blocks(), List.of(block)), u.task()));
                    } else {
                        merged.add(new Turn.User(List.of(block), null));
                    }
                }
                case Turn.User u when last instanceof Turn.User prev && prev.task() == null ->
                        merged.set(merged.size() - 1, new Turn.User(append(prev.blocks(), u.blocks()), null));
                default -> merged.add(turn);
            }
        }
        return merged;
    }

    /**
     * Reorders the tool results inside each user turn by the position of their call in the latest
     * assistant turn that made calls; results with an unknown id sort as position 0 (stable).
     */
    static List<Turn> sortToolResults(List<Turn> turns) {
        List<Turn> sorted = new ArrayList<>(turns.size());
        Map<String, Integer> callOrder = Map.of();
        for (Turn turn : turns) {
            if (turn instanceof Turn.Assistant a && !a.calls().isEmpty()) {
                Map<String, Integer> order = new HashMap<>();
                for (int i = 0; i < a.calls().size(); i++) {
                    if (!a.calls().get(i).id().isEmpty()) {
                        order.put(a.calls().get(i).id(), i);
                    }
                }
                callOrder = order;
            } else if (turn instanceof Turn.User u && !callOrder.isEmpty()) {
                turn = new Turn.User(sortResults(u.blocks(), callOrder), u.task());
            }
            sorted.add(turn);
        }
        return sorted;
    }

    private static List<Turn.Block> sortResults(List<Turn.Block> blocks, Map<String, Integer> callOrder) {
        List<Turn.Block> results = new ArrayList<>(blocks.stream().filter(Turn.Block::toolResult).toList());
        if (results.size() < 2) {
            return blocks;
        }
        results.sort(Comparator.comparingInt(b -> callOrder.getOrDefault(b.toolUseId(), 0)));
        List<Turn.Block> out = new ArrayList<>(blocks.size());
        int next = 0;
        for (Turn.Block b : blocks) {
            out.add(b.toolResult() ? results.get(next++) : b);
        }
        return out;
    }

    /**
     * drop_thinking: developer turns before the last user/developer turn disappear. (The official
     * code also strips earlier assistants' reasoning here, but the renderer never shows reasoning
     * before the last user turn while dropping is on, so that part changes no byte.)
     */
    static List<Turn> dropThinking(List<Turn> turns) {
        int lastUser = lastUserIndex(turns);
        List<Turn> kept = new ArrayList<>(turns.size());
        for (int i = 0; i < turns.size(); i++) {
            if (!(turns.get(i) instanceof Turn.Developer) || i >= lastUser) {
                kept.add(turns.get(i));
            }
        }
        return kept;
    }

    /** Index of the last user or developer turn, -1 if none. */
    static int lastUserIndex(List<Turn> turns) {
        for (int i = turns.size() - 1; i >= 0; i--) {
            if (turns.get(i) instanceof Turn.User || turns.get(i) instanceof Turn.Developer) {
                return i;
            }
        }
        return -1;
    }

    private static <T> List<T> append(List<T> a, List<T> b) {
        List<T> out = new ArrayList<>(a.size() + b.size());
        out.addAll(a);
        out.addAll(b);
        return List.copyOf(out);
    }

    private TurnRewrites() {
    }
}
