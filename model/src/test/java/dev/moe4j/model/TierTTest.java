package dev.moe4j.model;

import dev.moe4j.testkit.Fixtures;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Tier T of the fixture README: each sub-layer fed the reference's own input ({@code golden/trace},
 * prompt p1_len60, prefill) must reproduce the reference's output. Official numerics in float32:
 * ≥ 90 % of elements bit-identical and every row within 2e-2 relative error; float numerics: relative
 * error ≤ 1e-5 per row.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class TierTTest {

    private Path trace;
    private int[] tokens;
    private int[] mtpIds;
    private ModelSource src;
    private V4Model official, plain;

    @BeforeAll
    void load() throws IOException {
        Path dir = Fixtures.dir("fixtures/v4-tiny");
        trace = dir.resolve("golden/trace");
        JsonNode p = new ObjectMapper().readTree(dir.resolve("golden/golden.json").toFile()).get("prompts").get(1);
        tokens = ints(p.get("tokens"));
        src = ModelSource.checkpoint(dir);
        official = V4Model.load(src.tensors(), src.config(), Numerics.OFFICIAL, 64);
        plain = V4Model.load(src.tensors(), src.config(), Numerics.FLOAT, 64);
        mtpIds = ints(p.get("official").get("mtp").get("input_ids"));
    }

    @AfterAll
    void close() {
        src.close();
    }

    static int[] ints(JsonNode a) {
        int[] r = new int[a.size()];
        for (int i = 0; i < r.length; i++) r[i] = a.get(i).asInt();
        return r;
    }

    private float[] read(String name) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(trace.resolve(name))).order(ByteOrder.LITTLE_ENDIAN);
        float[] f = new float[b.remaining() / 4];
        b.asFloatBuffer().get(f);
        return f;
    }

    @ParameterizedTest(name = "{0} L{1} {2}")
    @CsvSource({
            "official,0,attn", "official,1,attn", "official,2,attn", "official,3,attn", "official,4,attn",
            "official,0,ffn", "official,1,ffn", "official,2,ffn", "official,3,ffn", "official,4,ffn",
            "float,0,attn", "float,1,attn", "float,2,attn", "float,3,attn", "float,4,attn",
            "float,0,ffn", "float,1,ffn", "float,2,ffn", "float,3,ffn", "float,4,ffn"})
    void subLayer(String mode, int layer, String site) throws IOException {
        V4Model m = mode.equals("official") ? official : plain;
        float[] in = read(mode + ".L" + layer + "." + site + "_in.f32");
        float[] want = read(mode + ".L" + layer + "." + site + "_out.f32");
        int d = m.config().dim(), n = in.length / d;
        float[] got = new float[n * d];
        if (site.equals("attn")) {
            m.attentionSublayer(layer, in, n, m.newState(256), got);
        } else {
            m.moeSublayer(layer, in, n, layer < m.config().nLayers() ? tokens : mtpIds, got);
        }
        int same = 0;
        double worstRow = 0;
        for (int t = 0; t < n; t++) {
            double diff = 0, norm = 0;
            for (int i = 0; i < d; i++) {
                int k = t * d + i;
                same += Float.floatToIntBits(got[k]) == Float.floatToIntBits(want[k]) ? 1 : 0;
                diff = Math.max(diff, Math.abs(got[k] - want[k]));
                norm = Math.max(norm, Math.abs(want[k]));
            }
            worstRow = Math.max(worstRow, diff / Math.max(norm, 1e-30));
        }
        double identical = same / (double) (n * d);
        System.out.printf("tier T %s L%d %s: %.1f%% bit-identical, worst row relative error %.3g%n", mode, layer, site,
                100 * identical, worstRow);
        if (mode.equals("official")) {
            assertTrue(identical >= 0.90, "bit-identical fraction " + identical);
            assertTrue(worstRow <= 2e-2, "worst row relative error " + worstRow);
        } else {
            assertTrue(worstRow <= 1e-5, "worst row relative error " + worstRow);
        }
    }
}
