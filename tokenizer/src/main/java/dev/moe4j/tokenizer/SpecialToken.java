package dev.moe4j.tokenizer;

/** A role token (BOS, EOS) named by tokenizer_config.json, with its id from tokenizer.json. */
public record SpecialToken(String text, int id) {
}
