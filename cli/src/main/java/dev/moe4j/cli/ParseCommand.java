package dev.moe4j.cli;

import static java.nio.charset.StandardCharsets.UTF_8;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.moe4j.chat.CompletionParser;
import dev.moe4j.chat.ParsedCompletion;
import dev.moe4j.chat.ThinkingMode;
import java.io.IOException;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code moe4j parse}: completion text on stdin → the assistant message as JSON. */
@Command(name = "parse", mixinStandardHelpOptions = true,
        description = "Split a completion (stdin) into reasoning_content, content and tool_calls; print it as JSON.")
public final class ParseCommand implements Callable<Integer> {

    @Option(names = "--mode", required = true, paramLabel = "chat|thinking", converter = EncodeCommand.ModeConverter.class,
            description = "The mode the prompt was encoded in: thinking output starts inside the reasoning.")
    ThinkingMode mode;

    @Override
    public Integer call() throws IOException {
        String completion = new String(System.in.readAllBytes(), UTF_8);
        ParsedCompletion parsed = CompletionParser.parse(completion, mode);
        String json = new ObjectMapper().writeValueAsString(parsed.toJson()) + "\n";
        System.out.writeBytes(json.getBytes(UTF_8));
        System.out.flush();
        return 0;
    }
}
