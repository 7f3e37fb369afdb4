package dev.moe4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;

import org.junit.jupiter.api.Test;

class BenchCommandTest {

    @Test
    void hugePageBytesAddsTheThreePmdKindsOfSmapsRollup() {
        List<String> rollup = List.of(
                "55d0c0a00000-7ffd1c3f5000 ---p 00000000 00:00 0                          [rollup]",
                "Rss:             9568124 kB",
                "AnonHugePages:   6594560 kB",
                "ShmemPmdMapped:        0 kB",
                "FilePmdMapped:    524288 kB",
                "Shared_Hugetlb:        0 kB",
                "Private_Hugetlb:    2048 kB");
        assertEquals((6594560L + 524288L) * 1024, BenchCommand.hugePageBytes(rollup));
        assertEquals(0, BenchCommand.hugePageBytes(List.of("Rss: 10 kB", "AnonHugePages:        0 kB")));
        assertEquals(-1, BenchCommand.hugePageBytes(List.of("Rss: 10 kB")), "a kernel without THP fields");
    }
}
