// The pipeline of one Messages request: pick the upstream and key, call it, retry on the next key
// while nothing has reached the client, and hand back JSON or a translated event stream.
import { type MessagesRequest, newId } from "./anthropic.ts";
import { maskKey } from "./config_document.ts";
import { ProxyError } from "./errors.ts";
import { type Candidate, keyId } from "./key_pool.ts";
import { mapModel } from "./model_map.ts";
import { providerFor } from "./providers/registry.ts";
import { AnthropicStreamWriter } from "./providers/stream_writer.ts";
import type {
  CallContext,
  Provider,
  UpstreamConfig,
  UpstreamFailure,
  UpstreamRequest,
} from "./providers/types.ts";
import type { RequestRecord } from "./request_record.ts";
import type { Services } from "./services.ts";
import { createSseDecoder, PING_FRAME } from "./sse.ts";
import { estimateTokens } from "./token_estimate.ts";

export interface MessagesCall {
  body: MessagesRequest;
  raw: string;
  headers: Headers;
  requestId: string;
  clientKey?: string;
  /** Aborts when the client goes away. */
  signal?: AbortSignal;
}

const encoder = new TextEncoder();
type Timer = ReturnType<typeof setTimeout>;

type Outcome = { response: Response } | { failure: UpstreamFailure };

export async function handleMessages(s: Services, call: MessagesCall): Promise<Response> {
  if (s.inFlight.count >= s.config.maxConcurrentRequests) {
    throw new ProxyError(529, "The proxy is at its concurrent request limit; retry shortly");
  }
  s.inFlight.count++;
  const rec: RequestRecord = {
    id: call.requestId,
    time: s.now(),
    path: "/v1/messages",
    clientKey: call.clientKey ? maskKey(call.clientKey) : undefined,
    stream: call.body.stream === true,
    requestedModel: call.body.model,
    attempts: [],
    fallbacks: [],
    status: 0,
    totalMs: 0,
  };
  if (s.config.enableRequestLogs) rec.requestBody = call.raw;
  let finished = false;
  // A short answer can finish before route() has noted its successful attempt: record after both.
  let routed = false;
  const finish = (status: number, failure?: UpstreamFailure) => {
    if (finished) return;
    finished = true;
    s.inFlight.count--;
    rec.status = status;
    rec.totalMs = s.now() - rec.time;
    if (failure) {
      rec.errorType = failure.type;
      rec.errorMessage = failure.message;
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
    if (!(err instanceof ProxyError)) {
      s.log.log("error", "internal error while proxying", {
        requestId: call.requestId,
        error: s.log.redact(String((err as Error)?.stack ?? err)),
      });
    }
    const e = err instanceof ProxyError ? err : new ProxyError(500, "Internal error in the proxy");
    finish(e.status, { status: e.status, type: e.type, message: e.message });
    throw e;
  }
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
    );
  }
  // Each attempt may wait REQUEST_TIMEOUT for its first byte; all of them together twice that.
  const deadline = s.now() + 2 * s.config.requestTimeout;
  const visited = new Set<string>();
  let last: UpstreamFailure | undefined;
  const faults = { rate_limit: 0, auth: 0, transient: 0 };
  let soonest: number | undefined;
  let triedAny = false;

  while (upstream && !visited.has(upstream.name)) {
    visited.add(upstream.name);
    const provider = providerFor(upstream.serviceType);
    if (!provider) {
      throw new ProxyError(500, `Upstream "${upstream.name}" has an unknown serviceType`);
    }
    const model = mapModel(call.body.model, upstream.models);
    rec.upstream = upstream.name;
    rec.serviceType = upstream.serviceType;
    rec.upstreamModel = model;
    // A local server (Ollama, vLLM) may need no key at all: one attempt without one.
    const candidates = upstream.apiKeys.length
      ? s.pool.order(upstream, doc.loadBalance, model)
      : [{ key: "", id: "no-key" }];
    const usable = candidates.length < upstream.apiKeys.length
      ? new Set(candidates.map((c) => c.key))
      : undefined;
    for (const key of usable ? upstream.apiKeys : []) {
      if (!usable!.has(key)) {
        const state = s.pool.health.get(upstream.name, keyId(key), model);
        rec.attempts.push({
          upstream: upstream.name,
          keyId: keyId(key),
          key: maskKey(key),
          outcome: "skipped",
          reason: state ? `${state.state}: ${state.reason}` : "unavailable",
        });
      }
    }
    for (const candidate of candidates) {
      if (s.now() >= deadline || call.signal?.aborted) break;
      triedAny = true;
      const ctx: CallContext = {
        upstream,
        model,
        requestedModel: call.body.model,
        apiKey: candidate.key,
        stream: call.body.stream === true,
        clientHeaders: call.headers,
      };
      const started = s.now();
      const outcome = await attempt(s, provider, ctx, call, deadline, rec, finish);
      if ("response" in outcome) {
        s.pool.recordSuccess(candidate);
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
      last = failure;
      rec.attempts.push({
        upstream: upstream.name,
        keyId: candidate.id,
        key: maskKey(candidate.key),
        outcome: "failed",
        status: failure.status,
        reason: s.log.redact(failure.message).slice(0, 300),
        ms: s.now() - started,
      });
      if (!failure.keyFault) {
        // The request's own fault: another key would fail the same way.
        const shown = { ...failure, message: s.log.redact(failure.message) };
        finish(shown.status, shown);
        return errorFor(shown, call.requestId);
      }
      faults[failure.keyFault]++;
      s.log.log("warn", "upstream attempt failed, trying the next key", {
        requestId: call.requestId,
        upstream: upstream.name,
        key: maskKey(candidate.key),
        status: failure.status,
        fault: failure.keyFault,
      });
      // The reason is kept in KV and shown on the admin pages: never with a secret in it.
      const kept = { ...failure, message: s.log.redact(failure.message) };
      await s.pool.recordFailure(upstream, candidate, model, kept).catch((err) =>
        s.log.log("error", "could not record key health", {
          requestId: call.requestId,
          error: String(err),
        })
      );
    }
    const recovery = s.pool.soonestRecovery(upstream, model, s.now());
    if (recovery !== undefined) soonest = Math.min(soonest ?? Infinity, recovery);
    const next: UpstreamConfig | undefined = upstream.fallback
      ? doc.upstream.find((u) => u.name.toLowerCase() === upstream!.fallback!.toLowerCase())
      : undefined;
    if (next && !visited.has(next.name) && s.now() < deadline && !call.signal?.aborted) {
      rec.fallbacks.push(next.name);
      s.log.log("warn", "every key failed, falling back to another upstream", {
        requestId: call.requestId,
        from: upstream.name,
        to: next.name,
      });
    }
    upstream = next;
  }

  if (call.signal?.aborted) {
    const failure: UpstreamFailure = { status: 499, type: "api_error", message: "client closed" };
    finish(499, failure);
    return errorFor(failure, call.requestId);
  }
  let failure: UpstreamFailure;
  const headers: Record<string, string> = {};
  if (!triedAny || (faults.rate_limit > 0 && faults.auth === 0 && faults.transient === 0)) {
    const wait = Math.max(1, Math.ceil((soonest ?? 60_000) / 1000));
    headers["retry-after"] = String(wait);
    failure = {
      status: 429,
      type: "rate_limit_error",
      message: triedAny
        ? `Every upstream key is rate limited; retry in ${wait}s`
        : `Every upstream key is cooling down or disabled; retry in ${wait}s`,
    };
    if (!triedAny && soonest === undefined) {
      failure = {
        status: 502,
        type: "api_error",
        message: "Every key of the upstream is disabled; re-enable one on the admin pages",
      };
      delete headers["retry-after"];
    }
  } else if (faults.transient > 0 || faults.rate_limit > 0) {
    failure = {
      status: 529,
      type: "overloaded_error",
      message: `Upstream unavailable after trying every key (last error: ${
        s.log.redact(last?.message ?? "none")
      })`,
    };
  } else {
    failure = {
      status: 502,
      type: "api_error",
      message: "Every upstream key was rejected (401/403); check the keys on the admin pages",
    };
  }
  finish(failure.status, failure);
  return errorFor(failure, call.requestId, headers);
}

function errorFor(
  failure: UpstreamFailure,
  requestId: string,
  headers: Record<string, string> = {},
): Response {
  return new Response(
    JSON.stringify({
      type: "error",
      error: { type: failure.type, message: failure.message },
      request_id: requestId,
    }),
    {
      status: failure.status === 499 ? 499 : failure.status,
      headers: { "content-type": "application/json", "request-id": requestId, ...headers },
    },
  );
}

/** Sends the request with a first-byte timeout; network failures come back as failures. */
async function send(
  s: Services,
  req: UpstreamRequest,
  timeoutMs: number,
  clientSignal: AbortSignal | undefined,
): Promise<{ res: Response; controller: AbortController; timer: Timer } | UpstreamFailure> {
  const controller = new AbortController();
  const onClientAbort = () => controller.abort(new DOMException("client closed", "AbortError"));
  clientSignal?.addEventListener("abort", onClientAbort, { once: true });
  const timer = setTimeout(
    () => controller.abort(new DOMException("timeout", "TimeoutError")),
    Math.max(1, timeoutMs),
  );
  try {
    const res = await s.fetch(req.url, {
      method: req.method ?? "POST",
      headers: req.headers,
      body: req.body,
      signal: controller.signal,
    });
    return { res, controller, timer };
  } catch (err) {
    clearTimeout(timer);
    return networkFailure(controller.signal, err);
  }
}

/** A fetch or body read that threw: our timeout, the client leaving, or the network. */
function networkFailure(
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
  return {
    status: 502,
    type: "api_error",
    message: `${what}: ${(err as Error)?.message ?? String(err)}`,
    keyFault: "transient",
  };
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
      return { failure: { status: err.status, type: err.type, message: err.message } };
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
  const { res, controller, timer } = sent;
  if (!res.ok) {
    let text = "";
    try {
      text = await res.text();
    } catch { /* the body broke: the status says enough */ }
    clearTimeout(timer);
    return { failure: provider.parseError(res.status, text, res.headers) };
  }
  const started = rec.time;
  if (!ctx.stream) {
    try {
      if (provider.passthrough) {
        const bytes = await res.arrayBuffer();
        clearTimeout(timer);
        rec.ttfbMs = s.now() - started;
        const response = new Response(bytes, {
          status: 200,
          headers: {
            ...upstreamInfoHeaders(res.headers),
            "content-type": "application/json",
            "request-id": call.requestId,
          },
        });
        const text = new TextDecoder().decode(bytes);
        noteAnthropicMessage(rec, text);
        if (s.config.enableResponseLogs) rec.responseBody = text;
        finish(200);
        return { response };
      }
      const json = await res.json();
      clearTimeout(timer);
      rec.ttfbMs = s.now() - started;
      const message = provider.parseResponse(json, ctx);
      const text = JSON.stringify(message);
      rec.stopReason = message.stop_reason;
      rec.usage = message.usage;
      if (s.config.enableResponseLogs) rec.responseBody = text;
      finish(200);
      return {
        response: new Response(text, {
          status: 200,
          headers: { "content-type": "application/json", "request-id": call.requestId },
        }),
      };
    } catch (err) {
      clearTimeout(timer);
      if (err instanceof ProxyError) {
        return { failure: { status: err.status, type: err.type, message: err.message } };
      }
      return {
        failure: networkFailure(controller.signal, err, "Upstream answer could not be read"),
      };
    }
  }
  return await streamAttempt(s, provider, ctx, call, res, controller, timer, rec, finish);
}

/**
 * Holds the response until the upstream's first event: an early error (or an empty body) is
 * still a failure the caller can retry on another key. Then streams, translating event by event.
 */
async function streamAttempt(
  s: Services,
  provider: Provider,
  ctx: CallContext,
  call: MessagesCall,
  res: Response,
  controller: AbortController,
  firstByteTimer: Timer,
  rec: RequestRecord,
  finish: (status: number, failure?: UpstreamFailure) => void,
): Promise<Outcome> {
  const reader = res.body!.getReader();
  const readFailure = (err: unknown) =>
    networkFailure(controller.signal, err, "Upstream stream broke");
  let writer: AnthropicStreamWriter | undefined;
  // The passthrough forwards bytes; a side reader only picks usage and the stop reason out.
  const watch = provider.passthrough
    ? createSseDecoder((ev) => {
      if (ev.event === "message_start" || ev.event === "message_delta") {
        noteAnthropicEvent(rec, ev.data);
      }
    })
    : undefined;
  let feed: ((chunk: Uint8Array) => void) | undefined;
  let endInput: (() => void) | undefined;
  let first: Uint8Array[] = [];
  if (!provider.passthrough) {
    writer = new AnthropicStreamWriter({
      id: newId("msg"),
      model: ctx.requestedModel,
      inputTokens: estimateTokens(call.body),
    });
    const translator = provider.createStreamTranslator(ctx, writer);
    const decoder = createSseDecoder((ev) => translator.push(ev));
    feed = (chunk) => decoder.feed(chunk);
    endInput = () => {
      decoder.flush();
      translator.end();
    };
  }

  // Wait for the first event (passthrough: the first bytes).
  try {
    while (true) {
      const { value, done } = await reader.read();
      if (done) {
        clearTimeout(firstByteTimer);
        if (!writer) {
          return {
            failure: {
              status: 502,
              type: "api_error",
              message: "Upstream closed the stream without sending anything",
              keyFault: "transient",
            },
          };
        }
        endInput!();
        break;
      }
      if (!writer) {
        first = [value];
        break;
      }
      feed!(value);
      if (writer.contentStarted || writer.done) break;
    }
  } catch (err) {
    clearTimeout(firstByteTimer);
    return { failure: readFailure(err) };
  }
  clearTimeout(firstByteTimer);
  if (writer?.failure && !writer.contentStarted) {
    reader.cancel().catch(() => {});
    return { failure: writer.failure };
  }
  rec.ttfbMs = s.now() - rec.time;

  const logResponse = s.config.enableResponseLogs;
  let responseLog = "";
  const capture = (text: string) => {
    if (logResponse && responseLog.length < s.config.logBodyMaxBytes) responseLog += text;
  };
  const pingEvery = s.config.streamPingInterval;
  const idleLimit = s.config.requestTimeout;
  let lastUpstream = s.now();
  let lastSent = s.now();
  let closed = false;
  let unwatch: (() => void) | undefined;
  let endsWithFrame = true;

  const done = (failure?: UpstreamFailure) => {
    if (closed) return;
    closed = true;
    unwatch?.();
    if (writer) {
      rec.stopReason = writer.stopReason;
      rec.usage = writer.usage;
    }
    if (logResponse) rec.responseBody = responseLog;
    finish(200, failure ?? writer?.failure);
  };

  const body = new ReadableStream<Uint8Array>({
    start(ctrl) {
      const initial = writer ? writer.take() : "";
      if (initial) {
        capture(initial);
        ctrl.enqueue(encoder.encode(initial));
      }
      for (const chunk of first) {
        watch?.feed(chunk);
        ctrl.enqueue(chunk);
        endsWithFrame = endsWithBlankLine(chunk);
      }
      first = [];
      if (writer?.done) {
        done();
        ctrl.close();
        return;
      }
      const tick = Math.max(50, Math.min(1000, pingEvery / 2, idleLimit / 4));
      unwatch = watchStream(tick, () => {
        if (closed) return;
        const now = s.now();
        if (now - lastUpstream >= idleLimit) {
          controller.abort(new DOMException("timeout", "TimeoutError"));
          return;
        }
        if (now - lastSent >= pingEvery && endsWithFrame) {
          lastSent = now;
          ctrl.enqueue(encoder.encode(PING_FRAME));
        }
      });
    },
    async pull(ctrl) {
      try {
        while (!closed) {
          const { value, done: ended } = await reader.read();
          lastUpstream = s.now();
          if (ended) {
            if (writer) {
              endInput!();
              const out = writer.take();
              if (out) {
                capture(out);
                ctrl.enqueue(encoder.encode(out));
              }
            }
            done();
            ctrl.close();
            return;
          }
          if (!writer) {
            endsWithFrame = endsWithBlankLine(value);
            lastSent = lastUpstream;
            watch?.feed(value);
            ctrl.enqueue(value);
            return;
          }
          feed!(value);
          const out = writer.take();
          if (out) {
            capture(out);
            lastSent = lastUpstream;
            ctrl.enqueue(encoder.encode(out));
          }
          if (writer.done) {
            reader.cancel().catch(() => {});
            done();
            ctrl.close();
            return;
          }
          if (out) return;
        }
      } catch (err) {
        if (closed) return;
        const failure = readFailure(err);
        const frame = errorFrame(writer, failure);
        capture(frame);
        try {
          ctrl.enqueue(encoder.encode(frame));
          ctrl.close();
        } catch { /* the client is gone */ }
        done(failure);
      }
    },
    cancel() {
      controller.abort(new DOMException("client closed", "AbortError"));
      reader.cancel().catch(() => {});
      done({ status: 499, type: "api_error", message: "client closed the stream" });
    },
  }, { highWaterMark: 0 });

  return {
    response: new Response(body, {
      status: 200,
      headers: {
        ...(provider.passthrough ? upstreamInfoHeaders(res.headers) : {}),
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-cache",
        "x-accel-buffering": "no",
        "request-id": call.requestId,
      },
    }),
  };
}

/** Usage and stop reason of a passed-through Anthropic message, for the log and the counters. */
function noteAnthropicMessage(rec: RequestRecord, text: string): void {
  try {
    const msg = JSON.parse(text);
    if (msg?.usage) rec.usage = msg.usage;
    if (msg?.stop_reason !== undefined) rec.stopReason = msg.stop_reason;
  } catch { /* not JSON: nothing to note */ }
}

/** The same from a passed-through stream: message_start has the input, message_delta the rest. */
function noteAnthropicEvent(rec: RequestRecord, data: string): void {
  if (!data.includes('"usage"') && !data.includes('"stop_reason"')) return;
  try {
    const ev = JSON.parse(data);
    if (ev?.type === "message_start" && ev.message?.usage) rec.usage = { ...ev.message.usage };
    if (ev?.type === "message_delta") {
      if (ev.usage) {
        rec.usage = { ...(rec.usage ?? { input_tokens: 0, output_tokens: 0 }), ...ev.usage };
      }
      if (ev.delta?.stop_reason !== undefined) rec.stopReason = ev.delta.stop_reason;
    }
  } catch { /* a partial or odd event: skip it */ }
}

/** One interval per tick length checks every open stream (pings, silence), not one per stream. */
const streamWatchers = new Map<number, { checks: Set<() => void>; timer: Timer }>();

function watchStream(tick: number, check: () => void): () => void {
  let group = streamWatchers.get(tick);
  if (!group) {
    const checks = new Set<() => void>();
    const timer = setInterval(() => {
      for (const c of checks) c();
    }, tick);
    group = { checks, timer };
    streamWatchers.set(tick, group);
  }
  const g = group;
  g.checks.add(check);
  return () => {
    g.checks.delete(check);
    if (g.checks.size === 0) {
      clearInterval(g.timer);
      streamWatchers.delete(tick);
    }
  };
}

/**
 * What an Anthropic upstream tells its clients beside the body (rate-limit budget, its own
 * request id) is passed on; the proxy's request-id stays the one clients see.
 */
function upstreamInfoHeaders(headers: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of headers) {
    if (name.startsWith("anthropic-ratelimit-")) out[name] = value;
  }
  const upstreamId = headers.get("request-id");
  if (upstreamId) out["upstream-request-id"] = upstreamId;
  return out;
}

function endsWithBlankLine(chunk: Uint8Array): boolean {
  const n = chunk.length;
  return n >= 2 && chunk[n - 1] === 10 && chunk[n - 2] === 10;
}

function errorFrame(writer: AnthropicStreamWriter | undefined, failure: UpstreamFailure): string {
  const type = failure.status === 504
    ? "overloaded_error"
    : failure.type === "timeout_error"
    ? "overloaded_error"
    : failure.type;
  const message = failure.status === 504
    ? "Upstream went silent for longer than REQUEST_TIMEOUT"
    : failure.message;
  if (writer) {
    writer.error({ ...failure, type, message });
    return writer.take();
  }
  // Passthrough: start on a fresh line in case the upstream stopped mid-frame.
  return `\n\nevent: error\ndata: ${
    JSON.stringify({ type: "error", error: { type, message } })
  }\n\n`;
}

/** A tiny request through one key, for the admin "test" button and the disabled-key check. */
export async function probeKey(
  s: Services,
  upstream: UpstreamConfig,
  key: string,
): Promise<{ ok: boolean; status: number; message: string; ms: number }> {
  const provider = providerFor(upstream.serviceType);
  if (!provider) return { ok: false, status: 0, message: "unknown serviceType", ms: 0 };
  const model = mapModel("claude-3-5-haiku-latest", upstream.models);
  const body: MessagesRequest = {
    model,
    max_tokens: 8,
    messages: [{ role: "user", content: "Reply with OK." }],
  };
  const ctx: CallContext = {
    upstream,
    model,
    requestedModel: model,
    apiKey: key,
    stream: false,
    clientHeaders: new Headers(),
  };
  const started = s.now();
  const sent = await send(
    s,
    provider.buildRequest(body, ctx, JSON.stringify(body)),
    Math.min(30_000, s.config.requestTimeout),
    undefined,
  );
  if (!("res" in sent)) return { ok: false, status: sent.status, message: sent.message, ms: 0 };
  clearTimeout(sent.timer);
  const text = await sent.res.text().catch(() => "");
  const ms = s.now() - started;
  if (sent.res.ok) return { ok: true, status: sent.res.status, message: "key works", ms };
  const failure = provider.parseError(sent.res.status, text, sent.res.headers);
  // A request error (unknown model, say) still means the upstream accepted the key.
  const ok = failure.keyFault === undefined;
  const message = s.log.redact(failure.message).slice(0, 300);
  return {
    ok,
    status: failure.status,
    message: ok ? `key accepted (upstream said: ${message})` : message,
    ms,
  };
}

export type { Candidate };
