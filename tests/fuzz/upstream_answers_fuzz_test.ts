// Seeded, bounded fuzzing of what upstreams answer: each strict fake's answer to a valid request,
// or a recorded real answer, is mutated (fields dropped or retyped, tool arguments broken, indexes
// out of order, choices empty, usage as strings, unknown finish reasons, [DONE] missing or doubled,
// data after the end, non-JSON lines, cut short) and written in pieces cut at odd bytes. Whatever
// comes, the client gets a valid message, a stream that ends with message_stop or an error event,
// or an Anthropic error, in time; part of the cases are read by the official SDK, whose parser is
// what users run. FUZZ_SEED=<n> replays a run; FUZZ_CASES sets its length.
import Anthropic from "@anthropic-ai/sdk";
import assert from "node:assert/strict";
import { anthropicToolStream, startFakeAnthropic } from "../fakes/anthropic_upstream.ts";
import { startFakeGemini } from "../fakes/gemini_upstream.ts";
import { startFakeOpenAI } from "../fakes/openai_upstream.ts";
import { ACCESS_KEY, startTestServer, type TestServer } from "../helpers/server.ts";
import {
  assertErrorBody,
  assertMessage,
  assertPassthroughStream,
  assertTranslatedStream,
  BAD_UTF8,
  brief,
  chance,
  concat,
  cutBytes,
  int,
  type Json,
  mutateJson,
  pick,
  type Rewrite,
  type Rng,
  rngFrom,
  type Shim,
  type ShimAnswer,
  startShim,
  timedFetch,
  utf8,
} from "./fuzz_kit.ts";

const SEED = Number(Deno.env.get("FUZZ_SEED") ?? 5_150_2025);
const CASES = Number(Deno.env.get("FUZZ_CASES") ?? 50);
const ANSWER_MS = 6_000;

// ---------------------------------------------------------------------------------------------
// Real answers to start from, beside the fakes' own

const FIXTURES = new URL("../fixtures/", import.meta.url);

function recorded(dir: string, ext: string, skip: RegExp): string[] {
  const out: string[] = [];
  for (const e of Deno.readDirSync(new URL(`${dir}/`, FIXTURES))) {
    if (e.name.endsWith(ext) && !skip.test(e.name)) {
      out.push(Deno.readTextFileSync(new URL(`${dir}/${e.name}`, FIXTURES)));
    }
  }
  return out.sort();
}

const REAL = {
  openai: {
    sse: recorded("openai", ".sse", /^$/),
    json: recorded("openai", ".json", /^error_/),
  },
  gemini: {
    sse: recorded("gemini", ".sse", /^$/),
    json: recorded("gemini", ".json", /^(error_|signatures)/),
  },
  anthropic: {
    sse: [anthropicToolStream("toolu_01real", "get_weather", { city: "Paris" }).join("")],
    json: [],
  },
};

// ---------------------------------------------------------------------------------------------
// Mutations of an answer

/** Sets every value under keys matching `key` at one of the places, to one of `values`. */
function setKey(key: RegExp, values: Json[]) {
  return (rng: Rng, p: { parent: Json; key: string | number }) => {
    const hits: Array<[Json, string]> = [];
    const walk = (v: Json) => {
      if (typeof v !== "object" || v === null) return;
      for (const k of Object.keys(v)) {
        if (key.test(k)) hits.push([v, k]);
        walk(v[k]);
      }
    };
    walk(p.parent);
    if (!hits.length) return void (p.parent[p.key] = pick(rng, values));
    const [obj, k] = pick(rng, hits);
    obj[k] = pick(rng, values);
  };
}

const BROKEN_ARGS = ['{"city":', "[1,2]", '"str"', "", "null", '{"a":1}{"b":2}', "{'a':1}", "}"];

/** What answers get wrong: beside the generic mutations, the fields translators lean on. */
const ANSWER_OPS: Array<[string, ReturnType<typeof setKey>]> = [
  ["index", setKey(/^index$/, [-1, 1, 3, 99, "0", null, 0.5])],
  [
    "finish",
    setKey(/^(finish_reason|finishReason|stop_reason)$/, [
      "weird_reason",
      "",
      null,
      7,
      "FINISH_REASON_UNSPECIFIED",
      "OTHER",
      "content_filter",
      "tool_calls",
      "length",
      "MALFORMED_FUNCTION_CALL",
    ]),
  ],
  ["args", setKey(/^(arguments|args|partial_json|input)$/, [...BROKEN_ARGS, 5, null, [], {}])],
  ["usage", setKey(/(tokens|TokenCount|_tokens)$/, ["12", -3, 1.5, null, 1e308, {}, "NaN"])],
  [
    "choices",
    setKey(/^(choices|candidates|content|parts|tool_calls)$/, [[], null, {}, "x", [
      null,
    ], [{}]]),
  ],
  ["ids", setKey(/^(id|name)$/, ["", null, 5, "has spaces & ☃", "x".repeat(300)])],
  ["roles", setKey(/^(role|type|thought)$/, ["tool", "", null, "mystery", true])],
];

function mutateAnswerJson(rng: Rng, value: Json): { value: Json; labels: string[] } {
  const times = 1 + int(rng, 2);
  if (chance(rng, 0.5)) return mutateJson(rng, value, times);
  // deno-lint-ignore no-explicit-any
  return mutateJson(rng, value, times, ANSWER_OPS as any);
}

/** An SSE body's frames, each with the blank line that ended it. */
function frames(text: string): string[] {
  return text.match(/[\s\S]*?(?:\r?\n\r?\n|$)/g)!.filter((f) => f.length);
}

const JUNK_FRAMES = [
  "data: not json at all\n\n",
  ": keep-alive\n\n",
  "event: weird\ndata: {}\n\n",
  "data: [DONE]\n\n",
  "retry: nope\n\n",
  "id: 5\n\n",
  "data:{}\n\n",
  "data: null\n\n",
  "data: []\n\n",
  'data: "a string"\n\n',
  "data: 42\n\n",
  '{"error":{"code":500,"message":"bare error","status":"INTERNAL"}}\n',
  'data: {"error":{"message":"boom","type":"server_error"}}\n\n',
  'event: error\ndata: {"type":"error","error":{"type":"api_error","message":"x"}}\n\n',
  'event: message_stop\ndata: {"type":"message_stop"}\n\n',
  "\n\n\n",
  `data: ${"y".repeat(70_000)}\n\n`,
];

/** What a passthrough must cope with itself: the framing, not the events' content. */
const FRAMING_OPS = [6, 7, 8, 9, 10];
const BENIGN_JUNK = [": keep-alive\n\n", "event: weird\ndata: {}\n\n", "retry: nope\n\n", "\n\n\n"];

/**
 * The SSE body with one to three mutations; `framingOnly` keeps to those a passthrough must
 * handle itself (junk between events, a missing or doubled end, a cut, other line endings).
 */
function mutateSse(
  rng: Rng,
  text: string,
  framingOnly: boolean,
): { text: string; labels: string[] } {
  let fs = frames(text);
  const labels: string[] = [];
  for (let n = 1 + int(rng, 3); n > 0 && fs.length; n--) {
    const i = int(rng, fs.length);
    const op = framingOnly ? pick(rng, FRAMING_OPS) : int(rng, 11);
    if (op <= 2) {
      // A frame's JSON mutated.
      const m = /^([\s\S]*?data: ?)(\{[\s\S]*\})(\s*)$/.exec(fs[i]);
      if (!m) continue;
      let json: Json;
      try {
        json = JSON.parse(m[2]);
      } catch {
        continue;
      }
      const { value, labels: l } = mutateAnswerJson(rng, json);
      fs[i] = m[1] + JSON.stringify(value) + m[3];
      labels.push(`frame ${i}: ${l.join(",")}`);
    } else if (op === 3) {
      fs.splice(i, 1);
      labels.push(`drop ${i}`);
    } else if (op === 4) {
      fs.splice(i, 0, fs[i]);
      labels.push(`dup ${i}`);
    } else if (op === 5 && i + 1 < fs.length) {
      [fs[i], fs[i + 1]] = [fs[i + 1], fs[i]];
      labels.push(`swap ${i}`);
    } else if (op === 6) {
      const junk = pick(rng, framingOnly ? BENIGN_JUNK : JUNK_FRAMES);
      fs.splice(int(rng, fs.length + 1), 0, junk);
      labels.push(`junk ${brief(junk, 40)}`);
    } else if (op === 7) {
      fs = fs.filter((f) => !/\[DONE\]|message_stop/.test(f));
      labels.push("no end");
    } else if (op === 8 && !(framingOnly && !fs.some((f) => /message_stop/.test(f)))) {
      // (Junk in a stream that has no end is the events' garbage, not data after the end.)
      // For the SDK, JSON it would read were it not after the end: it reads every event's data.
      const junk = framingOnly
        ? 'event: weird\ndata: {"after":"the end"}\n\n'
        : "data: after the end\n\n";
      fs.push(...fs.slice(-1), junk, fs[int(rng, fs.length)]);
      labels.push("after end");
    } else if (op === 9) {
      const all = fs.join("");
      fs = [all.slice(0, int(rng, all.length))];
      labels.push("cut");
      // Bytes after a cut would run into the cut frame: another upstream's garbage, not a cut.
      break;
    } else {
      fs = fs.map((f) => f.replace(/\r?\n/g, pick(rng, ["\r\n", "\n", "\r"])));
      labels.push("line ends");
    }
  }
  return { text: fs.join(""), labels };
}

function mutateBytes(rng: Rng, bytes: Uint8Array<ArrayBuffer>): {
  bytes: Uint8Array<ArrayBuffer>;
  label: string;
} {
  const at = int(rng, bytes.length);
  const ops: Array<[string, () => Uint8Array<ArrayBuffer>]> = [
    ["bad utf-8", () => concat(bytes.slice(0, at), pick(rng, BAD_UTF8), bytes.slice(at))],
    ["bom", () => concat(new Uint8Array([0xef, 0xbb, 0xbf]), bytes)],
    ["empty", () => new Uint8Array()],
    ["html", () => utf8("<html><body><h1>502 Bad Gateway</h1></body></html>")],
    ["not an object", () => utf8(pick(rng, ["null", "[]", "1", '"x"', "true"]))],
    ["trailing", () => concat(bytes, utf8(pick(rng, ["}", "\n{}", " garbage", "\0"])))],
    ["1e999", () => utf8(new TextDecoder().decode(bytes).replace(/(":\s*)\d+/, "$11e999"))],
    ["cut", () => bytes.slice(0, at)],
  ];
  const [label, op] = pick(rng, ops);
  return { bytes: op(), label };
}

/** The answer a case sends instead of the fake's 200. */
function rewriteFor(kind: string, caseSeed: number, labels: string[], framingOnly: boolean) {
  return (answer: ShimAnswer, attempt: number): Rewrite => {
    const rng = rngFrom(caseSeed + attempt);
    const real = REAL[kind === "custom" ? "openai" : kind as keyof typeof REAL];
    const sse = /event-stream/.test(answer.contentType);
    const counting = /count_?tokens/i.test(answer.path);
    let text = new TextDecoder().decode(answer.body);
    if (!counting) {
      const pool = sse ? real.sse : real.json;
      if (pool.length && chance(rng, 0.5)) {
        text = pick(rng, pool);
        labels.push("recorded answer");
      }
    }
    let contentType = answer.contentType;
    let bytes: Uint8Array<ArrayBuffer>;
    if (sse && chance(rng, 0.8)) {
      const m = mutateSse(rng, text, framingOnly);
      labels.push(...m.labels);
      bytes = utf8(m.text);
    } else if (!sse && chance(rng, 0.7)) {
      try {
        const m = mutateAnswerJson(rng, JSON.parse(text));
        labels.push(...m.labels);
        bytes = utf8(JSON.stringify(m.value));
      } catch {
        bytes = utf8(text);
      }
    } else {
      const m = mutateBytes(rng, utf8(text));
      labels.push(m.label);
      bytes = m.bytes;
    }
    if (chance(rng, 0.05)) {
      contentType = pick(rng, ["application/json", "text/event-stream", "text/html", ""]);
      labels.push(`content-type ${contentType || "none"}`);
    }
    const pieces = cutBytes(rng, bytes);
    if (pieces.length > 1) labels.push(`${pieces.length} pieces`);
    return { pieces, headers: contentType ? { "content-type": contentType } : {} };
  };
}

// ---------------------------------------------------------------------------------------------
// Requests, and the checks on their answers

const TOOLS = [{
  name: "get_weather",
  description: "Weather for a city",
  input_schema: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
}];

function request(rng: Rng): Json {
  return pick(rng, [
    { messages: [{ role: "user", content: "Hello" }] },
    { tools: TOOLS, messages: [{ role: "user", content: "Weather in Paris?" }] },
    {
      thinking: { type: "enabled", budget_tokens: 1024 },
      tools: TOOLS,
      messages: [{ role: "user", content: "Think, then call the tool for Paris" }],
    },
  ]);
}

interface Env {
  kind: string;
  fake: { url: string; close(): Promise<void> };
  shim: Shim;
  server: TestServer;
  sdk: Anthropic;
}

const KINDS = [
  { kind: "openai", start: () => startFakeOpenAI(), model: "gpt-4o" },
  { kind: "custom", start: () => startFakeOpenAI({ strictTemplate: true }), model: "qwen3" },
  { kind: "gemini", start: () => startFakeGemini(), model: "gemini-2.5-flash" },
  { kind: "anthropic", start: () => startFakeAnthropic(), model: "claude-sonnet-4-5" },
] as const;

async function startEnvs(): Promise<Env[]> {
  const envs: Env[] = [];
  for (const k of KINDS) {
    const fake = await k.start();
    const shim = startShim(fake.url);
    const server = await startTestServer({
      env: { LOG_LEVEL: "error" },
      config: {
        upstream: [{
          name: k.kind,
          baseUrl: shim.url,
          serviceType: k.kind,
          apiKeys: ["sk-fuzz-key-0000001", "sk-fuzz-key-0000002"],
          models: { default: k.model },
        }],
      },
    });
    const sdk = new Anthropic({
      apiKey: ACCESS_KEY,
      baseURL: server.url,
      maxRetries: 0,
      timeout: ANSWER_MS,
    });
    envs.push({ kind: k.kind, fake, shim, server, sdk });
  }
  return envs;
}

async function checkFetch(env: Env, path: string, body: Json, said: string): Promise<void> {
  const { status, text, headers } = await timedFetch(`${env.server.url}${path}`, {
    method: "POST",
    headers: { "x-api-key": ACCESS_KEY, "content-type": "application/json" },
    body: JSON.stringify(body),
  }, ANSWER_MS).catch((err) => assert.fail(`${said}: no answer in ${ANSWER_MS} ms (${err})`));
  said = `${said}\n  → ${status} ${brief(text, 500)}`;
  if (Deno.env.get("FUZZ_SHOW")) console.log(said.replace(/\n/g, " "));
  if (status !== 200) {
    assertErrorBody(text, said);
    return;
  }
  if (path.endsWith("count_tokens")) {
    const n = JSON.parse(text).input_tokens;
    assert.ok(Number.isSafeInteger(n) && n >= 0, `${said}: input_tokens ${n}`);
  } else if (/event-stream/.test(headers.get("content-type") ?? "")) {
    if (env.kind === "anthropic") {
      assertPassthroughStream(text, new TextDecoder().decode(env.shim.lastBody), said);
    } else assertTranslatedStream(text, said);
  } else if (env.kind === "anthropic") {
    // Passed through as the upstream wrote it, once the proxy saw it is a JSON object.
    const json = JSON.parse(text);
    assert.ok(json && typeof json === "object" && !Array.isArray(json), said);
  } else assertMessage(JSON.parse(text), said);
}

/** Through the SDK: a Message, or an APIError (never its parser choking, never a hang). */
async function checkSdk(env: Env, body: Json, said: string): Promise<void> {
  try {
    const message = body.stream
      ? await env.sdk.messages.stream({ ...body, stream: undefined }).finalMessage()
      : await env.sdk.messages.create(body);
    if (Deno.env.get("FUZZ_SHOW")) console.log(`${said} → SDK message`.replace(/\n/g, " "));
    // The passthrough's content is the upstream's own: only the translators' is checked.
    if (env.kind !== "anthropic") assertMessage(message, `${said} (SDK)`);
  } catch (err) {
    if (err instanceof assert.AssertionError) throw err;
    if (Deno.env.get("FUZZ_SHOW")) console.log(`${said} → SDK ${err}`.replace(/\n/g, " "));
    assert.ok(
      err instanceof Anthropic.APIError && !(err instanceof Anthropic.APIConnectionError),
      `${said}\n  the SDK failed with ${(err as Error)?.constructor?.name}: ${err}`,
    );
    const message = (err as InstanceType<typeof Anthropic.APIError>).message;
    assert.doesNotMatch(message, /\n\s+at |file:\/\/|\.ts:\d+|TypeError/, `${said}: ${message}`);
  }
}

Deno.test({
  name:
    `fuzz: mutated upstream answers become a message, a whole stream or an error (seed ${SEED})`,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const rng = rngFrom(SEED);
    const envs = await startEnvs();
    const failures: string[] = [];
    let sent = 0;
    try {
      for (
        let n = 0;
        n < CASES && failures.length < Number(Deno.env.get("FUZZ_MAX_FAILURES") ?? 10);
        n++
      ) {
        const caseSeed = Math.floor(rng() * 2 ** 31);
        const stream = chance(rng, 0.6);
        const counting = chance(rng, 0.1);
        const viaSdk = !counting && chance(rng, 0.35);
        const base = request(rng);
        for (const env of envs) {
          const labels: string[] = [];
          env.shim.reset();
          // The passthrough takes a text delta that looks whole as sent, unparsed (lib/
          // anthropic_stream_check.ts): what the SDK reads through it is fuzzed in its framing and
          // bytes only, not in the values of well-formed events.
          const framingOnly = env.kind === "anthropic" && viaSdk;
          env.shim.rewrite = rewriteFor(env.kind, caseSeed, labels, framingOnly);
          const body = { model: "claude-fuzz-1", max_tokens: 2048, ...base, stream };
          const path = counting ? "/v1/messages/count_tokens" : "/v1/messages";
          const head = `seed ${SEED} case #${n} (${caseSeed}) ${env.kind} ${path} stream=${stream}${
            viaSdk ? " via SDK" : ""
          }`;
          sent++;
          try {
            if (counting) {
              const { max_tokens: _, stream: __, ...rest } = body;
              await checkFetch(env, path, rest, head);
            } else if (viaSdk) await checkSdk(env, body, head);
            else await checkFetch(env, path, body, head);
          } catch (err) {
            failures.push(
              `${(err as Error).message.slice(0, 6000)}\n  upstream: ${labels.join("; ")}`,
            );
          }
        }
      }
      for (const env of envs) {
        env.shim.rewrite = undefined;
        const health = await timedFetch(`${env.server.url}/health`, {}, ANSWER_MS);
        assert.equal(health.status, 200, `${env.kind}: /health after the fuzz`);
        // Keys the garbage set aside may still cool down: the SDK waits the retry-after it hears.
        const sdk = new Anthropic({ apiKey: ACCESS_KEY, baseURL: env.server.url, maxRetries: 3 });
        const message = await sdk.messages.create({
          model: "claude-fuzz-1",
          max_tokens: 64,
          messages: [{ role: "user", content: "Hello" }],
        });
        assert.equal(message.type, "message", `${env.kind}: a valid request after the fuzz`);
      }
    } finally {
      const out = Deno.env.get("FUZZ_OUT");
      if (out) Deno.writeTextFileSync(out, failures.join("\n\n"));
      for (const env of envs) {
        await env.server.close();
        await env.shim.close();
        await env.fake.close();
      }
    }
    if (failures.length) console.log(`fuzz seed ${SEED}: replay with FUZZ_SEED=${SEED}`);
    assert.ok(sent >= CASES * envs.length || failures.length, `only ${sent} requests`);
    assert.deepEqual(failures, [], failures.join("\n\n"));
  },
});
