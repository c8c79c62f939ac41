// Seeded, bounded fuzzing of /v1/messages: structurally odd but plausible requests go through the
// running proxy to each strict fake upstream. Every answer must be a well-formed Anthropic message
// (stream events in order) or an Anthropic-shaped 4xx that says what is wrong: never a 5xx, a hang
// or a stack trace. A request Anthropic itself accepts must also be accepted by the upstream.
// FUZZ_SEED=<n> replays one run; FUZZ_SECONDS bounds it (default 18).
import assert from "node:assert/strict";
import { startFakeAnthropic } from "../fakes/anthropic_upstream.ts";
import { startFakeGemini } from "../fakes/gemini_upstream.ts";
import { startFakeOpenAI } from "../fakes/openai_upstream.ts";
import { ACCESS_KEY, startTestServer } from "../helpers/server.ts";
import { assertWellFormedStream, parseSse } from "../helpers/sse.ts";

const SEED = Number(Deno.env.get("FUZZ_SEED") ?? 20240601);
const SECONDS = Number(Deno.env.get("FUZZ_SECONDS") ?? 18);

// deno-lint-ignore no-explicit-any
type Json = any;
type Rng = () => number;

/** mulberry32: small, fast, and the same sequence for the same seed everywhere. */
function rngFrom(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pick = <T>(rng: Rng, items: readonly T[]): T => items[Math.floor(rng() * items.length)];
const chance = (rng: Rng, p: number) => rng() < p;

/** A piece of a request, and whether Anthropic's API would accept it ("either": no promise). */
interface Variant {
  label: string;
  valid: boolean;
  value: Json;
}
const ok = (label: string, value: Json): Variant => ({ label, valid: true, value });
/** Most picks are valid, so that the cases Anthropic accepts (the strongest check) are many. */
function pickV(rng: Rng, variants: readonly Variant[]): Variant {
  const good = variants.filter((v) => v.valid);
  const poor = variants.filter((v) => !v.valid);
  return pick(rng, poor.length && (chance(rng, 0.1) || !good.length) ? poor : good);
}
const bad = (label: string, value: Json): Variant => ({ label, valid: false, value });

const PNG =
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";
const PDF = btoa("%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n");

const TEXTS = [
  "hi",
  "emoji 👋🏽 and 🇯🇵, CJK 漢字, RTL שלום",
  "line\u2028separator\u2029paragraph",
  "lone \ud800 surrogate and \udc00 trail",
  'nul \u0000 and escapes \\ " \n\t',
  "x".repeat(5000),
  "  leading and trailing spaces  ",
];

function textBlock(rng: Rng): Variant {
  const text = pick(rng, TEXTS);
  return pickV(rng, [
    ok("text", { type: "text", text }),
    ok("text+cache", { type: "text", text, cache_control: { type: "ephemeral" } }),
    ok("text+citations", { type: "text", text, citations: null }),
  ]);
}

function imageBlock(rng: Rng): Variant {
  return pickV(rng, [
    ok("image png", {
      type: "image",
      source: { type: "base64", media_type: "image/png", data: PNG },
    }),
    ok("image url", { type: "image", source: { type: "url", url: "https://example.com/a.png" } }),
    ok("image+cache", {
      type: "image",
      source: { type: "base64", media_type: "image/png", data: PNG },
      cache_control: { type: "ephemeral" },
    }),
    bad("image bad base64", {
      type: "image",
      source: { type: "base64", media_type: "image/png", data: "not base64 !!!" },
    }),
    bad("image bad media", {
      type: "image",
      source: { type: "base64", media_type: "image/bmp", data: PNG },
    }),
    bad("image no media", { type: "image", source: { type: "base64", data: PNG } }),
    bad("image empty data", {
      type: "image",
      source: { type: "base64", media_type: "image/png", data: "" },
    }),
    bad("image file", { type: "image", source: { type: "file", file_id: "file_01abc" } }),
    bad("image null source", { type: "image", source: null }),
  ]);
}

function documentBlock(rng: Rng): Variant {
  return pickV(rng, [
    ok("pdf", {
      type: "document",
      source: { type: "base64", media_type: "application/pdf", data: PDF },
    }),
    ok("pdf titled", {
      type: "document",
      title: "Report 📄",
      context: "ctx",
      citations: { enabled: true },
      source: { type: "base64", media_type: "application/pdf", data: PDF },
    }),
    ok("doc text", {
      type: "document",
      source: { type: "text", media_type: "text/plain", data: pick(rng, TEXTS) },
    }),
    ok("doc url", { type: "document", source: { type: "url", url: "https://example.com/a.pdf" } }),
    ok("doc content str", { type: "document", source: { type: "content", content: "inner" } }),
    ok("doc content blocks", {
      type: "document",
      source: {
        type: "content",
        content: [{ type: "text", text: "inner" }, {
          type: "image",
          source: { type: "base64", media_type: "image/png", data: PNG },
        }],
      },
    }),
    bad("doc empty text", {
      type: "document",
      source: { type: "text", media_type: "text/plain", data: "" },
    }),
    bad("doc no source", { type: "document" }),
    bad("doc null data", {
      type: "document",
      source: { type: "base64", media_type: "application/pdf", data: null },
    }),
  ]);
}

function userBlock(rng: Rng): Variant {
  const r = rng();
  if (r < 0.5) return textBlock(rng);
  if (r < 0.7) return imageBlock(rng);
  if (r < 0.9) return documentBlock(rng);
  if (r < 0.93) {
    return ok("search_result", {
      type: "search_result",
      source: "https://example.com/r",
      title: "t",
      content: [{ type: "text", text: "r" }],
    });
  }
  return pick(rng, [
    bad("empty text", { type: "text", text: "" }),
    bad("null text", { type: "text", text: null }),
    bad("number text", { type: "text", text: 42 }),
    bad("unknown block", { type: "mystery_block", data: { a: 1 } }),
    bad("thinking in user", { type: "thinking", thinking: "hmm", signature: "sig" }),
    bad("redacted in user", { type: "redacted_thinking", data: "abc" }),
  ]);
}

/** A user turn's content: a string or blocks (sometimes none). */
function userContent(rng: Rng): Variant {
  const r = rng();
  if (r < 0.3) {
    const text = chance(rng, 0.05) ? "" : pick(rng, TEXTS);
    return text ? ok("user str", text) : bad("user empty str", text);
  }
  if (r < 0.32) return bad("user []", []);
  const blocks = Array.from({ length: 1 + Math.floor(rng() * 3) }, () => userBlock(rng));
  return {
    label: blocks.map((b) => b.label).join("+"),
    valid: blocks.every((b) => b.valid),
    value: blocks.map((b) => b.value),
  };
}

function toolResultContent(rng: Rng): Variant {
  return pickV(rng, [
    ok("res absent", undefined),
    ok("res str", pick(rng, TEXTS)),
    ok("res empty str", ""),
    ok("res []", []),
    ok("res text", [{ type: "text", text: pick(rng, TEXTS) }]),
    ok("res 2 texts", [{ type: "text", text: "one" }, { type: "text", text: "two" }]),
    ok("res image", [{
      type: "image",
      source: { type: "base64", media_type: "image/png", data: PNG },
    }]),
    ok("res text+image", [
      { type: "text", text: "see" },
      { type: "image", source: { type: "base64", media_type: "image/jpeg", data: PNG } },
    ]),
    ok("res image url", [{
      type: "image",
      source: { type: "url", url: "https://example.com/i.png" },
    }]),
    ok("res pdf", [{
      type: "document",
      source: { type: "base64", media_type: "application/pdf", data: PDF },
    }]),
    ok("res doc text", [{
      type: "document",
      source: { type: "text", media_type: "text/plain", data: "doc" },
    }]),
    ok("res tool_reference", [{ type: "tool_reference", tool_name: "get_weather" }]),
    bad("res number", 5),
    bad("res null", null),
    bad("res unknown", [{ type: "mystery" }]),
  ]);
}

const TOOL_NAMES = [
  "get_weather",
  "Bash",
  "mcp__some-server__a_rather_long_tool_name_that_goes_past_sixty_four_chars_x",
  "mcp__playwright__browser_take_screenshot",
];

function toolInput(rng: Rng): Variant {
  return pickV(rng, [
    ok("input {}", {}),
    ok("input obj", { city: "Paris", days: 3, nested: { a: [1, "two", null] } }),
    ok("input unicode", { q: "👋 \u2028 \ud800" }),
    bad("input str", "str"),
    bad("input arr", [1, 2]),
    bad("input null", null),
    bad("input absent", undefined),
  ]);
}

/** An assistant turn calling tools, and the user turn answering it. */
function toolRound(rng: Rng, names: Set<string>): Variant[] {
  const calls = 1 + Math.floor(rng() * 3);
  const pre: Variant[] = [];
  if (chance(rng, 0.3)) {
    pre.push(pickV(rng, [
      ok("thinking", { type: "thinking", thinking: "let me think", signature: "c2lnbmF0dXJl" }),
      ok("redacted", { type: "redacted_thinking", data: "ZW5jcnlwdGVk" }),
      bad("thinking no sig", { type: "thinking", thinking: "x" }),
    ]));
  }
  if (chance(rng, 0.5)) pre.push(ok("asst text", { type: "text", text: pick(rng, TEXTS) }));
  const uses: Variant[] = [];
  const ids: string[] = [];
  for (let i = 0; i < calls; i++) {
    const name = pick(rng, TOOL_NAMES);
    names.add(name);
    const id = chance(rng, 0.1)
      ? `functions.${name}:${i}`
      : `toolu_01fuzz${i}${Math.floor(rng() * 1e6)}`;
    ids.push(id);
    const input = toolInput(rng);
    const block: Json = { type: "tool_use", id, name, input: input.value };
    if (input.value === undefined) delete block.input;
    uses.push({
      label: `tool_use(${input.label})`,
      valid: input.valid && /^[\w-]+$/.test(id),
      value: block,
    });
    // Thinking between calls, as Claude Code sends back with interleaved thinking.
    if (chance(rng, 0.1)) {
      uses.push(
        ok("interleaved thinking", { type: "thinking", thinking: "more", signature: "c2ln" }),
      );
    }
  }
  const results: Variant[] = [];
  const order = chance(rng, 0.2) ? [...ids].reverse() : ids;
  for (const id of order) {
    if (chance(rng, 0.05)) continue; // an orphan call: Anthropic refuses it
    const content = toolResultContent(rng);
    const block: Json = { type: "tool_result", tool_use_id: id, content: content.value };
    if (content.value === undefined) delete block.content;
    if (chance(rng, 0.3)) block.is_error = true;
    if (chance(rng, 0.1)) block.cache_control = { type: "ephemeral" };
    results.push({ label: `tool_result(${content.label})`, valid: content.valid, value: block });
  }
  if (results.length < ids.length) results.push(bad("orphan call", undefined));
  if (chance(rng, 0.3)) results.push(textBlock(rng));
  if (chance(rng, 0.05)) {
    results.push(
      bad("stray result", { type: "tool_result", tool_use_id: "toolu_nowhere", content: "x" }),
    );
  }
  const assistant = [...pre, ...uses];
  const user = results.filter((r) => r.value !== undefined);
  return [
    {
      label: `A[${assistant.map((b) => b.label).join(",")}]`,
      valid: assistant.every((b) => b.valid),
      value: { role: "assistant", content: assistant.map((b) => b.value) },
    },
    {
      label: `U[${results.map((b) => b.label).join(",")}]`,
      valid: results.every((b) => b.valid),
      value: { role: "user", content: user.map((b) => b.value) },
    },
  ];
}

function systemMessage(rng: Rng): Variant {
  return pickV(rng, [
    ok("sys msg str", { role: "system", content: "Mid-conversation note." }),
    ok("sys msg blocks", {
      role: "system",
      content: [{ type: "text", text: "<system-reminder>note</system-reminder>" }],
    }),
  ]);
}

function assistantText(rng: Rng): Variant {
  return pickV(rng, [
    ok("asst str", { role: "assistant", content: pick(rng, TEXTS) }),
    ok("asst blocks", { role: "assistant", content: [{ type: "text", text: "sure" }] }),
    ok("asst thinking+text", {
      role: "assistant",
      content: [
        { type: "thinking", thinking: "plan", signature: "c2ln" },
        { type: "text", text: "done" },
      ],
    }),
    ok("asst redacted+text", {
      role: "assistant",
      content: [{ type: "redacted_thinking", data: "ZW5j" }, { type: "text", text: "ok" }],
    }),
    bad("asst thinking only", {
      role: "assistant",
      content: [{ type: "thinking", thinking: "plan", signature: "c2ln" }],
    }),
    bad("asst []", { role: "assistant", content: [] }),
    bad("asst empty str", { role: "assistant", content: "" }),
    bad("asst unknown", { role: "assistant", content: [{ type: "mystery" }] }),
  ]);
}

interface Conversation {
  parts: Variant[];
  names: Set<string>;
}

function conversation(rng: Rng): Conversation {
  const names = new Set<string>();
  const parts: Variant[] = [];
  const turns = 1 + Math.floor(rng() * 4);
  if (chance(rng, 0.1)) parts.push(systemMessage(rng));
  for (let t = 0; t < turns; t++) {
    const u = userContent(rng);
    parts.push({ ...u, value: { role: "user", content: u.value } });
    if (chance(rng, 0.1)) parts.push(systemMessage(rng));
    // Consecutive user turns: Anthropic merges them.
    if (chance(rng, 0.1)) parts.push(ok("user again", { role: "user", content: "and also" }));
    if (t === turns - 1) break;
    if (chance(rng, 0.5)) parts.push(...toolRound(rng, names));
    else {
      parts.push(assistantText(rng));
      if (chance(rng, 0.1)) parts.push(ok("asst again", { role: "assistant", content: "more" }));
    }
  }
  // Tool results last: the answer to the calls is what the model is asked for.
  if (chance(rng, 0.25)) parts.push(...toolRound(rng, names));
  if (chance(rng, 0.1)) parts.push(systemMessage(rng));
  // A prefill: the answer continues it.
  if (chance(rng, 0.1)) parts.push(ok("prefill", { role: "assistant", content: '{"answer":' }));
  return { parts, names };
}

function schema(rng: Rng): Variant {
  return pickV(rng, [
    ok("schema plain", {
      type: "object",
      properties: { city: { type: "string" } },
      required: ["city"],
    }),
    ok("schema empty props", { type: "object", properties: {} }),
    ok("schema no props", { type: "object" }),
    ok("schema $ref", {
      type: "object",
      properties: { item: { $ref: "#/$defs/item" } },
      $defs: { item: { type: "object", properties: { n: { type: "integer" } } } },
    }),
    ok("schema definitions", {
      type: "object",
      properties: { item: { $ref: "#/definitions/item" } },
      definitions: { item: { type: "string", enum: ["a", "b"] } },
    }),
    ok("schema mixed enum", {
      type: "object",
      properties: { v: { enum: ["a", 1, true, null] } },
    }),
    ok("schema type array", {
      type: "object",
      properties: { v: { type: ["string", "null"] }, w: { type: ["integer", "string"] } },
    }),
    ok("schema additionalProperties", {
      type: "object",
      properties: { m: { type: "object", additionalProperties: { type: "number" } } },
      additionalProperties: false,
      $schema: "http://json-schema.org/draft-07/schema#",
    }),
    ok("schema anyOf/oneOf/allOf", {
      type: "object",
      properties: {
        a: { anyOf: [{ type: "string" }, { type: "number" }] },
        b: { oneOf: [{ type: "string", format: "uri" }, { type: "null" }] },
        c: { allOf: [{ type: "object", properties: { x: { type: "string" } } }] },
      },
    }),
    ok("schema const/defaults", {
      type: "object",
      properties: {
        k: { const: "fixed" },
        n: { type: "number", exclusiveMinimum: 0, default: 1, examples: [2] },
        arr: { type: "array", items: [{ type: "string" }], minItems: 1 },
        t: { type: "array" },
      },
      required: ["k", "missing_prop"],
    }),
    ok("schema recursive", {
      type: "object",
      properties: { node: { $ref: "#" } },
    }),
    bad("schema absent", undefined),
    bad("schema not object type", { type: "string" }),
  ]);
}

function toolDef(rng: Rng, name: string): Variant {
  const s = schema(rng);
  const tool: Json = { name, description: pick(rng, ["", "A tool 🔧", "d".repeat(2000)]) };
  if (s.value !== undefined) tool.input_schema = s.value;
  if (chance(rng, 0.1)) tool.cache_control = { type: "ephemeral" };
  if (chance(rng, 0.05)) tool.type = "custom";
  return { label: `tool ${name.slice(0, 12)} ${s.label}`, valid: s.valid, value: tool };
}

/** Top-level fields, each a set of variants. */
const FIELDS: Array<(rng: Rng, names: string[]) => [string, Variant]> = [
  (rng) => [
    "system",
    pickV(rng, [
      ok("system str", "Be brief."),
      ok("system blocks", [{ type: "text", text: "Be brief." }, { type: "text", text: "Really." }]),
      ok("system cache", [{ type: "text", text: "Cached.", cache_control: { type: "ephemeral" } }]),
      ok("system billing", [
        { type: "text", text: "x-anthropic-billing-header: cc_version=1.0" },
        { type: "text", text: "You are Claude Code." },
      ]),
      ok("system unicode", pick(rng, TEXTS)),
      bad("system empty str", ""),
      bad("system []", []),
      bad("system empty block", [{ type: "text", text: "" }]),
      bad("system null", null),
      bad("system number", 5),
    ]),
  ],
  (rng) => [
    "max_tokens",
    pickV(rng, [
      ok("max 1", 1),
      ok("max 0", 0),
      ok("max 32000", 32000),
      bad("max huge", 1e9),
      bad("max negative", -5),
      bad("max string", "100"),
      bad("max float", 10.5),
      bad("max null", null),
    ]),
  ],
  (rng) => [
    "temperature",
    pickV(rng, [
      ok("temp 0", 0),
      ok("temp 1", 1),
      bad("temp 1.5", 1.5),
      bad("temp 3", 3),
      bad("temp -1", -1),
      bad("temp str", "0.5"),
      bad("temp null", null),
    ]),
  ],
  (rng) => [
    "top_p",
    pickV(rng, [
      ok("top_p 0.9", 0.9),
      bad("top_p 2", 2),
      bad("top_p -0.1", -0.1),
      bad("top_p str", "1"),
    ]),
  ],
  (rng) => [
    "top_k",
    pickV(rng, [
      ok("top_k 5", 5),
      bad("top_k -1", -1),
      bad("top_k 1.5", 1.5),
      bad("top_k str", "5"),
    ]),
  ],
  (rng, names) => [
    "tool_choice",
    pickV(rng, [
      ok("choice auto", { type: "auto" }),
      ok("choice any", { type: "any" }),
      ok("choice none", { type: "none" }),
      ok("choice auto serial", { type: "auto", disable_parallel_tool_use: true }),
      names.length
        ? ok("choice tool", { type: "tool", name: pick(rng, names) })
        : bad("choice tool no tools", { type: "tool", name: "get_weather" }),
      bad("choice missing tool", { type: "tool", name: "no_such_tool" }),
      bad("choice tool no name", { type: "tool" }),
      bad("choice bad type", { type: "required" }),
      bad("choice string", "auto"),
    ]),
  ],
  (rng) => [
    "metadata",
    pickV(rng, [
      ok("meta {}", {}),
      ok("meta user", { user_id: "user-1" }),
      ok("meta long user", { user_id: "u".repeat(300) }),
      ok("meta null user", { user_id: null }),
      bad("meta number user", { user_id: 7 }),
      bad("meta extra", { session: "s" }),
      bad("meta null", null),
    ]),
  ],
  (rng) => [
    "stop_sequences",
    pickV(rng, [
      ok("stops []", []),
      ok("stops 1", ["END"]),
      ok("stops 10", Array.from({ length: 10 }, (_, i) => `S${i}`)),
      ok("stops unicode", ["👋", "\u2028"]),
      bad("stops empty", [""]),
      bad("stops null item", [null]),
      bad("stops string", "END"),
    ]),
  ],
  (rng) => [
    "thinking",
    pickV(rng, [
      ok("thinking disabled", { type: "disabled" }),
      ok("thinking adaptive", { type: "adaptive" }),
      bad("thinking no budget", { type: "enabled" }),
      bad("thinking small budget", { type: "enabled", budget_tokens: 10 }),
      bad("thinking bad type", { type: "sometimes" }),
    ]),
  ],
  (rng) => [
    "output_config",
    pickV(rng, [
      ok("effort high", { effort: "high" }),
      ok("format", {
        format: {
          type: "json_schema",
          schema: {
            type: "object",
            properties: { t: { type: "string" } },
            required: ["t"],
            additionalProperties: false,
          },
        },
      }),
      bad("format no schema", { format: { type: "json_schema" } }),
    ]),
  ],
  (rng) => [
    pick(rng, [
      "context_management",
      "container",
      "service_tier",
      "mystery_field",
      "inference_geo",
    ]),
    pickV(rng, [
      ok("unknown obj", { edits: [] }),
      ok("unknown str", "auto"),
      ok("unknown null", null),
    ]),
  ],
];

interface Case {
  label: string;
  valid: boolean;
  body: Json;
}

function makeCase(rng: Rng): Case {
  const conv = conversation(rng);
  const body: Json = { model: "claude-sonnet-4-5", max_tokens: 256 };
  const labels: string[] = [];
  let valid = true;
  for (const p of conv.parts) {
    labels.push(p.label);
    valid &&= p.valid;
  }
  body.messages = conv.parts.map((p) => p.value);
  // Tools: those the history calls (Anthropic wants them declared), sometimes more or odd ones.
  const names = [...conv.names];
  if (chance(rng, 0.4)) names.push(pick(rng, TOOL_NAMES));
  const tools: Variant[] = [...new Set(names)].map((n) => toolDef(rng, n));
  if (chance(rng, 0.05)) tools.push(bad("dup tool", tools[0]?.value ?? { name: "x" }));
  if (chance(rng, 0.05)) {
    tools.push(bad("unicode tool name", { name: "wetter_🌦", input_schema: { type: "object" } }));
  }
  if (chance(rng, 0.05)) {
    tools.push(ok("server tool", { type: "web_search_20250305", name: "web_search", max_uses: 1 }));
  }
  if (tools.length || chance(rng, 0.05)) {
    body.tools = tools.map((t) => t.value);
    for (const t of tools) {
      labels.push(t.label);
      valid &&= t.valid;
    }
  }
  const fieldCount = Math.floor(rng() * 4);
  for (let i = 0; i < fieldCount; i++) {
    const [key, v] = pick(rng, FIELDS)(rng, names);
    if (v.value === undefined) delete body[key];
    else body[key] = v.value;
    labels.push(v.label);
    valid &&= v.valid;
  }
  // Anthropic's own rules across fields.
  if (body.thinking?.type === "enabled" && !(body.thinking.budget_tokens < body.max_tokens)) {
    valid = false;
  }
  if (body.tool_choice && !body.tools) valid = false;
  return { label: labels.join(" | "), valid, body };
}

// ---------------------------------------------------------------------------------------------

const STOP_REASONS = new Set([
  "end_turn",
  "max_tokens",
  "stop_sequence",
  "tool_use",
  "pause_turn",
  "refusal",
]);
const BLOCK_TYPES = new Set([
  "text",
  "thinking",
  "redacted_thinking",
  "tool_use",
  "server_tool_use",
  "web_search_tool_result",
]);

function assertMessage(json: Json, said: string): void {
  assert.equal(json.type, "message", said);
  assert.equal(json.role, "assistant", said);
  assert.match(json.id, /^msg_/, said);
  assert.ok(Array.isArray(json.content), said);
  for (const b of json.content) {
    assert.ok(BLOCK_TYPES.has(b.type), `${said}: block ${b.type}`);
    if (b.type === "text") assert.equal(typeof b.text, "string", said);
    if (b.type === "tool_use") {
      assert.match(b.id, /^[a-zA-Z0-9_-]+$/, said);
      assert.ok(b.input && typeof b.input === "object" && !Array.isArray(b.input), said);
    }
  }
  assert.ok(STOP_REASONS.has(json.stop_reason), `${said}: stop_reason ${json.stop_reason}`);
  assert.equal(typeof json.usage?.input_tokens, "number", said);
  assert.equal(typeof json.usage?.output_tokens, "number", said);
}

function assertExplainedError(status: number, text: string, said: string): void {
  assert.ok(status >= 400 && status < 500, `${said}: a 4xx, not ${status}`);
  const json = JSON.parse(text);
  assert.equal(json.type, "error", said);
  assert.equal(typeof json.error?.type, "string", said);
  assert.equal(typeof json.error?.message, "string", said);
  assert.ok(json.error.message.length > 0, said);
  assert.doesNotMatch(
    json.error.message,
    /TypeError|RangeError|undefined is not|Cannot read|is not a function|\[object Object\]|\n\s+at /,
    said,
  );
}

const UPSTREAMS = [
  { kind: "openai", start: () => startFakeOpenAI(), model: "gpt-4o" },
  { kind: "custom", start: () => startFakeOpenAI({ strictTemplate: true }), model: "qwen3" },
  {
    kind: "gemini",
    start: () => startFakeGemini({ thinkingModel: true }),
    model: "gemini-2.5-flash",
  },
  { kind: "anthropic", start: () => startFakeAnthropic(), model: "claude-sonnet-4-5" },
] as const;

Deno.test({
  name:
    `fuzz: odd requests to every upstream kind get a message or an explained 4xx (seed ${SEED})`,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const deadline = Date.now() + SECONDS * 1000;
    const rng = rngFrom(SEED);
    const envs = [];
    for (const u of UPSTREAMS) {
      const fake = await u.start();
      const server = await startTestServer({
        config: {
          upstream: [{
            name: u.kind,
            baseUrl: fake.url,
            serviceType: u.kind,
            apiKeys: ["sk-fuzz-key-0000001"],
            models: { default: u.model },
          }],
        },
      });
      envs.push({ kind: u.kind, fake, server });
    }
    const failures: string[] = [];
    let sent = 0;
    let validCases = 0;
    try {
      for (let n = 0; Date.now() < deadline && failures.length < 20; n++) {
        const c = makeCase(rng);
        const stream = chance(rng, 0.5);
        if (c.valid) validCases++;
        for (const env of envs) {
          const body = { ...c.body, stream };
          const said =
            `#${n} seed ${SEED} ${env.kind} stream=${stream} valid=${c.valid}\n  ${c.label}`;
          try {
            sent++;
            if (n % 4 === 3) await checkCount(env.server.url, body, said);
            else await check(env.server.url, env.kind, body, c.valid, said);
          } catch (err) {
            failures.push(
              `${(err as Error).message.slice(0, 900)}\n  body: ${
                JSON.stringify(body).replace(/(.)\1{40,}/g, "$1…").slice(0, 1500)
              }`,
            );
          }
        }
      }
    } finally {
      for (const env of envs) {
        await env.server.close();
        await env.fake.close();
      }
    }
    console.log(`fuzz: ${sent} requests (${validCases} cases valid for Anthropic), seed ${SEED}`);
    assert.ok(sent > 40, `only ${sent} requests were sent`);
    assert.deepEqual(failures, [], failures.join("\n\n"));
  },
});

async function check(url: string, kind: string, body: Json, valid: boolean, said: string) {
  const res = await fetch(`${url}/v1/messages`, {
    method: "POST",
    headers: { "x-api-key": ACCESS_KEY, "content-type": "application/json" },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(8_000),
  });
  const text = await res.text();
  const status = res.status;
  said = `${said}\n  → ${status} ${text.replace(/(.)\1{40,}/g, "$1…").slice(0, 600)}`;
  assert.ok(res.headers.get("request-id"), said);
  if (status !== 200) {
    if (Deno.env.get("FUZZ_SHOW")) console.log(kind, status, text.slice(0, 160));
    assertExplainedError(status, text, said);
    // What Anthropic accepts, a translating proxy must get its upstream to accept too.
    if (valid && kind !== "anthropic") assert.fail(`a valid request was refused:\n${said}`);
    return;
  }
  if (body.stream) {
    assert.match(res.headers.get("content-type") ?? "", /text\/event-stream/, said);
    if (kind === "anthropic") return; // the fake's own bytes, passed through
    try {
      assertWellFormedStream(parseSse(text));
    } catch (err) {
      assert.fail(`${said}\n  ${(err as Error).message}`);
    }
  } else assertMessage(JSON.parse(text), said);
}

/** count_tokens takes the same odd bodies: a count, or an explained 4xx. */
async function checkCount(url: string, body: Json, said: string) {
  const { max_tokens: _, stream: __, ...rest } = body;
  const res = await fetch(`${url}/v1/messages/count_tokens`, {
    method: "POST",
    headers: { "x-api-key": ACCESS_KEY, "content-type": "application/json" },
    body: JSON.stringify(rest),
    signal: AbortSignal.timeout(8_000),
  });
  const text = await res.text();
  said = `${said} (count_tokens)\n  → ${res.status} ${text.slice(0, 600)}`;
  if (res.status !== 200) return assertExplainedError(res.status, text, said);
  const json = JSON.parse(text);
  assert.ok(Number.isSafeInteger(json.input_tokens) && json.input_tokens >= 0, said);
}
