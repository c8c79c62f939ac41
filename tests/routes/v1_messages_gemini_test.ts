// Claude's Messages API through the proxy to Gemini, driven by the official SDK against a running
// server and a fake Gemini as strict as the real one (schemas, alternation, signatures).
// deno-lint-ignore-file no-explicit-any
import Anthropic from "@anthropic-ai/sdk";
import { betaTool } from "@anthropic-ai/sdk/helpers/beta/json-schema";
import assert from "node:assert/strict";
import { healthId } from "../../lib/key_pool.ts";
import {
  apiKeyInvalidBody,
  bareStreamError,
  callPart,
  chunk,
  errorBody,
  rateLimitBody,
  sseEvent,
  sseReply,
  startFakeGemini,
  textPart,
  usageMetadata,
} from "../fakes/gemini_upstream.ts";
import { claudeCodeFixtures, HAVE_CLAUDE_CODE_FIXTURES } from "../helpers/fixtures.ts";
import { ASK, DEFERRED_TOOLS, LOADED } from "../helpers/deferred_tools.ts";
import { proxyTo } from "../helpers/proxy_to.ts";
import { searchThenFollowUp, toolRoundTrip } from "../helpers/tool_round_trip.ts";
import { ACCESS_KEY, type TestServer } from "../helpers/server.ts";
import {
  assertSaysInOrder,
  CLIENT_CALL_ID,
  SERVER_TOOL_TURN,
  SERVER_TOOL_TURN_SAYS,
} from "../helpers/server_tool_history.ts";
import { assertWellFormedStream, parseSse, streamTimed } from "../helpers/sse.ts";

const KEYS = ["AIzaFakeGeminiKeyNumberOne000000000000", "AIzaFakeGeminiKeyNumberTwo000000000000"];

/** The health id of the first key at the upstream as configured. */
const firstKeyHealth = (server: TestServer) =>
  healthId(server.services.store.snapshot.doc.upstream[0].baseUrl, KEYS[0]);

async function setup(
  options: { thinkingModel?: boolean; baseSuffix?: string; model?: string } = {},
) {
  const fake = await startFakeGemini({ requireKey: KEYS, thinkingModel: options.thinkingModel });
  return await proxyTo(fake, {
    name: "gem",
    baseUrl: fake.url + (options.baseSuffix ?? ""),
    serviceType: "gemini",
    apiKeys: KEYS,
    models: { default: options.model ?? "gemini-2.5-flash" },
  });
}

const tools: Anthropic.Tool[] = [{
  name: "get_weather",
  description: "Weather for a city",
  input_schema: {
    type: "object",
    properties: {
      city: { type: "string", format: "uri" },
      days: { type: "integer", exclusiveMinimum: 0 },
    },
    required: ["city"],
    additionalProperties: false,
    $schema: "https://json-schema.org/draft/2020-12/schema",
  } as Anthropic.Tool.InputSchema,
}];

Deno.test("gemini: text, with the key in x-goog-api-key and the client's user-agent, whether baseUrl ends in /v1beta or not", async () => {
  for (const baseSuffix of ["", "/v1beta"]) {
    await using t = await setup({ baseSuffix });
    const msg = await t.client.messages.create({
      model: "claude-sonnet-test",
      max_tokens: 100,
      system: "Be brief.",
      messages: [{ role: "user", content: "Hello" }],
    }, { headers: { "user-agent": "claude-cli/2.1.197 (external, sdk-cli)" } });
    assert.match((msg.content[0] as Anthropic.TextBlock).text, /Hello from fake Gemini/);
    assert.equal(msg.stop_reason, "end_turn");
    assert.ok(msg.usage.output_tokens > 0);
    const seen = t.fake.requests[0];
    assert.equal(seen.path, "/v1beta/models/gemini-2.5-flash:generateContent");
    assert.equal(seen.headers.get("x-goog-api-key"), KEYS[0]);
    // The client's user-agent goes on: some servers admit only the agents they know.
    assert.equal(seen.headers.get("user-agent"), "claude-cli/2.1.197 (external, sdk-cli)");
    assert.deepEqual(seen.body.systemInstruction.parts, [{ text: "Be brief." }]);
  }
});

Deno.test("gemini: a stream assembles through the SDK", async () => {
  await using t = await setup();
  const final = await t.client.messages.stream({
    model: "claude-sonnet-test",
    max_tokens: 100,
    messages: [{ role: "user", content: "Hello" }],
  }).finalMessage();
  assert.match((final.content[0] as Anthropic.TextBlock).text, /Hello from fake Gemini/);
  assert.match(t.fake.requests[0].path, /:streamGenerateContent\?alt=sse$/);
});

Deno.test("gemini: a tool round trip with minted ids and thought signatures (thinking model)", async () => {
  await using t = await setup({ thinkingModel: true });
  const first = await t.client.messages.stream({
    model: "claude-sonnet-test",
    max_tokens: 200,
    tools,
    messages: [{ role: "user", content: 'use tool get_weather with {"city":"Paris"}' }],
  }).finalMessage();
  assert.equal(first.stop_reason, "tool_use");
  const call = first.content.find((b) => b.type === "tool_use") as Anthropic.ToolUseBlock;
  assert.match(call.id, /^toolu_[a-zA-Z0-9_-]+$/);
  assert.deepEqual(call.input, { city: "Paris" });
  // The schema reached Gemini cleaned of the keywords it rejects.
  const decl = JSON.stringify(t.fake.requests[0].body.tools);
  assert.doesNotMatch(decl, /additionalProperties|\$schema|exclusiveMinimum|"uri"/);

  const second = await t.client.messages.create({
    model: "claude-sonnet-test",
    max_tokens: 200,
    tools,
    messages: [
      { role: "user", content: 'use tool get_weather with {"city":"Paris"}' },
      { role: "assistant", content: first.content },
      { role: "user", content: [{ type: "tool_result", tool_use_id: call.id, content: "18C" }] },
    ],
  });
  // The strict fake rejects a replayed call without its signature, and a response without its name.
  assert.match((second.content[0] as Anthropic.TextBlock).text, /Tool result received/);
  const replay = t.fake.requests[1].body.contents;
  const modelTurn = replay.find((c: { role: string }) => c.role === "model");
  assert.ok(modelTurn.parts[0].thoughtSignature);
  assert.notEqual(modelTurn.parts[0].thoughtSignature, "skip_thought_signature_validator");
  assert.equal(replay[2].parts[0].functionResponse.name, "get_weather");
});

Deno.test("gemini: parallel calls become separate tool_use blocks with unique ids", async () => {
  await using t = await setup();
  t.fake.enqueue(sseReply([
    chunk([
      callPart("get_weather", { city: "Oslo" }, { signature: "c2lnLW9uZQ==" }),
      callPart("get_weather", { city: "Rome" }),
    ], { finishReason: "STOP", usage: usageMetadata(30, 10) }),
  ]));
  const res = await fetch(`${t.server.url}/v1/messages`, {
    method: "POST",
    headers: { "x-api-key": ACCESS_KEY, "content-type": "application/json" },
    body: JSON.stringify({
      model: "claude-sonnet-test",
      max_tokens: 100,
      stream: true,
      tools,
      messages: [{ role: "user", content: "weather in Oslo and Rome" }],
    }),
  });
  const { blocks, stopReason } = assertWellFormedStream(parseSse(await res.text()));
  assert.equal(stopReason, "tool_use");
  assert.deepEqual(blocks.map((b) => b.input), [{ city: "Oslo" }, { city: "Rome" }]);
  assert.notEqual(blocks[0].id, blocks[1].id);
});

Deno.test("gemini: images go as inlineData, also inside tool results", async () => {
  await using t = await setup();
  const png =
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";
  await t.client.messages.create({
    model: "claude-sonnet-test",
    max_tokens: 50,
    tools,
    messages: [
      {
        role: "user",
        content: [
          { type: "image", source: { type: "base64", media_type: "image/png", data: png } },
          { type: "text", text: "What is this?" },
        ],
      },
      {
        role: "assistant",
        content: [{
          type: "tool_use",
          id: "toolu_shot1",
          name: "get_weather",
          input: { city: "X" },
        }],
      },
      {
        role: "user",
        content: [{
          type: "tool_result",
          tool_use_id: "toolu_shot1",
          content: [
            { type: "text", text: "a chart" },
            { type: "image", source: { type: "base64", media_type: "image/png", data: png } },
          ],
        }],
      },
    ],
  });
  const contents = t.fake.requests[0].body.contents;
  assert.deepEqual(contents[0].parts[0], { inlineData: { mimeType: "image/png", data: png } });
  const last = JSON.stringify(contents[contents.length - 1]);
  assert.match(last, /functionResponse/);
  assert.match(last, /inlineData/);
});

Deno.test("gemini: a GIF (which Gemini refuses) goes as a PNG of its pixels, also from Claude Code's Read; what cannot go is named in a note", async () => {
  await using t = await setup();
  // 3 × 2: red, green, blue / white, blue, green.
  const gif = "R0lGODlhAwACAIEAAP8AAAD/AAAA/////ywAAAAAAwACAAACBEQ0EgUAOw==";
  const image = (media_type: string) => ({
    type: "image",
    source: { type: "base64", media_type, data: gif },
  });
  const answer = await t.client.beta.messages.create({
    model: "claude-sonnet-test",
    max_tokens: 50,
    tools,
    betas: ["files-api-2025-04-14"],
    messages: [
      {
        role: "user",
        content: [
          image("image/gif"),
          { type: "image", source: { type: "url", url: "https://x.test/cat.gif" } },
          { type: "document", source: { type: "file", file_id: "file_011abc" } },
          {
            type: "document",
            source: { type: "base64", media_type: "application/pdf", data: "JVBERi0xLjQK" },
            title: "spec.pdf",
            context: "The draft of March",
          },
          { type: "text", text: "What are these?" },
        ],
      },
      {
        role: "assistant",
        content: [{
          type: "tool_use",
          id: "toolu_read1",
          name: "get_weather",
          input: { city: "X" },
        }],
      },
      {
        role: "user",
        content: [{
          type: "tool_result",
          tool_use_id: "toolu_read1",
          content: [image("image/gif")],
        }],
      },
    ],
  } as any);
  assert.equal(answer.type, "message", "the strict fake took the request");
  const contents = t.fake.requests[0].body.contents;
  const inline = JSON.stringify(contents).match(/"inlineData":\{[^}]*\}/g)!.map((m) =>
    JSON.parse(`{${m}}`).inlineData
  );
  const pngs = inline.filter((d: any) => d.mimeType === "image/png");
  assert.equal(pngs.length, 2, "both GIFs went as PNGs");
  const png = Uint8Array.fromBase64(pngs[0].data);
  assert.deepEqual([...png.subarray(1, 4)], [0x50, 0x4e, 0x47]);
  assert.ok(!JSON.stringify(contents).includes("image/gif"));
  const first = JSON.stringify(contents[0].parts);
  assert.match(first, /A GIF image \(https:\/\/x\.test\/cat\.gif\) was attached here/);
  assert.match(first, /from Anthropic's Files API \(file_011abc\)/);
  assert.match(first, /spec\.pdf\\n\\nThe draft of March/, "the document's title and context");
});

Deno.test("gemini: countTokens asks Gemini's own countTokens", async () => {
  await using t = await setup();
  const count = await t.client.messages.countTokens({
    model: "claude-sonnet-test",
    messages: [{ role: "user", content: "Hello there" }],
  });
  assert.ok(count.input_tokens > 0);
  assert.ok(t.fake.requests.some((r) => r.path.endsWith(":countTokens")));
});

Deno.test("gemini: a count no client can use (1e308, 2.5) gives way to the local estimate", async () => {
  await using t = await setup();
  for (const totalTokens of [1e308, 2.5]) {
    t.fake.enqueue({ status: 200, json: { totalTokens } });
    const count = await t.client.messages.countTokens({
      model: "claude-sonnet-test",
      messages: [{ role: "user", content: "Hello there" }],
    });
    assert.ok(
      Number.isSafeInteger(count.input_tokens) && count.input_tokens > 0,
      `${totalTokens} → ${count.input_tokens}`,
    );
  }
});

Deno.test("gemini: an invalid key (400 API_KEY_INVALID) and a 429 are key failures, not the client's", async () => {
  await using t = await setup();
  t.fake.enqueue({ status: 400, json: apiKeyInvalidBody() });
  const ok = await t.client.messages.create({
    model: "claude-sonnet-test",
    max_tokens: 10,
    messages: [{ role: "user", content: "x" }],
  });
  assert.equal(ok.type, "message");
  assert.equal(t.server.services.health.get(firstKeyHealth(t.server), "*")?.state, "disabled");

  t.fake.enqueue({ status: 429, json: rateLimitBody("12s") });
  await assert.rejects(
    t.client.messages.create({
      model: "claude-sonnet-test",
      max_tokens: 10,
      messages: [{ role: "user", content: "x" }],
    }),
    (err: unknown) => {
      // The only healthy key is now cooling down: the client is told when to come back.
      assert.ok(err instanceof Anthropic.RateLimitError);
      assert.ok(Number(err.headers?.get("retry-after")) >= 11);
      return true;
    },
  );
});

Deno.test("gemini: a key refused on a token count is disabled as a request's refusal would disable it; a count's 429 leaves it", async () => {
  await using t = await setup();
  const count = () =>
    t.client.messages.countTokens({
      model: "claude-sonnet-test",
      messages: [{ role: "user", content: "Hello there" }],
    });
  t.fake.enqueue({ status: 429, json: rateLimitBody("12s") });
  assert.ok((await count()).input_tokens > 0, "the local estimate");
  assert.equal(t.server.services.health.list().length, 0, "a count's own limit sets no key aside");
  t.fake.enqueue({ status: 400, json: apiKeyInvalidBody() });
  assert.ok((await count()).input_tokens > 0, "the local estimate");
  assert.equal(t.server.services.health.get(firstKeyHealth(t.server), "*")?.state, "disabled");
  assert.ok(
    t.server.logs.some((l) => /refused a key for a token count: the key is disabled/.test(l)),
  );
});

Deno.test("gemini: a region refusal (400 FAILED_PRECONDITION) is the client's 400 with Gemini's words; the key keeps serving", async () => {
  await using t = await setup();
  t.fake.enqueue({
    status: 400,
    json: errorBody(400, "FAILED_PRECONDITION", "User location is not supported for the API use."),
  });
  await assert.rejects(
    t.client.messages.create({
      model: "claude-sonnet-test",
      max_tokens: 10,
      messages: [{ role: "user", content: "x" }],
    }),
    (err: unknown) => {
      assert.ok(err instanceof Anthropic.BadRequestError);
      assert.match(err.message, /User location is not supported/);
      return true;
    },
  );
  assert.equal(t.fake.requests.length, 1, "not tried on every key");
  assert.equal(t.server.services.health.get(firstKeyHealth(t.server), "*"), undefined);
  const ok = await t.client.messages.create({
    model: "claude-sonnet-test",
    max_tokens: 10,
    messages: [{ role: "user", content: "x" }],
  });
  assert.equal(ok.type, "message");
  assert.equal(t.fake.requests[1].headers.get("x-goog-api-key"), KEYS[0]);
});

Deno.test("gemini: a Files API file that is gone (403) is the client's 400, not a key to set aside", async () => {
  await using t = await setup();
  t.fake.enqueue({
    status: 403,
    json: errorBody(
      403,
      "PERMISSION_DENIED",
      "You do not have permission to access the File abc123 or it may not exist.",
    ),
  });
  const image = {
    type: "image" as const,
    source: {
      type: "url" as const,
      url: "https://generativelanguage.googleapis.com/v1beta/files/abc123",
    },
  };
  await assert.rejects(
    t.client.messages.create({
      model: "claude-sonnet-test",
      max_tokens: 10,
      messages: [{ role: "user", content: [image, { type: "text", text: "what is it?" }] }],
    }),
    (err: unknown) => {
      assert.ok(err instanceof Anthropic.BadRequestError);
      assert.match(err.message, /permission to access the File abc123/);
      return true;
    },
  );
  assert.equal(t.fake.requests.length, 1, "not tried on every key");
  assert.equal(t.server.services.health.get(firstKeyHealth(t.server), "*"), undefined);
  const ok = await t.client.messages.create({
    model: "claude-sonnet-test",
    max_tokens: 10,
    messages: [{ role: "user", content: "x" }],
  });
  assert.equal(ok.type, "message");
});

Deno.test("gemini: a prompt over the context window is said as Anthropic says it, so Claude Code compacts", async () => {
  await using t = await setup();
  const words =
    "The input token count (2000000) exceeds the maximum number of tokens allowed (1048576).";
  t.fake.enqueue({ status: 400, json: errorBody(400, "INVALID_ARGUMENT", words) });
  await assert.rejects(
    t.client.messages.create({
      model: "claude-sonnet-test",
      max_tokens: 10,
      messages: [{ role: "user", content: "a very long conversation" }],
    }),
    (err: unknown) => {
      assert.ok(err instanceof Anthropic.BadRequestError);
      assert.match(err.message, /prompt is too long: 2000000 tokens > 1048576 maximum/);
      return true;
    },
  );
  assert.equal(t.fake.requests.length, 1);
});

Deno.test("gemini: a slow first token does not keep the client silent past the ping interval", async () => {
  const fake = await startFakeGemini({ requireKey: KEYS });
  await using t = await proxyTo(fake, {
    name: "gem",
    serviceType: "gemini",
    apiKeys: KEYS,
    models: { default: "gemini-2.5-flash" },
  }, { env: { STREAM_PING_INTERVAL: "150" } });
  // A thinking model can say nothing for minutes; nginx and Claude Code give up on silence.
  const last = chunk([textPart("thought long")], {
    finishReason: "STOP",
    usage: usageMetadata(5, 2),
  });
  t.fake.enqueue({ sse: ["", sseEvent(last)], delayMs: 1_500 });
  const { first, firstMs, text } = await streamTimed(t.server.url, ACCESS_KEY);
  assert.ok(firstMs < 1_200, `first bytes after ${firstMs} ms`);
  // Keepalives every SSE reader skips: the answer has not begun, so another key could still give it.
  assert.match(first, /^: waiting for the upstream/);
  assert.ok((text.match(/^: waiting/gm) ?? []).length >= 3, "keepalives while Gemini is silent");
  const { blocks, stopReason } = assertWellFormedStream(parseSse(text));
  assert.equal(blocks[0].text, "thought long");
  assert.equal(stopReason, "end_turn");
});

Deno.test("gemini: MALFORMED_FUNCTION_CALL is an error, never an empty end_turn", async () => {
  await using t = await setup();
  const malformed = chunk([], {
    finishReason: "MALFORMED_FUNCTION_CALL",
    usage: usageMetadata(10, 0),
  });
  t.fake.enqueue({ status: 200, json: malformed });
  await assert.rejects(
    t.client.messages.create({
      model: "claude-sonnet-test",
      max_tokens: 10,
      messages: [{ role: "user", content: "x" }],
    }),
    (err: unknown) => err instanceof Anthropic.APIError && (err.status ?? 0) >= 500,
  );
});

Deno.test("gemini: an empty answer (STOP, one empty text part) is a 502 for the client to retry; no key is set aside", async () => {
  await using t = await setup();
  const empty = chunk([textPart("")], { finishReason: "STOP", usage: usageMetadata(10, 0) });
  for (const stream of [false, true]) {
    t.fake.enqueue(stream ? { sse: [sseEvent(empty)] } : { status: 200, json: empty });
    const res = await fetch(`${t.server.url}/v1/messages`, {
      method: "POST",
      headers: { "x-api-key": ACCESS_KEY, "content-type": "application/json" },
      body: JSON.stringify({
        model: "claude-sonnet-test",
        max_tokens: 10,
        stream,
        messages: [{ role: "user", content: "x" }],
      }),
    });
    assert.equal(res.status, 502, `stream=${stream}`);
    assert.match((await res.json()).error.message, /empty answer/);
  }
  assert.equal(t.fake.requests.length, 2, "one call each, not one per key");
  assert.equal(t.server.services.health.get(firstKeyHealth(t.server), "*"), undefined);
});

Deno.test({
  name: "gemini: every Claude Code request replays to a 200 and a well-formed answer",
  ignore: !HAVE_CLAUDE_CODE_FIXTURES,
  async fn() {
    await using t = await setup({ thinkingModel: true });
    for (const { name, body } of claudeCodeFixtures()) {
      if (name.startsWith("count-tokens")) continue;
      for (const stream of [true, false]) {
        const res = await fetch(`${t.server.url}/v1/messages?beta=true`, {
          method: "POST",
          headers: { "x-api-key": ACCESS_KEY, "content-type": "application/json" },
          body: JSON.stringify({ ...body, stream }),
        });
        assert.equal(res.status, 200, `${name} stream=${stream}: ${await res.clone().text()}`);
        if (stream) assertWellFormedStream(parseSse(await res.text()));
        else assert.equal((await res.json()).type, "message");
      }
    }
  },
});

Deno.test("gemini: models.list shows Gemini's conversational models, not its embedders", async () => {
  await using t = await setup();
  const models = await t.client.models.list();
  const ids = models.data.map((m) => m.id);
  assert.ok(ids.includes("gemini-2.5-flash"));
  assert.ok(!ids.includes("text-embedding-004"));
  assert.equal(
    models.data.find((m) => m.id === "gemini-2.5-flash")?.display_name,
    "gemini-2.5-flash",
  );
});

Deno.test("gemini: Claude Code's web search runs as Gemini's Google Search and comes back as a search", async () => {
  await using t = await setup();
  const request = {
    model: "claude-haiku-test",
    max_tokens: 1000,
    messages: [{ role: "user" as const, content: "Perform a web search for the query: euro 2024" }],
    tools: [{ type: "web_search_20250305" as const, name: "web_search" as const, max_uses: 8 }],
  };
  const streamed = await t.client.messages.stream(request).finalMessage();
  const plain = await t.client.messages.create(request);
  for (const msg of [streamed, plain]) {
    const types = msg.content.map((b) => b.type);
    assert.ok(types.includes("server_tool_use"), types.join());
    const call = msg.content.find((b) =>
      b.type === "server_tool_use"
    ) as Anthropic.ServerToolUseBlock;
    assert.deepEqual(call.input, { query: "euro 2024" });
    const result = msg.content.find((b) =>
      b.type === "web_search_tool_result"
    ) as Anthropic.WebSearchToolResultBlock;
    assert.equal(result.tool_use_id, call.id);
    assert.deepEqual(
      (result.content as Anthropic.WebSearchResultBlock[]).map((r) => r.title),
      ["example1.com", "example2.com"],
    );
    const text = msg.content.filter((b) => b.type === "text").map((b) => b.text).join("");
    assert.equal(text, "Two pages answer this. They agree.");
    assert.equal(msg.usage.server_tool_use?.web_search_requests, 1);
  }
  for (const seen of t.fake.requests) assert.deepEqual(seen.body.tools, [{ googleSearch: {} }]);
});

Deno.test("gemini: an MCP tool whose oneOf only says which fields are required keeps its parameters", async () => {
  await using t = await setup();
  const options = {
    type: "object",
    properties: { depth: { type: "integer", enum: [1, 2, 3] }, follow: { type: "boolean" } },
    anyOf: [{ required: ["depth"] }, { required: ["follow"] }],
  };
  const mcpTools = [{
    name: "mcp__files__read",
    description: "Read a file or a URL",
    input_schema: {
      type: "object",
      properties: { path: { type: "string" }, url: { type: "string", format: "uri" }, options },
      oneOf: [{ required: ["path"] }, { required: ["url"] }],
      additionalProperties: false,
      $schema: "http://json-schema.org/draft-07/schema#",
    },
  }] as Anthropic.Tool[];
  const msg = await t.client.messages.create({
    model: "claude-sonnet-test",
    max_tokens: 100,
    tools: mcpTools,
    messages: [{
      role: "user",
      content: 'use tool mcp__files__read with {"url":"https://x.test","options":{"depth":"2"}}',
    }],
  });
  const decl = t.fake.requests[0].body.tools[0].functionDeclarations[0];
  assert.equal(decl.parameters.type, "OBJECT");
  assert.deepEqual(Object.keys(decl.parameters.properties), ["path", "url", "options"]);
  assert.equal(decl.parameters.properties.options.type, "OBJECT");
  const call = msg.content.find((b) => b.type === "tool_use") as Anthropic.ToolUseBlock;
  // Gemini writes the integer enum as text; the client gets the integer its schema asks for.
  assert.deepEqual(call.input, { url: "https://x.test", options: { depth: 2 } });
});

Deno.test("gemini: an error written bare into a 200 stream before any content fails over like an HTTP error", async () => {
  await using t = await setup();
  const model = "gemini-2.5-flash";
  const stream = () =>
    t.client.messages.stream({
      model: "claude-sonnet-test",
      max_tokens: 100,
      messages: [{ role: "user", content: "Hello" }],
    }).finalMessage();

  t.fake.enqueue({ sse: [bareStreamError(rateLimitBody("45s"), { pretty: true })] });
  const first = await stream();
  assert.match((first.content[0] as Anthropic.TextBlock).text, /Hello from fake Gemini/);
  assert.deepEqual(
    t.fake.requests.map((r) => r.headers.get("x-goog-api-key")),
    [KEYS[0], KEYS[1]],
  );
  // The key sits out the wait Gemini named, for this model, as after an HTTP 429.
  const cooling = t.server.services.health.get(firstKeyHealth(t.server), model);
  assert.equal(cooling?.model, model);
  assert.ok(cooling!.until! - Date.now() > 40_000, `until ${cooling?.until}`);

  // A refusal of the request itself is the client's 400, not a reason to try another key.
  t.fake.enqueue({ sse: [bareStreamError(errorBody(400, "INVALID_ARGUMENT", "Bad schema."))] });
  await assert.rejects(stream(), (err: unknown) => {
    assert.ok(err instanceof Anthropic.BadRequestError, String(err));
    assert.match(err.message, /Bad schema\./);
    return true;
  });
  assert.equal(t.fake.requests.length, 3);
});

Deno.test("gemini: an error written bare after partial text ends the stream with its type, and the key waits", async () => {
  await using t = await setup();
  const model = "gemini-2.5-flash";
  t.fake.enqueue({
    sse: [sseEvent(chunk([textPart("Partial ans")])) + bareStreamError(rateLimitBody("45s"))],
  });
  const res = await fetch(`${t.server.url}/v1/messages`, {
    method: "POST",
    headers: { "x-api-key": ACCESS_KEY, "content-type": "application/json" },
    body: JSON.stringify({
      model: "claude-sonnet-test",
      max_tokens: 100,
      stream: true,
      messages: [{ role: "user", content: "Hello" }],
    }),
  });
  assert.equal(res.status, 200);
  const events = parseSse(await res.text());
  const texts = events.filter((e) => e.data.delta?.type === "text_delta").map((e) => e.data.delta);
  assert.deepEqual(texts.map((d) => d.text), ["Partial ans"]);
  assert.deepEqual(events.at(-1)!.data, {
    type: "error",
    error: {
      details: null,
      type: "rate_limit_error",
      message: "You exceeded your current quota, please check your plan and billing details.",
    },
    request_id: res.headers.get("request-id"),
  });
  const cooling = t.server.services.health.get(firstKeyHealth(t.server), model);
  assert.ok(cooling!.until! - Date.now() > 40_000, `until ${cooling?.until}`);
  // The next request goes to the other key at once.
  await t.client.messages.create({
    model: "claude-sonnet-test",
    max_tokens: 10,
    messages: [{ role: "user", content: "again" }],
  });
  assert.equal(t.fake.requests[1].headers.get("x-goog-api-key"), KEYS[1]);
});

Deno.test("gemini: structured output comes back in the client's types, on 2.5 and on 2.0 models", async () => {
  const schema = {
    type: "object",
    properties: {
      priority: { type: "integer", enum: [1, 2, 3] },
      data: { type: "object", description: "anything" },
    },
    required: ["priority", "data"],
    additionalProperties: false,
  };
  const ask = (t: { server: { url: string } }, stream: boolean) =>
    fetch(`${t.server.url}/v1/messages`, {
      method: "POST",
      headers: { "x-api-key": ACCESS_KEY, "content-type": "application/json" },
      body: JSON.stringify({
        model: "claude-haiku-test",
        max_tokens: 200,
        stream,
        messages: [{ role: "user", content: "Rate this." }],
        output_config: { format: { type: "json_schema", schema } },
      }),
    });
  const answerOf = async (res: Response, stream: boolean) => {
    assert.equal(res.status, 200);
    if (!stream) return JSON.parse((await res.json()).content[0].text);
    const { blocks } = assertWellFormedStream(parseSse(await res.text()));
    return JSON.parse(blocks.map((b) => b.text).join(""));
  };
  const final = { finishReason: "STOP", usage: usageMetadata(20, 12) };

  {
    await using t = await setup();
    const answer = '{"priority": 2, "data": {"k": 1}}';
    for (const stream of [false, true]) {
      t.fake.enqueue(
        stream
          ? sseReply([
            chunk([textPart(answer.slice(0, 14))]),
            chunk([textPart(answer.slice(14))], final),
          ])
          : { status: 200, json: chunk([textPart(answer)], final) },
      );
      assert.deepEqual(await answerOf(await ask(t, stream), stream), {
        priority: 2,
        data: { k: 1 },
      });
    }
    const gc = t.fake.requests[0].body.generationConfig;
    assert.equal(gc.responseMimeType, "application/json");
    assert.deepEqual(gc.responseJsonSchema, schema);
    // Asked the older way, top-level output_format (SDKs before output_config), the same.
    const older = await fetch(`${t.server.url}/v1/messages`, {
      method: "POST",
      headers: { "x-api-key": ACCESS_KEY, "content-type": "application/json" },
      body: JSON.stringify({
        model: "claude-haiku-test",
        max_tokens: 200,
        messages: [{ role: "user", content: "Rate this." }],
        output_format: { type: "json_schema", schema },
      }),
    });
    await older.body?.cancel();
    assert.deepEqual(t.fake.requests.at(-1)!.body.generationConfig.responseJsonSchema, schema);
  }
  {
    // 2.0 takes only the OpenAPI subset: the enum and the free-form object travel as text.
    await using t = await setup({ model: "gemini-2.0-flash" });
    const answer = '{"priority": "3", "data": "{\\"k\\": 1}"}';
    for (const stream of [false, true]) {
      t.fake.enqueue(
        stream
          ? sseReply([
            chunk([textPart(answer.slice(0, 9))]),
            chunk([textPart(answer.slice(9))], final),
          ])
          : { status: 200, json: chunk([textPart(answer)], final) },
      );
      assert.deepEqual(await answerOf(await ask(t, stream), stream), {
        priority: 3,
        data: { k: 1 },
      });
    }
    const gc = t.fake.requests[0].body.generationConfig;
    assert.equal(gc.responseSchema.properties.priority.type, "STRING");
    assert.equal(gc.responseJsonSchema, undefined);
  }
});

Deno.test("gemini: Claude Code's 32000 max_tokens on a model that takes 8192 is retried within it, and later requests ask for 8192 at once", async () => {
  await using t = await setup({ model: "gemini-2.0-flash" });
  const request = {
    model: "claude-sonnet-4-5",
    max_tokens: 32000,
    system: [{ type: "text" as const, text: "You are Claude Code, Anthropic's official CLI." }],
    tools,
    messages: [{ role: "user" as const, content: [{ type: "text" as const, text: "Hello" }] }],
  };
  const first = await t.client.messages.stream(request).finalMessage();
  assert.match((first.content[0] as Anthropic.TextBlock).text, /Hello from fake Gemini/);
  const sent = () => t.fake.requests.map((r) => r.body.generationConfig.maxOutputTokens);
  assert.deepEqual(sent(), [32000, 8192]);
  // The refusal is the request's, not the key's: the same key served the retry.
  assert.deepEqual(
    t.fake.requests.map((r) => r.headers.get("x-goog-api-key")),
    [KEYS[0], KEYS[0]],
  );
  assert.equal(
    t.server.services.health.get(firstKeyHealth(t.server), "gemini-2.0-flash"),
    undefined,
  );

  // Claude Code's non-streaming fallback (the SDK itself refuses 32000 without a stream).
  const second = await fetch(`${t.server.url}/v1/messages`, {
    method: "POST",
    headers: { "x-api-key": ACCESS_KEY, "content-type": "application/json" },
    body: JSON.stringify(request),
  });
  assert.equal(second.status, 200);
  assert.equal((await second.json()).stop_reason, "end_turn");
  assert.deepEqual(sent(), [32000, 8192, 8192]);
});

Deno.test("gemini: the SDK's toolRunner, which continues a message thread by id, runs to the end", async () => {
  await using t = await setup();
  const ran: unknown[] = [];
  const final = await t.client.beta.messages.toolRunner({
    model: "claude-sonnet-test",
    max_tokens: 200,
    max_iterations: 4,
    messages: [{ role: "user", content: 'use tool get_weather with {"city":"Paris"}' }],
    tools: [betaTool({
      name: "get_weather",
      description: "Weather for a city",
      inputSchema: {
        type: "object",
        properties: { city: { type: "string" } },
        required: ["city"],
      } as const,
      run: (input) => {
        ran.push(input);
        return "sunny";
      },
    })],
  }).runUntilDone();
  assert.deepEqual(ran, [{ city: "Paris" }]);
  assert.equal(final.stop_reason, "end_turn");
  const contents = t.fake.requests.at(-1)!.body.contents;
  assert.ok(contents.some((c: any) => c.parts.some((p: any) => p.functionResponse)));
});

/** A client tool's call, its result next turn, and what Gemini saw of both. */
async function clientToolRoundTrip(
  t: Awaited<ReturnType<typeof setup>>,
  tools: Anthropic.ToolUnion[] | Anthropic.Beta.BetaToolUnion[],
  name: string,
  input: Record<string, unknown>,
  stream: boolean,
  api: Parameters<typeof toolRoundTrip>[0] = t.client.messages,
) {
  await toolRoundTrip(api, tools, name, input, stream);
  const sent = t.fake.requests.at(-1)!.body;
  assert.equal(sent.contents[1].parts.at(-1).functionCall.name, name);
  assert.equal(sent.contents[2].parts[0].functionResponse.name, name);
  return sent;
}

Deno.test("gemini: Anthropic's text editor and bash tools reach the model as functions, and their calls round trip, streamed and not", async () => {
  for (const thinkingModel of [false, true]) {
    await using t = await setup({ thinkingModel });
    const clientTools: Anthropic.ToolUnion[] = [
      { type: "text_editor_20250124", name: "str_replace_editor" },
      { type: "bash_20250124", name: "bash" },
      ...tools,
    ];
    for (const stream of [false, true]) {
      const sent = await clientToolRoundTrip(
        t,
        clientTools,
        "str_replace_editor",
        { command: "view", path: "/repo/a.py", view_range: [1, 20] },
        stream,
      );
      const editor = sent.tools[0].functionDeclarations.find((d: any) =>
        d.name === "str_replace_editor"
      );
      assert.deepEqual(
        editor.parameters.properties.command.enum,
        ["view", "create", "str_replace", "insert", "undo_edit"],
        "this version has undo_edit",
      );
      await clientToolRoundTrip(t, clientTools, "bash", { command: "ls -la" }, stream);
    }
  }
});

Deno.test("gemini: the model is told which of Anthropic's server tools it does not have (web fetch, code execution)", async () => {
  await using t = await setup();
  const answer = await t.client.messages.stream({
    model: "claude-sonnet-test",
    max_tokens: 1000,
    messages: [{
      role: "user",
      content: "Fetch https://example.com and count its words in Python",
    }],
    tools: [
      { type: "web_fetch_20250910", name: "web_fetch" },
      { type: "code_execution_20250825", name: "code_execution" },
    ],
  }).finalMessage();
  assert.deepEqual(answer.content.map((b) => b.type), ["text"]);
  const sent = t.fake.requests[0].body;
  assert.equal(sent.tools, undefined);
  const system = sent.systemInstruction.parts[0].text;
  assert.match(system, /not available[^\n]*: web_fetch, code_execution\b/);
  assert.match(system, /Do not claim/);
});

Deno.test("gemini: Anthropic's memory and computer use tools round trip through the beta API", async () => {
  await using t = await setup();
  const tools: Anthropic.Beta.BetaToolUnion[] = [
    { type: "memory_20250818", name: "memory" },
    {
      type: "computer_20251124",
      name: "computer",
      display_width_px: 1024,
      display_height_px: 768,
      enable_zoom: true,
    },
  ];
  const api = t.client.beta.messages;
  for (const stream of [false, true]) {
    await clientToolRoundTrip(
      t,
      tools,
      "memory",
      { command: "insert", path: "/memories/notes.md", insert_line: 2, insert_text: "- tea" },
      stream,
      api,
    );
    await clientToolRoundTrip(
      t,
      tools,
      "computer",
      { action: "zoom", region: [0, 0, 512, 384] },
      stream,
      api,
    );
  }
});

Deno.test("gemini: a tool_choice naming a server tool Gemini cannot run leaves the model free to answer", async () => {
  await using t = await setup();
  for (const stream of [false, true]) {
    const ask = {
      model: "claude-sonnet-test",
      max_tokens: 1000,
      messages: [{ role: "user" as const, content: "Fetch https://example.com" }],
      tools: [{ type: "web_fetch_20250910" as const, name: "web_fetch" as const }, ...tools],
      tool_choice: { type: "tool" as const, name: "web_fetch" },
    };
    const answer = stream
      ? await t.client.messages.stream(ask).finalMessage()
      : await t.client.messages.create(ask);
    assert.deepEqual(answer.content.map((b) => b.type), ["text"], "not a forced get_weather");
    const system = t.fake.requests.at(-1)!.body.systemInstruction.parts[0].text;
    assert.match(system, /not available[^\n]*: web_fetch\./);
  }
});

Deno.test("gemini: what an earlier turn's Google Search found reaches the model with the next question", async () => {
  await using t = await setup();
  for (const stream of [false, true]) {
    await searchThenFollowUp(t.client.messages, "claude-haiku-test", stream);
    const contents = t.fake.requests.at(-1)!.body.contents;
    assert.deepEqual(contents.map((c: any) => c.role), ["user", "model", "user"]);
    const said = contents[1].parts.map((p: any) => p.text).join("\n");
    assert.match(said, /Searched the web for "euro 2024"/);
    assert.match(said, /example1\.com — https:\/\/vertexaisearch\.cloud\.google\.com\/[^\n]*fake1/);
    assert.match(said, /example2\.com — https:\/\/vertexaisearch/);
    assert.match(said, /Two pages answer this\. They agree\./);
  }
});

Deno.test("gemini: an Anthropic upstream's server tools in the history (search, fetch, code, tool search) reach the model as text in their place, and the client's call keeps its response", async () => {
  await using t = await setup({ thinkingModel: true });
  const answer = await t.client.messages.create({
    model: "claude-sonnet-test",
    max_tokens: 200,
    tools,
    messages: [
      { role: "user", content: "When did Deno 2 come out? And the weather in Paris?" },
      { role: "assistant", content: SERVER_TOOL_TURN },
      {
        role: "user",
        content: [{ type: "tool_result", tool_use_id: CLIENT_CALL_ID, content: "18C" }],
      },
    ],
  });
  assert.match((answer.content[0] as Anthropic.TextBlock).text, /Tool result received/);
  const contents = t.fake.requests.at(-1)!.body.contents;
  assert.deepEqual(contents.map((c: any) => c.role), ["user", "model", "user"]);
  const parts = contents[1].parts;
  assert.ok(parts.slice(0, -1).every((p: any) => typeof p.text === "string" && p.text));
  assertSaysInOrder(parts.map((p: any) => p.text ?? "").join("\n"), SERVER_TOOL_TURN_SAYS);
  assert.equal(parts.at(-1).functionCall.name, "get_weather");
  assert.deepEqual(contents[2].parts, [
    { functionResponse: { name: "get_weather", response: { output: "18C" } } },
  ]);
});

Deno.test("gemini: deferred tools are declared once a tool_reference loads them, and the placeholder never", async () => {
  await using t = await setup();
  const ask = (messages: any[]) =>
    t.client.messages.create({
      model: "claude-sonnet-test",
      max_tokens: 100,
      tools: DEFERRED_TOOLS,
      messages,
    } as any);
  const declared = (i: number) =>
    t.fake.requests[i].body.tools[0].functionDeclarations.map((f: any) => f.name);
  // Twice each: the second time the proxy knows the tools text (Claude Code sends it every turn).
  for (const i of [0, 1]) {
    await ask([ASK]);
    assert.deepEqual(declared(i), ["Read", "ToolSearch"]);
  }
  for (const i of [2, 3]) {
    await ask(LOADED);
    assert.deepEqual(declared(i), ["Read", "ToolSearch", "WebSearch"]);
    const response = t.fake.requests[i].body.contents.at(-1).parts[0].functionResponse;
    assert.equal(response.name, "ToolSearch");
    assert.match(JSON.stringify(response.response), /Tool loaded: WebSearch/);
  }
  await ask([ASK]);
  assert.deepEqual(declared(4), ["Read", "ToolSearch"]);
});

Deno.test("gemini: a stop sequence past the five Gemini takes ends the answer where it appears", async () => {
  await using t = await setup();
  const stops = ["zz1", "zz2", "zz3", "zz4", "zz5", "m fake"];
  // The fake streams "Hello", " from ", "fake Gemini": the sixth spans two chunks.
  const params = {
    model: "claude-sonnet-test",
    max_tokens: 50,
    stop_sequences: stops,
    messages: [{ role: "user" as const, content: "hi" }],
  };
  const msg = await t.client.messages.create(params);
  assert.deepEqual(t.fake.requests.at(-1)!.body.generationConfig.stopSequences, stops.slice(0, 5));
  const streamed = await t.client.messages.stream(params).finalMessage();
  for (const m of [msg, streamed]) {
    assert.equal(m.stop_reason, "stop_sequence");
    assert.equal(m.stop_sequence, "m fake");
    assert.deepEqual(m.content.map((b) => (b as Anthropic.TextBlock).text), ["Hello fro"]);
  }
});

Deno.test("gemini: under round-robin a tool result goes back to the key that issued its signature, which only that key takes", async () => {
  const fake = await startFakeGemini({ requireKey: KEYS, thinkingModel: true });
  await using t = await proxyTo(fake, {
    name: "gem",
    baseUrl: fake.url,
    serviceType: "gemini",
    apiKeys: KEYS,
    models: { default: "gemini-3-pro-preview" },
  }, { loadBalance: "round-robin" });
  const ask = { role: "user" as const, content: 'use tool get_weather with {"city":"Paris"}' };
  const keyOf = (i: number) => fake.requests[i].headers.get("x-goog-api-key");
  let messages: Anthropic.MessageParam[] = [ask];
  for (let turn = 0; turn < 3; turn++) {
    const answer = await t.client.messages.create({
      model: "claude-sonnet-test",
      max_tokens: 200,
      tools,
      messages,
    });
    const call = answer.content.find((b) => b.type === "tool_use") as Anthropic.ToolUseBlock;
    if (turn > 0) {
      const replay = fake.requests.at(-1)!.body.contents;
      const callPart = replay.flatMap((c: any) => c.parts).find((p: any) => p.functionCall);
      assert.ok(callPart.thoughtSignature);
      assert.notEqual(callPart.thoughtSignature, "skip_thought_signature_validator");
      assert.equal(
        keyOf(fake.requests.length - 1),
        keyOf(fake.requests.length - 2),
        `turn ${turn}`,
      );
    }
    messages = [
      ask,
      { role: "assistant", content: answer.content },
      { role: "user", content: [{ type: "tool_result", tool_use_id: call.id, content: "18C" }] },
      { role: "assistant", content: "18C in Paris." },
      ask,
    ];
  }
  // A new conversation still takes its turn on the next key.
  await t.client.messages.create({ model: "claude-sonnet-test", max_tokens: 20, messages: [ask] });
  assert.equal(new Set(fake.requests.map((r) => r.headers.get("x-goog-api-key"))).size, 2);
});
