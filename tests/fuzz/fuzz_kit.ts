// What the wire fuzz tests share: a seeded PRNG, JSON and byte mutations, a recording (and, when
// asked, mutating) shim in front of a strict fake upstream, and the checks every answer must pass.
import assert from "node:assert/strict";

// deno-lint-ignore no-explicit-any
export type Json = any;
export type Rng = () => number;

/** mulberry32: the same sequence for the same seed everywhere, so a failure replays. */
export function rngFrom(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const pick = <T>(rng: Rng, items: readonly T[]): T =>
  items[Math.floor(rng() * items.length)];
export const chance = (rng: Rng, p: number) => rng() < p;
export const int = (rng: Rng, n: number) => Math.floor(rng() * n);

export const PNG =
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";

// ---------------------------------------------------------------------------------------------
// JSON mutations

type Place = { parent: Json; key: string | number; depth: number; path: string };

/** Every place in the tree (bounded), so a mutation can land anywhere. */
function places(root: Json, limit = 20_000): Place[] {
  const out: Place[] = [];
  const walk = (v: Json, depth: number, path: string) => {
    if (out.length >= limit || typeof v !== "object" || v === null) return;
    for (const key of Array.isArray(v) ? v.keys() : Object.keys(v)) {
      const at = `${path}.${key}`;
      out.push({ parent: v, key, depth, path: at });
      walk(v[key], depth + 1, at);
    }
  };
  walk(root, 0, "");
  return out;
}

const ODD_SCALARS: Json[] = [
  null,
  true,
  0,
  -1,
  1.5,
  -0,
  1e308,
  2 ** 53 + 1,
  -(2 ** 31),
  1e-7,
  "",
  "NaN",
  "Infinity",
  "-1",
  "1e999",
  "0x10",
  "null",
  "\ud800",
  "x\udc00y",
  "\u0000",
  "👋🏽",
];

/** Blocks that belong somewhere else, or nowhere. */
function oddBlock(rng: Rng): Json {
  return pick(rng, [
    { type: "mystery_block", data: { a: 1 } },
    { type: "thinking", thinking: "hmm", signature: "c2ln" },
    { type: "thinking" },
    { type: "redacted_thinking", data: "ZW5j" },
    { type: "tool_use", id: "toolu_fuzz_orphan", name: "Bash", input: { command: "ls" } },
    { type: "tool_use", id: "", name: "", input: null },
    { type: "tool_result", tool_use_id: "toolu_nowhere", content: "x" },
    { type: "tool_result", tool_use_id: 5, content: [{ type: "mystery" }] },
    { type: "image", source: { type: "base64", media_type: "image/png", data: "!!not base64" } },
    { type: "image", source: { type: "base64", media_type: "image/x-bmp", data: PNG } },
    { type: "image", source: { type: "base64", media_type: "image/png", data: PNG.slice(3) } },
    { type: "image", source: { type: "url", url: "not a url" } },
    { type: "document", source: { type: "base64", media_type: "text/html", data: "PGI+" } },
    { type: "text", text: "" },
    { type: "text", text: ["not", "a", "string"] },
    { type: "text", text: "ok", cache_control: { type: "forever" } },
    { type: "server_tool_use", id: "srvtoolu_1", name: "web_search", input: { query: "q" } },
    { type: "web_search_tool_result", tool_use_id: "srvtoolu_1", content: [] },
    "a bare string block",
    42,
    null,
  ]);
}

function nested(depth: number, inner: Json): Json {
  let v = inner;
  for (let i = 0; i < depth; i++) v = i % 2 ? [v] : { a: v };
  return v;
}

const MUTATIONS: Array<[string, (rng: Rng, p: Place) => void]> = [
  ["drop", (_rng, p) => {
    if (Array.isArray(p.parent)) p.parent.splice(p.key as number, 1);
    else delete p.parent[p.key];
  }],
  ["duplicate", (_rng, p) => {
    const copy = structuredClone(p.parent[p.key]);
    if (Array.isArray(p.parent)) p.parent.splice(p.key as number, 0, copy);
    else p.parent[`${p.key}`] = [p.parent[p.key], copy];
  }],
  ["retype", (rng, p) => {
    const v = p.parent[p.key];
    p.parent[p.key] = pick(rng, [
      String(JSON.stringify(v) ?? "").slice(0, 40),
      typeof v === "string" ? Number(v.length) : 7,
      null,
      [v],
      { value: v },
      true,
    ]);
  }],
  ["empty", (rng, p) => {
    p.parent[p.key] = pick(rng, ["", [], {}]);
  }],
  ["odd scalar", (rng, p) => {
    p.parent[p.key] = pick(rng, ODD_SCALARS);
  }],
  ["odd block", (rng, p) => {
    const v = p.parent[p.key];
    if (Array.isArray(v)) v.splice(int(rng, v.length + 1), 0, oddBlock(rng));
    else p.parent[p.key] = oddBlock(rng);
  }],
  ["lone surrogate", (rng, p) => {
    const v = p.parent[p.key];
    p.parent[p.key] = typeof v === "string"
      ? v.slice(0, v.length >> 1) + pick(rng, ["\ud800", "\udfff", "\ud83d"]) +
        v.slice(v.length >> 1)
      : "\udbff";
  }],
  ["deep", (rng, p) => {
    p.parent[p.key] = nested(pick(rng, [50, 500, 3000]), p.parent[p.key]);
  }],
  ["long", (rng, p) => {
    p.parent[p.key] = "z".repeat(pick(rng, [70_000, 300_000]));
  }],
];

/**
 * Where a mutation lands: mostly inside the content of messages (what the translators walk),
 * else anywhere below the top, else a top-level field (which validation mostly turns away).
 */
function where(rng: Rng, all: Place[]): Place {
  const r = rng();
  const inner = r < 0.6
    ? all.filter((p) => /^\.root\.(messages\.\d+\.content|system|tools\.\d+)/.test(p.path))
    : r < 0.85
    ? all.filter((p) => p.depth >= 2)
    : all.filter((p) => p.depth === 1);
  return pick(rng, inner.length ? inner : all);
}

/** `times` mutations of a copy of `value`, and what they were. */
export function mutateJson(
  rng: Rng,
  value: Json,
  times: number,
  ops = MUTATIONS,
): { value: Json; labels: string[] } {
  const root = { root: structuredClone(value) };
  const labels: string[] = [];
  for (let i = 0; i < times; i++) {
    const all = places(root);
    if (!all.length) break;
    const p = where(rng, all);
    const [name, op] = pick(rng, ops);
    op(rng, p);
    labels.push(`${name}@${String(p.key)}`);
  }
  return { value: root.root, labels };
}

// ---------------------------------------------------------------------------------------------
// Byte helpers

const encoder = new TextEncoder();

export function utf8(text: string): Uint8Array<ArrayBuffer> {
  return encoder.encode(text);
}

export function concat(...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export async function gzip(bytes: Uint8Array<ArrayBuffer>): Promise<Uint8Array<ArrayBuffer>> {
  const stream = new Blob([bytes]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** Bytes that are not UTF-8: stray continuation, a cut sequence, overlong, a surrogate, 0xff. */
export const BAD_UTF8: Uint8Array<ArrayBuffer>[] = [
  new Uint8Array([0x80]),
  new Uint8Array([0xc3]),
  new Uint8Array([0xe2, 0x82]),
  new Uint8Array([0xc0, 0xaf]),
  new Uint8Array([0xed, 0xa0, 0x80]),
  new Uint8Array([0xff, 0xfe]),
];

/** The bytes cut into pieces at random places, multi-byte characters included. */
export function cutBytes(rng: Rng, bytes: Uint8Array<ArrayBuffer>): Uint8Array<ArrayBuffer>[] {
  const style = int(rng, 4);
  if (style === 0 || bytes.length < 2) return [bytes];
  const out: Uint8Array<ArrayBuffer>[] = [];
  for (let at = 0; at < bytes.length;) {
    const size = style === 1
      ? 1 + int(rng, 3)
      : style === 2
      ? 1 + int(rng, 64)
      : 1 + int(rng, 2048);
    out.push(bytes.slice(at, at + size));
    at += size;
  }
  // Thousands of one-byte writes take long on a loaded machine: a long body is cut coarser.
  if (out.length > 400) return cutBytes(rng, bytes);
  return out;
}

// ---------------------------------------------------------------------------------------------
// A shim in front of a strict fake: it records what the fake answered and may rewrite it

/** What the shim sends instead of the fake's 200: a status, headers, and the body in pieces. */
export interface Rewrite {
  status?: number;
  headers?: Record<string, string>;
  pieces: Uint8Array<ArrayBuffer>[];
}

export interface ShimAnswer {
  path: string;
  status: number;
  contentType: string;
  body: Uint8Array<ArrayBuffer>;
  /** The client's request body, as the fake saw it. */
  request: Json;
}

export interface Shim {
  url: string;
  /** Statuses of every answer since the last reset (after any rewrite). */
  statuses: number[];
  /** The body of the last answer sent, as sent. */
  lastBody: Uint8Array<ArrayBuffer>;
  /** Rewrites 200s (the n-th attempt of a request is its argument); undefined: relayed as is. */
  rewrite: ((answer: ShimAnswer, attempt: number) => Rewrite | undefined) | undefined;
  reset(): void;
  close(): Promise<void>;
}

export function startShim(target: string): Shim {
  const stop = new AbortController();
  let attempt = 0;
  const shim: Shim = {
    url: "",
    statuses: [],
    lastBody: new Uint8Array(),
    rewrite: undefined,
    reset() {
      shim.statuses = [];
      shim.lastBody = new Uint8Array();
      attempt = 0;
    },
    async close() {
      stop.abort();
      await server.finished;
    },
  };
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, signal: stop.signal, onListen() {} },
    async (req) => {
      const url = new URL(req.url);
      const headers = new Headers(req.headers);
      headers.delete("host");
      headers.delete("content-length");
      const sent = req.body ? new Uint8Array(await req.arrayBuffer()) : undefined;
      const res = await fetch(target + url.pathname + url.search, {
        method: req.method,
        headers,
        body: sent,
      });
      const body = new Uint8Array(await res.arrayBuffer());
      const rewrite = res.status === 200 && shim.rewrite;
      const out = rewrite
        ? rewrite({
          path: url.pathname,
          status: res.status,
          contentType: res.headers.get("content-type") ?? "",
          body,
          request: sent ? JSON.parse(new TextDecoder().decode(sent)) : undefined,
        }, attempt++)
        : undefined;
      const status = out?.status ?? res.status;
      shim.statuses.push(status);
      const pieces = out?.pieces ?? [body];
      shim.lastBody = concat(...pieces);
      let i = 0;
      return new Response(
        new ReadableStream<Uint8Array>({
          async pull(ctrl) {
            if (i >= pieces.length) return ctrl.close();
            // A macrotask between writes, so the pieces reach the proxy as separate reads.
            if (i > 0 && pieces.length < 200) await new Promise((r) => setTimeout(r, 0));
            ctrl.enqueue(pieces[i++]);
          },
        }),
        {
          status,
          headers: out?.headers ?? {
            "content-type": res.headers.get("content-type") ?? "application/json",
          },
        },
      );
    },
  );
  shim.url = `http://127.0.0.1:${server.addr.port}`;
  return shim;
}

// ---------------------------------------------------------------------------------------------
// Checks

/** What an error message must never show: a stack, a source path, a JS error's own wording. */
export const LEAK =
  /\n\s+at |file:\/\/|\/work\/|\.ts:\d+|node_modules|TypeError|RangeError|SyntaxError|ReferenceError|undefined is not|Cannot read prop|is not a function|\[object Object\]|Unexpected token|in JSON at position/;

const ERROR_TYPES = new Set([
  "invalid_request_error",
  "authentication_error",
  "permission_error",
  "not_found_error",
  "request_too_large",
  "rate_limit_error",
  "api_error",
  "overloaded_error",
  "timeout_error",
  "billing_error",
]);

/** An Anthropic error body: `{type:"error", error:{type, message}}`, with nothing leaked. */
export function assertErrorBody(text: string, said: string): Json {
  let json: Json;
  try {
    json = JSON.parse(text);
  } catch {
    assert.fail(`${said}: the error body is not JSON`);
  }
  assert.equal(json?.type, "error", said);
  assert.ok(ERROR_TYPES.has(json.error?.type), `${said}: error type ${json.error?.type}`);
  assert.equal(typeof json.error.message, "string", said);
  assert.ok(json.error.message.length > 0, `${said}: an empty message`);
  assert.doesNotMatch(json.error.message, LEAK, `${said}: the message leaks internals`);
  return json;
}

const STOP_REASONS = new Set([
  "end_turn",
  "max_tokens",
  "stop_sequence",
  "tool_use",
  "pause_turn",
  "refusal",
  "model_context_window_exceeded",
]);

const count = (v: unknown) => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;

function assertUsage(usage: Json, said: string, partial = false): void {
  assert.ok(usage && typeof usage === "object", `${said}: usage ${JSON.stringify(usage)}`);
  if (!partial || usage.input_tokens !== undefined) {
    assert.ok(count(usage.input_tokens), `${said}: input_tokens ${usage.input_tokens}`);
  }
  assert.ok(count(usage.output_tokens), `${said}: output_tokens ${usage.output_tokens}`);
  for (const k of ["cache_creation_input_tokens", "cache_read_input_tokens"]) {
    if (usage[k] !== undefined && usage[k] !== null) {
      assert.ok(count(usage[k]), `${said}: ${k} ${usage[k]}`);
    }
  }
}

function assertBlock(b: Json, said: string): void {
  assert.ok(b && typeof b === "object", `${said}: block ${JSON.stringify(b)}`);
  switch (b.type) {
    case "text":
      assert.equal(typeof b.text, "string", `${said}: text ${JSON.stringify(b)}`);
      break;
    case "thinking":
      assert.equal(typeof b.thinking, "string", `${said}: thinking ${JSON.stringify(b)}`);
      assert.equal(typeof b.signature, "string", `${said}: signature ${JSON.stringify(b)}`);
      break;
    case "redacted_thinking":
      assert.equal(typeof b.data, "string", said);
      break;
    case "tool_use":
    case "server_tool_use":
      assert.match(String(b.id), /^[a-zA-Z0-9_-]+$/, `${said}: tool id ${b.id}`);
      assert.ok(typeof b.name === "string" && b.name.length > 0, `${said}: tool name ${b.name}`);
      assert.ok(
        b.input && typeof b.input === "object" && !Array.isArray(b.input),
        `${said}: tool input ${JSON.stringify(b.input)}`,
      );
      break;
    case "web_search_tool_result":
      break;
    default:
      assert.fail(`${said}: block type ${b.type}`);
  }
}

/** A whole Anthropic message, every field of the types the SDKs declare. */
export function assertMessage(json: Json, said: string): void {
  assert.equal(json?.type, "message", said);
  assert.equal(json.role, "assistant", said);
  assert.match(String(json.id), /^msg_/, said);
  assert.equal(typeof json.model, "string", said);
  assert.ok(Array.isArray(json.content), said);
  for (const b of json.content) assertBlock(b, said);
  assert.ok(STOP_REASONS.has(json.stop_reason), `${said}: stop_reason ${json.stop_reason}`);
  assertUsage(json.usage, said);
}

/** The `event:`/`data:` frames of an SSE body; a frame whose data is not JSON fails. */
export function sseFrames(text: string, said: string): Array<{ event: string; data: Json }> {
  const frames = [];
  for (const frame of text.split(/\r?\n\r?\n/)) {
    if (!frame.trim()) continue;
    let event = "";
    const data: string[] = [];
    for (const line of frame.split(/\r?\n/)) {
      if (line.startsWith("event:")) event = line.slice(6).trim();
      else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
    }
    let parsed;
    try {
      parsed = JSON.parse(data.join("\n"));
    } catch {
      assert.fail(`${said}: a frame whose data is not JSON: ${frame.slice(0, 200)}`);
    }
    frames.push({ event, data: parsed });
  }
  return frames;
}

/**
 * A translated stream a strict client can follow: message_start first, blocks opened and closed in
 * order, deltas inside their block, tool JSON whole at its stop, and either message_delta +
 * message_stop or an error event at the end, nothing after it.
 */
export function assertTranslatedStream(text: string, said: string): void {
  const frames = sseFrames(text, said).filter((f) => f.event !== "ping");
  assert.ok(frames.length > 0, `${said}: an empty stream`);
  const last = frames[frames.length - 1];
  assert.ok(
    last.event === "message_stop" || last.event === "error",
    `${said}: the stream ends with ${last.event}, not message_stop or error`,
  );
  if (last.event === "error") assertErrorBody(JSON.stringify(last.data), `${said} (error event)`);
  const body = last.event === "error" ? frames.slice(0, -1) : frames;
  if (!body.length) return;
  assert.equal(body[0].event, "message_start", `${said}: first event ${body[0].event}`);
  assert.ok(count(body[0].data.message?.usage?.input_tokens), `${said}: message_start usage`);
  const blocks: Json[] = [];
  let open = -1;
  let json = "";
  let stopped = false;
  let delta = false;
  for (const { event, data } of body.slice(1)) {
    const at = `${said}: ${event} ${JSON.stringify(data).slice(0, 200)}`;
    assert.equal(data.type, event, at);
    assert.ok(!stopped, `${at} after message_stop`);
    if (event === "content_block_start") {
      assert.equal(open, -1, `${at}: a block opened while another is open`);
      assert.equal(data.index, blocks.length, `${at}: block indices count 0, 1, 2…`);
      blocks.push(structuredClone(data.content_block));
      open = data.index;
      json = "";
    } else if (event === "content_block_delta") {
      assert.equal(data.index, open, `${at}: a delta outside its open block`);
      const b = blocks[open];
      const d = data.delta;
      if (d.type === "text_delta") b.text += assertString(d.text, at);
      else if (d.type === "thinking_delta") b.thinking += assertString(d.thinking, at);
      else if (d.type === "signature_delta") b.signature = assertString(d.signature, at);
      else if (d.type === "input_json_delta") json += assertString(d.partial_json, at);
      else if (d.type === "citations_delta") continue;
      else assert.fail(`${at}: unknown delta ${d.type}`);
    } else if (event === "content_block_stop") {
      assert.equal(data.index, open, at);
      const b = blocks[open];
      if (b.type === "tool_use" || b.type === "server_tool_use") {
        try {
          b.input = JSON.parse(json || "{}");
        } catch {
          assert.fail(`${at}: tool input is not JSON: ${json.slice(0, 200)}`);
        }
      }
      assertBlock(b, at);
      open = -1;
    } else if (event === "message_delta") {
      assert.equal(open, -1, `${at}: message_delta with a block open`);
      assert.ok(!delta, `${at}: a second message_delta`);
      delta = true;
      assert.ok(STOP_REASONS.has(data.delta?.stop_reason), `${at}: stop_reason`);
      assertUsage(data.usage, at, true);
    } else if (event === "message_stop") {
      // The SDKs take the stop reason and final usage from message_delta alone.
      assert.ok(delta, `${at}: message_stop without a message_delta`);
      stopped = true;
    } else assert.fail(`${at}: unknown event`);
  }
}

function assertString(v: unknown, said: string): string {
  assert.equal(typeof v, "string", said);
  return v as string;
}

const PING = 'event: ping\ndata: {"type":"ping"}\n\n';
const MODEL_MEMBER = /"model"\s*:\s*"(?:[^"\\]|\\.)*"/;

/**
 * A passed-through stream is the upstream's bytes as they came (pings aside), up to the end of
 * its message_stop, or cut at a frame's end and closed with the proxy's own error event.
 */
export function assertPassthroughStream(text: string, upstream: string, said: string): void {
  const body = text.replaceAll(PING, "");
  upstream = upstream.replaceAll(PING, "");
  // A model map renames the model message_start names (to the client's): the rest is as it came.
  const named = MODEL_MEMBER.exec(body)?.[0];
  if (named) upstream = upstream.replace(MODEL_MEMBER, named);
  // The proxy's own error event, or the upstream's in the upstream's line ends.
  const closing = /event: ?error(?:\r\n|\r|\n)data: ?(\{[^\r\n]*\})(?:\r\n|\r|\n){2}$/.exec(body);
  const relayed = closing && !upstream.includes(closing[0]) ? body.slice(0, closing.index) : body;
  said = `${said}\n  upstream sent ${brief(upstream, 1500)}`;
  // A last frame the upstream left without its blank line gets one.
  const sent = upstream.startsWith(relayed) ? relayed : relayed.replace(/\n\n$/, "");
  assert.ok(upstream.startsWith(sent), `${said}: the client got bytes the upstream never sent`);
  if (closing) {
    assertErrorBody(JSON.stringify(JSON.parse(closing[1])), `${said} (error event)`);
    return;
  }
  assert.match(
    relayed,
    /event: ?message_stop(\r\n|\r|\n)data:[^\r\n]*(\r\n|\r|\n){2}$/,
    `${said}: the stream ends without message_stop or an error event`,
  );
}

/** A fetch that must be answered in full within `ms`. */
export async function timedFetch(
  url: string,
  init: RequestInit,
  ms: number,
): Promise<{ status: number; text: string; headers: Headers }> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(ms) });
  const text = await res.text();
  return { status: res.status, text, headers: res.headers };
}

/** A short, one-line account of a value for a failure message. */
export function brief(value: unknown, max = 600): string {
  const text = typeof value === "string" ? value : JSON.stringify(value) ?? String(value);
  return text.replace(/(.)\1{30,}/g, "$1…").slice(0, max);
}
