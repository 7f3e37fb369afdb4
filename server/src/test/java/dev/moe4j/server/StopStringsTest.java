package dev.moe4j.server;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class StopStringsTest {

    @Test
    void aStopStringSplitAcrossPiecesIsNeverReleased() {
        Generation.StopStrings s = new Generation.StopStrings(List.of("END", "xy"));
        assertEquals("abc ", s.push("abc E"));
        assertEquals("", s.push("N"));
        assertEquals("", s.push("D and more"));
        assertTrue(s.matched());
        assertEquals("", s.flush("tail"));
    }

    @Test
    void heldTextComesOutWhenItTurnsOutHarmless() {
        Generation.StopStrings s = new Generation.StopStrings(List.of("END"));
        assertEquals("a", s.push("aEN"));
        assertEquals("ENx", s.push("x"));
        assertEquals("", s.push("E"));
        assertEquals("", s.push(""));
        assertEquals("Eb", s.flush("b"));
        assertFalse(s.matched());
    }

    @Test
    void theEarliestStopWins() {
        Generation.StopStrings s = new Generation.StopStrings(List.of("bc", "ab"));
        assertEquals("x", s.push("xabc"));
        assertTrue(s.matched());
    }

    @Test
    void withoutStopsTextPassesThrough() {
        Generation.StopStrings s = new Generation.StopStrings(List.of());
        assertEquals("anything", s.push("anything"));
        assertEquals("", s.flush(""));
    }
}
