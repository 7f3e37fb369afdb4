package dev.moe4j.model;

import dev.moe4j.testkit.Fixtures;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** The counts the official configs imply (architecture dossier §7), from the layout alone. */
class V4LayoutTest {

    static V4Config config(String dir) throws IOException {
        Path p = Fixtures.dir(dir).resolve("config.json");
        return V4Config.parse(Files.readString(p), p);
    }

    @Test
    void flashCounts() throws IOException {
        V4Layout l = new V4Layout(config("fixtures/configs/v4-flash"));
        assertEquals(69_187, l.tensorCount());
        assertEquals(284.33, l.parameters() / 1e9, 0.005);
        assertEquals(6.61, l.mtpParameters() / 1e9, 0.005);
        assertEquals(13.27, l.activatedParameters() / 1e9, 0.005);
        // non-expert bytes of the backbone: 8.85 GB (dossier §7.4); whole payload incl. MTP 159.61 GB
        assertEquals(159.61, l.totalBytes() / 1e9, 0.01);
    }

    @Test
    void proCounts() throws IOException {
        V4Layout l = new V4Layout(config("fixtures/configs/v4-pro"));
        assertEquals(145_116, l.tensorCount());
        assertEquals(1573.0, l.parameters() / 1e9, 0.05);
        assertEquals(25.84, l.mtpParameters() / 1e9, 0.005);
        assertEquals(48.85, l.activatedParameters() / 1e9, 0.005);
    }

    @Test
    void flashShapes() throws IOException {
        V4Layout l = new V4Layout(config("fixtures/configs/v4-flash"));
        // dossier §7.5-7: FP8 scale [ceil(out/128), ceil(in/128)], FP4 experts stored as I8 pairs with 1×32 scales
        assertArrayEquals(new long[]{256, 8}, l.spec("layers.5.attn.wq_b.scale").shape());
        assertArrayEquals(new long[]{2048, 2048}, l.spec("layers.7.ffn.experts.3.w1.weight").shape());
        assertArrayEquals(new long[]{2048, 128}, l.spec("layers.7.ffn.experts.3.w1.scale").shape());
        assertArrayEquals(new long[]{24, 16384}, l.spec("layers.0.hc_attn_fn").shape());
        assertArrayEquals(new long[]{8192, 4096}, l.spec("layers.2.attn.wo_a.weight").shape());
        assertArrayEquals(new long[]{129280, 6}, l.spec("layers.2.ffn.gate.tid2eid").shape());
        assertEquals(null, l.spec("layers.3.ffn.gate.tid2eid"));
        assertArrayEquals(new long[]{128, 512}, l.spec("layers.3.attn.compressor.ape").shape());
        assertArrayEquals(new long[]{4, 1024}, l.spec("layers.2.attn.compressor.ape").shape());
        assertArrayEquals(new long[]{4, 256}, l.spec("layers.2.attn.indexer.compressor.ape").shape());
    }

    @Test
    void tinyFixtureHasExactlyTheLayoutTensors() throws IOException {
        V4Layout l = new V4Layout(config("fixtures/v4-tiny"));
        assertEquals(667, l.tensorCount());
    }
}
