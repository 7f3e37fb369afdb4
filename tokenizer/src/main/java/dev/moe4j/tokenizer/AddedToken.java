package dev.moe4j.tokenizer;

/** One entry of tokenizer.json's {@code added_tokens}, with HF's matching flags. */
record AddedToken(int id, String content, boolean special, boolean singleWord, boolean lstrip, boolean rstrip,
                  boolean normalized) {
}
