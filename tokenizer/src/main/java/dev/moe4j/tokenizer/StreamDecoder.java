package dev.moe4j.tokenizer;

/**
 * Turns a stream of token ids into text as it is generated. Byte-level BPE tokens may end inside a UTF-8
 * character (an emoji is often split over two or three tokens), so bytes of an unfinished character are held
 * back until it completes; what {@link #push} returns is always whole characters. The concatenation of every
 * push and the final {@link #flush} equals {@link Tokenizer#decode} of all the ids. Not thread-safe: one per
 * stream.
 */
public final class StreamDecoder {

    private final Tokenizer tokenizer;
    private final Utf8Decoder utf8 = new Utf8Decoder();
    private final StringBuilder out = new StringBuilder();

    public StreamDecoder(Tokenizer tokenizer) {
        this.tokenizer = tokenizer;
    }

    /** Adds one token and returns the text it completes (possibly empty). */
    public String push(int id) {
        out.setLength(0);
        utf8.feed(tokenizer.tokenBytes(id), out);
        return out.toString();
    }

    /** Ends the stream: returns what is left, an unfinished character as U+FFFD; the decoder can then be reused. */
    public String flush() {
        out.setLength(0);
        utf8.finish(out);
        return out.toString();
    }
}
