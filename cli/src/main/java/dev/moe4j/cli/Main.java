package dev.moe4j.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code moe4j} command line: one subcommand per job. */
@Command(name = "moe4j", mixinStandardHelpOptions = true, version = "moe4j 0.1.0",
        description = "DeepSeek V4 inference in pure Java.",
        subcommands = {
                CommandLine.HelpCommand.class, ServeCommand.class,
                TokenizeCommand.class, DetokenizeCommand.class,
                GenerateCommand.class, LogitsCommand.class, InspectCommand.class, BenchCommand.class, ExportCommand.class,
                EncodeCommand.class, ParseCommand.class,
        })
public final class Main {

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs a command line and returns its exit code (tests call this instead of {@link #main}). */
    public static int run(String... args) {
        CommandLine cl = new CommandLine(new Main());
        cl.setExecutionExceptionHandler((ex, cmd, parse) -> {
            cmd.getErr().println("moe4j: " + (ex.getMessage() != null ? ex.getMessage() : ex.toString()));
            if (Boolean.getBoolean("moe4j.debug")) {
                ex.printStackTrace(cmd.getErr());
            }
            return 2;
        });
        return cl.execute(args);
    }
}
