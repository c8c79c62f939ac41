// A streamed request whose answer has not begun within a ping interval (an upstream slow to send
// even its headers: a model loading, a queue in front of it) gets its headers and SSE comments
// from here, so proxies in between (nginx 60 s, Cloudflare 100 s) keep the connection. Keys are
// still tried one after the other meanwhile; the answer, once it comes, follows unchanged, and a
// request that fails in the end gets an error event instead of an HTTP status.
import { internalError, ProxyError, streamErrorJson } from "./errors.ts";
import type { MessagesCall } from "./proxy.ts";
import type { Services } from "./services.ts";
import { sseFrame, sseHeaders } from "./sse.ts";
import { tickFor, watchStream } from "./stream_ticker.ts";
import { SERVER_STOPPING } from "./stream_relay.ts";

const encoder = new TextEncoder();
/**
 * A comment, which every SSE reader skips: Anthropic sends no event before `message_start`, and
 * the SDKs refuse a `ping` there.
 */
const KEEPALIVE = encoder.encode(": waiting for the upstream\n\n");

type Controller = ReadableStreamDefaultController<Uint8Array>;

/** The answer `answer` gives, or a stream opened early that carries it once it comes. */
export function openWhileWaiting(
  s: Services,
  call: MessagesCall,
  answer: (call: MessagesCall) => Promise<Response>,
): Promise<Response> {
  // Once the stream is open, the client leaving cancels it: the attempt under way must end too.
  const gone = new AbortController();
  call.signal?.addEventListener("abort", () => gone.abort(), { once: true });
  call.signal = gone.signal;
  const requestId = call.requestId;
  const answered = answer(call);
  return new Promise((resolve, reject) => {
    const opening = new Opening(s, requestId, gone, resolve);
    answered.then((res) => opening.answered(res) || resolve(res), (err) => {
      if (!opening.failed(err)) reject(err);
    });
  });
}

/** Waits a ping interval for the answer; past it, opens the stream and keeps it alive. */
class Opening {
  #ctrl: Controller | undefined;
  #inner: ReadableStreamDefaultReader<Uint8Array> | undefined;
  #arrived: (() => void) | undefined;
  /** When the stream opens, or its next keepalive goes. */
  #due: number;
  #unwatch: () => void;
  #cancelled = false;

  constructor(
    s: Services,
    private readonly requestId: string,
    private readonly gone: AbortController,
    open: (res: Response) => void,
  ) {
    const interval = s.config.streamPingInterval;
    const tick = tickFor(s.config);
    // Checked once a tick: a tick early, so that the client never waits longer than the interval.
    const every = Math.max(tick, interval - tick);
    this.#due = s.now() + every;
    const stop = () => {
      gone.abort();
      this.#end(undefined, new ProxyError(529, SERVER_STOPPING.message, SERVER_STOPPING.type));
    };
    const unwatch = watchStream(tick, () => {
      if (s.now() < this.#due) return;
      this.#due = s.now() + every;
      if (this.#ctrl) return this.#send(KEEPALIVE);
      open(new Response(this.#body(), { status: 200, headers: sseHeaders(requestId) }));
      s.answerStops.add(stop);
    });
    // Once the answer comes (or the client leaves), the stream is the answer's to end.
    this.#unwatch = () => {
      unwatch();
      s.answerStops.delete(stop);
    };
  }

  #body(): ReadableStream<Uint8Array> {
    return new ReadableStream<Uint8Array>({
      start: (c) => {
        this.#ctrl = c;
        c.enqueue(KEEPALIVE);
      },
      pull: async (c) => {
        if (!this.#inner) await new Promise<void>((r) => this.#arrived = r);
        if (!this.#inner) return;
        const { value, done } = await this.#inner.read();
        if (done) c.close();
        else c.enqueue(value);
      },
      cancel: (reason) => {
        this.#cancelled = true;
        this.#unwatch();
        this.gone.abort();
        return this.#inner?.cancel(reason);
      },
    }, { highWaterMark: 0 });
  }

  /** The answer came: false if the stream is not open (the caller sends it as it is). */
  answered(res: Response): boolean {
    this.#unwatch();
    const ctrl = this.#ctrl;
    if (!ctrl) return false;
    if (this.#cancelled) res.body?.cancel().catch(() => {});
    else if (res.ok && res.body) {
      this.#inner = res.body.getReader();
      this.#arrived?.();
    } else {
      // The error the client would have had as a status, as an event: the JSON is the same.
      res.text().then((text) => this.#end(text), () => this.#end(undefined));
    }
    return true;
  }

  /** The request failed: false if the stream is not open (the caller rejects). */
  failed(err: unknown): boolean {
    this.#unwatch();
    if (!this.#ctrl) return false;
    if (!this.#cancelled) this.#end(undefined, err);
    return true;
  }

  #end(errorJson: string | undefined, err?: unknown): void {
    const e = err instanceof ProxyError ? err : internalError();
    const data = errorJson ?? streamErrorJson(e.type, e.message, this.requestId);
    this.#send(encoder.encode(sseFrame("error", data)), true);
    this.#arrived?.();
  }

  /**
   * Bytes for the client, unless it left. It may leave inside enqueue(): Deno's writer meets the
   * closed connection there and cancels the stream, and the controller then throws.
   */
  #send(bytes: Uint8Array, close = false): void {
    if (this.#cancelled) return;
    try {
      this.#ctrl!.enqueue(bytes);
      if (close) this.#ctrl!.close();
    } catch {
      // cancel() has let go of the rest.
    }
  }
}
