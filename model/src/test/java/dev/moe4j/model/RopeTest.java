package dev.moe4j.model;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** RoPE frequencies (with and without YaRN), angle tables and the interleaved rotation vs kernels.json. */
class RopeTest {

    private static void checkTable(Rope r, JsonNode s) {
        JsonNode hex = s.get("freqs_f32_hex");
        for (int i = 0; i < hex.size(); i++) {
            int want = Integer.parseUnsignedInt(hex.get(i).asText().substring(2), 16);
            assertEquals(want, Float.floatToIntBits(r.freq(i)), "freq " + i);
        }
        JsonNode pos = s.get("positions");
        float[] cs = new float[r.dims()];
        for (int p = 0; p < pos.size(); p++) {
            r.table(pos.get(p).asLong(), cs, 0);
            double[] cos = KernelGoldens.doubles(s.get("cos_f32").get(p)), sin = KernelGoldens.doubles(s.get("sin_f32").get(p));
            for (int i = 0; i < cos.length; i++) {
                // exact: float32 of the correctly rounded cos/sin of a float32 angle
                assertEquals((float) cos[i], cs[2 * i], "cos pos " + pos.get(p) + " pair " + i);
                assertEquals((float) sin[i], cs[2 * i + 1], "sin pos " + pos.get(p) + " pair " + i);
            }
        }
    }

    @Test
    void yarnTable() {
        JsonNode s = KernelGoldens.section("rope").get("theta_160000_yarn");
        checkTable(new Rope(64, 160000, 65536, 16, 32, 1), s);
    }

    @Test
    void plainTable() {
        JsonNode s = KernelGoldens.section("rope").get("theta_10000_no_yarn");
        checkTable(new Rope(64, 10000, 0, 1, 32, 1), s);
    }

    @Test
    void rotationAndInverse() {
        JsonNode s = KernelGoldens.section("rope");
        JsonNode ex = s.get("apply_example");
        Rope r = new Rope(64, 160000, 65536, 16, 32, 1);
        float[] cs = new float[64];
        r.table(5, cs, 0);                                                  // the fixture rotates at position 5
        float[] x = KernelGoldens.floats(ex.get("x"));
        Rope.rotate(x, 0, cs, 0, 64, false);
        double[] want = KernelGoldens.doubles(ex.get("rotated"));
        for (int i = 0; i < 64; i++) {
            assertEquals(want[i], x[i], 1e-5 * Math.max(1, Math.abs(want[i])), "rotated " + i);
        }
        Rope.rotate(x, 0, cs, 0, 64, true);
        double[] back = KernelGoldens.doubles(ex.get("inverse_of_rotated"));
        for (int i = 0; i < 64; i++) {
            assertEquals(back[i], x[i], 1e-5 * Math.max(1, Math.abs(back[i])), "inverse " + i);
        }
    }
}
