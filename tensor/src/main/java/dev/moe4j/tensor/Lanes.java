package dev.moe4j.tensor;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
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
 * crossing the call is then boxed. Even scalar helpers called per chunk are a risk: a kernel body of Vector
 * API calls is large once inlined, and past C2's node budget (NodeCountInliningCutoff) the remaining calls
 * stay calls, which also spill every live vector around them (an FP4 matvec fell from 11 to 4.7 GB/s when a
 * 3-line scale-byte helper stopped being inlined); the kernels therefore read their scales inline.
 *
 * <p>Loads are as narrow as the API allows, because widening the upper half of a wider load costs an extra
 * shuffle: with one 512-bit load converted in two parts the 16-lane BF16 matvec ran at 13 GB/s, with two
 * 256-bit loads at 20 GB/s (one core of a 2.6 GHz AMD EPYC, Zen 4). Loops over a constant small number of
 * vectors are written out by hand: C2 compiled an FP8 block as a loop of two iterations at 7.5 GB/s and the
 * same work written out (eight vectors, four accumulators) at 14 GB/s.
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
     * 32-bit shape).
     */
    abstract VectorSpecies<Byte> bytes();

    /** lanes shorts: one load of BF16 values. */
    abstract VectorSpecies<Short> shorts();

    /**
     * 2·lanes shorts: one load of packed FP4 for {@link Fp4Matrix}, 8·lanes columns whose nibble k of short
     * lane j is column 4j + k.
     */
    abstract VectorSpecies<Short> pairs();

    /**
     * The 16 e2m1 values as bf16 bits (exact) for {@code ShortVector.selectFrom(a, b)} over {@link #pairs()},
     * which indexes modulo 4·lanes: with 4 lanes (8 shorts) a holds codes 0-7 and b codes 8-15; wider, both
     * hold the table repeated, so the index bits above the nibble (the next nibble's) select the same value.
     */
    abstract ShortVector e2m1Bf16A();

    abstract ShortVector e2m1Bf16B();

    /**
     * Per lane i, {@code (23 - 8·(i/4)) mod 32}: rotating the broadcast little-endian scale bytes of a
     * {@link Fp4Matrix} chunk left by it puts byte i/4, the scale of lane i's 32-column block, in the float's
     * exponent field (bits 23..30).
     */
    abstract IntVector scaleRotation();

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

    /** Lane j: the bf16 bits of e2m1 code (first + j) mod 16. */
    static ShortVector bf16Table(VectorSpecies<Short> s, int first) {
        short[] t = new short[s.length()];
        for (int j = 0; j < t.length; j++) {
            t[j] = (short) (E2M1_BITS[(first + j) & 15] >>> 16);   // e2m1 values are exact in bf16
        }
        return ShortVector.fromArray(s, t, 0);
    }

    static IntVector rotations(VectorSpecies<Integer> s) {
        int[] r = new int[s.length()];
        for (int i = 0; i < r.length; i++) {
            r[i] = (23 - 8 * (i / 4)) & 31;
        }
        return IntVector.fromArray(s, r, 0);
    }

    static final class L16 extends Lanes {
        static final L16 INSTANCE = new L16();
        private static final VectorSpecies<Float> F = FloatVector.SPECIES_512;
        private static final VectorSpecies<Integer> I = IntVector.SPECIES_512;
        private static final VectorSpecies<Byte> B = ByteVector.SPECIES_128;
        private static final VectorSpecies<Short> S = ShortVector.SPECIES_256;

        private static final VectorSpecies<Short> P = ShortVector.SPECIES_512;
        private static final ShortVector PA = bf16Table(P, 0), PB = bf16Table(P, 0);
        private static final IntVector ROT = rotations(I);

        VectorSpecies<Float> floats() { return F; }
        VectorSpecies<Integer> ints() { return I; }
        VectorSpecies<Byte> bytes() { return B; }
        VectorSpecies<Short> shorts() { return S; }
        VectorSpecies<Short> pairs() { return P; }
        ShortVector e2m1Bf16A() { return PA; }
        ShortVector e2m1Bf16B() { return PB; }
        IntVector scaleRotation() { return ROT; }
    }

    static final class L8 extends Lanes {
        static final L8 INSTANCE = new L8();
        private static final VectorSpecies<Float> F = FloatVector.SPECIES_256;
        private static final VectorSpecies<Integer> I = IntVector.SPECIES_256;
        private static final VectorSpecies<Byte> B = ByteVector.SPECIES_64;
        private static final VectorSpecies<Short> S = ShortVector.SPECIES_128;

        private static final VectorSpecies<Short> P = ShortVector.SPECIES_256;
        private static final ShortVector PA = bf16Table(P, 0), PB = bf16Table(P, 0);
        private static final IntVector ROT = rotations(I);

        VectorSpecies<Float> floats() { return F; }
        VectorSpecies<Integer> ints() { return I; }
        VectorSpecies<Byte> bytes() { return B; }
        VectorSpecies<Short> shorts() { return S; }
        VectorSpecies<Short> pairs() { return P; }
        ShortVector e2m1Bf16A() { return PA; }
        ShortVector e2m1Bf16B() { return PB; }
        IntVector scaleRotation() { return ROT; }
    }

    static final class L4 extends Lanes {
        static final L4 INSTANCE = new L4();
        private static final VectorSpecies<Float> F = FloatVector.SPECIES_128;
        private static final VectorSpecies<Integer> I = IntVector.SPECIES_128;
        private static final VectorSpecies<Byte> B = ByteVector.SPECIES_64;
        private static final VectorSpecies<Short> S = ShortVector.SPECIES_64;

        private static final VectorSpecies<Short> P = ShortVector.SPECIES_128;
        private static final ShortVector PA = bf16Table(P, 0), PB = bf16Table(P, 8);
        private static final IntVector ROT = rotations(I);

        VectorSpecies<Float> floats() { return F; }
        VectorSpecies<Integer> ints() { return I; }
        VectorSpecies<Byte> bytes() { return B; }
        VectorSpecies<Short> shorts() { return S; }
        VectorSpecies<Short> pairs() { return P; }
        ShortVector e2m1Bf16A() { return PA; }
        ShortVector e2m1Bf16B() { return PB; }
        IntVector scaleRotation() { return ROT; }
    }
}
