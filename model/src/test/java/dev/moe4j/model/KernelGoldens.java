package dev.moe4j.model;

import dev.moe4j.testkit.Fixtures;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.UncheckedIOException;

/** {@code shared/fixtures/kernels/kernels.json}, read once. */
final class KernelGoldens {

    private static JsonNode root;

    private KernelGoldens() {
    }

    static synchronized JsonNode section(String name) {
        if (root == null) {
            try {
                root = new ObjectMapper().readTree(Fixtures.dir("fixtures/kernels/kernels.json").toFile());
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        JsonNode s = root.get(name);
        if (s == null) {
            throw new AssertionError("kernels.json has no section '" + name + "'");
        }
        return s;
    }

    static double[] doubles(JsonNode a) {
        double[] r = new double[a.size()];
        for (int i = 0; i < r.length; i++) r[i] = a.get(i).asDouble();
        return r;
    }

    static float[] floats(JsonNode a) {
        float[] r = new float[a.size()];
        for (int i = 0; i < r.length; i++) r[i] = (float) a.get(i).asDouble();
        return r;
    }
}
