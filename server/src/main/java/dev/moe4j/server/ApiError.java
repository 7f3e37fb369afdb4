package dev.moe4j.server;

/**
 * A request that cannot be served, in the OpenAI error shape
 * {@code {"error":{"message","type","param","code"}}} with DeepSeek's status codes: 400 the body is
 * malformed (not JSON, wrong types, bad structure), 401 no valid API key, 413 body too large,
 * 422 a value out of range, 429 the queue is full, 500 the engine failed, 503 loading, shutting
 * down or timed out in the queue.
 */
final class ApiError extends RuntimeException {

    final int status;
    final String type;
    final String code;
    final String param;
    /** Seconds for the {@code Retry-After} header, 0 for none. */
    final int retryAfter;

    ApiError(int status, String type, String code, String param, String message, int retryAfter) {
        super(message, null, false, false);
        this.status = status;
        this.type = type;
        this.code = code;
        this.param = param;
        this.retryAfter = retryAfter;
    }

    /** The body cannot be read as a request: malformed JSON, a wrong type, a missing or unknown structure. */
    static ApiError badRequest(String param, String message) {
        return new ApiError(400, "invalid_request_error", "invalid_request", param, message, 0);
    }

    /** A well-formed field whose value is not allowed. */
    static ApiError invalid(String param, String message) {
        return new ApiError(422, "invalid_request_error", "invalid_parameter", param, message, 0);
    }

    static ApiError contextTooLong(String param, String message) {
        return new ApiError(422, "invalid_request_error", "context_length_exceeded", param, message, 0);
    }

    static ApiError unauthorized() {
        return new ApiError(401, "authentication_error", "invalid_api_key",
                null, "Authentication Fails: no valid API key (send 'Authorization: Bearer KEY' or 'x-api-key: KEY')", 0);
    }

    static ApiError notFound(String message) {
        return new ApiError(404, "invalid_request_error", "not_found", null, message, 0);
    }

    static ApiError methodNotAllowed(String method, String path) {
        return new ApiError(405, "invalid_request_error", "method_not_allowed", null,
                method + " is not allowed on " + path, 0);
    }

    static ApiError tooLarge(long limit) {
        return new ApiError(413, "invalid_request_error", "request_too_large", null,
                "the request body is larger than " + limit + " bytes", 0);
    }

    static ApiError busy(String message, int retryAfter) {
        return new ApiError(429, "rate_limit_error", "rate_limit_exceeded", null, message, Math.max(1, retryAfter));
    }

    static ApiError unavailable(String code, String message, int retryAfter) {
        return new ApiError(503, "service_unavailable_error", code, null, message, retryAfter);
    }

    static ApiError internal(String message) {
        return new ApiError(500, "server_error", "internal_error", null, message, 0);
    }
}
