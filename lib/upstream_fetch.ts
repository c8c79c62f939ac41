// One call to an upstream: the fetch with its first-byte timeout and the client's abort, and
// what a thrown fetch or body read means.
import { readUpTo } from "./body_read.ts";
import { deadline } from "./deadlines.ts";
import { NO_RETRY, type ProxyError } from "./errors.ts";
import { upstreamFault } from "./providers/failure.ts";
import { UpstreamError } from "./providers/upstream_error.ts";
import type { UpstreamFailure, UpstreamRequest } from "./providers/types.ts";
import type { Services } from "./services.ts";
import { clip, maskUrl } from "./secret_mask.ts";

/** Stops a first-byte timeout: the answer came, or the attempt is over. */
export type StopTimer = () => void;

/** What one attempt came to: an answer for the client, or a failure to weigh and maybe retry. */
export type Outcome = { response: Response } | { failure: UpstreamFailure };

/** Sends the request with a first-byte timeout; network failures come back as failures. */
export async function send(
  s: Services,
  req: UpstreamRequest,
  timeoutMs: number,
  clientSignal: AbortSignal | undefined,
): Promise<{ res: Response; controller: AbortController; stopTimer: StopTimer } | UpstreamFailure> {
  const controller = new AbortController();
  const onClientAbort = () => controller.abort(new DOMException("client closed", "AbortError"));
  clientSignal?.addEventListener("abort", onClientAbort, { once: true });
  const stopTimer = deadline(
    Math.max(1, timeoutMs),
    () => controller.abort(new DOMException("timeout", "TimeoutError")),
  );
  try {
    const res = await s.fetch(req.url, {
      method: req.method ?? "POST",
      headers: req.headers,
      body: req.body,
      signal: controller.signal,
    });
    return { res, controller, stopTimer };
  } catch (err) {
    stopTimer();
    return networkFailure(
      controller.signal,
      err,
      `Could not reach the upstream at ${originOf(req.url)}`,
    );
  }
}

/** Where a request went, without what its address may hold of a secret (user, path, query). */
function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return "its base URL";
  }
}

/** A ProxyError a provider threw, as an attempt's failure. */
export function failureOf(err: ProxyError): UpstreamFailure {
  if (err instanceof UpstreamError) return err.failure;
  return { status: err.status, type: err.type, message: err.message };
}

/** A fetch or body read that threw: our timeout, the client leaving, or the network. */
export function networkFailure(
  signal: AbortSignal,
  err: unknown,
  what = "Could not reach the upstream",
): UpstreamFailure {
  const reason = signal.reason as DOMException | undefined;
  if (reason?.name === "TimeoutError") {
    return {
      status: 504,
      type: "timeout_error",
      message: "Upstream did not answer in time",
      keyFault: "transient",
    };
  }
  if (reason?.message === "client closed") {
    return { status: 499, type: "api_error", message: "client closed", keyFault: undefined };
  }
  return upstreamFault(`${what}: ${whyFailed(err)}`);
}

/** An error's message, with its cause's: fetch says only "fetch failed", the cause says why. */
function whyFailed(err: unknown): string {
  const message = (err as Error)?.message ?? String(err);
  let cause = (err as { cause?: { message?: unknown } })?.cause?.message;
  if (typeof cause !== "string" || !cause || message.includes(cause)) return message;
  // The URL it names may carry a gateway's key in its query: the reason is enough.
  cause = cause.replace(/ for url \([^)]*\)/, "");
  return `${message} (${cause})`;
}

/**
 * A redirect, which is never followed (it would take the key along): the base URL is wrong, so
 * every key would meet it, and the client is not sent to the address the upstream named.
 */
export function redirected(status: number): UpstreamFailure {
  return {
    status: 502,
    type: "api_error",
    message: `Upstream answered HTTP ${status}, a redirect, which the proxy does not follow: ` +
      "check the upstream's base URL",
  };
}

/**
 * A 404 for the path, not for a model: a web server's page or Go's "404 page not found", OpenAI's
 * `Invalid URL (POST /v1/...)`, a FastAPI server's `{"detail":"Not Found"}`. The base URL leads
 * nowhere the API is, which every key and every retry would meet. Said so, and not as
 * not_found_error, which Claude Code reads as a model that does not exist.
 */
export function noApiAt(status: number, text: string, url: string): UpstreamFailure | undefined {
  if (status !== 404) return undefined;
  const json = /^\s*[{[]/.test(text);
  if (json && !WRONG_PATH.test(text)) return undefined;
  // A page says what it is near its start; only that is looked at.
  const said = clip(
    text.slice(0, 4096).replace(/<(style|script)\b[\s\S]*?<\/\1>/gi, " ")
      .replace(/<[^>]*>/g, " ").replace(/\s+/g, " ").trim(),
    100,
  );
  return {
    status: 502,
    type: "api_error",
    message: `Upstream answered 404 at ${maskUrl(url)}${said ? ` (${said})` : ""}, no API ` +
      "there: check the upstream's base URL",
    headers: { ...NO_RETRY },
  };
}

const WRONG_PATH = /^\s*\{\s*"detail"\s*:\s*"Not Found"\s*\}\s*$|"message"\s*:\s*"Invalid URL \(/;

/**
 * A 200 whose body is no JSON (a web page at a wrong base URL, a gateway's notice), said in plain
 * words with its start, not in JSON.parse's; another key may be behind a working gateway.
 */
export function unreadableAnswer(
  text: string,
  what = "something that is not JSON",
): UpstreamFailure {
  return upstreamFault(`Upstream answered with ${what}: ${clip(text.trim(), 200)}`);
}

/**
 * Far past any answer a model writes (128k tokens of output is about half a MB): more is an
 * upstream gone wrong (or a compressed body that unpacks without end), not held whole.
 */
const MAX_ANSWER_BYTES = 64 * 1024 * 1024;

/** The answer's text, or the failure a body too large stands for. */
export async function answerText(res: Response): Promise<{ text: string } | UpstreamFailure> {
  const declared = res.headers.get("content-length");
  if (
    declared !== null && Number(declared) <= MAX_ANSWER_BYTES &&
    !res.headers.has("content-encoding")
  ) {
    // Most answers: their length said, and no compression that could make more of it.
    return { text: await res.text() };
  }
  const { bytes, complete } = await readUpTo(res.body, MAX_ANSWER_BYTES);
  if (!complete) {
    return upstreamFault(`Upstream answered with more than ${MAX_ANSWER_BYTES >> 20} MB`);
  }
  return { text: new TextDecoder().decode(bytes) };
}

/** The answer's JSON, or the failure a body that is none (or too large) stands for. */
export async function answerJson(res: Response): Promise<{ json: unknown } | UpstreamFailure> {
  const read = await answerText(res);
  return "text" in read ? jsonOf(read.text) : read;
}

/** A whole answer's text as JSON, or the failure text that is none stands for. */
export function jsonOf(text: string): { json: unknown } | UpstreamFailure {
  try {
    return { json: JSON.parse(text) };
  } catch {
    return unreadableAnswer(text);
  }
}

/** An error answer says what it has to in its first bytes; a huge one is not held whole. */
const MAX_ERROR_BYTES = 256 * 1024;

/** The start of an error answer's body, as text. */
export async function errorText(res: Response): Promise<string> {
  return new TextDecoder().decode((await readUpTo(res.body, MAX_ERROR_BYTES, true)).bytes);
}
