package dev.moe4j.server;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

/** A streaming request on a plain socket, so a test can read part of the answer and then hang up. */
final class RawStream implements AutoCloseable {

    private final Socket socket;
    private final InputStream in;
    private final ByteArrayOutputStream seen = new ByteArrayOutputStream();

    RawStream(int port, String path, String body) throws IOException {
        socket = new Socket("127.0.0.1", port);
        socket.setSoTimeout(30_000);
        byte[] b = body.getBytes(StandardCharsets.UTF_8);
        String head = "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                + "Content-Length: " + b.length + "\r\n\r\n";
        socket.getOutputStream().write(head.getBytes(StandardCharsets.US_ASCII));
        socket.getOutputStream().write(b);
        socket.getOutputStream().flush();
        in = socket.getInputStream();
    }

    /** Reads until {@code text} has arrived; returns everything read so far (chunk framing included). */
    String readUntil(String text) throws IOException {
        return readUntil(text, 1);
    }

    /** Reads until {@code text} has arrived {@code times} times. */
    String readUntil(String text, int times) throws IOException {
        byte[] buf = new byte[4096];
        while (seen.toString(StandardCharsets.UTF_8).split(java.util.regex.Pattern.quote(text), -1).length <= times) {
            int n = in.read(buf);
            if (n < 0) {
                throw new IOException("the stream ended before \"" + text + "\": " + seen.toString(StandardCharsets.UTF_8));
            }
            seen.write(buf, 0, n);
        }
        return seen.toString(StandardCharsets.UTF_8);
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
