// Typed errors and their one mapping to Anthropic-shaped responses.
import type { ErrorType } from "./anthropic.ts";
import { withRequestId } from "./request_id.ts";

const TYPE_BY_STATUS: Record<number, ErrorType> = {
  400: "invalid_request_error",
  401: "authentication_error",
  403: "permission_error",
  404: "not_found_error",
  413: "request_too_large",
  429: "rate_limit_error",
  500: "api_error",
  502: "api_error",
  503: "overloaded_error",
  504: "timeout_error",
  529: "overloaded_error",
};

const STATUS_BY_TYPE: Record<string, number> = {
  invalid_request_error: 400,
  authentication_error: 401,
  billing_error: 402,
  permission_error: 403,
  not_found_error: 404,
  request_too_large: 413,
  rate_limit_error: 429,
  api_error: 500,
  timeout_error: 504,
  overloaded_error: 529,
};

/** Whether the value names one of Anthropic's error types. */
export function isErrorType(type: unknown): type is ErrorType {
  return typeof type === "string" && Object.hasOwn(STATUS_BY_TYPE, type);
}

/** The HTTP status Anthropic answers with for an error type (an `event: error` has none). */
export function statusForErrorType(type: unknown): number {
  const name = String(type);
  return Object.hasOwn(STATUS_BY_TYPE, name) ? STATUS_BY_TYPE[name] : 500;
}

/** The Anthropic error type for an HTTP status; unlisted 4xx are request errors, 5xx API errors. */
export function errorTypeForStatus(status: number): ErrorType {
  return TYPE_BY_STATUS[status] ?? (status < 500 ? "invalid_request_error" : "api_error");
}

/**
 * For errors that a retry cannot fix (no access key, no upstream, every key rejected): the SDKs,
 * and so Claude Code, retry 5xx and even 401 for minutes unless told not to.
 */
export const NO_RETRY: Record<string, string> = { "x-should-retry": "false" };

/**
 * A request nested so deep that walking it overflows the stack is the request's fault: the
 * client hears so, not "internal error".
 */
export function tooDeep(err: unknown): ProxyError | undefined {
  return err instanceof RangeError && /call stack/i.test(err.message)
    ? new ProxyError(400, "The request is nested too deeply to process")
    : undefined;
}

/** A fault of the proxy's own, said to the client without its details (those go to the log). */
export function internalError(): ProxyError {
  return new ProxyError(500, "Internal error in the proxy");
}

/**
 * A conversation left with nothing an upstream can take (no messages, only empty text or blocks
 * it has no form for): said in the client's terms, not in the upstream's own field names.
 */
export function nothingToSend(): ProxyError {
  return new ProxyError(
    400,
    "messages: there is nothing to send: every message is empty or holds only content blocks this upstream cannot take (text content blocks must be non-empty)",
  );
}

/** An error the proxy answers with an Anthropic error body and the given status. */
export class ProxyError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type: ErrorType = errorTypeForStatus(status),
    readonly headers: Record<string, string> = {},
    /** `error.details`, which the SDKs read to decide what to do next (an `error_code`). */
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = "ProxyError";
  }
}

/** A route asked with a method it does not take: 405, naming those it does. */
export function methodNotAllowed(method: string, path: string, takes: string[]): ProxyError {
  return new ProxyError(
    405,
    `${path} takes ${takes.join(", ")}, not ${method}`,
    "invalid_request_error",
    // HEAD goes with GET: Hono answers it from the GET route.
    { allow: takes.flatMap((m) => m === "GET" ? ["GET", "HEAD"] : [m]).join(", ") },
  );
}

/** `{"type":"error","error":{…},"request_id":…}`, the body clients and SDKs parse. */
export function errorBody(
  type: ErrorType,
  message: string,
  requestId: string | null,
  details?: Record<string, unknown>,
): string {
  const error = details ? { type, message, details } : { type, message };
  return JSON.stringify({ type: "error", error, request_id: requestId });
}

/**
 * An error after the 200, as Anthropic writes it into a stream: unlike its HTTP error bodies, with
 * `details` (null) in the error.
 */
export function streamErrorJson(type: ErrorType, message: string, requestId: string | null) {
  return JSON.stringify({
    type: "error",
    error: { details: null, type, message },
    request_id: requestId,
  });
}

/** The JSON response for an error on `/v1/*`. */
export function errorResponse(err: ProxyError, requestId: string): Response {
  return withRequestId(
    new Response(errorBody(err.type, err.message, requestId, err.details), {
      status: err.status,
      headers: { "content-type": "application/json", "request-id": requestId, ...err.headers },
    }),
  );
}

/** What a caught value says, for a log line or a message: an Error's message, or its text. */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
