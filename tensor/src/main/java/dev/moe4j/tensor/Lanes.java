package dev.moe4j.tensor;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * The vector shapes one kernel width needs, as {@code static final} constants behind trivial accessors.
 *
 * <p>Why a class per width rather than a {@code VectorSpecies} field: the Vector API compiles to SIMD
 * instructions only when the JIT sees the species as a constant. A species read from an instance field is
 * not one, and the kernels then run some 20× slower (measured on a 4096² FP8 matvec: 0.3 instead of 6 GB/s).
 * The kernels call these accessors on the {@code Lanes} the matrix was built with; while the process uses a
 * single width (production: {@link #preferred()}) the JIT inlines the accessor, by class hierarchy analysis or
 * from the call site's monomorphic profile, and sees the constant. Tests that force several widths in one JVM
 * make the call sites polymorphic: still correct, only slow. For the same reason no kernel passes vectors to
 * a helper method: a helper that the JIT has already compiled on its own is not inlined, and every vector
 * crossing the call is then boxed.
 *
 * <p>Every kernel consumes two float vectors per step (two accumulators hide the FMA latency). Loads are as
 * narrow as the API allows, because widening the upper half of a wider load costs an extra shuffle: with one
 * 512-bit load converted in two parts the 16-lane BF16 matvec ran at 13 GB/s, with two 256-bit loads at
 * 20 GB/s (one core of a 2.6 GHz AMD EPYC, Zen 4).
 */
abstract sealed class Lanes permits Lanes.L4, Lanes.L8, Lanes.L16 {

    /** e2m1 codes 0..15 as float bits (the table of {@link Formats}). */
    private static final int[] E2M1_BITS = new int[16];

    static {
        for (int c = 0; c < 16; c++) {
            E2M1_BITS[c] = Float.floatToRawIntBits(Formats.e2m1ToFloat(c));
        }
    }

    /** float lanes per vector */
    abstract VectorSpecies<Float> floats();

    abstract VectorSpecies<Integer> ints();

    /**
     * max(8, lanes) bytes: one load of FP8 codes (one float vector, or two with 4 lanes, as the API has no
     * 32-bit shape) or of packed FP4 (2 columns per byte).
     */
    abstract VectorSpecies<Byte> bytes();

    /** lanes shorts: one load of BF16 values. */
    abstract VectorSpecies<Short> shorts();

    /** Lane i takes int lane i/2: spreads the first lanes/2 bytes of a part over the columns they hold. */
    abstract VectorShuffle<Integer> dupLow();

    /** Lane i takes int lane lanes/2 + i/2: the second half of the part's bytes. */
    abstract VectorShuffle<Integer> dupHigh();

    /** 0, 4, 0, 4, ...: even columns are the low nibble of their byte, odd columns the high one. */
    abstract IntVector nibbleShift();

    /**
     * The e2m1 table as one or two vectors for {@code IntVector.selectFrom(a, b)}, which indexes modulo
     * 2·lanes: with 16 lanes both halves are the whole table (index bit 4 is garbage from the other nibble,
     * and either register answers); with 8 lanes codes 0-7 and 8-15; with 4 lanes only the magnitudes
     * 0-3 and 4-7, the kernel ORs the sign bit in itself.
     */
    abstract IntVector e2m1A();

    abstract IntVector e2m1B();

    /** The shape for {@code FloatVector.SPECIES_PREFERRED}, capped at 512 bits (the widest with tables here). */
    static Lanes preferred() {
        int n = FloatVector.SPECIES_PREFERRED.length();
        return n >= 16 ? L16.INSTANCE : n >= 8 ? L8.INSTANCE : L4.INSTANCE;
    }

    /** The shape of a 128-, 256- or 512-bit float species. */
    static Lanes of(VectorSpecies<Float> species) {
        return switch (species.length()) {
            case 4 -> L4.INSTANCE;
            case 8 -> L8.INSTANCE;
            case 16 -> L16.INSTANCE;
            default -> throw new IllegalArgumentException("unsupported vector species " + species
                    + " (128, 256 or 512 bits)");
        };
    }

    static VectorShuffle<Integer> dup(VectorSpecies<Integer> s, int first) {
        return VectorShuffle.fromOp(s, i -> first + i / 2);
    }

    static IntVector shifts(VectorSpecies<Integer> s) {
        return IntVector.zero(s).addIndex(1).and(1).lanewise(VectorOperators.LSHL, 2);
    }

    static IntVector table(VectorSpecies<Integer> s, int first) {
        return IntVector.fromArray(s, E2M1_BITS, first);
    }

    static final class L16 extends Lanes {
        static final L16 INSTANCE = new L16();
        private static final VectorSpecies<Float> F = FloatVector.SPECIES_512;
        private static final VectorSpecies<Integer> I = IntVector.SPECIES_512;
        private static final VectorSpecies<Byte> B = ByteVector.SPECIES_128;
        private static final VectorSpecies<Short> S = ShortVector.SPECIES_256;
        private static final VectorShuffle<Integer> LO = dup(I, 0), HI = dup(I, 8);
        private static final IntVector SHIFT = shifts(I), TA = table(I, 0), TB = TA;

        VectorSpecies<Float> floats() { return F; }
        VectorSpecies<Integer> ints() { return I; }
        VectorSpecies<Byte> bytes() { return B; }
        VectorSpecies<Short> shorts() { return S; }
        VectorShuffle<Integer> dupLow() { return LO; }
        VectorShuffle<Integer> dupHigh() { return HI; }
        IntVector nibbleShift() { return SHIFT; }
        IntVector e2m1A() { return TA; }
        IntVector e2m1B() { return TB; }
    }

    static final class L8 extends Lanes {
        static final L8 INSTANCE = new L8();
        private static final VectorSpecies<Float> F = FloatVector.SPECIES_256;
        private static final VectorSpecies<Integer> I = IntVector.SPECIES_256;
        private static final VectorSpecies<Byte> B = ByteVector.SPECIES_64;
        private static final VectorSpecies<Short> S = ShortVector.SPECIES_128;
        private static final VectorShuffle<Integer> LO = dup(I, 0), HI = dup(I, 4);
        private static final IntVector SHIFT = shifts(I), TA = table(I, 0), TB = table(I, 8);

        VectorSpecies<Float> floats() { return F; }
        VectorSpecies<Integer> ints() { return I; }
        VectorSpecies<Byte> bytes() { return B; }
        VectorSpecies<Short> shorts() { return S; }
        VectorShuffle<Integer> dupLow() { return LO; }
        VectorShuffle<Integer> dupHigh() { return HI; }
        IntVector nibbleShift() { return SHIFT; }
        IntVector e2m1A() { return TA; }
        IntVector e2m1B() { return TB; }
    }

    static final class L4 extends Lanes {
        static final L4 INSTANCE = new L4();
        private static final VectorSpecies<Float> F = FloatVector.SPECIES_128;
        private static final VectorSpecies<Integer> I = IntVector.SPECIES_128;
        private static final VectorSpecies<Byte> B = ByteVector.SPECIES_64;
        private static final VectorSpecies<Short> S = ShortVector.SPECIES_64;
        private static final VectorShuffle<Integer> LO = dup(I, 0), HI = dup(I, 2);
        private static final IntVector SHIFT = shifts(I), TA = table(I, 0), TB = table(I, 4);

        VectorSpecies<Float> floats() { return F; }
        VectorSpecies<Integer> ints() { return I; }
        VectorSpecies<Byte> bytes() { return B; }
        VectorSpecies<Short> shorts() { return S; }
        VectorShuffle<Integer> dupLow() { return LO; }
        VectorShuffle<Integer> dupHigh() { return HI; }
        IntVector nibbleShift() { return SHIFT; }
        IntVector e2m1A() { return TA; }
        IntVector e2m1B() { return TB; }
    }
}
