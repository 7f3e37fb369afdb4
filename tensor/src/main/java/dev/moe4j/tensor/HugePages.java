package dev.moe4j.tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.Locale;

/**
 * Transparent huge pages (2 MB) for weight memory, on Linux. A decode step reads ~0.5 GB of weights spread
 * over the selected experts; in 4 KB pages that is ~120,000 pages a step, far more than the TLBs map. With
 * the weights in 2 MB pages a v4-flash-slice2-v1k decode step (2 threads, Zen 4) took 21.1-22.6 ms at
 * p10 against 22.3-23.6 in 4 KB pages (four alternating bench runs each).
 *
 * <p>Two uses. {@link #advise} marks a file mapping {@code MADV_HUGEPAGE}: the kernel then reads the file into
 * 2 MB page-cache folios and maps them whole where the file system supports large folios (ext4 and XFS on
 * recent kernels; elsewhere the advice changes nothing). {@link #allocate} gives anonymous memory advised
 * before its first touch (the only time the advice takes effect without waiting for khugepaged), for weights
 * made in memory. Both are best effort: off Linux, with huge pages disabled or when a call fails, memory
 * stays in normal pages and nothing else changes. {@code -Dmoe4j.hugePages=false} turns both off.
 */
public final class HugePages {

    /** The huge page size of x86-64 and of arm64 with 4 KB base pages. */
    public static final long SIZE = 2L << 20;

    private static final int PROT_READ_WRITE = 0x1 | 0x2;
    private static final int MAP_PRIVATE_ANONYMOUS = 0x02 | 0x20;
    private static final int MADV_HUGEPAGE = 14;
    private static final Native NATIVE = Native.load();

    private HugePages() {
    }

    /** Whether huge pages are asked for: on Linux with mmap/madvise found, unless {@code moe4j.hugePages=false}. */
    public static boolean enabled() {
        return NATIVE != null;
    }

    /**
     * Advises {@code MADV_HUGEPAGE} on the whole 2 MB pages inside {@code seg} (a mapping or part of one).
     * Returns whether the kernel took the advice; false when disabled, when the segment holds no whole huge
     * page, or when the kernel refused it.
     */
    public static boolean advise(MemorySegment seg) {
        if (NATIVE == null) {
            return false;
        }
        long start = alignUp(seg.address()), end = (seg.address() + seg.byteSize()) & -SIZE;
        return end > start && NATIVE.madvise(start, end - start);
    }

    /**
     * {@code bytes} of zeroed, 2 MB-aligned memory advised {@code MADV_HUGEPAGE} before first use, unmapped
     * when {@code arena} closes; where that cannot be had (disabled, or mmap failed), {@code arena.allocate}.
     */
    public static MemorySegment allocate(long bytes, Arena arena) {
        if (bytes < 0) {
            throw new IllegalArgumentException("negative size " + bytes);
        }
        if (NATIVE == null || bytes < SIZE) {
            return arena.allocate(bytes, 64);
        }
        long len = alignUp(bytes);                          // checked: a size near Long.MAX_VALUE throws
        long mapped = Math.addExact(len, SIZE);             // room to start at a 2 MB boundary
        long base = NATIVE.mmap(mapped);
        if (base == -1 || base == 0) {
            return arena.allocate(bytes, 64);               // its own error (out of memory) if it cannot either
        }
        long start = alignUp(base);
        NATIVE.madvise(start, len);                         // best effort, as the class says
        return MemorySegment.ofAddress(start).reinterpret(bytes, arena, s -> NATIVE.munmap(base, mapped));
    }

    private static long alignUp(long v) {
        return Math.addExact(v, SIZE - 1) & -SIZE;
    }

    /** The three libc calls, bound once. */
    private record Native(MethodHandle mmap, MethodHandle madvise, MethodHandle munmap) {

        static Native load() {
            boolean linux = System.getProperty("os.name", "").toLowerCase(Locale.ROOT).startsWith("linux");
            if (!linux || "false".equals(System.getProperty("moe4j.hugePages"))) {
                return null;
            }
            try {
                Linker linker = Linker.nativeLinker();
                SymbolLookup libc = linker.defaultLookup();
                ValueLayout.OfLong word = ValueLayout.JAVA_LONG;
                return new Native(
                        linker.downcallHandle(libc.find("mmap").orElseThrow(), FunctionDescriptor.of(word,
                                word, word, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, word)),
                        linker.downcallHandle(libc.find("madvise").orElseThrow(),
                                FunctionDescriptor.of(ValueLayout.JAVA_INT, word, word, ValueLayout.JAVA_INT)),
                        linker.downcallHandle(libc.find("munmap").orElseThrow(),
                                FunctionDescriptor.of(ValueLayout.JAVA_INT, word, word)));
            } catch (RuntimeException | LinkageError e) {           // no such symbol, or native access refused
                return null;
            }
        }

        long mmap(long length) {
            try {
                return (long) mmap.invokeExact(0L, length, PROT_READ_WRITE, MAP_PRIVATE_ANONYMOUS, -1, 0L);
            } catch (Throwable t) {
                return -1;
            }
        }

        boolean madvise(long address, long length) {
            try {
                return (int) madvise.invokeExact(address, length, MADV_HUGEPAGE) == 0;
            } catch (Throwable t) {
                return false;
            }
        }

        void munmap(long address, long length) {
            try {
                int rc = (int) munmap.invokeExact(address, length);      // fails only for a range never mapped
            } catch (Throwable t) {
                throw new IllegalStateException("munmap", t);
            }
        }
    }
}
