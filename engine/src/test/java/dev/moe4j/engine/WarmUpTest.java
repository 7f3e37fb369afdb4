package dev.moe4j.engine;

import dev.moe4j.model.ModelSource;
import dev.moe4j.testkit.Fixtures;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

class WarmUpTest {

    private static Engine load(int maxContext) {
        return Engine.load(ModelSource.checkpoint(Fixtures.dir("fixtures/v4-tiny")),
                Engine.Options.defaults().withMaxContext(maxContext));
    }

    /** The warm-up shares nothing with later calls: the same prompt gives the same tokens as on a fresh engine. */
    @Test
    void leavesNothingBehind() {
        int[] prompt = {0, 17, 4, 90, 33, 5, 61};
        GenerationParams p = new GenerationParams(12, 0.8f, 0.95f, 40, 1234, true);
        int[] fresh;
        try (Engine e = load(4096)) {
            fresh = e.generate(prompt, p);
        }
        try (Engine e = load(4096)) {
            e.warmUp();
            assertArrayEquals(fresh, e.generate(prompt, p));
        }
        assertEquals(12, fresh.length);
    }

    /** A context too short for the whole warm-up generation shortens it rather than failing. */
    @Test
    void fitsAShortContext() {
        for (int ctx : new int[] {1, 2, 17, 40}) {
            try (Engine e = load(ctx)) {
                e.warmUp();
                // then the whole context is still there for a request: one prompt token, ctx - 1 generated
                int[] out = e.generate(new int[] {0}, new GenerationParams(ctx - 1, 0f, 1f, 0, 0, true));
                assertEquals(ctx - 1, out.length, "context " + ctx);
            }
        }
    }
}
