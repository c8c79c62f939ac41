// POST /v1/messages and /v1/messages/count_tokens: read and validate the body once, hand off to
// lib/. The body is parsed whatever its content-type (curl -d sends a form type), and its text
// is kept for the passthrough.
import { compressionFormat } from "../lib/http/decompress.ts";
import { Hono } from "hono";
import type { z } from "zod";
import type { MessagesRequest } from "../lib/anthropic.ts";
import type { AppEnv } from "../lib/app.ts";
import type { Config } from "../lib/config.ts";
import { countTokens } from "../lib/count_tokens.ts";
import { ProxyError } from "../lib/errors.ts";
import {
  contentBlockProblem,
  CountTokensRequestSchema,
  describeIssues,
  MessagesRequestSchema,
  plainlyValid,
} from "../lib/messages_schema.ts";
import { parseBody } from "../lib/parse_body.ts";
import { handleMessages, recordRefusal, takeSlot } from "../lib/proxy.ts";
import type { Services } from "../lib/services.ts";
import { beforeDeadline, EXPIRED, tickFor } from "../lib/stream_ticker.ts";
import { queryOf } from "../lib/url_query.ts";
import { readUpTo } from "../lib/body_read.ts";
import { MAX_NESTING, tooDeeplyNested } from "../lib/nesting_depth.ts";

async function readBody(
  req: Request,
  schema: z.ZodType,
  config: Config,
): Promise<{ raw: string; body: MessagesRequest }> {
  const raw = await readLimited(req, config);
  let parsed: unknown;
  try {
    parsed = parseBody(raw);
  } catch {
    throw new ProxyError(400, "The request body is not valid JSON");
  }
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new ProxyError(400, "The request body must be a JSON object");
  }
  if (!plainlyValid(parsed as Record<string, unknown>, schema === MessagesRequestSchema)) {
    const result = schema.safeParse(parsed);
    if (!result.success) throw new ProxyError(400, describeIssues(result.error.issues));
  }
  const blockProblem = contentBlockProblem(
    (parsed as { messages: Array<{ content: unknown }> }).messages,
  );
  if (blockProblem) throw new ProxyError(400, blockProblem);
  const deep = tooDeeplyNested(parsed as Record<string, unknown>);
  if (deep) {
    throw new ProxyError(400, `${deep}: arrays and objects nested more than ${MAX_NESTING} deep`);
  }
  // Validation only: the parsed object itself goes on, so nothing is copied.
  return { raw, body: parsed as MessagesRequest };
}

/**
 * A body may take this long, or REQUEST_TIMEOUT if shorter, plus a second per BODY_PACE bytes it
 * declares (a slow mobile uplink); one sent in chunks, with no length declared, as much as
 * MAX_BODY_SIZE.
 */
const BODY_GRACE_MS = 30_000;
const BODY_PACE = 10_000;
/**
 * A body this large (or of no declared length) is watched as it arrives: the time its length
 * earns is for bytes that come, and one that stops coming for BODY_GRACE_MS is given up on (a
 * declared 32 MB that never came held its slot for 11 minutes). After the grace, it keeps the
 * pace on average: a byte every few seconds, which the stall check alone lets through, held a slot
 * for as long as its declared length earned.
 */
const WATCHED_BODY = 1 << 20;

/**
 * The body as text; a body without a declared length is counted as it arrives. One that stops
 * coming is a 408 in time: it holds one of the MAX_CONCURRENT_REQUESTS slots while it is read, and
 * a few clients stalled mid-upload would otherwise hold them all.
 */
async function readLimited(req: Request, config: Config): Promise<string> {
  const length = req.headers.get("content-length");
  const size = length === null ? config.maxBodySize : Number(length) || 0;
  const grace = Math.min(BODY_GRACE_MS, config.requestTimeout);
  const start = Date.now();
  const end = start + grace + size * 1000 / BODY_PACE;
  let arrived = start;
  let received = 0;
  const watched = size > WATCHED_BODY && req.body
    ? req.body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, ctrl) {
          arrived = Date.now();
          received += chunk.byteLength;
          ctrl.enqueue(chunk);
        },
      }),
    )
    : undefined;
  const deadline = watched
    ? () => Math.min(end, arrived + grace, start + grace + received * 1000 / BODY_PACE)
    : end;
  const reading = readBytes(req, config.maxBodySize, watched);
  try {
    // On the shared tick, not a timer per request: a timer and its race cost 6 µs, this 1 µs.
    const read = await beforeDeadline(reading, deadline, tickFor(config), Date.now);
    if (read === EXPIRED) throw new ProxyError(408, "The request body did not arrive in time");
    return read;
  } catch (err) {
    if (err instanceof ProxyError) throw err;
    // The client went away mid-upload: nobody hears the answer, and it is no proxy fault.
    throw new UploadCut(400, "The request body could not be read to its end");
  } finally {
    // Given up on, the read ends when the connection does.
    reading.catch(() => {});
  }
}

/** A body that stopped arriving; the request's signal does not say so (it never aborts then). */
class UploadCut extends ProxyError {}

async function readBytes(
  req: Request,
  maxBytes: number,
  watched?: ReadableStream<Uint8Array>,
): Promise<string> {
  // Codings listed in the order they were applied (RFC 9110), undone from the last.
  const codings = (req.headers.get("content-encoding") ?? "").toLowerCase().split(",")
    .map((c) => c.trim()).filter((c) => c && c !== "identity");
  const coding = codings.join(", ");
  // `req.body` is not asked for unless it is read as a stream: asked once, text() reads the
  // body through that stream instead of whole at once (0.2 ms more for 85 KB, and its garbage).
  if (!codings.length && !watched && req.headers.has("content-length")) return await req.text();
  let body: ReadableStream<Uint8Array> | null = watched ?? req.body;
  if (!body) return "";
  for (const c of codings.toReversed()) {
    const format = compressionFormat(c);
    if (!format) {
      throw new ProxyError(
        415,
        `Unsupported content-encoding ${c}: send the body as it is, or gzip, deflate or br`,
      );
    }
    // The limit applies to what the body unpacks to, not only to what was sent.
    body = body.pipeThrough(
      new DecompressionStream(format) as TransformStream<Uint8Array, Uint8Array>,
    );
  }
  const declared = Number(req.headers.get("content-length")) || 0;
  const { bytes, complete } = await readUpTo(body, maxBytes, false, declared).catch((err) => {
    // Bytes that do not unpack are the request's fault; a client gone mid-upload is not.
    if (coding && !req.signal.aborted) {
      throw new ProxyError(400, `The request body is not valid ${coding}`);
    }
    throw err;
  });
  if (!complete) throw new ProxyError(413, `Request body exceeds the ${maxBytes} byte limit`);
  return decoder.decode(bytes);
}

const decoder = new TextDecoder();

export function messagesRoutes(services: Services): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.post("/messages", async (c) => {
    let read: { raw: string; body: MessagesRequest };
    let release: (() => void) | undefined;
    try {
      // Before the body: a full proxy must not buffer up to MAX_BODY_SIZE per refused request.
      release = takeSlot(services);
      read = await readBody(c.req.raw, MessagesRequestSchema, services.config);
    } catch (err) {
      release?.();
      // A client that left mid-upload hears nothing and did nothing wrong: not counted.
      if (err instanceof ProxyError && !(err instanceof UploadCut)) {
        recordRefusal(
          services,
          { requestId: c.get("requestId"), clientKey: c.get("clientKey") },
          err,
        );
      }
      throw err;
    }
    const { raw, body } = read;
    return await handleMessages(services, {
      body,
      raw,
      headers: c.req.raw.headers,
      query: queryOf(c.req.url),
      requestId: c.get("requestId"),
      clientKey: c.get("clientKey"),
      signal: c.req.raw.signal,
      release,
    });
  });

  app.post("/messages/count_tokens", async (c) => {
    // It reads and parses a body as large as a request's: it counts against the same bound, or
    // counts sent at once could hold MAX_BODY_SIZE each without limit.
    const release = takeSlot(services);
    try {
      const { raw, body } = await readBody(c.req.raw, CountTokensRequestSchema, services.config);
      const count = await countTokens(
        services,
        body,
        raw,
        c.req.raw.headers,
        c.get("requestId"),
        queryOf(c.req.url),
      );
      return c.json(count.body, 200, count.headers);
    } finally {
      release();
    }
  });

  return app;
}
