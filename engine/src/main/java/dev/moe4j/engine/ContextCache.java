package dev.moe4j.engine;

import dev.moe4j.model.V4State;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * V4 context caching by units: with sliding windows and compressors a prefix is reusable only as a
 * whole saved cache state, so entries are snapshots taken at unit boundaries (end of a user input, end
 * of an earlier model output, fixed intervals), found only by a prompt that starts with the whole unit.
 * Keys are SHA-256 of the tenant and the unit's tokens, so tenants never share entries. Bounded by a
 * byte budget, least recently used first out. Used by the scheduler's thread only.
 */
public final class ContextCache {

    private final long budget;
    private long bytes;
    private long hits, lookups;
    private final LinkedHashMap<Key, V4State.Snapshot> entries = new LinkedHashMap<>(16, 0.75f, true);

    public ContextCache(long budgetBytes) {
        this.budget = budgetBytes;
    }

    /** A 256-bit digest; equal digests are taken as equal prefixes. */
    record Key(byte[] digest) {
        @Override
        public boolean equals(Object o) {
            return o instanceof Key k && Arrays.equals(k.digest, digest);
        }

        @Override
        public int hashCode() {
            return Arrays.hashCode(digest);
        }
    }

    /**
     * The keys of {@code tokens[0 .. b)} for every boundary b, computed in one pass over the tokens.
     */
    static Map<Integer, Key> keys(String tenant, int[] tokens, int[] boundaries) {
        Map<Integer, Key> out = new HashMap<>();
        MessageDigest md = sha256();
        byte[] t = (tenant == null ? "" : tenant).getBytes(StandardCharsets.UTF_8);
        md.update(intBytes(t.length));
        md.update(t);
        int done = 0;
        for (int b : boundaries) {
            for (; done < b; done++) {
                md.update(intBytes(tokens[done]));
            }
            try {
                out.put(b, new Key(((MessageDigest) md.clone()).digest()));
            } catch (CloneNotSupportedException e) {
                throw new IllegalStateException(e);
            }
        }
        return out;
    }

    private static byte[] intBytes(int v) {
        return new byte[]{(byte) (v >>> 24), (byte) (v >>> 16), (byte) (v >>> 8), (byte) v};
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK has no SHA-256", e);
        }
    }

    V4State.Snapshot get(Key k) {
        lookups++;
        V4State.Snapshot s = entries.get(k);
        if (s != null) {
            hits++;
        }
        return s;
    }

    boolean contains(Key k) {
        return entries.containsKey(k);
    }

    void put(Key k, V4State.Snapshot s) {
        if (s.bytes() > budget) {
            return;
        }
        V4State.Snapshot old = entries.put(k, s);
        bytes += s.bytes() - (old == null ? 0 : old.bytes());
        Iterator<Map.Entry<Key, V4State.Snapshot>> it = entries.entrySet().iterator();
        while (bytes > budget && it.hasNext()) {
            Map.Entry<Key, V4State.Snapshot> e = it.next();
            if (e.getKey().equals(k)) {
                continue;
            }
            bytes -= e.getValue().bytes();
            it.remove();
        }
    }

    public int size() {
        return entries.size();
    }

    public long bytes() {
        return bytes;
    }

    public long budget() {
        return budget;
    }
}
