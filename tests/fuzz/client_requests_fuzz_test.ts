// Seeded, bounded fuzzing of what clients send: Claude Code's captured requests and small
// hand-made ones, mutated in their JSON (fields dropped, retyped, emptied, odd blocks, lone
// surrogates, deep nesting) and in their bytes (cut short, bad UTF-8, gzip without a header, wrong
// content-type, not an object), go to /v1/messages (streamed and not) and count_tokens in front of
// every upstream kind's strict fake. Each answer is a message, a whole stream or an Anthropic error
// that leaks nothing; a 5xx only when the upstream gave one; and the server serves on afterwards.
// FUZZ_SEED=<n> replays a run; FUZZ_CASES sets its length.
import assert from "node:assert/strict";
import { startFakeAnthropic } from "../fakes/anthropic_upstream.ts";
import { startFakeGemini } from "../fakes/gemini_upstream.ts";
import { startFakeOpenAI } from "../fakes/openai_upstream.ts";
import { claudeCodeFixtures } from "../helpers/fixtures.ts";
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
  gzip,
  int,
  type Json,
  mutateJson,
  pick,
  PNG,
  type Rng,
  rngFrom,
  type Shim,
  startShim,
  timedFetch,
  utf8,
} from "./fuzz_kit.ts";
import { DEFERRED_TOOLS, LOADED } from "../helpers/deferred_tools.ts";

const SEED = Number(Deno.env.get("FUZZ_SEED") ?? 7_301_2025);
const CASES = Number(Deno.env.get("FUZZ_CASES") ?? 70);
/** Longer than any answer a fake gives; a request still unanswered by then hangs. */
const ANSWER_MS = 6_000;

const SMALL: Json[] = [
  { model: "claude-sonnet-4-5", max_tokens: 64, messages: [{ role: "user", content: "Hello" }] },
  {
    model: "claude-haiku-4-5",
    max_tokens: 64,
    system: [{ type: "text", text: "Be brief.", cache_control: { type: "ephemeral" } }],
    messages: [
      {
        role: "user",
        content: [{ type: "text", text: "What is in it?" }, {
          type: "image",
          source: { type: "base64", media_type: "image/png", data: PNG },
        }],
      },
    ],
  },
  {
    model: "claude-opus-4-1",
    max_tokens: 2048,
    thinking: { type: "enabled", budget_tokens: 1024 },
    tools: [{
      name: "get_weather",
      description: "Weather",
      input_schema: { type: "object", properties: { city: { type: "string" } } },
    }],
    tool_choice: { type: "auto" },
    messages: [
      { role: "user", content: "Weather in Paris?" },
      {
        role: "assistant",
        content: [
          { type: "thinking", thinking: "call it", signature: "c2ln" },
          { type: "tool_use", id: "toolu_01a", name: "get_weather", input: { city: "Paris" } },
        ],
      },
      {
        role: "user",
        content: [{ type: "tool_result", tool_use_id: "toolu_01a", content: "sunny" }],
      },
    ],
  },
  // Claude Code 2.1.3xx: deferred tools, one loaded by ToolSearch, per-turn settings.
  {
    model: "claude-opus-5-5",
    max_tokens: 128000,
    thinking: { type: "adaptive", display: "omitted" },
    context_management: { edits: [{ type: "clear_thinking_20251015", keep: "all" }] },
    output_config: { effort: "medium" },
    tools: DEFERRED_TOOLS,
    messages: [
      { role: "system", content: "Be brief.", output_config: { effort: "medium" } },
      ...LOADED,
    ],
  },
];

const CONTENT_TYPES = [
  "text/plain",
  "application/x-www-form-urlencoded",
  "multipart/form-data; boundary=xyz",
  "application/json; charset=latin1",
  "application/octet-stream",
  "",
];

/** The body's bytes and headers, sometimes spoiled on the wire. */
async function wire(
  rng: Rng,
  text: string,
): Promise<{ body: Uint8Array<ArrayBuffer>; headers: Record<string, string>; label: string }> {
  const headers: Record<string, string> = {
    "x-api-key": ACCESS_KEY,
    "content-type": "application/json",
  };
  let body = utf8(text);
  if (!chance(rng, 0.25)) return { body, headers, label: "" };
  const at = int(rng, body.length);
  const ops: Array<[string, () => void | Promise<void>]> = [
    ["cut", () => void (body = body.slice(0, at))],
    ["bad utf-8", () => {
      // Inside a string value where there is one: what a client with a broken encoder sends.
      const quote = text.indexOf('"', at);
      const where = quote === -1 ? at : utf8(text.slice(0, quote + 1)).length;
      body = concat(body.slice(0, where), pick(rng, BAD_UTF8), body.slice(where));
    }],
    ["control bytes", () => {
      body = concat(body.slice(0, at), new Uint8Array([0, 1, 0x1b, 0x7f]), body.slice(at));
    }],
    ["bom", () => void (body = concat(new Uint8Array([0xef, 0xbb, 0xbf]), body))],
    [
      "trailing garbage",
      () => void (body = concat(body, utf8(pick(rng, ["}", " x", "{}", "\0"])))),
    ],
    ["dup key", () => void (body = utf8(text.replace(/^\{/, '{"model":7,"messages":null,')))],
    ["NaN literal", () => void (body = utf8(text.replace(/("max_tokens":)\s*[\d.e+-]+/, "$1NaN")))],
    ["gzip, no header", async () => void (body = await gzip(body))],
    ["gzip, header", async () => {
      body = await gzip(body);
      headers["content-encoding"] = "gzip";
    }],
    ["not an object", () => void (body = utf8(pick(rng, ["null", "[]", "1", '"x"', "true", ""])))],
    ["whitespace", () => void (body = utf8(" \n\t "))],
    ["content-type", () => {
      const type = pick(rng, CONTENT_TYPES);
      if (type) headers["content-type"] = type;
      else delete headers["content-type"];
    }],
    [
      "escaped surrogate",
      () => void (body = utf8(text.replace(/"text":"/, '"text":"\\udc00\\ud800'))),
    ],
  ];
  const [label, op] = pick(rng, ops);
  await op();
  return { body, headers, label };
}

interface Env {
  kind: string;
  fake: { url: string; close(): Promise<void> };
  shim: Shim;
  server: TestServer;
}

const KINDS = [
  { kind: "openai", start: () => startFakeOpenAI(), model: "gpt-4o" },
  { kind: "custom", start: () => startFakeOpenAI({ strictTemplate: true }), model: "qwen3" },
  {
    kind: "gemini",
    start: () => startFakeGemini({ thinkingModel: true }),
    model: "gemini-2.5-flash",
  },
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
    envs.push({ kind: k.kind, fake, shim, server });
  }
  return envs;
}

async function check(
  env: Env,
  path: string,
  body: Uint8Array<ArrayBuffer>,
  headers: Record<string, string>,
  said: string,
): Promise<void> {
  env.shim.reset();
  const { status, text, headers: got } = await timedFetch(
    `${env.server.url}${path}`,
    { method: "POST", headers, body },
    ANSWER_MS,
  ).catch((err) => assert.fail(`${said}: no answer in ${ANSWER_MS} ms (${err})`));
  said = `${said}\n  → ${status} ${brief(text, 400)}\n  upstream said ${env.shim.statuses}`;
  if (Deno.env.get("FUZZ_SHOW")) console.log(said.replace(/\n/g, " "));
  assert.ok(got.get("request-id"), `${said}: no request-id`);
  if (status !== 200) {
    assertErrorBody(text, said);
    assert.ok(status >= 400 && status <= 599, said);
    if (status >= 500) {
      assert.ok(
        env.shim.statuses.some((s) => s >= 500),
        `${said}: a 5xx the upstream did not cause`,
      );
    }
    return;
  }
  if (path.endsWith("count_tokens")) {
    const n = JSON.parse(text).input_tokens;
    assert.ok(Number.isSafeInteger(n) && n >= 0, `${said}: input_tokens ${n}`);
    return;
  }
  if (/event-stream/.test(got.get("content-type") ?? "")) {
    if (env.kind === "anthropic") {
      assertPassthroughStream(text, new TextDecoder().decode(env.shim.lastBody), said);
    } else assertTranslatedStream(text, said);
  } else assertMessage(JSON.parse(text), said);
}

Deno.test({
  name:
    `fuzz: mutated client requests get an answer or an Anthropic error, never a 500 (seed ${SEED})`,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const rng = rngFrom(SEED);
    const fixtures = claudeCodeFixtures().map((f) => f.body);
    const bases = [...SMALL, ...fixtures];
    const envs = await startEnvs();
    const failures: string[] = [];
    let sent = 0;
    try {
      for (let n = 0; n < CASES && failures.length < 10; n++) {
        const base = pick(rng, bases);
        const { value, labels } = mutateJson(rng, base, pick(rng, [0, 1, 1, 1, 2, 3]));
        if (value && typeof value === "object" && !Array.isArray(value) && chance(rng, 0.6)) {
          value.stream = chance(rng, 0.85) ? chance(rng, 0.5) : pick(rng, ["true", 1, null]);
        }
        const countTokens = chance(rng, 0.25);
        const path = countTokens ? "/v1/messages/count_tokens" : "/v1/messages";
        let text: string;
        try {
          text = JSON.stringify(value) ?? "null";
        } catch {
          text = "{}"; // a mutation too deep to stringify: the bytes below still vary
        }
        const { body, headers, label } = await wire(rng, text);
        for (const env of envs) {
          const said = `seed ${SEED} case #${n} ${env.kind} ${path} [${labels.join(", ")}]${
            label ? ` wire: ${label}` : ""
          }`;
          sent++;
          try {
            await check(env, path, body, headers, said);
          } catch (err) {
            failures.push(`${(err as Error).message.slice(0, 1500)}\n  body: ${brief(text, 300)}`);
          }
        }
      }
      for (const env of envs) {
        const health = await timedFetch(`${env.server.url}/health`, {}, ANSWER_MS);
        assert.equal(health.status, 200, `${env.kind}: /health after the fuzz`);
        for (const stream of [false, true]) {
          env.shim.reset();
          const res = await timedFetch(`${env.server.url}/v1/messages`, {
            method: "POST",
            headers: { "x-api-key": ACCESS_KEY, "content-type": "application/json" },
            body: JSON.stringify({ ...SMALL[0], stream }),
          }, ANSWER_MS);
          assert.equal(res.status, 200, `${env.kind}: a valid request after the fuzz: ${res.text}`);
        }
      }
    } finally {
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
