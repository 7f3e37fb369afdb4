package dev.moe4j.cli;

import static java.nio.charset.StandardCharsets.UTF_8;

import dev.moe4j.chat.EncodingException;
import dev.moe4j.chat.MessagesFile;
import dev.moe4j.chat.ReasoningEffort;
import dev.moe4j.chat.ThinkingMode;
import dev.moe4j.chat.V4Encoder;
import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code moe4j encode}: a conversation file → the exact V4 prompt text on stdout. */
@Command(name = "encode", mixinStandardHelpOptions = true,
        description = "Print the DeepSeek V4 prompt text for a conversation, exactly (no newline added).")
public final class EncodeCommand implements Callable<Integer> {

    @Option(names = "--messages", required = true, paramLabel = "FILE",
            description = "JSON array of messages, or {\"messages\":[...],\"tools\":[...]} (tools go to the first message).")
    Path messages;

    @Option(names = "--mode", required = true, paramLabel = "chat|thinking", converter = ModeConverter.class,
            description = "chat (answer directly) or thinking (reason first).")
    ThinkingMode mode;

    @Option(names = "--effort", defaultValue = "high", paramLabel = "high|max", converter = EffortConverter.class,
            description = "Reasoning effort; max adds the Think-Max prefix in thinking mode (default: ${DEFAULT-VALUE}).")
    ReasoningEffort effort;

    @Override
    public Integer call() throws IOException {
        String json;
        try {
            json = Files.readString(messages, UTF_8);
        } catch (CharacterCodingException e) {
            throw new EncodingException("the messages file is not UTF-8 text");
        } catch (NoSuchFileException e) {
            throw new IOException("no such file: " + messages, e);
        }
        String prompt = V4Encoder.encode(MessagesFile.parse(json), V4Encoder.Options.of(mode).withEffort(effort));
        // raw bytes: the prompt must come out as UTF-8 whatever the console charset, and unchanged
        System.out.writeBytes(prompt.getBytes(UTF_8));
        System.out.flush();
        return 0;
    }

    static final class ModeConverter implements CommandLine.ITypeConverter<ThinkingMode> {
        @Override
        public ThinkingMode convert(String value) {
            try {
                return ThinkingMode.of(value);
            } catch (IllegalArgumentException e) {
                throw new CommandLine.TypeConversionException(e.getMessage());
            }
        }
    }

    static final class EffortConverter implements CommandLine.ITypeConverter<ReasoningEffort> {
        @Override
        public ReasoningEffort convert(String value) {
            try {
                return ReasoningEffort.of(value);
            } catch (IllegalArgumentException e) {
                throw new CommandLine.TypeConversionException(e.getMessage());
            }
        }
    }
}
