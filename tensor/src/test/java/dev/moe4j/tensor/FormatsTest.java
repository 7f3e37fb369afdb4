package dev.moe4j.tensor;

import static dev.moe4j.tensor.Fixtures.floats;
import static dev.moe4j.tensor.Fixtures.num;
import static dev.moe4j.tensor.Fixtures.section;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;

import org.junit.jupiter.api.Test;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * {@link Formats} against the kernels.json fixture (exact: every value there is a float32 value and every rule
 * is exact in float32, except the Hadamard sums) and against fixture-free invariants.
 * {@code assertEquals(float, float)} compares bit patterns (−0 ≠ +0, NaN = NaN).
 */
class FormatsTest {

    @Test
    void e4m3DecodeTable() {
        JsonNode table = section("e4m3fn").get("decode_table");
        assertEquals(256, table.size());
        for (int c = 0; c < 256; c++) {
            assertEquals((float) num(table.get(c)), Formats.e4m3ToFloat(c), "code " + c);
        }
    }

    @Test
    void e4m3EncodeSatfinite() {
        JsonNode cases = section("e4m3fn").get("encode_cases");
        assertTrue(cases.size() > 30);
        for (JsonNode c : cases) {
            float x = Float.intBitsToFloat(Fixtures.hexInt(c.get("x_f32_hex")));
            assertEquals(c.get("code_satfinite").asInt(), Formats.floatToE4m3(x), "code of " + x);
            assertEquals((float) num(c.get("value_satfinite")), Formats.e4m3Round(x), "value of " + x);
        }
    }

    @Test
    void e4m3EncodeInvertsDecodeOnAll254FiniteCodes() {
        int n = 0;
        for (int c = 0; c < 256; c++) {
            if ((c & 0x7F) != 0x7F) {
                assertEquals(c, Formats.floatToE4m3(Formats.e4m3ToFloat(c)), "code " + c);
                n++;
            }
        }
        assertEquals(254, n);
    }

    @Test
    void e2m1TableAndEncode() {
        JsonNode s = section("e2m1");
        float[] table = floats(s.get("decode_table"));
        assertEquals(16, table.length);
        for (int c = 0; c < 16; c++) {
            assertEquals(table[c], Formats.e2m1ToFloat(c), "code " + c);
            assertEquals(c, Formats.floatToE2m1(table[c]), "re-encode of code " + c);
        }
        for (JsonNode c : s.get("encode_cases")) {
            float x = (float) num(c.get("x"));
            assertEquals(c.get("code").asInt(), Formats.floatToE2m1(x), "code of " + x);
            assertEquals((float) num(c.get("value")), Formats.e2m1Round(x), "value of " + x);
        }
    }

    @Test
    void e8m0Decode() {
        for (JsonNode c : section("e8m0").get("cases")) {
            int b = c.get("byte").asInt();
            assertEquals((float) num(c.get("value")), Formats.e8m0ToFloat(b), "byte " + b);
        }
        for (int b = 0; b < 255; b++) {
            assertEquals(Math.scalb(1.0, b - 127), Formats.e8m0ToFloat(b), 0.0, "byte " + b);
        }
        assertTrue(Float.isNaN(Formats.e8m0ToFloat(255)));
    }

    @Test
    void bf16RoundToNearestEven() {
        for (JsonNode c : section("bf16").get("cases")) {
            float x = Float.intBitsToFloat(Fixtures.hexInt(c.get("f32_hex")));
            short bits = (short) Fixtures.hexInt(c.get("bf16_hex"));
            assertEquals(bits, Formats.floatToBf16(x), "bf16 of " + Integer.toHexString(Float.floatToRawIntBits(x)));
            assertEquals((float) num(c.get("value")), Formats.bf16Round(x));
            assertEquals((float) num(c.get("value")), Formats.bf16ToFloat(bits));
        }
    }

    @Test
    void bf16RoundTripsEveryPattern() {
        for (int b = 0; b < 0x10000; b++) {
            float f = Formats.bf16ToFloat((short) b);
            if (Float.isNaN(f)) {
                assertTrue(Float.isNaN(Formats.bf16ToFloat(Formats.floatToBf16(f))), "NaN pattern " + b);
            } else {
                assertEquals((short) b, Formats.floatToBf16(f), "pattern " + Integer.toHexString(b));
            }
        }
    }

    /** Random float bits against an independent oracle: the nearer of the two bf16 neighbours, ties to even. */
    @Test
    void bf16RoundsRandomBitsToNearestEven() {
        Random rnd = new Random(7);
        for (int i = 0; i < 1_000_000; i++) {
            int bits = i < 1000 ? (rnd.nextInt() & 0xFFFF0000) | 0x8000 : rnd.nextInt();   // some exact ties
            float x = Float.intBitsToFloat(bits);
            if (!Float.isFinite(x)) {
                continue;
            }
            int down = bits & 0xFFFF0000, up = down + 0x10000;     // truncation and the next pattern away from 0
            double dDown = Math.abs((double) x - Formats.bf16ToFloat((short) (down >>> 16)));
            double upValue = (up & 0x7F800000) == 0x7F800000 ? Math.copySign(0x1p128, x)
                    : Formats.bf16ToFloat((short) (up >>> 16));   // past the largest bf16: round as to 2^128
            double dUp = Math.abs(upValue - x);
            int want = dDown < dUp || (dDown == dUp && ((down >>> 16) & 1) == 0) ? down : up;
            assertEquals((short) (want >>> 16), Formats.floatToBf16(x), "bits " + Integer.toHexString(bits));
        }
    }

    @Test
    void pow2Scale() {
        JsonNode s = section("pow2_scale");
        for (JsonNode c : s.get("fp8")) {
            float amax = (float) num(c.get("amax"));
            assertEquals((float) num(c.get("scale")), Formats.pow2Scale(amax, Formats.E4M3_MAX, Formats.FP8_AMAX_FLOOR),
                    "fp8 amax " + amax);
        }
        for (JsonNode c : s.get("fp4")) {
            float amax = (float) num(c.get("amax"));
            assertEquals((float) num(c.get("scale")), Formats.pow2Scale(amax, Formats.E2M1_MAX, Formats.FP4_AMAX_FLOOR),
                    "fp4 amax " + amax);
        }
    }

    @Test
    void fp8ActQuantBlock128() {
        for (JsonNode c : section("fp8_act_quant_block128").get("cases")) {
            String name = c.get("name").asText();
            float[] x = floats(c.get("x"));
            float[] scales = floats(c.get("scales"));
            assertEquals(x.length / 128, scales.length);
            for (int b = 0; b < scales.length; b++) {
                float amax = 0f;
                for (int i = b * 128; i < (b + 1) * 128; i++) {
                    amax = Math.max(amax, Math.abs(x[i]));
                }
                float s = Formats.pow2Scale(amax, Formats.E4M3_MAX, Formats.FP8_AMAX_FLOOR);
                assertEquals(scales[b], s, name + " scale of block " + b);
                for (int i = b * 128; i < (b + 1) * 128; i++) {
                    assertEquals(c.get("codes").get(i).asInt(), Formats.floatToE4m3(x[i] / s), name + " code " + i);
                }
            }
            float[] q = x.clone();
            Formats.fp8FakeQuant(q, 0, q.length, 128);
            assertArrayEquals(floats(c.get("fake_quant")), q, name);
        }
    }

    @Test
    void fp8KvFakeQuantBlock64() {
        for (JsonNode c : section("fp8_kv_fake_quant_block64").get("cases")) {
            float[] x = floats(c.get("x"));
            float[] scales = floats(c.get("scales"));
            assertEquals(x.length / 64, scales.length);
            float[] q = x.clone();
            Formats.fp8FakeQuant(q, 0, q.length, 64);
            float[] want = floats(c.get("fake_quant"));
            assertArrayEquals(want, q);
            float[] stored = q.clone();
            Formats.bf16Round(stored, 0, stored.length);
            assertArrayEquals(q, stored, "e4m3 · 2^k must be exact in bf16");
        }
    }

    @Test
    void fp4FakeQuantBlock32() {
        for (JsonNode c : section("fp4_fake_quant_block32").get("cases")) {
            float[] q = floats(c.get("x"));
            Formats.fp4FakeQuant(q, 0, q.length, 32);
            assertArrayEquals(floats(c.get("fake_quant")), q);
        }
    }

    /**
     * The fixture is the float64 transform of float64 inputs; ours rounds the input to float32 and each of the
     * log2(n) butterfly levels and the final scaling round once more, each by at most 2^-24 relative to
     * Σ|x|/√n (no partial sum exceeds Σ|x|). With log2(n) ≤ 7 that is ≤ 9 · 2^-24 · Σ|x|/√n; we allow 16.
     */
    @Test
    void hadamard() {
        JsonNode s = section("hadamard");
        for (String key : new String[] {"n8", "n128"}) {
            double[] x = Fixtures.doubles(s.get(key).get("x"));
            double[] y = Fixtures.doubles(s.get(key).get("y"));
            int n = x.length;
            float[] v = new float[n + 3];                    // at an offset, guarding the neighbours
            double sumAbs = 0;
            for (int i = 0; i < n; i++) {
                v[i + 2] = (float) x[i];
                sumAbs += Math.abs(x[i]);
            }
            Formats.hadamard(v, 2, n);
            double tol = 16 * 0x1p-24 * sumAbs / Math.sqrt(n);
            for (int i = 0; i < n; i++) {
                assertEquals(y[i], v[i + 2], tol, key + " element " + i);
            }
            assertEquals(0f, v[0]);
            assertEquals(0f, v[1]);
            assertEquals(0f, v[n + 2]);
        }
        assertThrows(IllegalArgumentException.class, () -> Formats.hadamard(new float[12], 0, 12));
    }
}
