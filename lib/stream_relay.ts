// Relays one streamed answer: holds the response until the upstream's first event (so an early
// failure can still go to another key), then pumps the upstream through a side that translates
// event by event or forwards bytes (the passthrough), with pings during silences and an error
// event when the upstream breaks or stalls.
import type { ErrorType } from "./anthropic.ts";
import { upstreamInfoHeaders } from "./anthropic_answer.ts";
import { answerPieces, type Piece, type PieceReader, withFirst } from "./body_read.ts";
import { ProxyError } from "./errors.ts";
import { keyId } from "./key_pool.ts";
import { PassthroughSide } from "./passthrough_side.ts";
import { joinBytes } from "./byte_slab.ts";
import { AnthropicStreamWriter } from "./providers/stream_writer.ts";
import type { CallContext, Provider, UpstreamFailure } from "./providers/types.ts";
import { upstreamFault } from "./providers/failure.ts";
import { healthNotRecorded, type MessagesCall } from "./proxy.ts";
import { attemptReason, type RequestRecord } from "./request_record.ts";
import { withRequestId } from "./request_id.ts";
import type { Services } from "./services.ts";
import { joinSplitSecrets, redactText, shownFailure } from "./observability/redact.ts";
import { PING_FRAME, sseHeaders } from "./sse.ts";
import { type Held, holdFirstEvent } from "./stream_hold.ts";
import { COMPLETE, ResponseCapture, SENT, type StreamSide } from "./stream_side.ts";
import { tickFor, watchStream } from "./stream_ticker.ts";
import { TranslatedSide } from "./translated_side.ts";
import {
  answerJson,
  failureOf,
  networkFailure,
  type Outcome,
  type StopTimer,
  unreadableAnswer,
} from "./upstream_fetch.ts";

const encoder = new TextEncoder();

type Controller = ReadableStreamDefaultController<Uint8Array>;

/**
 * A client that has read nothing for this long has stopped (REQUEST_TIMEOUT, sized for a model's
 * silence, would let it hold its slot twenty minutes by default); the upstream is let go.
 */
const READER_STALL_MS = 120_000;

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
  const { s, provider, ctx, call, res, controller, stopFirstByteTimer, rec } = relay;
  const type = res.headers.get("content-type") ?? "";
  if (/^application\/json/i.test(type)) return await wholeAnswerAsStream(relay);
  if (!res.body) {
    // A 204 (or 205): no body, so no event; another key may answer.
    stopFirstByteTimer();
    return { failure: upstreamFault(`Upstream answered ${res.status} with no body`) };
  }
  let reader = answerPieces(res);
  // A web page (a wrong base URL, a gateway's notice) holds no event: said as what it is. Labelled
  // so, a stream is still read as one.
  if (/^text\/html/i.test(type)) {
    try {
      const first = await reader.read();
      const start = first.done ? "" : pieceText(first.value);
      if (/^\s*</.test(start)) {
        stopFirstByteTimer();
        reader.cancel().catch(() => {});
        return { failure: unreadableAnswer(start, "a web page") };
      }
      reader = withFirst(first, reader);
    } catch (err) {
      stopFirstByteTimer();
      return { failure: readFailure(controller, err) };
    }
  }
  const capture = s.config.enableResponseLogs
    ? new ResponseCapture(s.config.logBodyMaxBytes)
    : undefined;
  const side: StreamSide = provider.passthrough
    ? new PassthroughSide(
      provider,
      res.headers,
      rec,
      s.log.redact,
      call.requestId,
      capture,
      ctx.model === ctx.requestedModel ? undefined : ctx.requestedModel,
    )
    : new TranslatedSide(provider, ctx, call, s.log.redact, capture);
  let held: Held;
  try {
    // Until the first event, the first-byte timeout runs: a key that sent its headers and then
    // nothing is one another key may stand in for, however long the client has waited.
    held = await holdFirstEvent(reader, side);
  } catch (err) {
    return { failure: readFailure(controller, err) };
  } finally {
    stopFirstByteTimer();
  }
  if (held.failure) return { failure: held.failure };
  const retry = side.retryable();
  if (retry) {
    reader.cancel().catch(() => {});
    return { failure: retry };
  }
  rec.ttfbMs = s.now() - rec.time;
  // Not the relay itself: the request (its body, on a long conversation the largest thing the
  // process holds) is let go once sent, not kept for as long as the answer streams.
  const kept = { s, ctx, controller, rec, finish: relay.finish };
  const pump = new StreamPump(kept, reader, side, capture, tickFor(s.config));
  const headers = {
    ...(provider.passthrough ? upstreamInfoHeaders(res.headers, s.log.redact) : {}),
    ...sseHeaders(call.requestId),
  };
  const whole = pump.whole();
  if (whole) return { response: withRequestId(new Response(whole, { status: 200, headers })) };
  const body = new ReadableStream<Uint8Array>({
    start: (ctrl) => pump.start(ctrl),
    pull: (ctrl) => pump.pull(ctrl),
    cancel: () => pump.cancel(),
  }, { highWaterMark: 0 });
  return { response: withRequestId(new Response(body, { status: 200, headers })) };
}

/** The start of a piece as text, enough to tell a page from a stream. */
function pieceText(piece: Piece): string {
  return typeof piece === "string"
    ? piece.slice(0, 512)
    : new TextDecoder().decode(piece.subarray(0, 512));
}

function readFailure(controller: AbortController, err: unknown): UpstreamFailure {
  return networkFailure(controller.signal, err, "Upstream stream broke");
}

/**
 * Moves the answer from the upstream to the client as the client asks for it, one upstream read
 * per pull; on the shared tick it sends pings, ends a silent upstream and lets go of a client that
 * stopped reading. Ends once, with the record finished and the slot given back.
 */
/** What a stream still being sent when the server stops for good ends with. */
export const SERVER_STOPPING: UpstreamFailure = {
  status: 529,
  type: "overloaded_error",
  message: "The proxy is stopping (a restart or a deploy); send the request again",
};

class StreamPump {
  #closed = false;
  #unwatch: (() => void) | undefined;
  /** Ends the stream when the server stops before it is done. */
  #stop: (() => void) | undefined;
  /**
   * Since when a read of the upstream has been waiting: silence is counted from there, so a
   * client that reads slowly never makes the upstream look silent.
   */
  #waitingSince: number | undefined;
  /**
   * When the client last asked for more: one that stops asking (twice REQUEST_TIMEOUT, as long as
   * all the attempts of a request may take) gives its slot back.
   */
  #lastPull: number;
  #lastSent: number;
  #pingEvery: number;
  #idleLimit: number;
  /** What the hold translated, when it is not the whole answer: the stream's first chunks. */
  #held: Uint8Array[] = [];

  constructor(
    private readonly relay: Pick<Relay, "s" | "ctx" | "controller" | "rec" | "finish">,
    private readonly reader: PieceReader<Piece>,
    private readonly side: StreamSide,
    private readonly capture: ResponseCapture | undefined,
    private readonly tick: number,
  ) {
    this.#lastPull = this.#lastSent = relay.s.now();
    this.#pingEvery = relay.s.config.streamPingInterval;
    this.#idleLimit = relay.s.config.requestTimeout;
  }

  /**
   * The whole answer, when the hold already read all of it (a short answer that came in one
   * read): it goes as one body, since a response stream costs Deno about 25 µs more than bytes
   * (a bare Deno.serve, measured). Otherwise undefined, and start() sends what was held.
   */
  whole(): Uint8Array<ArrayBuffer> | undefined {
    const held: Uint8Array[] = [];
    if (!this.side.start({ enqueue: (chunk) => held.push(chunk) })) {
      this.#held = held;
      return undefined;
    }
    this.#done();
    this.#drain();
    // The sides' bytes are never backed by a SharedArrayBuffer.
    return (held.length === 1 ? held[0] : joinBytes(held)) as Uint8Array<ArrayBuffer>;
  }

  start(ctrl: Controller): void {
    for (const chunk of this.#held) ctrl.enqueue(chunk);
    this.#held = [];
    this.#unwatch = watchStream(this.tick, () => this.#check(ctrl));
    this.#stop = () => {
      this.relay.controller.abort(new DOMException("server stopping", "AbortError"));
      this.reader.cancel().catch(() => {});
      this.#fail(ctrl, SERVER_STOPPING);
    };
    this.relay.s.answerStops.add(this.#stop);
  }

  async pull(ctrl: Controller): Promise<void> {
    const { s } = this.relay;
    this.#lastPull = s.now();
    try {
      while (!this.#closed) {
        const next = this.reader.read();
        this.#waitingSince ??= s.now();
        const { value, done } = await next;
        this.#waitingSince = undefined;
        const lastUpstream = s.now();
        if (done) {
          const cut = this.side.end(ctrl);
          if (cut) return this.#fail(ctrl, cut);
          this.#done();
          ctrl.close();
          return;
        }
        const relayed = this.side.relay(ctrl, value);
        if (relayed & SENT) this.#lastSent = this.#lastPull = lastUpstream;
        if (relayed & COMPLETE) return this.#complete(ctrl);
        if (relayed & SENT) return;
      }
    } catch (err) {
      if (!this.#closed) this.#fail(ctrl, readFailure(this.relay.controller, err));
    }
  }

  cancel(): void {
    this.relay.controller.abort(new DOMException("client closed", "AbortError"));
    this.reader.cancel().catch(() => {});
    this.#done({ status: 499, type: "api_error", message: "client closed the stream" });
  }

  /** On each tick: the silence watchdog, the client that stopped reading, and pings. */
  #check(ctrl: Controller): void {
    if (this.#closed) return;
    const { s, controller } = this.relay;
    const now = s.now();
    const idleLimit = this.#idleLimit;
    if (this.#waitingSince !== undefined && now - this.#waitingSince >= idleLimit) {
      controller.abort(new DOMException("timeout", "TimeoutError"));
      return;
    }
    if (
      this.#waitingSince === undefined &&
      now - this.#lastPull >= Math.min(2 * idleLimit, READER_STALL_MS)
    ) {
      controller.abort(new DOMException("client closed", "AbortError"));
      this.reader.cancel().catch(() => {});
      try {
        ctrl.error(new Error("the client stopped reading"));
      } catch { /* already closed */ }
      this.#done({
        status: 499,
        type: "api_error",
        message: "the client stopped reading the stream",
      });
      return;
    }
    // Checked once a tick: a tick early, so that no silence outlasts the interval.
    if (now - this.#lastSent >= this.#pingEvery - this.tick && this.side.pingable) {
      this.#lastSent = now;
      ctrl.enqueue(encoder.encode(PING_FRAME));
    }
  }

  /** Ends the answer the client already has with an error event. */
  #fail(ctrl: Controller, failure: UpstreamFailure): void {
    const frame = this.#errorFrame(failure);
    this.capture?.add(frame);
    try {
      ctrl.enqueue(encoder.encode(frame));
      ctrl.close();
    } catch { /* the client is gone */ }
    this.#done(failure);
  }

  #errorFrame(failure: UpstreamFailure): string {
    const type: ErrorType = failure.status === 504 || failure.type === "timeout_error"
      ? "overloaded_error"
      : failure.type;
    const message = failure.status === 504
      ? "Upstream went silent for longer than REQUEST_TIMEOUT"
      : redactText(failure.message, this.relay.s.log.redact);
    return this.side.errorFrame(failure, type, message);
  }

  /** The answer is complete: close it, and let the upstream's connection go back to the pool. */
  #complete(ctrl: Controller): void {
    this.#done();
    ctrl.close();
    this.#drain();
  }

  #drain(): void {
    drain(this.reader, this.relay.controller, this.tick, this.relay.s.now);
  }

  #done(failure?: UpstreamFailure): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#unwatch?.();
    if (this.#stop) this.relay.s.answerStops.delete(this.#stop);
    const { s, ctx, rec, finish } = this.relay;
    this.side.record(rec);
    if (this.capture) rec.responseBody = joinSplitSecrets(this.capture.text, s.log.redact);
    failure ??= this.side.failure();
    if (failure) setKeyAside(s, ctx, failure);
    if (failure?.keyFault) attemptBroke(rec, failure, s.log.redact);
    // A client that left is recorded as 499 whether or not its answer had started, so the log,
    // its filter and /metrics agree.
    finish(failure?.status === 499 ? 499 : 200, failure);
  }
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
    const read = await answerJson(res);
    if (!("json" in read)) return { failure: read };
    message = provider.parseResponse(read.json, ctx);
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
    response: withRequestId(
      new Response(text, {
        status: 200,
        headers: sseHeaders(call.requestId),
      }),
    ),
  };
}

/**
 * Past the first event no other key takes over, but the key is set aside for the next requests as
 * before it: after a break or a silence (a short cooldown; under failover one flaky key would
 * otherwise take every stream), or for the time a rate limit named (Gemini's RetryInfo in an
 * error after the 200).
 */
function setKeyAside(s: Services, ctx: CallContext, failure: UpstreamFailure): void {
  const named = failure.keyFault === "rate_limit" && failure.retryAfterMs !== undefined;
  if (!ctx.apiKey || !(named || failure.keyFault === "transient")) return;
  const shown = shownFailure(failure, s.log.redact);
  s.pool.recordFailure(ctx.upstream, { key: ctx.apiKey, id: keyId(ctx.apiKey) }, ctx.model, shown)
    .catch(healthNotRecorded(s));
}

/**
 * The attempt that began the answer failed after all (its stream broke, went silent, or ended in
 * an error): the request log, /metrics and the key's usage figures count it so, as key health does.
 */
function attemptBroke(
  rec: RequestRecord,
  failure: UpstreamFailure,
  redact: (text: string) => string,
): void {
  const last = rec.attempts[rec.attempts.length - 1];
  if (last?.outcome !== "ok") return;
  last.outcome = "failed";
  last.status = failure.status;
  last.reason = attemptReason(redact(failure.message));
}

/** How long the rest of an answer the client already has may take to arrive. */
const DRAIN_MS = 2_000;

/**
 * Reads what follows the last event (a chunked body's end, mostly) so the upstream connection
 * goes back to the pool; cancelling it instead cost every streamed answer a new connection, and
 * a new TLS handshake with it.
 */
async function drain(
  reader: PieceReader<Piece>,
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
