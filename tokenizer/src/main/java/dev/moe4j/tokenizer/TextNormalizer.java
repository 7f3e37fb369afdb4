package dev.moe4j.tokenizer;

import java.text.Normalizer;
import java.util.List;

/**
 * The tokenizer.json normalizer: a (possibly empty) sequence of Unicode normal forms. Since encode returns
 * ids and no offsets, HF's offset-tracking NormalizedString reduces to a plain string transform.
 */
final class TextNormalizer {

    private final List<Normalizer.Form> forms;

    TextNormalizer(List<Normalizer.Form> forms) {
        this.forms = List.copyOf(forms);
    }

    boolean isIdentity() {
        return forms.isEmpty();
    }

    String apply(String text) {
        String result = text;
        for (Normalizer.Form form : forms) {
            result = Normalizer.normalize(result, form);
        }
        return result;
    }
}
