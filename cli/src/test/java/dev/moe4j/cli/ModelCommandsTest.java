package dev.moe4j.cli;

import dev.moe4j.testkit.Fixtures;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The model commands' contract: inspect, logits, generate. */
class ModelCommandsTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void inspectFlashConfigOnly() throws Exception {
        CliRun r = CliRun.of("inspect", "--model", Fixtures.dir("fixtures/configs/v4-flash").toString(), "--json");
        assertEquals(0, r.exit(), r.err());
        JsonNode j = JSON.readTree(r.out());
        assertEquals(69_187, j.get("tensors").asLong());
        assertEquals(284.33, j.get("parameters").asLong() / 1e9, 0.005);
        assertEquals(13.27, j.get("activated_parameters").asLong() / 1e9, 0.005);
        assertEquals(6.61, j.get("mtp_parameters").asLong() / 1e9, 0.005);
        // fp8_ds_mla layout, dossier §7.11: 21·(584+68)/4 + 20·584/128
        assertEquals(3514.25, j.get("kv_bytes_per_token_fp8_layout").asDouble(), 1e-9);
        assertEquals(0, j.get("tensors_in_files").asLong());
    }

    @Test
    void inspectPro() throws Exception {
        CliRun r = CliRun.of("inspect", "--model", Fixtures.dir("fixtures/configs/v4-pro").toString(), "--json");
        assertEquals(0, r.exit(), r.err());
        JsonNode j = JSON.readTree(r.out());
        assertEquals(145_116, j.get("tensors").asLong());
        assertEquals(1573.0, j.get("parameters").asLong() / 1e9, 0.05);
        assertEquals(48.85, j.get("activated_parameters").asLong() / 1e9, 0.005);
    }

    @Test
    void logitsMatchGoldenInFloatMode(@TempDir Path tmp) throws Exception {
        Path ck = Fixtures.dir("fixtures/v4-tiny");
        JsonNode p = JSON.readTree(ck.resolve("golden/golden.json").toFile()).get("prompts").get(0);
        StringBuilder ids = new StringBuilder();
        for (JsonNode t : p.get("tokens")) ids.append(ids.isEmpty() ? "" : ",").append(t.asInt());
        Path out = tmp.resolve("l.json");
        CliRun r = CliRun.of("logits", "--model", ck.toString(), "--tokens", ids.toString(), "--numerics", "float",
                "--path", "decode", "--out", out.toString());
        assertEquals(0, r.exit(), r.err());
        JsonNode j = JSON.readTree(out.toFile());
        assertEquals(p.get("tokens").size(), j.get("tokens").size());
        assertEquals(p.get("tokens").size() - 1, j.get("positions").get(0).asInt());
        JsonNode want = p.get("float").get("prefill").get("last_logits"), got = j.get("logits").get(0);
        JsonNode wantMtp = p.get("float").get("mtp").get("last_logits"), gotMtp = j.get("mtp_logits");
        assertEquals(want.size(), got.size());
        for (int i = 0; i < want.size(); i++) {
            assertEquals(want.get(i).asDouble(), got.get(i).asDouble(), 5e-4, "logit " + i);
            assertEquals(wantMtp.get(i).asDouble(), gotMtp.get(i).asDouble(), 5e-4, "mtp logit " + i);
        }
    }

    @Test
    void logitsOnTheReferenceKernelsAreCloseToTheVectorOnes() throws Exception {
        CliRun fast = CliRun.of("logits", "--tokens", "5,17,42", "--numerics", "float");
        CliRun ref = CliRun.of("logits", "--tokens", "5,17,42", "--numerics", "float", "--reference");
        assertEquals(0, fast.exit(), fast.err());
        assertEquals(0, ref.exit(), ref.err());
        assertFalse(fast.out().equals(ref.out()), "the scalar kernels round differently somewhere, so they ran");
        JsonNode a = JSON.readTree(fast.out()), b = JSON.readTree(ref.out());
        assertClose(a.get("logits").get(0), b.get("logits").get(0), "logit");
        assertClose(a.get("mtp_logits"), b.get("mtp_logits"), "mtp logit");
    }

    /** Within the golden tests' 5e-4: the two differ by float rounding alone (5e-6 measured). */
    private static void assertClose(JsonNode want, JsonNode got, String what) {
        assertEquals(want.size(), got.size(), what + "s");
        for (int i = 0; i < want.size(); i++) {
            assertEquals(want.get(i).asDouble(), got.get(i).asDouble(), 5e-4, what + " " + i);
        }
    }

    @Test
    void logitsAllPositions() throws Exception {
        CliRun r = CliRun.of("logits", "--tokens", "5,17,42", "--positions", "all");
        assertEquals(0, r.exit(), r.err());
        JsonNode j = JSON.readTree(r.out());
        assertEquals(3, j.get("logits").size());
        assertEquals("[0,1,2]", j.get("positions").toString());
        assertEquals(j.get("logits").get(0).size(), j.get("mtp_logits").size());
    }

    @Test
    void generateGreedyMatchesGolden() throws Exception {
        Path ck = Fixtures.dir("fixtures/v4-tiny");
        JsonNode p = JSON.readTree(ck.resolve("golden/golden.json").toFile()).get("prompts").get(0);
        StringBuilder ids = new StringBuilder();
        for (JsonNode t : p.get("tokens")) ids.append(ids.isEmpty() ? "" : ",").append(t.asInt());
        CliRun r = CliRun.of("generate", "--model", ck.toString(), "--tokens", ids.toString(), "--numerics", "float",
                "--max-tokens", "16", "--ignore-eos");
        assertEquals(0, r.exit(), r.err());
        assertEquals(p.get("float").get("greedy").get("tokens").toString(), JSON.readTree(r.out()).get("tokens").toString());
    }

    @Test
    void sampledGenerationIsReproducible() throws Exception {
        String[] args = {"generate", "--tokens", "5,17,42", "--max-tokens", "8", "--temperature", "0.8", "--top-p", "0.9",
                "--top-k", "50", "--seed", "7", "--ignore-eos"};
        CliRun a = CliRun.of(args), b = CliRun.of(args);
        assertEquals(0, a.exit(), a.err());
        assertEquals(a.out(), b.out());
        assertEquals(8, JSON.readTree(a.out()).get("tokens").size());
    }

    @Test
    void benchJsonHasTheContractFields() throws Exception {
        CliRun r = CliRun.of("bench", "--prompt", "4", "--gen", "3", "--repeat", "1", "--threads", "2", "--json");
        assertEquals(0, r.exit(), r.err());
        JsonNode j = JSON.readTree(r.out());
        for (String k : new String[]{"prefill_tps", "decode_tps"}) {
            for (String s : new String[]{"median", "min", "max"}) {
                assertTrue(j.get(k).get(s).asDouble() > 0, k + "." + s);
            }
        }
        for (String k : new String[]{"weight_bytes_per_token", "decode_gbps", "memory_bandwidth_gbps", "kv_bytes_per_token"}) {
            assertTrue(j.get(k).asDouble() > 0, k);
        }
        assertTrue(j.has("peak_rss_bytes"));
        long huge = j.get("huge_page_bytes").asLong();
        assertTrue(huge >= -1 && huge <= j.get("peak_rss_bytes").asLong(), "resident in 2 MB pages: " + huge);
        assertEquals(j.get("weight_bytes_per_token").asLong(), j.get("weight_bytes_per_step").asLong(), "one sequence");
        int warm = j.get("warmup_runs").asInt();
        assertTrue(warm >= 2 && warm <= 12, "warm-up runs until the JIT is quiet, 2 to 12: " + warm);
        JsonNode q = j.get("decode_step_ms");
        assertTrue(q.get("p10").asDouble() > 0 && q.get("p10").asDouble() <= q.get("p50").asDouble()
                && q.get("p50").asDouble() <= q.get("p90").asDouble(), q.toString());
        assertEquals("", r.err().replaceAll("(?m)^WARNING.*$", "").strip(), "no progress bar with --json");
    }

    /**
     * Several sequences decoded together: each step reads the dense weights once and every expert its rows chose,
     * more than one token reads and less than three tokens apart.
     */
    @Test
    void benchOfABatchCountsTheExpertsItsStepsRead() throws Exception {
        CliRun r = CliRun.of("bench", "--prompt", "4", "--gen", "3", "--repeat", "1", "--threads", "2", "--batch", "3",
                "--json");
        assertEquals(0, r.exit(), r.err());
        JsonNode j = JSON.readTree(r.out());
        assertEquals(3, j.get("batch").asInt());
        long perToken = j.get("weight_bytes_per_token").asLong(), perStep = j.get("weight_bytes_per_step").asLong();
        assertTrue(perStep > perToken && perStep < 3 * perToken, perStep + " bytes a step, " + perToken + " a token");
        assertEquals(j.get("decode_tps").get("median").asDouble() / 3 * perStep / 1e9, j.get("decode_gbps").asDouble(),
                1e-9 * j.get("decode_gbps").asDouble());
        CliRun big = CliRun.of("bench", "--batch", "9", "--chunk", "8");
        assertEquals(2, big.exit());
        assertTrue(big.err().contains("--batch 9 is more rows than a forward call takes (--chunk 8)"), big.err());
    }

    @Test
    void benchProgressIsOneStderrLinePerStepOffATerminal() {
        CliRun r = CliRun.of("bench", "--prompt", "4", "--gen", "3", "--repeat", "1", "--threads", "2");
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().startsWith("model demo,"), "stdout is the table alone: " + r.out());
        assertFalse(r.out().contains("moe4j: bench"), r.out());
        assertFalse(r.err().contains("\r"), "no redrawing when stderr is not a terminal");
        List<String> steps = r.err().lines().filter(l -> l.startsWith("moe4j: bench"))
                .map(l -> l.replaceFirst(".*\\] (\\d+/\\d+) \\([0-9:]+\\) ", "$1 ")).toList();
        assertEquals(List.of("0/3 loading model", "1/3 warm-up", "2/3 run 1/1", "3/3 done"), steps, r.err());
    }

    @Test
    void exportedDemoIsTheSameModelFromDisk(@TempDir Path tmp) throws Exception {
        Path dir = tmp.resolve("demo-ckpt");
        CliRun w = CliRun.of("export", "--model", "demo", "--out", dir.toString(), "--shard-bytes", "2000000");
        assertEquals(0, w.exit(), w.err());
        assertTrue(Files.exists(dir.resolve("model.safetensors.index.json")));
        assertTrue(Files.list(dir).filter(f -> f.toString().endsWith(".safetensors")).count() > 1, "sharded");
        CliRun a = CliRun.of("logits", "--model", "demo", "--tokens", "5,17,42", "--numerics", "float");
        CliRun b = CliRun.of("logits", "--model", dir.toString(), "--tokens", "5,17,42", "--numerics", "float");
        assertEquals(0, b.exit(), b.err());
        assertEquals(a.out(), b.out());
        CliRun again = CliRun.of("export", "--model", "demo", "--out", dir.toString());
        assertEquals(2, again.exit());
        assertTrue(again.err().contains("not empty"), again.err());
    }

    @Test
    void badInputsGiveOneClearLine(@TempDir Path tmp) throws Exception {
        CliRun r = CliRun.of("generate", "--tokens", "5,x");
        assertEquals(2, r.exit());
        assertTrue(r.err().contains("'x' is not a token id"), r.err());
        r = CliRun.of("generate", "--tokens", "999999999");
        assertEquals(2, r.exit());
        assertTrue(r.err().contains("outside the vocabulary"), r.err());
        Files.writeString(tmp.resolve("config.json"), "{\"architectures\": [\"GPT2\"]}");
        r = CliRun.of("inspect", "--model", tmp.toString());
        assertEquals(2, r.exit());
        assertTrue(r.err().contains("unsupported architecture"), r.err());
    }
}
