// Relays one streamed answer: holds the response until the upstream's first event (so an early
// failure can still go to another key), then translates event by event (or forwards bytes for the
// passthrough), with pings during silences and an error event when the upstream breaks or stalls.
import { newId } from "./anthropic.ts";
import { noteAnthropicEvent, upstreamInfoHeaders } from "./anthropic_answer.ts";
import { ProxyError, statusForErrorType, streamErrorJson } from "./errors.ts";
import { keyId } from "./key_pool.ts";
import { AnthropicStreamWriter } from "./providers/stream_writer.ts";
import type { CallContext, Provider, UpstreamFailure } from "./providers/types.ts";
import type { MessagesCall } from "./proxy.ts";
import type { RequestRecord } from "./request_record.ts";
import type { Services } from "./services.ts";
import { createSseDecoder, PING_FRAME } from "./sse.ts";
import { firstInputEstimate } from "./token_estimate.ts";
import { failureOf, networkFailure, type Outcome, type StopTimer } from "./upstream_fetch.ts";

const encoder = new TextEncoder();
const utf8 = new TextDecoder();

/** One upstream answer that came back 200 to a streaming request, and what relaying it needs. */
export interface Relay {
  s: Services;
  provider: Provider;
  ctx: CallContext;
  call: MessagesCall;
  res: Response;
  /** Aborts the upstream request (timeouts, the client leaving). */
  controller: AbortController;
  stopFirstByteTimer: StopTimer;
  rec: RequestRecord;
  finish: (status: number, failure?: UpstreamFailure) => void;
}

/**
 * Holds the response until the upstream's first event: an early error (or an empty body) is
 * still a failure the caller can retry on another key. Then streams, translating event by event.
 */
export async function streamAttempt(relay: Relay): Promise<Outcome> {
  const { s, provider, ctx, call, res, controller, stopFirstByteTimer, rec, finish } = relay;
  if (/^application\/json/i.test(res.headers.get("content-type") ?? "")) {
    return await wholeAnswerAsStream(relay);
  }
  const reader = res.body!.getReader();
  const readFailure = (err: unknown) =>
    networkFailure(controller.signal, err, "Upstream stream broke");
  let writer: AnthropicStreamWriter | undefined;
  // The passthrough forwards bytes, whole frames at a time; a side reader picks usage, the stop
  // reason, the end and an opening error event out.
  let events = 0;
  let openingError: string | undefined;
  /** An error event the upstream ended its answer with, after other events. */
  let closingError: string | undefined;
  let stopped = false;
  const watch = provider.passthrough
    ? createSseDecoder((ev) => {
      if (ev.event === "error") {
        if (events === 0) openingError = ev.data;
        else closingError = ev.data;
      }
      events++;
      if (ev.event === "message_start" || ev.event === "message_delta") {
        noteAnthropicEvent(rec, ev.data);
      } else if (ev.event === "message_stop") stopped = true;
    })
    : undefined;
  const frames = provider.passthrough ? new WholeFrames() : undefined;
  let feed: ((chunk: Uint8Array) => void) | undefined;
  let endInput: (() => void) | undefined;
  let first: Uint8Array[] = [];
  if (!provider.passthrough) {
    writer = new AnthropicStreamWriter({
      id: newId("msg"),
      model: ctx.requestedModel,
      inputTokens: firstInputEstimate(call.body, call.raw),
      requestId: call.requestId,
      redact: s.log.redact,
    });
    const translator = provider.createStreamTranslator(ctx, writer);
    const decoder = createSseDecoder(
      (ev) => translator.push(ev),
      translator.pushJson?.bind(translator),
    );
    feed = (chunk) => decoder.feed(chunk);
    endInput = () => {
      decoder.flush();
      translator.end();
    };
  }

  // One shared interval per tick length keeps time for every open stream (hold, pings, silence).
  const tick = Math.max(
    50,
    Math.min(1000, s.config.streamPingInterval / 2, s.config.requestTimeout / 4),
  );
  // Wait for the first event (passthrough: the first bytes), but not longer than a ping interval:
  // past that the client gets its headers and pings, and a later failure ends the stream instead.
  const holdStarted = s.now();
  let pendingRead: Promise<ReadableStreamReadResult<Uint8Array>> | undefined;
  try {
    while (true) {
      const read = reader.read();
      const result = await raceHold(read, holdStarted + s.config.streamPingInterval, tick, s.now);
      if (result === HOLD_EXPIRED) {
        pendingRead = read;
        break;
      }
      const { value, done } = result;
      if (done) {
        stopFirstByteTimer();
        if (!writer) {
          if (events > 0) break;
          return {
            failure: {
              status: 502,
              type: "api_error",
              message: first.length
                ? "Upstream closed the stream before its first whole event"
                : "Upstream closed the stream without sending anything",
              keyFault: "transient",
            },
          };
        }
        endInput!();
        break;
      }
      if (!writer) {
        watch!.feed(value);
        first.push(value);
        if (events > 0) break;
        continue;
      }
      feed!(value);
      if (writer.contentStarted || writer.done) break;
    }
  } catch (err) {
    stopFirstByteTimer();
    return { failure: readFailure(err) };
  }
  stopFirstByteTimer();
  if (writer?.failure && !writer.contentStarted) {
    reader.cancel().catch(() => {});
    return { failure: writer.failure };
  }
  /** An Anthropic `event: error` as the failure it stands for. */
  const eventFailure = (data: string): UpstreamFailure => {
    let type: unknown;
    try {
      type = JSON.parse(data)?.error?.type;
    } catch { /* the parse below keeps the text */ }
    return provider.parseError(statusForErrorType(type), data, res.headers);
  };
  if (openingError !== undefined) {
    // An overload or rate limit said as the stream's first event: another key may answer.
    reader.cancel().catch(() => {});
    return { failure: eventFailure(openingError) };
  }
  rec.ttfbMs = s.now() - rec.time;

  const logResponse = s.config.enableResponseLogs;
  let responseLog = "";
  const capture = (text: string) => {
    if (logResponse && responseLog.length < s.config.logBodyMaxBytes) responseLog += text;
  };
  const pingEvery = s.config.streamPingInterval;
  const idleLimit = s.config.requestTimeout;
  // Silence is a read of the upstream left waiting (since the answer's start, if the hold ran
  // out): a client that reads slowly must not make the upstream look silent.
  let waitingSince = pendingRead ? holdStarted : undefined;
  /**
   * When the client last asked for more: one that stops asking (twice REQUEST_TIMEOUT, as long as
   * all the attempts of a request may take) gives its slot back.
   */
  let lastPull = s.now();
  let lastSent = s.now();
  let closed = false;
  let unwatch: (() => void) | undefined;
  // A ping goes out only between whole frames, and never before the passthrough's message_start.
  let endsWithFrame = writer !== undefined;
  /** Sends the whole frames of a passthrough chunk; whether any were sent. */
  const relayBytes = (ctrl: Ctrl, chunk: Uint8Array): boolean => {
    let whole = frames!.take(chunk);
    if (!whole) return false;
    // The upstream's own error event is forwarded too: never with a key it quoted.
    if (closingError !== undefined) whole = encoder.encode(s.log.redact(utf8.decode(whole)));
    ctrl.enqueue(whole);
    endsWithFrame = true;
    return true;
  };
  /** Ends the answer the client already has with an error event. */
  const fail = (ctrl: Ctrl, failure: UpstreamFailure) => {
    const frame = errorFrame(writer, failure, s.log.redact, call.requestId);
    capture(frame);
    try {
      ctrl.enqueue(encoder.encode(frame));
      ctrl.close();
    } catch { /* the client is gone */ }
    done(failure);
  };
  /** The passthrough's message_stop went out: nothing after it is the client's. */
  const relayedAll = () => (stopped || closingError !== undefined) && !frames!.pending;

  const done = (failure?: UpstreamFailure) => {
    if (closed) return;
    closed = true;
    unwatch?.();
    if (writer) {
      rec.stopReason = writer.stopReason;
      rec.usage = writer.usage;
    }
    if (logResponse) rec.responseBody = responseLog;
    failure ??= writer?.failure ??
      (closingError !== undefined ? eventFailure(closingError) : undefined);
    if (failure) keepNamedWait(s, ctx, failure);
    // A client that left is recorded as 499 whether or not its answer had started, so the log,
    // its filter and /metrics agree.
    finish(failure?.status === 499 ? 499 : 200, failure);
  };

  type Ctrl = ReadableStreamDefaultController<Uint8Array>;
  /** Sends what the writer has; whether there was anything. */
  const emit = (ctrl: Ctrl): boolean => {
    const out = writer?.take();
    if (!out) return false;
    capture(out);
    ctrl.enqueue(encoder.encode(out));
    return true;
  };
  /** The answer is complete: close it, and let the upstream's connection go back to the pool. */
  const complete = (ctrl: Ctrl) => {
    done();
    ctrl.close();
    drain(reader, controller, tick, s.now);
  };

  const body = new ReadableStream<Uint8Array>({
    start(ctrl) {
      emit(ctrl);
      for (const chunk of first) relayBytes(ctrl, chunk);
      first = [];
      if (writer ? writer.done : relayedAll()) return complete(ctrl);
      unwatch = watchStream(tick, () => {
        if (closed) return;
        const now = s.now();
        if (waitingSince !== undefined && now - waitingSince >= idleLimit) {
          controller.abort(new DOMException("timeout", "TimeoutError"));
          return;
        }
        if (waitingSince === undefined && now - lastPull >= 2 * idleLimit) {
          controller.abort(new DOMException("client closed", "AbortError"));
          reader.cancel().catch(() => {});
          try {
            ctrl.error(new Error("the client stopped reading"));
          } catch { /* already closed */ }
          done({
            status: 499,
            type: "api_error",
            message: "the client stopped reading the stream",
          });
          return;
        }
        if (now - lastSent >= pingEvery && endsWithFrame) {
          lastSent = now;
          ctrl.enqueue(encoder.encode(PING_FRAME));
        }
      });
    },
    async pull(ctrl) {
      lastPull = s.now();
      try {
        while (!closed) {
          const next = pendingRead ?? reader.read();
          pendingRead = undefined;
          waitingSince ??= s.now();
          const { value, done: ended } = await next;
          waitingSince = undefined;
          const lastUpstream = s.now();
          if (ended) {
            if (!writer && !stopped && closingError === undefined) {
              // An Anthropic stream ends with message_stop; without it the answer is cut short.
              return fail(ctrl, {
                status: 502,
                type: "api_error",
                message: "Upstream stream ended before message_stop",
                keyFault: "transient",
              });
            }
            endInput?.();
            emit(ctrl);
            done();
            ctrl.close();
            return;
          }
          if (!writer) {
            watch!.feed(value);
            const sent = relayBytes(ctrl, value);
            if (relayedAll()) return complete(ctrl);
            if (!sent) continue;
            lastSent = lastPull = lastUpstream;
            return;
          }
          feed!(value);
          const sent = emit(ctrl);
          if (sent) lastSent = lastPull = lastUpstream;
          if (writer.done) return complete(ctrl);
          if (sent) return;
        }
      } catch (err) {
        if (!closed) fail(ctrl, readFailure(err));
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
        ...sseHeaders(call.requestId),
      },
    }),
  };
}

/**
 * Some OpenAI-compatible servers ignore `stream: true` and answer with one JSON document: it is
 * translated as a whole and sent as the event stream the client asked for.
 */
async function wholeAnswerAsStream(
  { s, provider, ctx, call, res, controller, stopFirstByteTimer, rec, finish }: Relay,
): Promise<Outcome> {
  let message;
  try {
    message = provider.parseResponse(await res.json(), ctx);
  } catch (err) {
    if (err instanceof ProxyError) {
      return { failure: failureOf(err) };
    }
    return { failure: networkFailure(controller.signal, err, "Upstream answer could not be read") };
  } finally {
    stopFirstByteTimer();
  }
  rec.ttfbMs = s.now() - rec.time;
  const writer = new AnthropicStreamWriter({
    id: message.id,
    model: ctx.requestedModel,
    inputTokens: message.usage.input_tokens,
    requestId: call.requestId,
  });
  writer.replay(message);
  rec.stopReason = message.stop_reason;
  rec.usage = message.usage;
  const text = writer.take();
  if (s.config.enableResponseLogs) rec.responseBody = text;
  finish(200);
  return {
    response: new Response(text, {
      status: 200,
      headers: sseHeaders(call.requestId),
    }),
  };
}

/**
 * Past the first event no other key takes over, but a key the upstream rate-limited for a time it
 * named (Gemini's RetryInfo in an error after the 200) still sits that time out.
 */
function keepNamedWait(s: Services, ctx: CallContext, failure: UpstreamFailure): void {
  if (failure.keyFault !== "rate_limit" || failure.retryAfterMs === undefined || !ctx.apiKey) {
    return;
  }
  const shown = { ...failure, message: s.log.redact(failure.message) };
  s.pool.recordFailure(ctx.upstream, { key: ctx.apiKey, id: keyId(ctx.apiKey) }, ctx.model, shown)
    .catch((err) => s.log.log("error", "could not record key health", { error: String(err) }));
}

function sseHeaders(requestId: string): Record<string, string> {
  return {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache",
    // Proxies in between (nginx) must pass events on as they come.
    "x-accel-buffering": "no",
    "request-id": requestId,
  };
}

/** How long the rest of an answer the client already has may take to arrive. */
const DRAIN_MS = 2_000;

/**
 * Reads what follows the last event (a chunked body's end, mostly) so the upstream connection
 * goes back to the pool; cancelling it instead cost every streamed answer a new connection, and
 * a new TLS handshake with it.
 */
async function drain(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  controller: AbortController,
  tick: number,
  now: () => number,
): Promise<void> {
  const deadline = now() + DRAIN_MS;
  const unwatch = watchStream(tick, () => {
    if (now() >= deadline) controller.abort(new DOMException("answer complete", "AbortError"));
  });
  try {
    while (!(await reader.read()).done);
  } catch { /* aborted, or the connection broke: it is closed either way */ }
  unwatch();
}

const HOLD_EXPIRED = Symbol("hold expired");

/** The read, or HOLD_EXPIRED if it has not settled by `deadline`. */
async function raceHold<T>(
  read: Promise<T>,
  deadline: number,
  tick: number,
  now: () => number,
): Promise<T | typeof HOLD_EXPIRED> {
  if (now() >= deadline) return HOLD_EXPIRED;
  let unwatch: (() => void) | undefined;
  try {
    return await Promise.race([
      read,
      new Promise<typeof HOLD_EXPIRED>((resolve) => {
        unwatch = watchStream(tick, () => {
          if (now() >= deadline) resolve(HOLD_EXPIRED);
        });
      }),
    ]);
  } finally {
    unwatch?.();
  }
}

/**
 * One interval per tick length checks every open stream (hold, pings, silence, drain), not one
 * timer per stream; it outlives its last stream a while, so one client's back-to-back requests do
 * not each start and stop it.
 */
const streamWatchers = new Map<number, Set<() => void>>();
const IDLE_TICKS = 20;

function watchStream(tick: number, check: () => void): () => void {
  let checks = streamWatchers.get(tick);
  if (!checks) {
    const group = checks = new Set<() => void>();
    let idle = 0;
    const timer = setInterval(() => {
      if (group.size === 0) {
        if (++idle >= IDLE_TICKS) {
          clearInterval(timer);
          streamWatchers.delete(tick);
        }
        return;
      }
      idle = 0;
      for (const c of group) c();
    }, tick);
    // An idle interval must not keep the process (or a test) alive.
    Deno.unrefTimer(timer);
    streamWatchers.set(tick, group);
  }
  const group = checks;
  group.add(check);
  return () => group.delete(check);
}

/** Past this, bytes without a frame end are passed on as they are rather than held. */
const MAX_HELD_FRAME = 1 << 20;

/**
 * Cuts passthrough bytes at event boundaries, so the client only ever gets whole frames: a ping
 * or an error frame after a cut never lands inside half an event.
 */
class WholeFrames {
  #carry?: Uint8Array;

  /** The whole frames so far, with what was held before them; undefined when none is whole. */
  take(chunk: Uint8Array): Uint8Array | undefined {
    let bytes = chunk;
    if (this.#carry) {
      bytes = new Uint8Array(this.#carry.length + chunk.length);
      bytes.set(this.#carry);
      bytes.set(chunk, this.#carry.length);
      this.#carry = undefined;
    }
    const end = bytes.length > MAX_HELD_FRAME ? bytes.length : frameEnd(bytes);
    if (end === bytes.length) return bytes;
    this.#carry = bytes.slice(end);
    return end > 0 ? bytes.subarray(0, end) : undefined;
  }

  get pending(): boolean {
    return this.#carry !== undefined;
  }
}

/** Where the last blank line ends (`\n\n` or `\n\r\n`), or 0 without one. */
function frameEnd(b: Uint8Array): number {
  for (let i = b.length - 1; i > 0; i--) {
    if (b[i] !== 10) continue;
    if (b[i - 1] === 10 || (b[i - 1] === 13 && i > 1 && b[i - 2] === 10)) return i + 1;
  }
  return 0;
}

function errorFrame(
  writer: AnthropicStreamWriter | undefined,
  failure: UpstreamFailure,
  redact: (text: string) => string,
  requestId: string,
): string {
  const type = failure.status === 504
    ? "overloaded_error"
    : failure.type === "timeout_error"
    ? "overloaded_error"
    : failure.type;
  const message = failure.status === 504
    ? "Upstream went silent for longer than REQUEST_TIMEOUT"
    : redact(failure.message);
  if (writer) {
    writer.error({ ...failure, type, message });
    return writer.take();
  }
  // Passthrough: only whole frames were sent, so the error is a frame of its own.
  return `event: error\ndata: ${streamErrorJson(type, message, requestId)}\n\n`;
}
