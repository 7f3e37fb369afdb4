package dev.moe4j.model;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The Sinkhorn split of mHC coefficients vs kernels.json (float64 there and here). */
class MhcTest {

    @Test
    void sinkhornCases() {
        JsonNode cases = KernelGoldens.section("mhc").get("cases");
        for (JsonNode c : cases) {
            double[] pre = new double[4], post = new double[4], comb = new double[16];
            Mhc.split(KernelGoldens.floats(c.get("mixes")), 0, KernelGoldens.floats(c.get("hc_scale")),
                    KernelGoldens.floats(c.get("hc_base")), 4, c.get("iters").asInt(), c.get("eps").asDouble(),
                    pre, post, 0, comb, 0);
            double[] wantPre = KernelGoldens.doubles(c.get("pre")), wantPost = KernelGoldens.doubles(c.get("post"));
            // inputs enter as float32 (what the model stores), so agreement is to float32 precision
            for (int j = 0; j < 4; j++) {
                assertEquals(wantPre[j], pre[j], 1e-6, "pre " + j);
                assertEquals(wantPost[j], post[j], 1e-6, "post " + j);
                double[] row = KernelGoldens.doubles(c.get("comb").get(j));
                for (int k = 0; k < 4; k++) {
                    assertEquals(row[k], comb[j * 4 + k], 1e-6, "comb " + j + "," + k);
                }
            }
            // dossier §7.14: rows and columns of C sum to ~1 after 20 iterations
            for (int j = 0; j < 4; j++) {
                double rs = 0, cs = 0;
                for (int k = 0; k < 4; k++) {
                    rs += comb[j * 4 + k];
                    cs += comb[k * 4 + j];
                }
                assertEquals(1, rs, 1e-4);
                assertEquals(1, cs, 1e-5);
            }
        }
    }
}
