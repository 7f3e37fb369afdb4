package dev.moe4j.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Huge-page advice as the kernel records it: the {@code hg} flag ({@code VM_HUGEPAGE}) of the mapping in
 * {@code /proc/self/smaps}, which the kernel sets whatever the machine's THP setting ("always", "madvise" or
 * "never"), so the tests do not depend on how much huge-page memory is free.
 */
class HugePagesTest {

    @BeforeAll
    static void linuxWithThp() {
        assumeTrue(System.getProperty("os.name").toLowerCase(Locale.ROOT).startsWith("linux"), "Linux only");
        assumeTrue(Files.isDirectory(Path.of("/sys/kernel/mm/transparent_hugepage")), "kernel without THP");
        assertTrue(HugePages.enabled(), "huge pages off on Linux: native access refused or moe4j.hugePages=false?");
    }

    @Test
    void allocateGivesZeroedAlignedAdvisedMemoryUnmappedAtClose() throws IOException {
        long bytes = 3 * HugePages.SIZE + 12345;
        long address;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = HugePages.allocate(bytes, arena);
            address = seg.address();
            assertEquals(bytes, seg.byteSize());
            assertEquals(0, address % HugePages.SIZE, "starts at a huge page boundary");
            for (long i = 0; i < bytes; i += 4093) {
                assertEquals(0, seg.get(ValueLayout.JAVA_BYTE, i), "zeroed at " + i);
            }
            seg.set(ValueLayout.JAVA_LONG_UNALIGNED, bytes - 8, 0x0123456789ABCDEFL);
            assertEquals(0x0123456789ABCDEFL, seg.get(ValueLayout.JAVA_LONG_UNALIGNED, bytes - 8));
            String flags = flagsAt(address);
            assertNotNull(flags, "no mapping at the segment");
            assertTrue(List.of(flags.split(" ")).contains("hg"), "VmFlags without hg: " + flags);
        }
        String after = flagsAt(address);
        assertTrue(after == null || !List.of(after.split(" ")).contains("hg"), "still mapped after close");
    }

    @Test
    void allocateBelowOneHugePageIsPlainMemory() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = HugePages.allocate(1000, arena);
            assertEquals(1000, seg.byteSize());
            assertEquals(0, seg.get(ValueLayout.JAVA_BYTE, 999));
        }
        try (Arena arena = Arena.ofConfined()) {
            assertThrows(IllegalArgumentException.class, () -> HugePages.allocate(-1, arena));
            assertThrows(ArithmeticException.class, () -> HugePages.allocate(Long.MAX_VALUE - 5, arena));
        }
    }

    @Test
    void adviseMarksTheWholeHugePagesOfAFileMapping(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("weights.bin");
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.setLength(5 * HugePages.SIZE);
        }
        try (Arena arena = Arena.ofConfined(); FileChannel ch = FileChannel.open(file)) {
            MemorySegment map = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena);
            assertFalse(HugePages.advise(map.asSlice(1, HugePages.SIZE)), "no whole huge page inside");
            assertTrue(HugePages.advise(map), "advice refused");
            long inside = (map.address() + HugePages.SIZE - 1) & -HugePages.SIZE;
            String flags = flagsAt(inside);
            assertNotNull(flags, "no mapping at the file");
            assertTrue(List.of(flags.split(" ")).contains("hg"), "VmFlags without hg: " + flags);
        }
    }

    /** The VmFlags of the mapping holding {@code address} in /proc/self/smaps, or null if none holds it. */
    private static String flagsAt(long address) throws IOException {
        boolean inside = false;
        for (String line : Files.readAllLines(Path.of("/proc/self/smaps"))) {
            int dash = line.indexOf('-'), space = line.indexOf(' ');
            if (dash > 0 && space > dash && line.substring(0, dash).matches("[0-9a-f]+")) {
                long start = Long.parseUnsignedLong(line.substring(0, dash), 16);
                long end = Long.parseUnsignedLong(line.substring(dash + 1, space), 16);
                inside = address >= start && address < end;
            } else if (inside && line.startsWith("VmFlags:")) {
                return line.substring("VmFlags:".length()).trim();
            }
        }
        return null;
    }
}
