package dev.moe4j.engine;

import dev.moe4j.testkit.Fixtures;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.moe4j.model.ModelSource;
import dev.moe4j.model.Numerics;
import dev.moe4j.model.V4Model;
import dev.moe4j.model.V4State;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * End to end against the independent reference's goldens ({@code shared/fixtures/v4-tiny*}/golden).
 * Tier C: float numerics, every compared logit within 5e-4, both paths, greedy tokens exact.
 * Tier B: official numerics in float32, rel-rms ≤ 0.35 and top-1 agreement ≥ 0.6 per prompt.
 * Tier C also holds on the scalar reference kernels ({@code --reference}), checked on one prompt.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class GoldenTest {

    private static final double TOL_C = 5e-4;
    private static final String[] CHECKPOINTS = {"fixtures/v4-tiny", "fixtures/v4-tiny-base"};
    private final Map<String, Engine> engines = new HashMap<>();
    private final Map<String, JsonNode> goldens = new HashMap<>();

    @BeforeAll
    void load() throws IOException {
        for (String ck : CHECKPOINTS) {
            Path dir = Fixtures.dir(ck);
            goldens.put(ck, new ObjectMapper().readTree(dir.resolve("golden/golden.json").toFile()));
            for (Numerics n : new Numerics[]{Numerics.FLOAT, Numerics.OFFICIAL}) {
                engines.put(ck + n.name(), Engine.load(ModelSource.checkpoint(dir),
                        Engine.Options.defaults().withNumerics(n).withMaxContext(512)));
            }
        }
    }

    @AfterAll
    void close() {
        engines.values().forEach(Engine::close);
    }

    Stream<Arguments> prompts() throws IOException {
        List<Arguments> out = new ArrayList<>();
        for (String ck : CHECKPOINTS) {
            JsonNode g = new ObjectMapper().readTree(Fixtures.dir(ck).resolve("golden/golden.json").toFile());
            for (int i = 0; i < g.get("prompts").size(); i++) {
                for (String path : new String[]{"prefill", "decode"}) {
                    out.add(Arguments.of(ck, i, path));
                }
            }
        }
        return out.stream();
    }

    /** Logits at every position (prefill in one call, or decode one token per call) and the final streams. */
    record Run(float[] logits, float[] h, int n, int v) {
        float[] row(int t) {
            float[] r = new float[v];
            System.arraycopy(logits, t * v, r, 0, v);
            return r;
        }
    }

    static Run run(Engine e, int[] ids, String path) {
        V4Model m = e.model();
        int v = e.config().vocabSize(), n = ids.length, hcD = e.config().hcMult() * e.config().dim();
        float[] logits = new float[n * v], h = new float[n * hcD];
        V4State st = e.newState();
        if (path.equals("prefill")) {
            m.forward(ids, n, st, logits, true, h);
        } else {
            float[] step = new float[v], hs = new float[hcD];
            for (int t = 0; t < n; t++) {
                m.forward(new int[]{ids[t]}, 1, st, step, false, hs);
                System.arraycopy(step, 0, logits, t * v, v);
                System.arraycopy(hs, 0, h, t * hcD, hcD);
            }
        }
        return new Run(logits, h, n, v);
    }

    static int[] ints(JsonNode a) {
        int[] r = new int[a.size()];
        for (int i = 0; i < r.length; i++) r[i] = a.get(i).asInt();
        return r;
    }

    static double[] doubles(JsonNode a) {
        double[] r = new double[a.size()];
        for (int i = 0; i < r.length; i++) r[i] = a.get(i).asDouble();
        return r;
    }

    static double maxAbs(float[] got, double[] want) {
        assertEquals(want.length, got.length, "vocabulary size");
        double m = 0;
        for (int i = 0; i < want.length; i++) m = Math.max(m, Math.abs(got[i] - want[i]));
        return m;
    }

    /** Indices of the 10 largest values, descending (ties: lower id first). */
    static int[] top10(float[] x) {
        Integer[] idx = new Integer[x.length];
        for (int i = 0; i < x.length; i++) idx[i] = i;
        Arrays.sort(idx, (a, b) -> x[a] != x[b] ? Float.compare(x[b], x[a]) : Integer.compare(a, b));
        int[] r = new int[10];
        for (int i = 0; i < 10; i++) r[i] = idx[i];
        return r;
    }

    @ParameterizedTest(name = "tier C {0} prompt {1} {2}")
    @MethodSource("prompts")
    void tierC(String ck, int prompt, String path) {
        checkTierC(engines.get(ck + "float"), ck, prompt, path);
    }

    /** Tier C on the scalar kernels of {@code Engine.Options.reference}: one short prompt, as they are slow. */
    @Test
    void tierCOnTheReferenceKernels() throws IOException {
        String ck = CHECKPOINTS[0];
        Engine.Options o = Engine.Options.defaults().withNumerics(Numerics.FLOAT).withMaxContext(512).withReference(true);
        try (Engine ref = Engine.load(ModelSource.checkpoint(Fixtures.dir(ck)), o)) {
            checkTierC(ref, ck, 0, "prefill");
            // and the reference kernels are what ran: their float sums round differently from the vector ones'
            int[] ids = ints(goldens.get(ck).get("prompts").get(0).get("tokens"));
            assertFalse(Arrays.equals(run(ref, ids, "prefill").logits(),
                    run(engines.get(ck + "float"), ids, "prefill").logits()), "bit-identical to the vector kernels");
        }
    }

    private void checkTierC(Engine e, String ck, int prompt, String path) {
        JsonNode p = goldens.get(ck).get("prompts").get(prompt), f = p.get("float");
        int[] ids = ints(p.get("tokens"));
        Run r = run(e, ids, path);
        double worst = maxAbs(r.row(r.n - 1), doubles(f.get("prefill").get("last_logits")));
        for (int t = 0; t < r.n; t++) {
            float[] row = r.row(t);
            int[] got = top10(row);
            double[] want = doubles(f.get("prefill").get("top10_logits").get(t));
            int[] wantIds = ints(f.get("prefill").get("top10_ids").get(t));
            for (int k = 0; k < 10; k++) {
                worst = Math.max(worst, Math.abs(row[got[k]] - want[k]));
                boolean separated = (k == 0 || want[k - 1] - want[k] > 1e-3) && (k == 9 || want[k] - want[k + 1] > 1e-3);
                if (separated) {
                    assertEquals(wantIds[k], got[k], ck + " " + p.get("name").asText() + " " + path + " position " + t + " rank " + k);
                }
            }
        }
        // MTP over the prompt's final streams with ids tokens[1:] + [greedy next]
        int[] next = ints(f.get("mtp").get("input_ids"));
        float[] mtp = new float[r.v];
        e.model().mtpForward(r.h, next, r.n, e.newState(), mtp, false);
        worst = Math.max(worst, maxAbs(mtp, doubles(f.get("mtp").get("last_logits"))));
        System.out.printf("tier C %s %s %s: max |logit diff| = %.3g%n", ck, p.get("name").asText(), path, worst);
        assertTrue(worst <= TOL_C, "max logit difference " + worst + " > " + TOL_C);
    }

    @ParameterizedTest(name = "greedy {0} prompt {1} {2}")
    @MethodSource("prompts")
    void greedyTierC(String ck, int prompt, String path) {
        if (path.equals("decode")) {
            return;                                                              // one greedy run per prompt is enough
        }
        JsonNode p = goldens.get(ck).get("prompts").get(prompt), g = p.get("float").get("greedy");
        int[] want = ints(g.get("tokens"));
        int[] got = engines.get(ck + "float").generate(ints(p.get("tokens")),
                new GenerationParams(want.length, 0f, 1f, 0, 0, true));
        assertArrayEquals(want, got, ck + " " + p.get("name").asText());
    }

    @ParameterizedTest(name = "tier B {0} prompt {1} {2}")
    @MethodSource("prompts")
    void tierB(String ck, int prompt, String path) {
        JsonNode p = goldens.get(ck).get("prompts").get(prompt), o = p.get("official");
        Run r = run(engines.get(ck + "official"), ints(p.get("tokens")), path);
        double[] want = doubles(o.get("prefill").get("last_logits"));
        float[] got = r.row(r.n - 1);
        double num = 0, den = 0;
        for (int i = 0; i < want.length; i++) {
            num += (got[i] - want[i]) * (got[i] - want[i]);
            den += want[i] * want[i];
        }
        double relRms = Math.sqrt(num / den);
        int agree = 0;
        for (int t = 0; t < r.n; t++) {
            agree += top10(r.row(t))[0] == o.get("prefill").get("top10_ids").get(t).get(0).asInt() ? 1 : 0;
        }
        double top1 = agree / (double) r.n;
        System.out.printf("tier B %s %s %s: rel-rms = %.4f, top-1 = %.3f%n", ck, p.get("name").asText(), path, relRms, top1);
        assertTrue(relRms <= 0.35, "rel-rms " + relRms);
        assertTrue(top1 >= 0.6, "top-1 agreement " + top1);
    }
}
