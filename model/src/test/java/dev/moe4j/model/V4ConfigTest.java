package dev.moe4j.model;

import dev.moe4j.testkit.Fixtures;
import dev.moe4j.io.CheckpointException;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Parsing the official config.json and refusing bad ones with a clear, typed error. */
class V4ConfigTest {

    static String flashJson() throws IOException {
        return Files.readString(Fixtures.dir("fixtures/configs/v4-flash").resolve("config.json"));
    }

    static CheckpointException bad(String json, CheckpointException.Kind kind, String... words) {
        CheckpointException e = assertThrows(CheckpointException.class, () -> V4Config.parse(json, Path.of("x/config.json")));
        assertEquals(kind, e.kind(), e.getMessage());
        assertTrue(e.getMessage().contains("x/config.json"), e.getMessage());
        for (String w : words) {
            assertTrue(e.getMessage().contains(w), "message lacks '" + w + "': " + e.getMessage());
        }
        return e;
    }

    @Test
    void parsesFlash() throws IOException {
        V4Config c = V4Config.parse(flashJson(), Path.of("config.json"));
        assertEquals(4096, c.dim());
        assertEquals(43, c.nLayers());
        assertEquals(44, c.compressRatios().length);
        assertEquals(0, c.compressRatio(43));
        assertEquals(65536, c.originalSeqLen());
        assertEquals(160000, c.compressRopeTheta());
        assertEquals(1.5f, c.routeScale());
        assertEquals(24, c.mixHc());
        assertTrue(c.fp4Experts());
        assertArrayEquals(new int[]{0, 0, 4, 128}, java.util.Arrays.copyOf(c.compressRatios(), 4));
    }

    @Test
    void malformedJson() {
        bad("{\"vocab_size\": 12,", CheckpointException.Kind.JSON, "not valid JSON");
        bad("[1, 2]", CheckpointException.Kind.JSON, "JSON object");
    }

    @Test
    void absurdValues() throws IOException {
        String f = flashJson();
        bad(f.replace("\"n_routed_experts\": 256", "\"n_routed_experts\": 1000000000"), CheckpointException.Kind.CONFIG,
                "n_routed_experts", "1000000000");
        bad(f.replace("\"hidden_size\": 4096", "\"hidden_size\": 0"), CheckpointException.Kind.CONFIG, "hidden_size");
        bad(f.replace("\"num_hidden_layers\": 43", "\"num_hidden_layers\": -3"), CheckpointException.Kind.CONFIG, "num_hidden_layers");
        bad(f.replace("\"vocab_size\": 129280", "\"vocab_size\": 1e30"), CheckpointException.Kind.CONFIG, "vocab_size");
        bad(f.replace("\"head_dim\": 512", "\"head_dim\": \"512\""), CheckpointException.Kind.CONFIG, "head_dim");
        bad(f.replace("\"num_experts_per_tok\": 6", "\"num_experts_per_tok\": 300"), CheckpointException.Kind.CONFIG,
                "num_experts_per_tok");
        bad(f.replace("\"num_hidden_layers\": 43", "\"num_hidden_layers\": 50"), CheckpointException.Kind.CONFIG,
                "compress_ratios");
        bad(f.replace("\"hidden_size\": 4096", "\"hidden_size\": 4100"), CheckpointException.Kind.CONFIG, "hidden_size",
                "multiple of 128");
    }

    @Test
    void missingField() throws IOException {
        bad(flashJson().replace("\"q_lora_rank\": 1024,", ""), CheckpointException.Kind.CONFIG, "q_lora_rank", "missing");
    }

    @Test
    void unknownArchitecture() throws IOException {
        bad(flashJson().replace("DeepseekV4ForCausalLM", "LlamaForCausalLM").replace("\"deepseek_v4\"", "\"llama\""),
                CheckpointException.Kind.ARCHITECTURE, "LlamaForCausalLM");
    }

    @Test
    void hugeDeclaredContextIsAcceptedWithoutAllocating() throws IOException {
        V4Config c = V4Config.parse(flashJson().replace("\"max_position_embeddings\": 1048576",
                "\"max_position_embeddings\": 1099511627776"), Path.of("config.json"));
        assertEquals(1L << 40, c.maxPositionEmbeddings());
    }

    @Test
    void shapesTheOfficialCodeAcceptsAreAccepted() throws IOException {
        String f = flashJson();
        // the indexer may rotate its whole head, and wo_a (a plain bf16 matmul) needs no 128-multiple input
        V4Config c = V4Config.parse(f.replace("\"index_head_dim\": 128", "\"index_head_dim\": 64"), Path.of("c.json"));
        assertEquals(64, c.indexHeadDim());
        V4Config d = V4Config.parse(f.replace("\"head_dim\": 512", "\"head_dim\": 192")
                .replace("\"num_attention_heads\": 64", "\"num_attention_heads\": 1").replace("\"o_groups\": 8", "\"o_groups\": 1"),
                Path.of("c.json"));
        assertEquals(192, d.headDim());
        bad(f.replace("\"index_head_dim\": 128", "\"index_head_dim\": 48"), CheckpointException.Kind.CONFIG, "index_head_dim");
    }

    @Test
    void missingExpertDtypeMeansTheReleaseLayoutUntilTensorsSayOtherwise() throws IOException {
        V4Config c = V4Config.parse(flashJson().replace("\"expert_dtype\": \"fp4\",", ""), Path.of("c.json"));
        assertEquals(null, c.expertDtype());
        assertTrue(c.fp4Experts());
        assertTrue(!c.withExpertDtype("fp8").fp4Experts());
    }
}
