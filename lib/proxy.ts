// The pipeline of one Messages request: pick the upstream and key, call it, retry on the next key
// while nothing has reached the client, and hand back JSON or a translated event stream.
import { shownFailure } from "./observability/redact.ts";
import type { MessageResponse, MessagesRequest } from "./anthropic.ts";
import {
  anthropicErrorFailure,
  messageWithClientModel,
  noteAnthropicMessage,
  upstreamInfoHeaders,
} from "./anthropic_answer.ts";
import { maskKey } from "./secret_mask.ts";
import { promptTooLong } from "./context_overflow.ts";
import {
  errorBody,
  errorResponse,
  internalError,
  NO_RETRY,
  ProxyError,
  tooDeep,
} from "./errors.ts";
import { healthId, keyId } from "./key_pool.ts";
import { mapModel } from "./model_map.ts";
import { shellWord } from "./shell_word.ts";
import { refusalRetry, retryAfterRefusal, serverOf } from "./refusal_retry.ts";
import { providerFor } from "./providers/registry.ts";
import { wantsWebSearch } from "./providers/web_search.ts";
import type {
  CallContext,
  Provider,
  UpstreamConfig,
  UpstreamFailure,
  UpstreamRequest,
} from "./providers/types.ts";
import { attemptReason, type RequestRecord } from "./request_record.ts";
import { withRequestId } from "./request_id.ts";
import { firstInputEstimate } from "./token_estimate.ts";
import type { Services } from "./services.ts";
import { SERVER_STOPPING, streamAttempt } from "./stream_relay.ts";
import { isEventStream, streamedAnswer } from "./streamed_answer.ts";
import { openWhileWaiting } from "./stream_opening.ts";
import {
  answerJson,
  errorText,
  failureOf,
  networkFailure,
  noApiAt,
  type Outcome,
  redirected,
  send,
  type StopTimer,
  unreadableAnswer,
} from "./upstream_fetch.ts";

export interface MessagesCall {
  body: MessagesRequest;
  raw: string;
  headers: Headers;
  /** The query string with its `?`, or "". */
  query?: string;
  requestId: string;
  clientKey?: string;
  /** Aborts when the client goes away. */
  signal?: AbortSignal;
  /** Gives back the slot takeSlot() gave this request. */
  release: () => void;
}

/**
 * One of the MAX_CONCURRENT_REQUESTS slots, taken before the body is read (a request uploading is
 * in flight too: otherwise every client sending at once had its body held whole, to be refused
 * after it); refused when none is free. The function returned gives it back, once.
 */
export function takeSlot(s: Services): () => void {
  if (s.inFlight.count >= s.config.maxConcurrentRequests) {
    throw new ProxyError(529, "The proxy is at its concurrent request limit; retry shortly");
  }
  s.inFlight.count++;
  let held = true;
  return () => {
    if (!held) return;
    held = false;
    s.inFlight.count--;
  };
}

/**
 * A request the proxy answered itself before choosing an upstream (at its limit, a body it
 * refuses): counted, so a proxy shedding load shows it in /metrics and the usage figures, but
 * not kept in the request log, which a flood of them would otherwise rewrite.
 */
export function recordRefusal(
  s: Services,
  call: { requestId: string; clientKey?: string },
  err: ProxyError,
): void {
  // Refused before its body was read: whether it asked for a stream is not known.
  const rec = newRecord(s, call.requestId, call.clientKey, false, "");
  rec.status = err.status;
  rec.errorType = err.type;
  rec.errorMessage = err.message;
  rec.refused = true;
  s.recorder.record(rec);
}

/** A Messages request's record as it starts, before any upstream is tried. */
function newRecord(
  s: Services,
  requestId: string,
  clientKey: string | undefined,
  stream: boolean,
  requestedModel: string,
): RequestRecord {
  return {
    id: requestId,
    time: s.now(),
    path: "/v1/messages",
    clientKey: clientKey ? maskKey(clientKey) : undefined,
    stream,
    requestedModel,
    attempts: [],
    fallbacks: [],
    status: 0,
    totalMs: 0,
  };
}

export function handleMessages(s: Services, call: MessagesCall): Promise<Response> {
  const requestId = call.requestId;
  const answer = call.body.stream === true
    ? openWhileWaiting(s, call, (c) => answerMessages(s, c))
    : answerMessages(s, call);
  // At the end of SIGTERM's grace, a request whose answer has not begun gets 529, which clients
  // retry elsewhere, rather than a cut connection; one already begun is ended by its own stop.
  // Nothing here holds the call: a Claude Code request kept past its send costs the collector
  // (a third more CPU per request when this held it).
  return new Promise((resolve, reject) => {
    const stop = () => resolve(errorFor(SERVER_STOPPING, requestId));
    s.answerStops.add(stop);
    answer.then((res) => {
      s.answerStops.delete(stop);
      resolve(res);
    }, (err) => {
      s.answerStops.delete(stop);
      reject(err);
    });
  });
}

async function answerMessages(s: Services, call: MessagesCall): Promise<Response> {
  const rec = newRecord(
    s,
    call.requestId,
    call.clientKey,
    call.body.stream === true,
    call.body.model,
  );
  if (s.config.enableRequestLogs) rec.requestBody = call.raw;
  // Only the release is kept past the answer's start (by `finish`, until a stream ends), not the
  // call and its body.
  const release = call.release;
  let finished = false;
  // A short answer can finish before route() has noted its successful attempt: record after both.
  let routed = false;
  const finish = (status: number, failure?: UpstreamFailure) => {
    if (finished) return;
    finished = true;
    release();
    rec.status = status;
    rec.totalMs = s.now() - rec.time;
    if (failure) {
      rec.errorType = failure.type;
      rec.errorMessage = failure.message;
      // An error answer is a response too: logged as the client got it, unless the client left.
      if (s.config.enableResponseLogs && rec.responseBody === undefined && status !== 499) {
        rec.responseBody = errorBody(failure.type, failure.message, call.requestId);
      }
    }
    if (routed) s.recorder.record(rec);
  };
  try {
    const response = await route(s, call, rec, finish);
    routed = true;
    if (finished) s.recorder.record(rec);
    return response;
  } catch (err) {
    routed = true;
    if (!(err instanceof ProxyError) && !tooDeep(err)) {
      s.log.log("error", "internal error while proxying", {
        requestId: call.requestId,
        error: s.log.redact(String((err as Error)?.stack ?? err)),
      });
    }
    const e = err instanceof ProxyError ? err : tooDeep(err) ?? internalError();
    finish(e.status, failureOf(e));
    throw e;
  }
}

/** A turn of an SDK message thread that names the reply it continues instead of the history. */
function continuesThread(body: MessagesRequest): boolean {
  const thread = body.thread as { type?: unknown } | null | undefined;
  return thread?.type === "continue";
}

/**
 * Why an upstream knows no such model, as far as the proxy can tell: the name went as the client
 * asked (no entry of the model map took it), or the map named it.
 */
function modelHint(upstream: string, requested: string, sent: string): string {
  return sent === requested
    ? ` (sent to upstream "${upstream}" as requested, no model map entry taking it: map it to ` +
      `one of the upstream's models on its admin page, or with deno task config model ` +
      `${shellWord(upstream)} default <model>)`
    : ` (the model map of upstream "${upstream}" sends ${requested} as ${sent})`;
}

/**
 * Translated upstreams keep no conversation, so no thread is kept: the answer the API gives for a
 * thread it lost, on which the SDKs (their toolRunner, `messages.thread()`) send the whole
 * history again as a new thread, which is served like any request.
 */
function threadNotKept(): ProxyError {
  return new ProxyError(
    404,
    "This upstream keeps no message threads: send the whole conversation (the SDKs do so by themselves on this error)",
    "not_found_error",
    NO_RETRY,
    { error_code: "thread_not_found" },
  );
}

/** The upstream that takes the request when every key of this one fails, if not tried yet. */
function fallbackOf(
  all: UpstreamConfig[],
  upstream: UpstreamConfig,
  visited: Set<string>,
): UpstreamConfig | undefined {
  const name = upstream.fallback?.toLowerCase();
  return name === undefined
    ? undefined
    : all.find((u) => u.name.toLowerCase() === name && !visited.has(u.name));
}

async function route(
  s: Services,
  call: MessagesCall,
  rec: RequestRecord,
  finish: (status: number, failure?: UpstreamFailure) => void,
): Promise<Response> {
  const { doc } = s.store.snapshot;
  let upstream: UpstreamConfig | undefined = doc.upstream[doc.currentUpstream];
  if (!upstream) {
    throw new ProxyError(
      500,
      "No upstream is configured: add one on the admin pages or with `deno task config add`",
      undefined,
      NO_RETRY,
    );
  }
  // Each attempt may wait REQUEST_TIMEOUT for its first byte; the keys of one upstream together
  // twice that.
  let deadline = s.now() + 2 * s.config.requestTimeout;
  /** Keys of the last upstream asked that its time ran out before. */
  let untried = 0;
  const visited = new Set<string>();
  let last: UpstreamFailure | undefined;
  const faults = { rate_limit: 0, auth: 0, transient: 0 };
  let soonest: number | undefined;
  let triedAny = false;
  /** An upstream with no key that answered as one that needs a key: said so, not "keys rejected". */
  let keylessRefused: string | undefined;
  const webSearch = wantsWebSearch(call.body.tools);

  while (upstream && !visited.has(upstream.name)) {
    visited.add(upstream.name);
    const provider = providerFor(upstream.serviceType);
    if (!provider) {
      throw new ProxyError(
        500,
        `Upstream "${upstream.name}" has an unknown serviceType`,
        undefined,
        NO_RETRY,
      );
    }
    if (!provider.passthrough && continuesThread(call.body)) throw threadNotKept();
    const model = mapModel(call.body.model, upstream.models, webSearch);
    rec.upstream = upstream.name;
    rec.serviceType = upstream.serviceType;
    rec.upstreamModel = model;
    const fallback = fallbackOf(doc.upstream, upstream, visited);
    keylessRefused = undefined;
    // A local server (Ollama, vLLM) may need no key at all: one attempt without one. With a
    // fallback to answer, keys set aside are not probed.
    const candidates = upstream.apiKeys.length
      ? s.pool.order(
        upstream,
        doc.loadBalance,
        model,
        !fallback,
      )
      : [{ key: "", id: "no-key" }];
    if (candidates.length < upstream.apiKeys.length) {
      noteSkippedKeys(s, rec, upstream, candidates, model);
    }
    const issuer = provider.issuingKey?.(call.body, model, upstream.apiKeys);
    const at = issuer === undefined ? -1 : candidates.findIndex((c) => c.key === issuer);
    if (at > 0) candidates.unshift(...candidates.splice(at, 1));
    const retry = refusalRetry(s, upstream, model, call.headers);
    const server = serverOf(upstream);
    let triedHere = false;
    untried = 0;
    for (let i = 0; i < candidates.length; i++) {
      const candidate = candidates[i];
      if (call.signal?.aborted) break;
      if (s.now() >= deadline) {
        untried = candidates.length - i;
        break;
      }
      // Requests in flight together meet a failing key together: one that another set aside
      // since this order was made is not tried again by each of them.
      if (i > 0 && s.pool.health.get(healthId(upstream.baseUrl, candidate.key), model)) {
        noteSkipped(s, rec, upstream, candidate.key, model);
        continue;
      }
      triedAny = triedHere = true;
      const cap = retry.cap ?? s.outputLimits.capFor(server, model, call.raw.length);
      const ctx: CallContext = {
        upstream: cap && !(upstream.maxTokens! <= cap) ? { ...upstream, maxTokens: cap } : upstream,
        model,
        requestedModel: call.body.model,
        apiKey: candidate.key,
        stream: call.body.stream === true,
        clientHeaders: retry.clientHeaders,
        clientQuery: call.query,
        withoutThinking: retry.withoutThinking,
        dropFields: retry.dropFields,
      };
      const started = s.now();
      const outcome = await attempt(s, provider, ctx, call, deadline, rec, finish);
      if ("response" in outcome) {
        if (i > 0) s.pool.passTurn(upstream, candidate);
        s.pool.recordSuccess(upstream, candidate).catch(healthNotRecorded(s, call.requestId));
        rec.attempts.push({
          upstream: upstream.name,
          keyId: candidate.id,
          key: maskKey(candidate.key),
          outcome: "ok",
          status: outcome.response.status,
          ms: s.now() - started,
        });
        return outcome.response;
      }
      const failure = outcome.failure;
      // Reasons are logged, kept in KV and shown on the admin pages: never with a secret in them.
      const shown = shownFailure(failure, s.log.redact);
      last = shown;
      rec.attempts.push({
        upstream: upstream.name,
        keyId: candidate.id,
        key: maskKey(candidate.key),
        outcome: failure.status === 499 ? "cancelled" : failure.keyFault ? "failed" : "refused",
        status: failure.status,
        reason: attemptReason(shown.message),
        ms: s.now() - started,
      });
      if (!failure.keyFault) {
        if (retryAfterRefusal(s, provider, call, ctx, model, failure, retry)) {
          i--;
          continue;
        }
        // The request's own fault: another key would fail the same way.
        s.pool.settle(upstream, candidate);
        const overflow = shown.status === 400 ? promptTooLong(provider, shown.message) : undefined;
        if (overflow) shown.message = overflow;
        if (shown.type === "not_found_error") {
          shown.message += modelHint(upstream.name, call.body.model, model);
        }
        finish(shown.status, shown);
        return errorFor(shown, call.requestId, shown.headers);
      }
      faults[failure.keyFault]++;
      if (!candidate.key && failure.keyFault === "auth") keylessRefused = upstream.name;
      s.log.log("warn", "upstream attempt failed, trying the next key", {
        requestId: call.requestId,
        upstream: upstream.name,
        key: maskKey(candidate.key),
        status: failure.status,
        fault: failure.keyFault,
      });
      // Not awaited: the key's state in memory changes at once, its KV write need not hold up
      // the next attempt.
      s.pool.recordFailure(upstream, candidate, model, shown).catch(
        healthNotRecorded(s, call.requestId),
      );
    }
    const recovery = s.pool.soonestRecovery(upstream, model, s.now());
    if (recovery !== undefined) soonest = Math.min(soonest ?? Infinity, recovery);
    if (!fallback || call.signal?.aborted) break;
    rec.fallbacks.push(fallback.name);
    // Keys all set aside before this request is the state already logged when each was set
    // aside: said again for every request it sends on, it buried the failures in the log.
    s.log.log(
      triedHere ? "warn" : "debug",
      triedHere
        ? "every key failed, falling back to another upstream"
        : "every key is set aside, going to the fallback upstream",
      { requestId: call.requestId, from: upstream.name, to: fallback.name },
    );
    upstream = fallback;
    // Another server, with time of its own: keys that hung used up this upstream's, and the
    // fallback is there for just that.
    deadline = s.now() + 2 * s.config.requestTimeout;
  }

  if (call.signal?.aborted) {
    const failure: UpstreamFailure = { status: 499, type: "api_error", message: "client closed" };
    finish(499, failure);
    return errorFor(failure, call.requestId);
  }
  const { failure, headers } = exhausted(
    triedAny,
    soonest,
    faults,
    last,
    keylessRefused,
    untried,
  );
  finish(failure.status, failure);
  return errorFor(failure, call.requestId, headers);
}

/** Keys the pool set aside for this request, recorded with why, for the log and the admin pages. */
function noteSkippedKeys(
  s: Services,
  rec: RequestRecord,
  upstream: UpstreamConfig,
  candidates: Array<{ key: string }>,
  model: string,
): void {
  const usable = new Set(candidates.map((c) => c.key));
  for (const key of upstream.apiKeys) {
    if (!usable.has(key)) noteSkipped(s, rec, upstream, key, model);
  }
}

function noteSkipped(
  s: Services,
  rec: RequestRecord,
  upstream: UpstreamConfig,
  key: string,
  model: string,
): void {
  const state = s.pool.health.get(healthId(upstream.baseUrl, key), model);
  rec.attempts.push({
    upstream: upstream.name,
    keyId: keyId(key),
    key: maskKey(key),
    outcome: "skipped",
    reason: state ? `${state.state}: ${state.reason}` : "unavailable",
  });
}

/** A key health write that failed costs the request nothing, but the operator hears of it. */
export function healthNotRecorded(s: Services, requestId?: string): (err: unknown) => void {
  return (err) =>
    s.log.log("error", "could not record key health", { requestId, error: String(err) });
}

/**
 * The answer once every key (and fallback) is used up, by what went wrong: all disabled, all
 * rate limited or cooling down (429 with when to retry), the upstream down (529), or every key
 * rejected (502, not worth retrying).
 */
function exhausted(
  triedAny: boolean,
  soonest: number | undefined,
  faults: Record<"rate_limit" | "auth" | "transient", number>,
  last: UpstreamFailure | undefined,
  keylessRefused?: string,
  untried = 0,
): { failure: UpstreamFailure; headers: Record<string, string> } {
  if (!triedAny && soonest === undefined) {
    return {
      failure: {
        status: 502,
        type: "api_error",
        message: "Every key of the upstream is disabled; re-enable one on the admin pages",
      },
      headers: NO_RETRY,
    };
  }
  // Keys rejected beside rate-limited ones come back no sooner: the client waits for the latter.
  if (!triedAny || (faults.rate_limit > 0 && faults.transient === 0)) {
    const wait = Math.max(1, Math.ceil((soonest ?? 60_000) / 1000));
    return {
      failure: {
        status: 429,
        type: "rate_limit_error",
        message: triedAny
          ? `Every upstream key is rate limited; retry in ${wait}s`
          : `Every upstream key is cooling down or disabled; retry in ${wait}s`,
      },
      headers: { "retry-after": String(wait) },
    };
  }
  if (faults.transient > 0 || faults.rate_limit > 0) {
    return {
      failure: {
        status: 529,
        type: "overloaded_error",
        message: untried
          ? `Upstream unavailable: the time for its keys ran out with ${untried} not tried (last error: ${
            last?.message ?? "none"
          })`
          : `Upstream unavailable after trying every key (last error: ${last?.message ?? "none"})`,
      },
      headers: {},
    };
  }
  return {
    failure: {
      status: 502,
      type: "api_error",
      message: keylessRefused
        ? `Upstream "${keylessRefused}" has no API key, and it asks for one (${
          last?.message ?? "none"
        }); add its key on the admin pages`
        : `Every upstream key was rejected (last error: ${
          last?.message ?? "none"
        }); check the keys on the admin pages`,
    },
    headers: NO_RETRY,
  };
}

function errorFor(
  failure: UpstreamFailure,
  requestId: string,
  headers: Record<string, string> = {},
): Response {
  return errorResponse(
    new ProxyError(failure.status, failure.message, failure.type, headers),
    requestId,
  );
}

async function attempt(
  s: Services,
  provider: Provider,
  ctx: CallContext,
  call: MessagesCall,
  deadline: number,
  rec: RequestRecord,
  finish: (status: number, failure?: UpstreamFailure) => void,
): Promise<Outcome> {
  let req: UpstreamRequest;
  try {
    req = provider.buildRequest(call.body, ctx, call.raw);
  } catch (err) {
    if (err instanceof ProxyError) {
      return { failure: failureOf(err) };
    }
    throw err;
  }
  const sent = await send(
    s,
    req,
    Math.min(s.config.requestTimeout, deadline - s.now()),
    call.signal,
  );
  if (!("res" in sent)) return { failure: sent };
  const { res, controller, stopTimer } = sent;
  if (!res.ok) {
    const text = await errorText(res);
    stopTimer();
    if (res.status < 400) return { failure: redirected(res.status) };
    return {
      failure: noApiAt(res.status, text, req.url) ??
        provider.parseError(res.status, text, res.headers),
    };
  }
  if (!ctx.stream) {
    try {
      return provider.passthrough
        ? await passthroughAnswer(s, provider, ctx, res, stopTimer, call.requestId, rec, finish)
        : await translatedAnswer(s, provider, ctx, res, stopTimer, call, rec, finish);
    } catch (err) {
      stopTimer();
      if (err instanceof ProxyError) {
        return { failure: failureOf(err) };
      }
      return {
        failure: networkFailure(controller.signal, err, "Upstream answer could not be read"),
      };
    }
  }
  return await streamAttempt({
    s,
    provider,
    ctx,
    call,
    res,
    controller,
    stopFirstByteTimer: stopTimer,
    rec,
    finish,
  });
}

/** An Anthropic upstream's whole answer: checked to be a message, then sent on as it came. */
async function passthroughAnswer(
  s: Services,
  provider: Provider,
  ctx: CallContext,
  res: Response,
  stopTimer: StopTimer,
  requestId: string,
  rec: RequestRecord,
  finish: (status: number, failure?: UpstreamFailure) => void,
): Promise<Outcome> {
  let text: string;
  if (isEventStream(res)) {
    const read = await streamedAnswer(provider, ctx, res, requestId);
    if ("answer" in read) text = JSON.stringify(read.answer);
    else if ("json" in read) text = JSON.stringify(read.json);
    else {
      stopTimer();
      return { failure: read };
    }
  } else text = await res.text();
  stopTimer();
  rec.ttfbMs = s.now() - rec.time;
  const answer = noteAnthropicMessage(rec, text);
  if (answer === "not JSON") return { failure: unreadableAnswer(text) };
  if (answer === "no message") {
    return { failure: unreadableAnswer(text, "JSON that is no message") };
  }
  if (answer === "error") return { failure: anthropicErrorFailure(provider, text, res.headers) };
  if (ctx.model !== ctx.requestedModel) text = messageWithClientModel(text, ctx.requestedModel);
  const response = withRequestId(
    new Response(text, {
      status: 200,
      headers: {
        ...upstreamInfoHeaders(res.headers, s.log.redact),
        "content-type": "application/json",
        "request-id": requestId,
      },
    }),
  );
  if (s.config.enableResponseLogs) rec.responseBody = text;
  finish(200);
  return { response };
}

/** A translated upstream's whole answer, as the Claude message it amounts to. */
async function translatedAnswer(
  s: Services,
  provider: Provider,
  ctx: CallContext,
  res: Response,
  stopTimer: StopTimer,
  call: MessagesCall,
  rec: RequestRecord,
  finish: (status: number, failure?: UpstreamFailure) => void,
): Promise<Outcome> {
  const read = isEventStream(res)
    ? await streamedAnswer(provider, ctx, res, call.requestId)
    : await answerJson(res);
  stopTimer();
  if (!("json" in read) && !("answer" in read)) return { failure: read };
  rec.ttfbMs = s.now() - rec.time;
  const message = "answer" in read ? read.answer : provider.parseResponse(read.json, ctx);
  withEstimatedUsage(message, call);
  const text = JSON.stringify(message);
  rec.stopReason = message.stop_reason;
  rec.usage = message.usage;
  if (s.config.enableResponseLogs) rec.responseBody = text;
  finish(200);
  return {
    response: withRequestId(
      new Response(text, {
        status: 200,
        headers: { "content-type": "application/json", "request-id": call.requestId },
      }),
    ),
  };
}

/**
 * An answer whose upstream counted nothing (no usage, or nulls) gets estimates, as a stream does:
 * a zero would tell Claude Code's context meter the conversation is empty.
 */
function withEstimatedUsage(message: MessageResponse, call: MessagesCall): void {
  const u = message.usage;
  if (!u.input_tokens && !u.cache_read_input_tokens && !u.cache_creation_input_tokens) {
    u.input_tokens = firstInputEstimate(call.body, call.raw);
  }
  if (!u.output_tokens) {
    let chars = 0;
    for (const b of message.content) {
      chars += b.type === "text"
        ? b.text.length
        : b.type === "thinking"
        ? b.thinking.length
        : b.type === "tool_use"
        ? JSON.stringify(b.input).length
        : 0;
    }
    u.output_tokens = Math.ceil(chars / 4);
  }
}
