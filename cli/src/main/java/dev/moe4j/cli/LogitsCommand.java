package dev.moe4j.cli;

import com.fasterxml.jackson.core.JsonEncoding;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import dev.moe4j.engine.Engine;
import dev.moe4j.engine.Sampler;
import dev.moe4j.model.V4Model;
import dev.moe4j.model.V4State;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/**
 * {@code moe4j logits}: the logits of a prompt, through the prefill or the decode path, plus the MTP
 * block's last-position logits (run over the prompt's final streams with ids {@code tokens[1:] + [argmax]}).
 */
@Command(name = "logits", mixinStandardHelpOptions = true, description = "Print the logits of a prompt as JSON.")
final class LogitsCommand implements Callable<Integer> {

    @Mixin
    ModelOptions model = new ModelOptions();

    @Option(names = "--tokens", required = true, description = "Prompt token ids, comma-separated.")
    String tokens;

    @Option(names = "--path", defaultValue = "prefill", description = "prefill (whole prompt at once) or decode (one token per call).")
    String path;

    @Option(names = "--positions", defaultValue = "last", description = "last or all.")
    String positions;

    @Option(names = "--out", description = "Write the JSON here instead of standard output.")
    Path out;

    @Override
    public Integer call() throws Exception {
        int[] ids = ModelOptions.parseIds(tokens);
        if (!path.equals("prefill") && !path.equals("decode")) {
            throw new IllegalArgumentException("--path must be prefill or decode, got '" + path + "'");
        }
        if (!positions.equals("last") && !positions.equals("all")) {
            throw new IllegalArgumentException("--positions must be last or all, got '" + positions + "'");
        }
        boolean all = positions.equals("all");
        try (Engine e = model.load()) {
            V4Model m = e.model();
            int v = e.config().vocabSize(), n = ids.length;
            int hcD = e.config().hcMult() * e.config().dim();
            float[] logits = new float[all ? Math.multiplyExact(n, v) : v];
            float[] h = new float[Math.multiplyExact(n, hcD)];
            V4State st = e.newState();
            if (path.equals("prefill")) {
                m.forward(ids, n, st, logits, all, h);
            } else {
                float[] step = new float[v], hs = new float[hcD];
                for (int t = 0; t < n; t++) {
                    m.forward(new int[]{ids[t]}, 1, st, step, false, hs);
                    System.arraycopy(hs, 0, h, t * hcD, hcD);
                    System.arraycopy(step, 0, logits, all ? t * v : 0, v);
                }
            }
            float[] mtp = null;
            if (e.config().nMtpLayers() > 0) {
                int[] next = new int[n];
                System.arraycopy(ids, 1, next, 0, n - 1);
                next[n - 1] = Sampler.argmax(logits, all ? (n - 1) * v : 0, v);
                mtp = new float[v];
                m.mtpForward(h, next, n, st, mtp, false);
            }
            try (OutputStream os = out != null ? Files.newOutputStream(out) : new NonClosing(System.out)) {
                write(os, ids, all, logits, v, mtp);
            }
        }
        return 0;
    }

    private static void write(OutputStream os, int[] ids, boolean all, float[] logits, int v, float[] mtp) throws Exception {
        try (JsonGenerator g = new JsonFactory().createGenerator(os, JsonEncoding.UTF8)) {
            g.writeStartObject();
            g.writeArrayFieldStart("tokens");
            for (int id : ids) g.writeNumber(id);
            g.writeEndArray();
            g.writeArrayFieldStart("positions");
            for (int t = all ? 0 : ids.length - 1; t < ids.length; t++) g.writeNumber(t);
            g.writeEndArray();
            g.writeArrayFieldStart("logits");
            int rows = all ? ids.length : 1;
            for (int r = 0; r < rows; r++) {
                floats(g, logits, r * v, v);
            }
            g.writeEndArray();
            if (mtp != null) {
                g.writeFieldName("mtp_logits");
                floats(g, mtp, 0, v);
            }
            g.writeEndObject();
            g.writeRaw('\n');
        }
    }

    private static void floats(JsonGenerator g, float[] a, int off, int n) throws java.io.IOException {
        g.writeStartArray();
        for (int i = off; i < off + n; i++) {
            g.writeNumber(a[i]);
        }
        g.writeEndArray();
    }

    /** Standard output stays open after the command. */
    private static final class NonClosing extends java.io.FilterOutputStream {
        NonClosing(OutputStream o) {
            super(o);
        }

        @Override
        public void close() throws java.io.IOException {
            flush();
        }
    }
}
