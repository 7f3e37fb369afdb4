package dev.moe4j.engine;

/** A submitted request. */
public interface RequestHandle {

    /** Stops the request (queued or running); its slot is free again within one scheduler step. */
    void cancel();

    /** True once the sink has received {@link TokenSink#onFinish}. */
    boolean isDone();
}
