// The pipeline through an Anthropic-compatible upstream, driven by the official SDK.
// deno-lint-ignore-file no-explicit-any
import assert from "node:assert/strict";
import Anthropic from "@anthropic-ai/sdk";
import { DEFERRED_TOOLS, LOADED } from "../helpers/deferred_tools.ts";
import { proxyTo } from "../helpers/proxy_to.ts";
import { probeKey } from "../../lib/key_probe.ts";
import { healthId } from "../../lib/key_pool.ts";
import { ACCESS_KEY } from "../helpers/server.ts";
import {
  anthropicMessage,
  anthropicStream,
  anthropicStreamError,
  startFakeAnthropic,
} from "../fakes/anthropic_upstream.ts";
import {
  claudeCodeFixture,
  claudeCodeFixtures,
  HAVE_CLAUDE_CODE_FIXTURES,
} from "../helpers/fixtures.ts";

const KEYS = ["sk-ant-upstream-key-one-1111", "sk-ant-upstream-key-two-2222"];

async function setup(env: Record<string, string> = {}, keys = KEYS) {
  return await proxyTo(await startFakeAnthropic(), {
    name: "anthro",
    serviceType: "anthropic",
    apiKeys: keys,
    models: { sonnet: "claude-upstream-sonnet" },
  }, { env });
}

Deno.test("passthrough: a message goes upstream with the upstream key and the mapped model", async () => {
  await using t = await setup();
  const msg = await t.client.messages.create({
    model: "test-sonnet-model",
    max_tokens: 100,
    messages: [{ role: "user", content: "hi" }],
  }, { headers: { "anthropic-beta": "context-1m-2025-08-07" } });
  assert.equal(msg.content[0].type, "text");
  assert.equal((msg.content[0] as { text: string }).text, "Hello from fake Anthropic");
  const seen = t.fake.requests[0];
  assert.equal(seen.headers.get("x-api-key"), KEYS[0]);
  assert.equal(seen.headers.get("authorization"), null);
  assert.equal(seen.headers.get("anthropic-beta"), "context-1m-2025-08-07");
  assert.equal(seen.body.model, "claude-upstream-sonnet");
  assert.equal(seen.body.messages[0].content, "hi");
});

Deno.test("passthrough: the client's identity (user-agent, x-app, session id, SDK and anthropic-* headers) goes upstream as Claude Code sent it, its credentials do not", async () => {
  await using t = await setup();
  const identity = {
    "user-agent": "claude-cli/2.1.197 (external, sdk-cli)",
    "x-app": "cli",
    "x-claude-code-session-id": "8acccfac-5556-4234-bb2c-5cf87bd9eeac",
    "x-stainless-os": "Linux",
    "x-stainless-package-version": "0.94.0",
    "anthropic-dangerous-direct-browser-access": "true",
    // The SDK's request parameters sent as headers (workspace_id, user_profile_id).
    "anthropic-workspace-id": "wrkspc_01abc",
    "anthropic-user-profile-id": "prof_01xyz",
  };
  const res = await fetch(`${t.server.url}/v1/messages?beta=true`, {
    method: "POST",
    headers: {
      ...identity,
      authorization: `Bearer ${ACCESS_KEY}`,
      "content-type": "application/json",
      "anthropic-version": "2023-06-01",
      cookie: "session=abc",
    },
    body: JSON.stringify({
      model: "claude-sonnet-4-5",
      max_tokens: 10,
      messages: [{ role: "user", content: "hi" }],
    }),
  });
  assert.equal(res.status, 200);
  await res.body?.cancel();
  const seen = t.fake.requests[0].headers;
  for (const [name, value] of Object.entries(identity)) assert.equal(seen.get(name), value, name);
  assert.equal(seen.get("x-api-key"), KEYS[0]);
  assert.equal(seen.get("authorization"), null);
  assert.equal(seen.get("cookie"), null);
});

Deno.test("passthrough: a stream is forwarded byte for byte", async () => {
  await using t = await setup();
  const sse = anthropicStream("signature-bearing answer");
  t.fake.enqueue({ sse });
  const res = await fetch(`${t.server.url}/v1/messages?beta=true`, {
    method: "POST",
    headers: { "x-api-key": ACCESS_KEY, "content-type": "application/json" },
    body: JSON.stringify({
      model: "m",
      max_tokens: 10,
      stream: true,
      messages: [{ role: "user", content: "x" }],
    }),
  });
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /text\/event-stream/);
  assert.equal(await res.text(), sse.join(""));
});

Deno.test("passthrough: a stream arriving in pieces cut anywhere reaches the client byte for byte, through either upstream client", async () => {
  for (const client of ["http1", "fetch"]) {
    await using t = await setup({ UPSTREAM_CLIENT: client });
    await piecesArriveWhole(t);
  }
});

async function piecesArriveWhole(t: Awaited<ReturnType<typeof setup>>) {
  const joined = anthropicStream("pieces cut inside events and inside characters: é, 漢, 🎉").join(
    "",
  );
  // Cuts inside message_start (held until it is whole), inside deltas and inside characters.
  const bytes = new TextEncoder().encode(joined);
  const cuts = [7, 40, 41, 200, 333, bytes.indexOf(0xf0) + 2, bytes.length - 9];
  const pieces: Uint8Array[] = [];
  let at = 0;
  for (const cut of [...cuts.sort((a, b) => a - b), bytes.length]) {
    pieces.push(bytes.slice(at, cut));
    at = cut;
  }
  t.fake.enqueue({ sse: pieces, delayMs: 5 });
  const res = await fetch(`${t.server.url}/v1/messages`, {
    method: "POST",
    headers: { "x-api-key": ACCESS_KEY, "content-type": "application/json" },
    // A model the map does not rename: the answer names it as it came.
    body: JSON.stringify({ ...streamAsk, model: "claude-test", stream: true }),
  });
  assert.equal(res.status, 200);
  assert.equal(await res.text(), joined);
}
Deno.test("passthrough: the SDK's stream helper assembles the final message", async () => {
  await using t = await setup();
  const final = await t.client.messages.stream({
    model: "m",
    max_tokens: 10,
    messages: [{ role: "user", content: "x" }],
  }).finalMessage();
  assert.equal((final.content[0] as { text: string }).text, "Hello from fake Anthropic");
  assert.equal(final.stop_reason, "end_turn");
});

Deno.test("passthrough: count_tokens and models are answered by the upstream", async () => {
  await using t = await setup();
  const count = await t.client.messages.countTokens({
    model: "m",
    messages: [{ role: "user", content: "x" }],
  });
  assert.equal(count.input_tokens, 4242);
  const models = await t.client.models.list();
  assert.equal(models.data[0].id, "claude-upstream-1");
});

Deno.test("passthrough: an upstream's count answer comes back whole, with its rate-limit headers and request id", async () => {
  const answer = { input_tokens: 77, context_management: { original_input_tokens: 90 } };
  await using t = await proxyTo(
    await startFakeAnthropic({ countBodies: [JSON.stringify(answer)] }),
    { name: "anthro", serviceType: "anthropic", apiKeys: KEYS },
  );
  const res = await fetch(`${t.server.url}/v1/messages/count_tokens?beta=true`, {
    method: "POST",
    headers: { "x-api-key": ACCESS_KEY, "content-type": "application/json" },
    body: JSON.stringify({ model: "m", messages: [{ role: "user", content: "x" }] }),
  });
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), answer);
  assert.equal(res.headers.get("upstream-request-id"), "req_fake_count");
  assert.equal(res.headers.get("anthropic-ratelimit-requests-remaining"), "99");
  assert.match(res.headers.get("request-id") ?? "", /^req_/);
});

Deno.test("passthrough: a count no client can use (-1, 1.5, 1e999) gives way to the local estimate", async () => {
  const bodies = ['{"input_tokens":-1}', '{"input_tokens":1.5}', '{"input_tokens":1e999}'];
  await using t = await proxyTo(await startFakeAnthropic({ countBodies: [...bodies] }), {
    name: "anthro",
    serviceType: "anthropic",
    apiKeys: KEYS,
  });
  for (const body of bodies) {
    const count = await t.client.messages.countTokens({
      model: "m",
      messages: [{ role: "user", content: "Hello there" }],
    });
    assert.ok(
      Number.isSafeInteger(count.input_tokens) && count.input_tokens > 0,
      `${body} → ${count.input_tokens}`,
    );
  }
});

Deno.test({
  name: "passthrough: every Claude Code request goes upstream byte for byte but for the model",
  ignore: !HAVE_CLAUDE_CODE_FIXTURES,
  async fn() {
    await using t = await setup();
    for (const { name, body } of claudeCodeFixtures()) {
      const path = name.startsWith("count-tokens") ? "/v1/messages/count_tokens" : "/v1/messages";
      const raw = JSON.stringify(body);
      const res = await fetch(`${t.server.url}${path}?beta=true`, {
        method: "POST",
        headers: {
          "x-api-key": ACCESS_KEY,
          "content-type": "application/json",
          "anthropic-version": "2023-06-01",
          "anthropic-beta": "claude-code-20250219,interleaved-thinking-2025-05-14",
        },
        body: raw,
      });
      assert.equal(res.status, 200, name);
      const text = await res.text();
      if (body.stream) assert.match(text, /event: message_stop/);
      const seen = t.fake.requests[t.fake.requests.length - 1];
      // Claude Code's model names have no mapping here except sonnet ones: compare the rest.
      const expected = raw.replace(
        `"model":${JSON.stringify(body.model)}`,
        `"model":${JSON.stringify(seen.body.model)}`,
      );
      assert.equal(seen.raw, expected, name);
      assert.equal(
        seen.headers.get("anthropic-beta"),
        "claude-code-20250219,interleaved-thinking-2025-05-14",
      );
    }
  },
});

Deno.test("passthrough: thinking blocks the proxy invented for other upstreams are not sent to Anthropic", async () => {
  await using t = await setup();
  const res = await fetch(`${t.server.url}/v1/messages`, {
    method: "POST",
    headers: { "x-api-key": ACCESS_KEY, "content-type": "application/json" },
    body: JSON.stringify({
      model: "m",
      max_tokens: 10,
      messages: [
        { role: "user", content: "q" },
        {
          role: "assistant",
          content: [
            { type: "thinking", thinking: "from gemini", signature: "gsig:eyJ4IjoxfQ" },
            { type: "thinking", thinking: "from anthropic", signature: "EqQBCkYIARgCKkB" },
            { type: "text", text: "a" },
          ],
        },
        { role: "user", content: "next" },
      ],
    }),
  });
  assert.equal(res.status, 200);
  await res.body?.cancel();
  const sent = t.fake.requests[0].body.messages[1].content;
  assert.deepEqual(sent.map((b: { type: string }) => b.type), ["thinking", "text"]);
  assert.equal(sent[0].signature, "EqQBCkYIARgCKkB");
});

Deno.test("passthrough: the upstream's rate-limit headers and request id are passed on", async () => {
  await using t = await setup();
  t.fake.enqueue({
    status: 200,
    json: {
      id: "msg_1",
      type: "message",
      role: "assistant",
      model: "m",
      content: [{ type: "text", text: "ok" }],
      stop_reason: "end_turn",
      stop_sequence: null,
      usage: { input_tokens: 1, output_tokens: 1 },
    },
    headers: {
      "anthropic-ratelimit-requests-remaining": "41",
      "request-id": "req_upstream_123",
      "x-internal-secret-header": "no",
    },
  });
  const res = await fetch(`${t.server.url}/v1/messages`, {
    method: "POST",
    headers: { "x-api-key": ACCESS_KEY, "content-type": "application/json" },
    body: JSON.stringify({ model: "m", max_tokens: 5, messages: [{ role: "user", content: "x" }] }),
  });
  assert.equal(res.status, 200);
  await res.body?.cancel();
  assert.equal(res.headers.get("anthropic-ratelimit-requests-remaining"), "41");
  assert.equal(res.headers.get("upstream-request-id"), "req_upstream_123");
  assert.match(res.headers.get("request-id") ?? "", /^req_01/);
  assert.equal(res.headers.get("x-internal-secret-header"), null);
});

Deno.test("passthrough: an error the client gets as the upstream gave it keeps its rate-limit headers and request id", async () => {
  await using t = await setup();
  t.fake.enqueue({
    status: 400,
    json: { type: "error", error: { type: "invalid_request_error", message: "bad thing" } },
    headers: {
      "anthropic-ratelimit-tokens-remaining": "900",
      "request-id": "req_upstream_400",
      "x-should-retry": "false",
      "x-internal-secret-header": "no",
    },
  });
  const res = await fetch(`${t.server.url}/v1/messages`, {
    method: "POST",
    headers: { "x-api-key": ACCESS_KEY, "content-type": "application/json" },
    body: JSON.stringify({ model: "m", max_tokens: 5, messages: [{ role: "user", content: "x" }] }),
  });
  assert.equal(res.status, 400);
  assert.equal((await res.json()).error.message, "bad thing");
  assert.equal(res.headers.get("anthropic-ratelimit-tokens-remaining"), "900");
  assert.equal(res.headers.get("upstream-request-id"), "req_upstream_400");
  assert.equal(res.headers.get("x-should-retry"), "false");
  assert.match(res.headers.get("request-id") ?? "", /^req_01/);
  assert.equal(res.headers.get("x-internal-secret-header"), null);
});

Deno.test("passthrough: a key an upstream puts in the headers passed on (request id, rate-limit headers) reaches the client masked, on an error and on an answer", async () => {
  await using t = await setup();
  const quoting = {
    "anthropic-ratelimit-requests-limit": KEYS[0],
    "request-id": `req_${KEYS[0]}`,
  };
  t.fake.enqueue(
    {
      status: 400,
      json: { type: "error", error: { type: "invalid_request_error", message: "bad thing" } },
      headers: quoting,
    },
    { status: 200, json: anthropicMessage("fine"), headers: quoting },
    { sse: anthropicStream("fine"), headers: quoting },
  );
  for (const stream of [false, false, true]) {
    const res = await fetch(`${t.server.url}/v1/messages`, {
      method: "POST",
      headers: { "x-api-key": ACCESS_KEY, "content-type": "application/json" },
      body: JSON.stringify({
        model: "m",
        max_tokens: 5,
        stream,
        messages: [{ role: "user", content: "x" }],
      }),
    });
    await res.body?.cancel();
    const shown = [...res.headers].map(([k, v]) => `${k}: ${v}`).join("\n");
    assert.ok(!shown.includes(KEYS[0]), shown);
    assert.match(res.headers.get("upstream-request-id") ?? "", /^req_.*REDACTED/);
  }
});

Deno.test("passthrough: beta flags an upstream refuses are dropped, learned, and the request answered", async () => {
  const betas = "context-1m-2025-08-07,interleaved-thinking-2025-05-14,fine-grained-tool-streaming";
  for (const refuse of [["context-1m-2025-08-07"], "bedrock", "all"] as const) {
    const fake = await startFakeAnthropic({ refuseBetas: refuse as string[] | "bedrock" | "all" });
    await using t = await proxyTo(fake, {
      name: "relay",
      serviceType: "anthropic",
      apiKeys: KEYS,
    });
    for (let i = 0; i < 2; i++) {
      const msg = await t.client.messages.create({
        model: "claude-sonnet-4-5",
        max_tokens: 50,
        messages: [{ role: "user", content: "hi" }],
      }, { headers: { "anthropic-beta": betas } });
      assert.match((msg.content[0] as { text: string }).text, /Hello from fake Anthropic/);
    }
    const sent = fake.requests.map((r) => r.headers.get("anthropic-beta"));
    if (refuse === "bedrock") {
      // A refusal naming no flag: the flags Bedrock and Vertex take are tried first.
      const common = "context-1m-2025-08-07,interleaved-thinking-2025-05-14";
      assert.deepEqual(sent, [betas, common, common], "the common flags kept, and learned so");
    } else if (refuse === "all") {
      assert.deepEqual(sent, [
        betas,
        "context-1m-2025-08-07,interleaved-thinking-2025-05-14",
        null,
        null,
      ]);
    } else {
      const kept = "interleaved-thinking-2025-05-14,fine-grained-tool-streaming";
      assert.deepEqual(sent, [betas, kept, kept], "only the refused flag is dropped, and stays so");
    }
  }
});

Deno.test("passthrough: what one model refused is learned for that model: another on the same upstream keeps its flags", async () => {
  const fake = await startFakeAnthropic({ refuseBetas: "bedrock" });
  await using t = await proxyTo(fake, { name: "bedrock", serviceType: "anthropic", apiKeys: KEYS });
  const betas = "interleaved-thinking-2025-05-14,prompt-caching-scope-2026-01-05";
  for (const model of ["claude-sonnet-4-5", "claude-sonnet-4-5", "claude-opus-4-1"]) {
    await t.client.messages.create({
      model,
      max_tokens: 50,
      messages: [{ role: "user", content: "hi" }],
    }, { headers: { "anthropic-beta": betas } });
  }
  const sent = fake.requests.map((r) => [r.body.model, r.headers.get("anthropic-beta")]);
  assert.deepEqual(sent, [
    ["claude-sonnet-4-5", betas],
    ["claude-sonnet-4-5", "interleaved-thinking-2025-05-14"],
    ["claude-sonnet-4-5", "interleaved-thinking-2025-05-14"],
    ["claude-opus-4-1", betas],
    ["claude-opus-4-1", "interleaved-thinking-2025-05-14"],
  ]);
});

Deno.test("passthrough: body fields an upstream does not know are left out, learned, and the request answered", async () => {
  const fake = await startFakeAnthropic({
    unknownFields: ["context_management", "output_config", "display", "defer_loading", "caller"],
  });
  await using t = await proxyTo(fake, { name: "vertex", serviceType: "anthropic", apiKeys: KEYS });
  // Claude Code 2.1.332's newer fields, a tool loaded by its ToolSearch among them.
  const body: any = {
    model: "claude-sonnet-4-5",
    max_tokens: 50,
    thinking: { type: "adaptive", display: "omitted" },
    context_management: { edits: [{ type: "clear_thinking_20251015", keep: "all" }] },
    output_config: { effort: "medium" },
    tools: DEFERRED_TOOLS,
    messages: [
      { role: "system", content: "Be brief.", output_config: { effort: "medium" } },
      ...LOADED,
    ],
  };
  for (const stream of [false, true]) {
    const answer = stream
      ? await t.client.messages.stream({ ...body, stream: true }).finalMessage()
      : await t.client.messages.create(body);
    assert.match((answer.content[0] as { text: string }).text, /Hello from fake Anthropic/);
  }
  const refusals = fake.requests.length - 2;
  assert.equal(refusals, 6, "each field refused once, then learned for the next request");
  for (const sent of fake.requests.slice(-2).map((r) => r.body as any)) {
    assert.equal(sent.context_management, undefined);
    assert.equal(sent.output_config, undefined);
    assert.deepEqual(sent.thinking, { type: "adaptive" });
    assert.ok(sent.tools.every((tool: any) => !("defer_loading" in tool)));
    assert.equal(sent.messages[0].output_config, undefined);
    assert.equal(sent.messages[2].content[0].caller, undefined);
    assert.deepEqual(sent.messages[3].content[0].content, [
      { type: "text", text: "Tool loaded: WebSearch" },
    ]);
  }
});

Deno.test("passthrough: an upstream without structured outputs is told the schema; one without adaptive thinking gets a budget", async () => {
  const fake = await startFakeAnthropic({ unknownFields: ["output_config", "adaptive"] });
  await using t = await proxyTo(fake, { name: "vllm", serviceType: "anthropic", apiKeys: KEYS });
  const schema = {
    type: "object",
    properties: { title: { type: "string" } },
    required: ["title"],
    additionalProperties: false,
  };
  // Claude Code's title request and main request: a schema, adaptive thinking with an effort.
  const body: any = {
    model: "claude-sonnet-4-5",
    max_tokens: 16000,
    thinking: { type: "adaptive" },
    output_config: { effort: "low", format: { type: "json_schema", schema } },
    system: [{ type: "text", text: "Be brief.", cache_control: { type: "ephemeral" } }],
    messages: [{ role: "user", content: "Name this chat." }],
  };
  await t.client.messages.create(body);
  await t.client.messages.stream({ ...body, stream: true }).finalMessage();
  assert.equal(fake.requests.length, 4, "each refused once, then learned");
  for (const sent of fake.requests.slice(-2).map((r) => r.body as any)) {
    assert.equal(sent.output_config, undefined);
    assert.deepEqual(sent.thinking, { type: "enabled", budget_tokens: 4096 });
    assert.equal(sent.system.length, 2);
    assert.deepEqual(sent.system[0].cache_control, { type: "ephemeral" });
    assert.match(sent.system[1].text, /Answer with a single JSON object/);
    assert.ok(sent.system[1].text.includes(JSON.stringify(schema)));
  }
  // No room for the smallest budget beside an answer: no thinking, rather than a refusal.
  await t.client.messages.create({ ...body, max_tokens: 1500, system: "Be brief." });
  const last = fake.requests.at(-1)!.body as any;
  assert.equal(last.thinking, undefined);
  assert.match(last.system, /^Be brief\.\n\nAnswer with a single JSON object/);
});

Deno.test("passthrough: a refusal of adaptive thinking met by a body without it is passed on, and teaches nothing", async () => {
  await using t = await setup();
  const refusal = {
    status: 400,
    json: {
      type: "error",
      error: {
        type: "invalid_request_error",
        message: "thinking.type: Input should be 'enabled' or 'disabled'",
      },
    },
  };
  t.fake.enqueue(refusal);
  const ask = {
    model: "claude-sonnet-4-5",
    max_tokens: 4000,
    messages: [{ role: "user" as const, content: "hi" }],
  };
  await assert.rejects(
    t.client.messages.create({ ...ask, thinking: { type: "enabled", budget_tokens: 2000 } }),
    (err: any) => err.status === 400,
  );
  assert.equal(t.fake.requests.length, 1, "the same body would fail the same way");
  await t.client.messages.create({ ...ask, thinking: { type: "adaptive" } } as any);
  assert.deepEqual((t.fake.requests.at(-1)!.body as any).thinking, { type: "adaptive" });
});

Deno.test("passthrough: through a model map, the answer names the model the client asked for, streamed or not", async () => {
  const fake = await startFakeAnthropic();
  await using t = await proxyTo(fake, {
    name: "deepseek",
    serviceType: "anthropic",
    apiKeys: KEYS,
    models: { "claude-sonnet-5": "deepseek-chat" },
  });
  // Claude Code keeps its thinking blocks only for the model it asked for: named otherwise, it
  // sent its history back without them, and every tool step was refused once.
  fake.enqueue(
    { status: 200, json: anthropicMessage("whole", "deepseek-chat") },
    { sse: anthropicStream("streamed", "deepseek-chat") },
  );
  const ask = {
    model: "claude-sonnet-5",
    max_tokens: 50,
    messages: [{ role: "user" as const, content: "hi" }],
  };
  const whole = await t.client.messages.create(ask);
  const streamed = await t.client.messages.stream(ask).finalMessage();
  assert.deepEqual(fake.requests.map((r) => (r.body as any).model), [
    "deepseek-chat",
    "deepseek-chat",
  ]);
  assert.equal(whole.model, "claude-sonnet-5");
  assert.equal(streamed.model, "claude-sonnet-5");
  assert.equal((streamed.content[0] as { text: string }).text, "streamed");
  // A relay's pings and comments before message_start, each in a read of its own, are passed over.
  fake.enqueue({
    sse: [
      'event: ping\ndata: {"type":"ping"}\n\n',
      ...Array(5).fill(": OPENROUTER PROCESSING\n\n"),
      ...anthropicStream("late", "deepseek-chat"),
    ],
    delayMs: 5,
  });
  assert.equal((await t.client.messages.stream(ask).finalMessage()).model, "claude-sonnet-5");
  // Unmapped, the upstream's own name goes through as it came (an alias it resolved, say).
  fake.enqueue({ sse: anthropicStream("x", "claude-sonnet-5-20260101") });
  const plain = await t.client.messages.stream({ ...ask, model: "claude-other" }).finalMessage();
  assert.equal(plain.model, "claude-sonnet-5-20260101");
});

Deno.test("passthrough: a refusal naming fields and a max_tokens limit at once is cured in one retry", async () => {
  await using t = await setup();
  t.fake.enqueue({
    status: 400,
    json: {
      type: "error",
      error: {
        type: "invalid_request_error",
        message: "output_config: Extra inputs are not permitted\nmax_tokens: 64000 > 32000, " +
          "which is the maximum allowed number of output tokens for claude-upstream-sonnet",
      },
    },
  });
  await t.client.messages.stream({
    model: "claude-sonnet-4-5",
    max_tokens: 64000,
    output_config: { effort: "high" },
    messages: [{ role: "user", content: "hi" }],
  } as any).finalMessage();
  assert.equal(t.fake.requests.length, 2);
  const retried = t.fake.requests[1].body as any;
  assert.equal(retried.max_tokens, 32000);
  assert.equal(retried.output_config, undefined);
});

Deno.test("passthrough: Claude Code's system messages are folded into the user turns where the upstream takes none", async () => {
  const fake = await startFakeAnthropic({ unknownFields: ["system-role"] });
  await using t = await proxyTo(fake, { name: "vllm", serviceType: "anthropic", apiKeys: KEYS });
  const body: any = {
    model: "claude-sonnet-4-5",
    max_tokens: 50,
    messages: [
      { role: "user", content: "hi" },
      { role: "system", content: "Available agent types: general-purpose" },
    ],
  };
  // Refused once (the beta that allows them as well, by some), then folded, and learned.
  const beta = { headers: { "anthropic-beta": "mid-conversation-system-2026-04-07" } };
  await t.client.messages.create(body, beta);
  await t.client.messages.create(body, beta);
  assert.equal(fake.requests.length, 3);
  for (const sent of fake.requests.slice(1).map((r) => r.body as any)) {
    assert.deepEqual(sent.messages.map((m: any) => m.role), ["user"]);
    assert.match(JSON.stringify(sent.messages[0].content), /Available agent types/);
  }
});

Deno.test("passthrough: a field refusal that leaving the field out does not cure reaches the client after one retry", async () => {
  await using t = await setup();
  const refusal = {
    status: 400,
    json: {
      type: "error",
      error: { type: "invalid_request_error", message: "speed: Extra inputs are not permitted" },
    },
  };
  for (let i = 0; i < 5; i++) t.fake.enqueue(refusal);
  await assert.rejects(
    t.client.messages.create({
      model: "claude-sonnet-4-5",
      max_tokens: 50,
      messages: [{ role: "user", content: "hi" }],
    }),
    (err: any) => err.status === 400 && /speed: Extra inputs/.test(err.message),
  );
  assert.equal(t.fake.requests.length, 2, "sent once more without the field, then given up");
});

Deno.test("passthrough: a 400 that is not about betas is the client's, not retried", async () => {
  await using t = await setup();
  t.fake.enqueue({
    status: 400,
    json: {
      type: "error",
      error: {
        type: "invalid_request_error",
        message: "messages: at least one message is required",
      },
    },
  });
  await assert.rejects(
    t.client.messages.create({
      model: "claude-sonnet-4-5",
      max_tokens: 50,
      messages: [{ role: "user", content: "hi" }],
    }, { headers: { "anthropic-beta": "context-1m-2025-08-07" } }),
    (err: { status?: number }) => err.status === 400,
  );
  assert.equal(t.fake.requests.length, 1);
});

Deno.test("passthrough: a max_tokens refusal, in Anthropic's words or a server's behind a gateway, is retried within its limit", async () => {
  await using t = await setup();
  const refusal = (message: string) => ({
    status: 400,
    json: { type: "error", error: { type: "invalid_request_error", message } },
  });
  t.fake.enqueue(
    refusal(
      "max_tokens: 64000 > 32000, which is the maximum allowed number of output tokens for claude-upstream-sonnet",
    ),
  );
  const ask = (model: string) =>
    t.client.messages.stream({
      model,
      max_tokens: 64000,
      messages: [{ role: "user", content: "hi" }],
    }).finalMessage();
  assert.equal((await ask("claude-sonnet-4-5")).type, "message");
  // A gateway (LiteLLM, OpenRouter) in front of vLLM relays vLLM's words.
  t.fake.enqueue(
    refusal(
      "'max_tokens' or 'max_completion_tokens' is too large: 64000. This model's maximum context length is 32768 tokens and your request has 1234 input tokens (64000 > 32768 - 1234).",
    ),
  );
  assert.equal((await ask("qwen3")).type, "message");
  const sent = t.fake.requests.map((r) => [r.body.model, r.body.max_tokens]);
  assert.deepEqual(sent, [
    ["claude-upstream-sonnet", 64000],
    ["claude-upstream-sonnet", 32000],
    ["qwen3", 64000],
    ["qwen3", 32768 - 1234],
  ]);
});

Deno.test("passthrough: a max_tokens cap shrinks the thinking budget with it", async () => {
  await using t = await proxyTo(await startFakeAnthropic(), {
    name: "anthro",
    serviceType: "anthropic",
    apiKeys: KEYS,
    maxTokens: 8192,
  });
  const ask = (budget: number) =>
    t.client.messages.stream({
      model: "claude-sonnet-4-5",
      max_tokens: 32_000,
      thinking: { type: "enabled", budget_tokens: budget },
      messages: [{ role: "user", content: "think" }],
    }).finalMessage();
  assert.equal((await ask(31_999)).type, "message");
  assert.equal(t.fake.requests[0].body.max_tokens, 8192);
  assert.ok(t.fake.requests[0].body.thinking.budget_tokens < 8192);
  // A budget already within the cap is the client's and goes as sent.
  await ask(4096);
  assert.equal(t.fake.requests[1].body.thinking.budget_tokens, 4096);
});

Deno.test("passthrough: a key out of credit is set aside and the next key answers", async () => {
  await using t = await setup();
  t.fake.enqueue({
    status: 400,
    json: {
      type: "error",
      error: {
        type: "invalid_request_error",
        message:
          "Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits.",
      },
    },
  });
  const msg = await t.client.messages.create({
    model: "claude-sonnet-4-5",
    max_tokens: 10,
    messages: [{ role: "user", content: "hi" }],
  });
  assert.equal(msg.type, "message");
  assert.deepEqual(t.fake.requests.map((r) => r.headers.get("x-api-key")), KEYS);
  // And it stays aside: the next request goes to the second key at once.
  await t.client.messages.create({
    model: "claude-sonnet-4-5",
    max_tokens: 10,
    messages: [{ role: "user", content: "hi" }],
  });
  assert.equal(t.fake.requests[2].headers.get("x-api-key"), KEYS[1]);
});

Deno.test("passthrough: Claude Code's ?beta=true goes upstream with the request", async () => {
  await using t = await setup();
  const post = (path: string, body: Record<string, unknown>) =>
    fetch(`${t.server.url}${path}`, {
      method: "POST",
      headers: { "x-api-key": ACCESS_KEY, "content-type": "application/json" },
      body: JSON.stringify({
        model: "claude-sonnet-4-5",
        messages: [{ role: "user", content: "hi" }],
        ...body,
      }),
    });
  const msg = await post("/v1/messages?beta=true", { max_tokens: 10 });
  assert.equal((await msg.json()).type, "message");
  const count = await post("/v1/messages/count_tokens?beta=true", {});
  assert.equal((await count.json()).input_tokens, 4242);
  // None sent, none added.
  await (await post("/v1/messages", { max_tokens: 10 })).body?.cancel();
  assert.deepEqual(t.fake.requests.map((r) => r.path), [
    "/v1/messages?beta=true",
    "/v1/messages/count_tokens?beta=true",
    "/v1/messages",
  ]);
});

const streamAsk = {
  model: "claude-sonnet-4-5",
  max_tokens: 10,
  messages: [{ role: "user" as const, content: "x" }],
};

Deno.test("passthrough: an upstream that keeps the stream open after message_stop does not hold the answer", async () => {
  // Without the end at message_stop, the silence would end the answer with an error event.
  await using t = await setup({ REQUEST_TIMEOUT: "1500", STREAM_PING_INTERVAL: "500" });
  t.fake.enqueue({ sse: anthropicStream("all of it"), thenHang: true });
  const final = await t.client.messages.stream(streamAsk).finalMessage();
  assert.equal((final.content[0] as { text: string }).text, "all of it");
  assert.equal(final.stop_reason, "end_turn");
});

Deno.test("passthrough: an error as a stream's first event is retried on the next key", async () => {
  await using t = await setup();
  t.fake.enqueue({
    sse: [
      `event: error\ndata: ${
        JSON.stringify({
          type: "error",
          error: { type: "overloaded_error", message: "Overloaded" },
        })
      }\n\n`,
    ],
  });
  const final = await t.client.messages.stream(streamAsk).finalMessage();
  assert.equal((final.content[0] as { text: string }).text, "Hello from fake Anthropic");
  assert.deepEqual(t.fake.requests.map((r) => r.headers.get("x-api-key")), KEYS);
});

Deno.test("passthrough: an upstream's own closing error event is the only one the client gets", async () => {
  await using t = await setup();
  const overloaded = `event: error\ndata: ${
    JSON.stringify({ type: "error", error: { type: "overloaded_error", message: "Overloaded" } })
  }\n\n`;
  t.fake.enqueue({ sse: [...anthropicStream("cut short").slice(0, 4), overloaded] });
  const res = await fetch(`${t.server.url}/v1/messages`, {
    method: "POST",
    headers: { "x-api-key": ACCESS_KEY, "content-type": "application/json" },
    body: JSON.stringify({ ...streamAsk, stream: true }),
  });
  const text = await res.text();
  assert.equal(text.match(/event: error/g)?.length, 1, text);
  assert.ok(text.endsWith(overloaded));
});

Deno.test("passthrough: a stream that ends without message_stop ends with an error event", async () => {
  await using t = await setup();
  t.fake.enqueue({ sse: anthropicStream("cut short").slice(0, -1) });
  await assert.rejects(
    t.client.messages.stream(streamAsk).finalMessage(),
    (err: unknown) => {
      assert.ok(err instanceof Anthropic.APIError, String(err));
      assert.match(err.message, /message_stop/);
      return true;
    },
  );
});

Deno.test("passthrough: a stream broken mid-event ends with an error event, never half an event", async () => {
  await using t = await setup();
  const sse = anthropicStream("two halves");
  const joined = sse.join("");
  const cut = joined.indexOf("content_block_delta") + 30;
  t.fake.enqueue({ sse: [joined.slice(0, cut), joined.slice(cut)], resetAfterChunks: 1 });
  const res = await fetch(`${t.server.url}/v1/messages`, {
    method: "POST",
    headers: { "x-api-key": ACCESS_KEY, "content-type": "application/json" },
    body: JSON.stringify({ ...streamAsk, stream: true }),
  });
  const text = await res.text();
  const frames = text.split("\n\n").filter(Boolean);
  assert.match(
    frames.at(-1)!,
    /^event: error\ndata: \{"type":"error","error":\{"details":null,"type":"api_error"/,
  );
  // Every frame before it is whole: an event line and JSON data.
  for (const frame of frames) {
    const [event, data] = frame.split("\n");
    assert.match(event, /^event: \w+$/);
    JSON.parse(data.slice("data: ".length));
  }
});

Deno.test("passthrough: a JSON answer to a stream request reaches the client as a stream", async () => {
  await using t = await setup();
  t.fake.enqueue({ status: 200, json: anthropicMessage("whole at once") });
  const final = await t.client.messages.stream(streamAsk).finalMessage();
  assert.equal((final.content[0] as { text: string }).text, "whole at once");
});

Deno.test("passthrough: a page instead of a message (200, not JSON) is an upstream fault, retried on the next key", async () => {
  await using t = await setup();
  t.fake.enqueue({
    status: 200,
    text: "<html><body>Welcome to nginx!</body></html>",
    headers: { "content-type": "text/html" },
  });
  const msg = await t.client.messages.create({
    model: "claude-sonnet-4-5",
    max_tokens: 10,
    messages: [{ role: "user", content: "hi" }],
  });
  assert.equal((msg.content[0] as { text: string }).text, "Hello from fake Anthropic");
  assert.equal(t.fake.requests.length, 2);
  // With no key left to try, the client hears why, as an Anthropic error.
  t.fake.enqueue(
    ...KEYS.map(() => ({ status: 200, text: "<html>maintenance</html>" })),
  );
  const res = await fetch(`${t.server.url}/v1/messages`, {
    method: "POST",
    headers: { "x-api-key": ACCESS_KEY, "content-type": "application/json" },
    body: JSON.stringify({
      model: "claude-sonnet-4-5",
      max_tokens: 10,
      messages: [{ role: "user", content: "hi" }],
    }),
  });
  const body = await res.json();
  assert.ok(res.status >= 500, String(res.status));
  assert.equal(body.type, "error");
  assert.match(body.error.message, /not JSON|no message/i);
});

Deno.test("passthrough: an upstream's closing error that quotes the key reaches the client masked", async () => {
  await using t = await setup();
  const quoting = `event: error\ndata: ${
    JSON.stringify({
      type: "error",
      error: { type: "authentication_error", message: `key ${KEYS[0]} was revoked mid-answer` },
    })
  }\n\n`;
  t.fake.enqueue({ sse: [...anthropicStream("cut short").slice(0, 4), quoting] });
  const res = await fetch(`${t.server.url}/v1/messages`, {
    method: "POST",
    headers: { "x-api-key": ACCESS_KEY, "content-type": "application/json" },
    body: JSON.stringify({ ...streamAsk, stream: true }),
  });
  const text = await res.text();
  assert.match(text, /event: content_block_delta/);
  assert.match(text, /event: error\ndata: .*was revoked mid-answer/);
  assert.ok(!text.includes(KEYS[0]), text);
});

Deno.test("passthrough: what an upstream writes after message_stop, or a stream in CR line ends, never breaks the SDK's answer", async () => {
  await using t = await setup();
  const sse = anthropicStream("all of it");
  // In the same write as message_stop, so nothing but the proxy can keep it from the client.
  t.fake.enqueue({ sse: [sse.join("") + "event: weird\ndata: after the end\n\n"] });
  t.fake.enqueue({ sse: [sse.join("").replaceAll("\n", "\r")] });
  for (let i = 0; i < 2; i++) {
    const final = await t.client.messages.stream(streamAsk).finalMessage();
    assert.equal((final.content[0] as { text: string }).text, "all of it");
    assert.equal(final.stop_reason, "end_turn");
  }
});

Deno.test("passthrough: an error said with a 200, or a 200 that is no message, is answered by the next key", async () => {
  const keys = [...KEYS, "sk-ant-upstream-key-three-3333"];
  await using t = await setup({}, keys);
  t.fake.enqueue(
    {
      status: 200,
      json: { type: "error", error: { type: "overloaded_error", message: "Overloaded" } },
    },
    { status: 200, json: anthropicMessage("second key") },
    { status: 200, json: { id: "msg_1", type: "message", role: "assistant" } },
    { status: 200, json: anthropicMessage("third time") },
  );
  for (const text of ["second key", "third time"]) {
    const msg = await t.client.messages.create(streamAsk);
    assert.equal((msg.content[0] as { text: string }).text, text);
  }
  // The first key sits out its overload; the second is set aside for what it sent.
  assert.deepEqual(t.fake.requests.map((r) => r.headers.get("x-api-key")), [
    keys[0],
    keys[1],
    keys[1],
    keys[2],
  ]);
});

Deno.test("passthrough: a stream garbled before anything went out is answered by the next key", async () => {
  await using t = await setup();
  const sse = anthropicStream("second key");
  // A byte gone wrong between two fields of message_start: no JSON parser reads it.
  t.fake.enqueue({ sse: [sse[0].replace(',"content"', ',\u00ff"content"'), ...sse.slice(1)] }, {
    sse,
  });
  const final = await t.client.messages.stream(streamAsk).finalMessage();
  assert.equal((final.content[0] as { text: string }).text, "second key");
  assert.deepEqual(t.fake.requests.map((r) => r.headers.get("x-api-key")), KEYS);
});

Deno.test("passthrough: an event garbled mid-stream ends it with an Anthropic error the SDK reports", async () => {
  await using t = await setup();
  const sse = anthropicStream("one two three four");
  // Bytes that are no UTF-8 between two fields (they reach the client as U+FFFD).
  const broken = sse[4].replace('"text_delta",', '"text_delta"\ud800,');
  t.fake.enqueue({ sse: [...sse.slice(0, 4), broken, ...sse.slice(5)], delayMs: 5 });
  const stream = t.client.messages.stream(streamAsk);
  let text = "";
  stream.on("text", (delta) => text += delta);
  await assert.rejects(stream.finalMessage(), (err: unknown) => {
    assert.ok(err instanceof Anthropic.APIError, String(err));
    assert.match(err.message, /clients cannot read: a content_block_delta event that is not JSON/);
    return true;
  });
  assert.equal(text, "one ");
});

/** A proxy in front of a fake that checks thinking signatures as Anthropic does. */
async function strictThinking() {
  return await proxyTo(await startFakeAnthropic({ signaturesFrom: "sig-anthropic-" }), {
    name: "anthro",
    serviceType: "anthropic",
    apiKeys: KEYS,
  });
}

async function post(url: string, body: unknown): Promise<Response> {
  return await fetch(`${url}/v1/messages`, {
    method: "POST",
    headers: { "x-api-key": ACCESS_KEY, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

const toolLoop = (thinking: unknown[]) => [
  { role: "user", content: "list the files" },
  {
    role: "assistant",
    content: [...thinking, { type: "tool_use", id: "toolu_01", name: "ls", input: {} }],
  },
  { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_01", content: "a.txt" }] },
];

Deno.test("passthrough: thinking another server signed is refused once, then the request goes again without it, on the same key", async () => {
  await using t = await strictThinking();
  const thinking = { type: "enabled", budget_tokens: 2000 };
  const res = await post(t.server.url, {
    model: "m",
    max_tokens: 4000,
    thinking,
    messages: [
      { role: "user", content: "q" },
      {
        role: "assistant",
        content: [
          { type: "thinking", thinking: "t", signature: "sig-elsewhere-1" },
          { type: "text", text: "a" },
        ],
      },
      { role: "user", content: "next" },
    ],
  });
  assert.equal(res.status, 200, await res.clone().text());
  assert.equal((await res.json()).content[0].text, "Hello from fake Anthropic");
  const [first, second] = t.fake.requests;
  assert.equal(t.fake.requests.length, 2);
  assert.equal(second.headers.get("x-api-key"), first.headers.get("x-api-key"));
  assert.deepEqual(second.body.messages[1].content, [{ type: "text", text: "a" }]);
  assert.deepEqual(second.body.thinking, thinking, "no tool loop: thinking stays on");
});

Deno.test("passthrough: in a tool loop, thinking another server signed goes with thinking off, and Claude Code's clearing edit with it", async () => {
  await using t = await strictThinking();
  const res = await post(t.server.url, {
    model: "m",
    max_tokens: 4000,
    stream: true,
    thinking: { type: "adaptive" },
    context_management: { edits: [{ type: "clear_thinking_20251015", keep: "all" }] },
    messages: toolLoop([{ type: "thinking", thinking: "t", signature: "sig-elsewhere-1" }]),
  });
  assert.equal(res.status, 200);
  assert.match(await res.text(), /event: message_stop/);
  const second = t.fake.requests[1];
  assert.equal(t.fake.requests.length, 2);
  assert.equal(second.body.thinking, undefined);
  assert.equal(second.body.context_management, undefined);
  assert.deepEqual(second.body.messages[1].content.map((b: { type: string }) => b.type), [
    "tool_use",
  ]);
});

Deno.test("passthrough: a tool loop whose last thinking the client changed is answered, with thinking off, instead of stopping the session", async () => {
  await using t = await strictThinking();
  const res = await post(t.server.url, {
    model: "m",
    max_tokens: 4000,
    stream: true,
    thinking: { type: "adaptive" },
    messages: toolLoop([{
      type: "thinking",
      thinking: "I will list them, edited",
      signature: "sig-anthropic-text:I will list them",
    }]),
  });
  assert.equal(res.status, 200, await res.clone().text());
  assert.match(await res.text(), /event: message_stop/);
  assert.equal(t.fake.requests.length, 2);
  const second = t.fake.requests[1];
  assert.equal(second.body.thinking, undefined);
  assert.deepEqual(second.body.messages[1].content.map((b: { type: string }) => b.type), [
    "tool_use",
  ]);
});

Deno.test("passthrough: a tool loop whose opening thinking the proxy invented goes at once with thinking off", async () => {
  await using t = await strictThinking();
  const res = await post(t.server.url, {
    model: "m",
    max_tokens: 4000,
    thinking: { type: "adaptive" },
    context_management: { edits: [{ type: "clear_thinking_20251015", keep: "all" }] },
    messages: toolLoop([{
      type: "thinking",
      thinking: "from gemini",
      signature: "gsig:eyJ4IjoxfQ",
    }]),
  });
  assert.equal(res.status, 200, await res.clone().text());
  assert.equal(t.fake.requests.length, 1, "no refusal to learn from");
  assert.equal(t.fake.requests[0].body.thinking, undefined);
});

Deno.test("passthrough: a tool loop whose thinking Anthropic signed keeps it, and thinking on", async () => {
  await using t = await strictThinking();
  const res = await post(t.server.url, {
    model: "m",
    max_tokens: 4000,
    thinking: { type: "adaptive" },
    messages: toolLoop([{ type: "thinking", thinking: "t", signature: "sig-anthropic-1" }]),
  });
  assert.equal(res.status, 200);
  assert.equal(t.fake.requests.length, 1);
  assert.deepEqual(t.fake.requests[0].body.thinking, { type: "adaptive" });
  assert.equal(t.fake.requests[0].body.messages[1].content[0].signature, "sig-anthropic-1");
});

Deno.test({
  name: "passthrough: Claude Code's tool loop with thinking another server signed is answered",
  ignore: !HAVE_CLAUDE_CODE_FIXTURES,
  async fn() {
    await using t = await strictThinking();
    const body = claudeCodeFixture("claude-code-tool-result-with-thinking-request.json");
    const res = await post(t.server.url, body);
    assert.equal(res.status, 200, await res.clone().text());
    assert.match(await res.text(), /event: message_stop/);
    assert.equal(t.fake.requests.length, 2);
  },
});

Deno.test("passthrough: DeepSeek's refusal of a tool turn without its thinking goes again with thinking off, after a plain user turn too", async () => {
  await using t = await setup();
  t.fake.enqueue({
    status: 400,
    json: {
      error: {
        message: "The `content[].thinking` in the thinking mode must be passed back to the API.",
        type: "invalid_request_error",
      },
    },
  });
  const res = await post(t.server.url, {
    model: "m",
    max_tokens: 4000,
    thinking: { type: "enabled", budget_tokens: 2000 },
    messages: [
      { role: "user", content: "what time is it?" },
      {
        role: "assistant",
        content: [
          { type: "thinking", thinking: "ask the clock", signature: "gateway-elsewhere" },
          { type: "tool_use", id: "toolu_1", name: "clock", input: {} },
        ],
      },
      {
        role: "user",
        content: [{ type: "tool_result", tool_use_id: "toolu_1", content: "12:00" }],
      },
      { role: "assistant", content: "It is noon." },
      { role: "user", content: "and tomorrow?" },
    ],
  });
  assert.equal(res.status, 200, await res.clone().text());
  await res.body?.cancel();
  assert.equal(t.fake.requests.length, 2);
  const retried = t.fake.requests[1].body;
  assert.equal(retried.thinking, undefined, "thinking off for the retry");
  assert.ok(
    !JSON.stringify(retried.messages).includes('"thinking"'),
    "and no thinking block in its history",
  );
});

Deno.test("passthrough: a thinking refusal that stays is the client's 400 after one retry", async () => {
  await using t = await setup();
  const refusal = {
    status: 400,
    json: {
      type: "error",
      error: {
        type: "invalid_request_error",
        message: "messages.1.content.0: Invalid `signature` in `thinking` block",
      },
    },
  };
  t.fake.enqueue(refusal, refusal, refusal);
  const res = await post(t.server.url, {
    model: "m",
    max_tokens: 4000,
    thinking: { type: "enabled", budget_tokens: 2000 },
    messages: [{ role: "user", content: "q" }],
  });
  assert.equal(res.status, 400);
  assert.match((await res.json()).error.message, /Invalid `signature`/);
  assert.equal(t.fake.requests.length, 2);
  // Without thinking in the request, there is nothing to leave out: no retry.
  const plain = await post(t.server.url, {
    model: "m",
    max_tokens: 100,
    messages: [{ role: "user", content: "q" }],
  });
  assert.equal(plain.status, 400);
  await plain.body?.cancel();
  assert.equal(t.fake.requests.length, 3);
});

Deno.test("passthrough: tool results followed by more user text are still the tool loop's turn", async () => {
  await using t = await strictThinking();
  const res = await post(t.server.url, {
    model: "m",
    max_tokens: 4000,
    thinking: { type: "adaptive" },
    messages: [
      ...toolLoop([{ type: "thinking", thinking: "t", signature: "sig-elsewhere-1" }]),
      { role: "user", content: "and then list the folders" },
    ],
  });
  assert.equal(res.status, 200, await res.clone().text());
  assert.equal(t.fake.requests.length, 2);
  assert.equal(t.fake.requests[1].body.thinking, undefined);
});

Deno.test("passthrough: an MCP toolset for Anthropic's MCP connector (a tool without a name) reaches the upstream", async () => {
  await using t = await setup();
  const ask = {
    model: "test-sonnet-model",
    max_tokens: 100,
    messages: [{ role: "user" as const, content: "List my open tickets" }],
    mcp_servers: [{ type: "url" as const, url: "https://mcp.example.com/sse", name: "tickets" }],
    tools: [{ type: "mcp_toolset" as const, mcp_server_name: "tickets" }],
    betas: ["mcp-client-2025-11-20"],
  };
  const msg = await t.client.beta.messages.create(ask);
  assert.equal(msg.content[0].type, "text");
  const { max_tokens: _max, ...question } = ask;
  const count = await t.client.beta.messages.countTokens(question);
  assert.ok(count.input_tokens > 0);
  assert.deepEqual(t.fake.requests[0].body.tools, ask.tools);
});

Deno.test("passthrough: a stream that came whole with its length keeps bytes no text has (a byte order mark, bytes that are no UTF-8)", async () => {
  await using t = await setup();
  const joined = new TextEncoder().encode(anthropicStream("odd bytes: XY").join(""));
  const at = joined.indexOf(0x58); // the X of the first delta that holds it
  for (const odd of [[0xff, 0xc3], [0xe2, 0x80]]) {
    const bytes = new Uint8Array([0xef, 0xbb, 0xbf, ...joined]);
    bytes.set(odd, at + 3);
    t.fake.enqueue({ status: 200, text: bytes, headers: { "content-type": "text/event-stream" } });
    const res = await fetch(`${t.server.url}/v1/messages`, {
      method: "POST",
      headers: { "x-api-key": ACCESS_KEY, "content-type": "application/json" },
      body: JSON.stringify({ ...streamAsk, model: "claude-test", stream: true }),
    });
    assert.equal(res.status, 200);
    assert.deepEqual(new Uint8Array(await res.arrayBuffer()), bytes);
  }
});

Deno.test("passthrough: an upstream's redirect is not followed, through either upstream client, so its key stays home", async () => {
  const elsewhere = await startFakeAnthropic();
  try {
    for (const client of ["http1", "fetch"]) {
      await using t = await setup({ UPSTREAM_CLIENT: client }, [KEYS[0]]);
      t.fake.enqueue({
        status: 307,
        text: "",
        headers: { location: `${elsewhere.url}/v1/messages` },
      });
      const res = await fetch(`${t.server.url}/v1/messages`, {
        method: "POST",
        headers: { "x-api-key": ACCESS_KEY, "content-type": "application/json" },
        body: JSON.stringify({
          model: "m",
          max_tokens: 10,
          messages: [{ role: "user", content: "hi" }],
        }),
      });
      assert.equal(res.status, 502, client);
      const body = await res.json();
      assert.equal(body.type, "error", client);
      assert.match(body.error.message, /redirect.*base URL/, client);
      assert.equal(res.headers.get("location"), null, client);
      assert.equal(elsewhere.requests.length, 0, `${client}: the redirect was followed`);
    }
  } finally {
    await elsewhere.close();
  }
});

Deno.test("passthrough: a stream without usage (MiniMax's message_delta) or without event: lines (relays) reaches the SDK as an answer, usage filled in", async () => {
  await using t = await setup();
  // Usage taken out of message_start's message and out of message_delta.
  const withoutUsage = anthropicStream("no usage here").map((f) => {
    const [, name, data] = /^event: (\w+)\ndata: (.*)\n\n$/s.exec(f)!;
    const ev = JSON.parse(data);
    delete ev.usage;
    if (ev.message) delete ev.message.usage;
    return `event: ${name}\ndata: ${JSON.stringify(ev)}\n\n`;
  });
  assert.ok(withoutUsage.every((f) => !f.includes('"usage"')), "the fake sends no usage");
  const dataOnly = anthropicStream("named by type").map((f) => f.replace(/^event: \w+\n/, ""));
  t.fake.enqueue({ sse: withoutUsage }, { sse: dataOnly });
  for (const text of ["no usage here", "named by type"]) {
    const final = await t.client.messages.stream(streamAsk).finalMessage();
    assert.equal((final.content[0] as { text: string }).text, text);
    assert.equal(final.stop_reason, "end_turn");
    assert.equal(typeof final.usage.output_tokens, "number");
  }
  assert.equal(t.fake.requests.length, 2, "each answered by the first key, none set aside");
});

Deno.test("passthrough: a stream request answered by a whole JSON error is answered by the next key; a whole message without usage still streams", async () => {
  await using t = await setup();
  t.fake.enqueue(
    {
      status: 200,
      json: { type: "error", error: { type: "overloaded_error", message: "Overloaded" } },
    },
    { status: 200, json: anthropicMessage("second key") },
  );
  const final = await t.client.messages.stream(streamAsk).finalMessage();
  assert.equal((final.content[0] as { text: string }).text, "second key");
  assert.deepEqual(t.fake.requests.map((r) => r.headers.get("x-api-key")), KEYS);
  const { usage: _, ...bare } = anthropicMessage("no usage") as Record<string, unknown>;
  t.fake.enqueue({ status: 200, json: bare });
  const whole = await t.client.messages.stream(streamAsk).finalMessage();
  assert.equal((whole.content[0] as { text: string }).text, "no usage");
});

Deno.test("passthrough: an upstream that admits only coding agents (Kimi For Coding's 403) refuses that client, not the keys; the key check passes as Claude Code", async () => {
  await using t = await proxyTo(await startFakeAnthropic({ codingAgentsOnly: true }), {
    name: "kimi",
    serviceType: "anthropic",
    apiKeys: KEYS,
  });
  const ask = {
    model: "kimi-for-coding",
    max_tokens: 10,
    messages: [{ role: "user" as const, content: "hi" }],
  };
  // The SDK says it is Anthropic/JS: refused, as the request's fault, with the upstream's reason.
  const refused = await t.client.messages.create(ask).catch((e) => e);
  assert.equal(refused.status, 400);
  assert.match(refused.error.error.message, /only available for Coding Agents/);
  assert.equal(t.fake.requests.length, 1, "one refusal, no other key tried");
  // Claude Code, next, is answered on the first key: nothing was set aside.
  const res = await fetch(`${t.server.url}/v1/messages`, {
    method: "POST",
    headers: {
      "x-api-key": ACCESS_KEY,
      "content-type": "application/json",
      "user-agent": "claude-cli/2.1.197 (external, cli)",
    },
    body: JSON.stringify(ask),
  });
  assert.equal(res.status, 200);
  await res.body?.cancel();
  assert.equal(t.fake.requests.at(-1)!.headers.get("x-api-key"), KEYS[0]);
  const probe = await probeKey(
    t.server.services,
    t.server.services.store.snapshot.doc.upstream[0],
    KEYS[1],
  );
  assert.deepEqual([probe.ok, probe.message], [true, "key works"]);
});

Deno.test("passthrough: an account out of credit said with a 429 (Zhipu's 1113) sets the key aside as out of credit, not as a rate limit to wait out", async () => {
  await using t = await setup();
  t.fake.enqueue({
    status: 429,
    json: {
      type: "error",
      error: {
        type: "rate_limit_error",
        code: "1113",
        message: "[1113][Insufficient balance or no resource package. Please recharge.]",
      },
    },
  });
  const msg = await t.client.messages.create(streamAsk);
  assert.equal(msg.type, "message");
  assert.deepEqual(t.fake.requests.map((r) => r.headers.get("x-api-key")), KEYS);
  const id = healthId(t.server.services.store.snapshot.doc.upstream[0].baseUrl, KEYS[0]);
  const health = t.server.services.health.get(id, "*");
  assert.equal(health?.state, "disabled");
  assert.match(String(health?.reason), /Insufficient balance/);
  // Its Chinese wording (open.bigmodel.cn) says the same.
  t.fake.enqueue({
    status: 429,
    json: { error: { code: "1113", message: "余额不足或无可用资源包,请充值。" } },
  });
  // The last key left: no rate limit to wait out (429), every key is out of credit.
  const refused = await t.client.messages.create(streamAsk).catch((e) => e);
  assert.equal(refused.status, 502);
  assert.match(refused.error.error.message, /余额不足/);
  const second = healthId(t.server.services.store.snapshot.doc.upstream[0].baseUrl, KEYS[1]);
  assert.equal(t.server.services.health.get(second, "*")?.state, "disabled");
});

Deno.test("passthrough: a gateway that streams although asked for a whole answer still gives the whole message; an error sent that way is the error it names", async () => {
  await using t = await setup();
  t.fake.enqueue({ sse: anthropicStream("Hello from a streaming gateway") });
  const msg = await t.client.messages.create({
    model: "claude-sonnet-test",
    max_tokens: 50,
    messages: [{ role: "user", content: "hi" }],
  });
  assert.deepEqual(msg.content, [{ type: "text", text: "Hello from a streaming gateway" }]);
  assert.equal(msg.stop_reason, "end_turn");
  assert.equal(msg.model, "claude-sonnet-test");
  t.fake.enqueue({ sse: [anthropicStreamError("invalid_request_error", "prompt is too long")] });
  await assert.rejects(
    t.client.messages.create({
      model: "claude-sonnet-test",
      max_tokens: 50,
      messages: [{ role: "user", content: "hi" }],
    }),
    (err: unknown) => {
      assert.ok(err instanceof Anthropic.BadRequestError, String(err));
      assert.match(err.message, /prompt is too long/);
      return true;
    },
  );
});
