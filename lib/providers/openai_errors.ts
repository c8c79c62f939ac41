// How OpenAI and compatible servers report errors, in an error answer or inside a 200 (a stream's
// error event, a body's error member), classified as failures: whose fault, and when to try again.
import { failureFromStatus } from "./failure.ts";
import { contextOverflowFromWords } from "./context_overflow_wordings.ts";
import { IMAGES_REFUSED } from "./openai_refused_fields.ts";
import type { UpstreamFailure } from "./types.ts";
import { clip } from "../secret_mask.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

/** The message, code and type of an error body: JSON in any of the usual shapes, text or HTML. */
function errorFields(bodyText: string): { message: string; code: string; type: string } {
  const text = bodyText.trim();
  let parsed: Json;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (parsed && typeof parsed === "object") {
    const err = Array.isArray(parsed) ? parsed[0]?.error ?? parsed[0] : parsed.error ?? parsed;
    if (typeof err === "string") return { message: err, code: "", type: "" };
    let message = typeof err?.message === "string"
      ? err.message
      : typeof parsed.message === "string"
      ? parsed.message
      : typeof parsed.detail === "string"
      ? parsed.detail
      : text;
    message = withProviderWords(message, err);
    // llama.cpp names an overflow's figures apart from its words: said in its older words, which
    // lib/providers/context_overflow_wordings.ts reads.
    const prompt = err?.n_prompt_tokens;
    const window = err?.n_ctx;
    if (Number.isSafeInteger(prompt) && Number.isSafeInteger(window)) {
      message +=
        ` (request (${prompt} tokens) exceeds the available context size (${window} tokens))`;
    }
    return { message, code: String(err?.code ?? ""), type: String(err?.type ?? err?.status ?? "") };
  }
  // Plain text, or an HTML error page from a gateway in front of the upstream. A tag never spans
  // a "<": with unclosed tags `<[^>]+>` would rescan to the end from each one, for minutes.
  const title = /<title>([^<]*)<\/title>/i.exec(text)?.[1];
  const plain = title ??
    text.slice(0, 64 * 1024).replace(/<[^<>]*>/g, " ").replace(/\s+/g, " ").trim();
  return { message: clip(plain, 500), code: "", type: "" };
}

/**
 * An error's message with the provider's own words after it: OpenRouter's "Provider returned
 * error" keeps them in `metadata.raw` (the provider's body as JSON text, or text).
 */
function withProviderWords(message: string, err: Json): string {
  const raw = providerWords(err?.metadata?.raw);
  return raw && !message.includes(raw) ? `${message}: ${raw}` : message;
}

function providerWords(raw: unknown): string {
  if (typeof raw !== "string" || !raw.trim()) return "";
  try {
    const inner = JSON.parse(raw);
    const err = inner?.error ?? inner;
    const words = typeof err?.message === "string" ? err.message : err?.error?.message;
    if (typeof words === "string" && words) return clip(words, 1000);
  } catch { /* the provider's text as it is */ }
  return clip(raw.trim(), 1000);
}

/**
 * A moderation refusal of the input (OpenRouter's 403 "Your input was flagged"): the request's
 * fault, which every key would meet, not a key's.
 */
const INPUT_FLAGGED = /\binput was flagged\b|\brequires moderation\b/i;

/**
 * No endpoint of the model takes what the request needs (OpenRouter's 404 "No endpoints found that
 * support tool use"): a 404 would read to Claude Code as a model that does not exist.
 */
const NO_ENDPOINT = /no endpoints found/i;

/**
 * What a local server cannot serve as it was started, said with a 500: tools (llama.cpp without
 * --jinja: "tools param requires --jinja flag", older builds "Cannot use tools with stream"), a
 * model larger than the machine (Ollama: "model requires more system memory (X) than is available
 * (Y)"), a prompt past its batch (llama.cpp: "input is too large to process. increase the physical
 * batch size"). Its admin's to mend, which no other key and no wait will do.
 */
const UNSERVABLE =
  /requires --jinja|cannot use tools with stream|requires more system memory|increase the physical batch size/i;

/** An error's status, code, type and message as a failure: whose fault, and when to try again. */
function classify(
  status: number,
  message: string,
  code: string,
  type: string,
  headers: Headers,
): UpstreamFailure {
  const invalidKey = code === "invalid_api_key" ||
    /incorrect api key|invalid api key|api key not valid|invalid_api_key/i.test(message);
  if (invalidKey) {
    return failureFromStatus(status === 400 ? 401 : status, message, headers, { invalidKey: true });
  }
  // Groq could not parse the call the model wrote: a new sample usually can, and no key is to blame.
  if (code === "tool_use_failed") return { status: 502, type: "api_error", message };
  // A text-only model given an image (llama.cpp without its projector answers 500, DeepSeek 422):
  // the request's fault, which no other key and no wait will mend.
  if (IMAGES_REFUSED.test(message) || UNSERVABLE.test(message)) {
    return { status: 400, type: "invalid_request_error", message };
  }
  // An overflow said by its code alone (Groq, some gateways) is read by its code.
  if (code === "context_length_exceeded" && !contextOverflowFromWords(message)) {
    return failureFromStatus(status, `${message} (${code})`, headers);
  }
  // Anthropic never answers 422 (the SDKs have no error for it): a body the server could not take.
  if (status === 422) return { status: 400, type: "invalid_request_error", message };
  if ((status === 403 || status === 400) && INPUT_FLAGGED.test(message)) {
    return { status: 400, type: "invalid_request_error", message };
  }
  if (status === 404 && NO_ENDPOINT.test(message)) {
    return { status: 400, type: "invalid_request_error", message };
  }
  // Out of credit (OpenRouter's 402): disabled as a key with no credit, until a check passes.
  if (status === 402) return failureFromStatus(402, message, headers);
  // OpenAI's account out of credit ("check your plan and billing details"), said with a 429:
  // disabled as any key with no credit, until a check passes, not rate limited.
  if (code === "insufficient_quota" || type === "insufficient_quota") {
    const failure = failureFromStatus(status, message, headers);
    failure.keyFault = "auth";
    delete failure.retryAfterMs;
    return failure;
  }
  return failureFromStatus(status, message, headers);
}

/** An error answer (status and body text) classified. */
export function openaiErrorFailure(
  status: number,
  bodyText: string,
  headers: Headers,
): UpstreamFailure {
  const { message, code, type } = errorFields(bodyText);
  return classify(status, message || `upstream answered HTTP ${status}`, code, type, headers);
}

/**
 * The HTTP status an error object stands for when it names none: by its code, type or status
 * words (OpenAI's `context_length_exceeded`, Google's `RESOURCE_EXHAUSTED`), else its wording.
 */
function statusOfWords(names: string, message: string): number {
  if (/api_key|authenticat|unauthori[sz]ed/i.test(names)) return 401;
  if (/permission|forbidden/i.test(names)) return 403;
  if (/quota|rate.?limit|too_many_requests|resource_exhausted/i.test(names)) return 429;
  if (/not_found/i.test(names)) return 404;
  if (/overload|unavailable|capacity/i.test(names)) return 503;
  if (/timeout|deadline/i.test(names)) return 504;
  if (/invalid|context_length|bad_request|unsupported|missing|too_(?:long|large)/i.test(names)) {
    return 400;
  }
  if (/overload|unavailable|capacity|\b503\b/i.test(message)) return 503;
  if (/rate.?limit|too many requests|\b429\b/i.test(message)) return 429;
  if (/context.?length|context window|prompt is too long/i.test(message)) return 400;
  return 502;
}

/**
 * The error a 200 body or stream chunk stands for: its `error` member, or (vLLM's and SGLang's)
 * the error's members at its top; undefined for any other.
 */
export function bodyFailure(json: Json): UpstreamFailure | undefined {
  if (json?.error) return openaiInlineFailure(json.error);
  if (json?.object === "error") return openaiInlineFailure(json);
  return undefined;
}

/** A choice that failed: OpenRouter ends one with `finish_reason: "error"`, its error in it. */
export function choiceFailure(choice: Json): UpstreamFailure | undefined {
  if (!choice.error && choice.finish_reason !== "error") return undefined;
  return openaiInlineFailure(choice.error ?? "upstream ended the answer with an error");
}

/** An error object met inside a 200 answer (stream or body), classified as an HTTP error would be. */
export function openaiInlineFailure(err: Json): UpstreamFailure {
  const message = withProviderWords(
    typeof err === "string"
      ? err
      : typeof err?.message === "string" && err.message
      ? err.message
      : "upstream error",
    err,
  );
  const code = typeof err?.code === "string" ? err.code : "";
  const type = typeof err?.type === "string" ? err.type : "";
  let status = Number(err?.code ?? err?.status);
  if (!Number.isInteger(status) || status < 400 || status > 599) {
    status = statusOfWords(
      `${code} ${type} ${typeof err?.status === "string" ? err.status : ""}`,
      message,
    );
  }
  return classify(status, message, code, type, new Headers());
}
