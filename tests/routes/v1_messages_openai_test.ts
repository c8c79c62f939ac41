// Claude's Messages API through the proxy to an OpenAI Chat Completions upstream, driven by the
// official SDK against a running server and a strict fake upstream.
// deno-lint-ignore-file no-explicit-any
import Anthropic from "@anthropic-ai/sdk";
import { betaTool } from "@anthropic-ai/sdk/helpers/beta/json-schema";
import assert from "node:assert/strict";
import {
  OPENAI_DONE,
  openaiChunk,
  openaiCompletion,
  openaiError,
  openaiUsage,
  openaiUsageChunk,
  startFakeOpenAI,
  validateChatRequest,
} from "../fakes/openai_upstream.ts";
import type { CompatRules } from "../fakes/openai_upstream.ts";
import { claudeCodeFixtures, HAVE_CLAUDE_CODE_FIXTURES } from "../helpers/fixtures.ts";
import { ASK, DEFERRED_TOOLS, LOADED } from "../helpers/deferred_tools.ts";
import { proxyTo } from "../helpers/proxy_to.ts";
import { build, context } from "../helpers/openai_calls.ts";
import type { MessagesRequest } from "../../lib/anthropic.ts";
import { searchThenFollowUp, toolRoundTrip } from "../helpers/tool_round_trip.ts";
import { ACCESS_KEY, startTestServer } from "../helpers/server.ts";
import {
  assertSaysInOrder,
  CLIENT_CALL_ID,
  SERVER_TOOL_TURN,
  SERVER_TOOL_TURN_SAYS,
} from "../helpers/server_tool_history.ts";
import { assertWellFormedStream, parseSse, streamTimed } from "../helpers/sse.ts";

const KEYS = ["sk-openai-test-key-aaaa", "sk-openai-test-key-bbbb"];

async function setup(env: Record<string, string> = {}) {
  const fake = await startFakeOpenAI();
  return await proxyTo(fake, {
    name: "oai",
    baseUrl: `${fake.url}/v1`,
    serviceType: "openai",
    apiKeys: KEYS,
    models: { sonnet: "gpt-4o", haiku: "gpt-4o-mini", default: "gpt-4.1" },
  }, { env, loadBalance: "round-robin" });
}

const weatherTool = {
  name: "get_weather",
  description: "Weather for a city",
  input_schema: {
    type: "object" as const,
    properties: { city: { type: "string" } },
    required: ["city"],
  },
};

Deno.test("openai: messages.create answers with text and real usage", async () => {
  await using t = await setup();
  const msg = await t.client.messages.create({
    model: "claude-sonnet-test",
    max_tokens: 200,
    system: "Be brief.",
    messages: [{ role: "user", content: "Hello" }],
  });
  assert.equal(msg.type, "message");
  assert.equal(msg.role, "assistant");
  assert.equal(msg.model, "claude-sonnet-test");
  assert.equal((msg.content[0] as Anthropic.TextBlock).text, "Hello from fake OpenAI");
  assert.equal(msg.stop_reason, "end_turn");
  assert.ok(msg.usage.input_tokens > 0 && msg.usage.output_tokens > 0);
  const seen = t.fake.requests[0];
  assert.equal(seen.headers.get("authorization"), `Bearer ${KEYS[0]}`);
  assert.equal(seen.body.model, "gpt-4o");
  assert.deepEqual(seen.body.messages[0], { role: "system", content: "Be brief." });
});

Deno.test("openai: messages.stream().finalMessage() assembles a streamed answer", async () => {
  await using t = await setup();
  const stream = t.client.messages.stream({
    model: "claude-haiku-test",
    max_tokens: 200,
    messages: [{ role: "user", content: "Hello" }],
  });
  let text = "";
  stream.on("text", (delta) => (text += delta));
  const final = await stream.finalMessage();
  assert.equal((final.content[0] as Anthropic.TextBlock).text, "Hello from fake OpenAI");
  assert.equal(text, "Hello from fake OpenAI");
  assert.equal(final.stop_reason, "end_turn");
  assert.ok(final.usage.output_tokens > 0);
  assert.equal(t.fake.requests[0].body.model, "gpt-4o-mini");
  assert.deepEqual(t.fake.requests[0].body.stream_options, { include_usage: true });
});

Deno.test("openai: a tool round trip reaches the model with the tool's result", async () => {
  await using t = await setup();
  const first = await t.client.messages.create({
    model: "claude-sonnet-test",
    max_tokens: 200,
    tools: [weatherTool],
    messages: [{ role: "user", content: 'use tool get_weather with {"city":"Paris"}' }],
  });
  assert.equal(first.stop_reason, "tool_use");
  const call = first.content.find((b) => b.type === "tool_use") as Anthropic.ToolUseBlock;
  assert.equal(call.name, "get_weather");
  assert.deepEqual(call.input, { city: "Paris" });
  assert.match(call.id, /^[a-zA-Z0-9_-]+$/);

  const second = await t.client.messages.stream({
    model: "claude-sonnet-test",
    max_tokens: 200,
    tools: [weatherTool],
    messages: [
      { role: "user", content: 'use tool get_weather with {"city":"Paris"}' },
      { role: "assistant", content: first.content },
      {
        role: "user",
        content: [{ type: "tool_result", tool_use_id: call.id, content: "18C and sunny" }],
      },
    ],
  }).finalMessage();
  assert.match((second.content[0] as Anthropic.TextBlock).text, /18C and sunny/);
  const sent = t.fake.requests[1].body.messages;
  assert.equal(sent[1].role, "assistant");
  assert.equal(sent[1].tool_calls[0].id, sent[2].tool_call_id);
  assert.equal(sent[2].role, "tool");
});

Deno.test("openai: parallel tool calls with fragmented arguments become separate blocks", async () => {
  await using t = await setup();
  const call = (index: number, id: string | undefined, name: string | undefined, args: string) =>
    openaiChunk({
      tool_calls: [{
        index,
        ...(id ? { id, type: "function" } : {}),
        function: { ...(name ? { name } : {}), arguments: args },
      }],
    });
  t.fake.enqueue({
    sse: [
      openaiChunk({ role: "assistant", content: null }),
      call(0, "call_A1", "get_weather", ""),
      call(0, undefined, undefined, '{"ci'),
      call(0, undefined, undefined, 'ty":"Oslo"}'),
      call(1, "call_B2", "get_weather", '{"city":'),
      call(1, undefined, undefined, '"Rome"}'),
      openaiChunk({}, "tool_calls"),
      openaiUsageChunk(openaiUsage(40, 12)),
      OPENAI_DONE,
    ],
  });
  const res = await fetch(`${t.server.url}/v1/messages`, {
    method: "POST",
    headers: { "x-api-key": ACCESS_KEY, "content-type": "application/json" },
    body: JSON.stringify({
      model: "claude-sonnet-test",
      max_tokens: 100,
      stream: true,
      tools: [weatherTool],
      messages: [{ role: "user", content: "weather in Oslo and Rome" }],
    }),
  });
  const { blocks, stopReason } = assertWellFormedStream(parseSse(await res.text()));
  assert.equal(stopReason, "tool_use");
  assert.deepEqual(blocks.map((b) => [b.type, b.id, b.input]), [
    ["tool_use", "call_A1", { city: "Oslo" }],
    ["tool_use", "call_B2", { city: "Rome" }],
  ]);
});

Deno.test("openai: two calls a server gives one id get distinct ids, streamed and not, and each result reaches its own call", async () => {
  const call = (city: string) => ({
    id: "call_same",
    type: "function",
    function: { name: "get_weather", arguments: JSON.stringify({ city }) },
  });
  for (const start of [setup, () => setupCompat()]) {
    await using t = await start();
    for (const stream of [false, true]) {
      t.fake.enqueue(
        stream
          ? {
            sse: [
              openaiChunk({ role: "assistant", content: null }),
              openaiChunk({ tool_calls: [{ index: 0, ...call("Oslo") }] }),
              openaiChunk({ tool_calls: [{ index: 1, ...call("Rome") }] }),
              openaiChunk({}, "tool_calls"),
              openaiUsageChunk(openaiUsage(40, 12)),
              OPENAI_DONE,
            ],
          }
          : {
            status: 200,
            json: openaiCompletion(
              { tool_calls: [call("Oslo"), call("Rome")] },
              "tool_calls",
              openaiUsage(40, 12),
            ),
          },
      );
      const ask = {
        model: "claude-sonnet-test",
        max_tokens: 100,
        tools: [weatherTool],
        messages: [{ role: "user" as const, content: "weather in Oslo and Rome" }],
      };
      const answer = stream
        ? await t.client.messages.stream(ask).finalMessage()
        : await t.client.messages.create(ask);
      const calls = answer.content.filter((b) => b.type === "tool_use");
      const kind = t.server.services.store.snapshot.doc.upstream[0].serviceType;
      const said = `${kind} stream=${stream}: ${JSON.stringify(calls)}`;
      assert.equal(calls.length, 2, said);
      // Anthropic refuses a history with one id twice ("tool_use ids must be unique").
      assert.notEqual(calls[0].id, calls[1].id, said);
      await t.client.messages.create({
        ...ask,
        messages: [
          ...ask.messages,
          { role: "assistant", content: answer.content },
          {
            role: "user",
            content: calls.map((c) => ({
              type: "tool_result" as const,
              tool_use_id: c.id,
              content: `sunny in ${(c.input as { city: string }).city}`,
            })),
          },
        ],
      });
      const sent = t.fake.requests.at(-1)!.body.messages;
      const assistant = sent.find((m: any) => m.tool_calls);
      for (const [i, city] of ["Oslo", "Rome"].entries()) {
        const id = assistant.tool_calls[i].id;
        const result = sent.filter((m: any) => m.role === "tool" && m.tool_call_id === id);
        assert.equal(result.length, 1, said);
        assert.equal(result[0].content, `sunny in ${city}`, said);
      }
    }
  }
});

Deno.test("openai: images reach the upstream as image_url parts", async () => {
  await using t = await setup();
  const png =
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";
  await t.client.messages.create({
    model: "claude-sonnet-test",
    max_tokens: 50,
    messages: [{
      role: "user",
      content: [
        { type: "image", source: { type: "base64", media_type: "image/png", data: png } },
        { type: "image", source: { type: "url", url: "https://example.com/cat.jpg" } },
        { type: "text", text: "What is this?" },
      ],
    }],
  });
  const parts = t.fake.requests[0].body.messages[0].content;
  assert.deepEqual(parts[0], {
    type: "image_url",
    image_url: { url: `data:image/png;base64,${png}` },
  });
  assert.deepEqual(parts[1], {
    type: "image_url",
    image_url: { url: "https://example.com/cat.jpg" },
  });
  assert.deepEqual(parts[2], { type: "text", text: "What is this?" });
});

Deno.test("openai: countTokens gives a local estimate that counts system, messages and tools", async () => {
  await using t = await setup();
  const base = {
    model: "claude-sonnet-test",
    messages: [{ role: "user" as const, content: "Hello there" }],
  };
  const plain = await t.client.messages.countTokens(base);
  const withSystem = await t.client.messages.countTokens({ ...base, system: "x".repeat(400) });
  const withTools = await t.client.messages.countTokens({ ...base, tools: [weatherTool] });
  assert.ok(plain.input_tokens > 0);
  assert.ok(withSystem.input_tokens >= plain.input_tokens + 90);
  assert.ok(withTools.input_tokens > plain.input_tokens + 10);
  assert.equal(t.fake.requests.length, 0);
});

Deno.test("openai: countTokens counts Anthropic's client tools (text editor, bash) by the schema the model is sent", async () => {
  await using t = await setup();
  const base = {
    model: "claude-sonnet-test",
    messages: [{ role: "user" as const, content: "Hello there" }],
  };
  const plain = await t.client.messages.countTokens(base);
  for (
    const tool of [
      { type: "text_editor_20250728" as const, name: "str_replace_based_edit_tool" as const },
      { type: "bash_20250124" as const, name: "bash" as const },
    ]
  ) {
    const counted = await t.client.messages.countTokens({ ...base, tools: [tool] });
    await t.client.messages.create({ ...base, max_tokens: 10, tools: [tool] });
    const sent = JSON.stringify(t.fake.requests.at(-1)!.body.tools).length / 4;
    const added = counted.input_tokens - plain.input_tokens;
    assert.ok(added >= sent * 0.9 && added <= sent * 1.1, `${tool.name}: ${added} for ${sent}`);
  }
});

Deno.test("openai: the client's user-agent goes upstream (some servers admit only the agents they know)", async () => {
  await using t = await setup();
  await t.client.messages.create({
    model: "claude-sonnet-test",
    max_tokens: 10,
    messages: [{ role: "user", content: "hi" }],
  }, { headers: { "user-agent": "claude-cli/2.1.197 (external, sdk-cli)" } });
  assert.equal(
    t.fake.requests[0].headers.get("user-agent"),
    "claude-cli/2.1.197 (external, sdk-cli)",
  );
});

Deno.test("openai: an upstream 400 comes back as a 400 invalid_request_error with its message", async () => {
  await using t = await setup();
  t.fake.enqueue({
    status: 400,
    json: {
      error: {
        message: "This model's maximum context length is 128000 tokens.",
        type: "invalid_request_error",
        param: "messages",
        code: "context_length_exceeded",
      },
    },
  });
  await assert.rejects(
    t.client.messages.create({
      model: "claude-sonnet-test",
      max_tokens: 10,
      messages: [{ role: "user", content: "x" }],
    }),
    (err: unknown) => {
      assert.ok(err instanceof Anthropic.BadRequestError);
      assert.match(err.message, /maximum context length/);
      return true;
    },
  );
  assert.equal(t.fake.requests.length, 1);
});

Deno.test("openai: an early error event in a stream fails over to the next key", async () => {
  await using t = await setup();
  t.fake.enqueue({
    sse: [
      `data: ${
        JSON.stringify({ error: { message: "overloaded", type: "server_error", code: 503 } })
      }\n\n`,
    ],
  });
  const final = await t.client.messages.stream({
    model: "claude-sonnet-test",
    max_tokens: 10,
    messages: [{ role: "user", content: "x" }],
  }).finalMessage();
  assert.equal((final.content[0] as Anthropic.TextBlock).text, "Hello from fake OpenAI");
  assert.deepEqual(
    t.fake.requests.map((r) => r.headers.get("authorization")),
    KEYS.map((k) => `Bearer ${k}`),
  );
});

Deno.test("openai: garbage instead of a completion is an upstream fault, retried on the next key", async () => {
  await using t = await setup();
  t.fake.enqueue({
    status: 200,
    text: "<html>\u0000 not json",
    headers: { "content-type": "text/html" },
  });
  const msg = await t.client.messages.create({
    model: "claude-sonnet-test",
    max_tokens: 10,
    messages: [{ role: "user", content: "x" }],
  });
  assert.equal((msg.content[0] as Anthropic.TextBlock).text, "Hello from fake OpenAI");
  assert.equal(t.fake.requests.length, 2);
});

Deno.test("openai: a page instead of a completion on every key says so plainly, streamed or not, not in JSON.parse's words", async () => {
  await using t = await setup();
  const page = { status: 200, text: "<html><h1>Welcome to nginx!</h1></html>" };
  for (const stream of [false, true]) {
    // A JSON content-type on a stream request is how a server that ignores stream:true answers.
    const headers = { "content-type": stream ? "application/json" : "text/html" };
    t.fake.enqueue(...KEYS.map(() => ({ ...page, headers })));
    const ask = {
      model: "claude-sonnet-test",
      max_tokens: 10,
      messages: [{ role: "user" as const, content: "x" }],
    };
    await assert.rejects(
      stream ? t.client.messages.stream(ask).finalMessage() : t.client.messages.create(ask),
      (err: unknown) => {
        assert.ok(err instanceof Anthropic.APIError, String(err));
        assert.match(err.message, /not JSON: <html><h1>Welcome to nginx!/);
        assert.doesNotMatch(err.message, /Unexpected token|is not valid JSON/);
        return true;
      },
    );
  }
});

Deno.test("openai: a web page sent as the answer to a stream request says so, not that the stream ended", async () => {
  await using t = await setup();
  const page = {
    status: 200,
    text: "<html><h1>Welcome to nginx!</h1></html>",
    headers: { "content-type": "text/html; charset=utf-8" },
  };
  t.fake.enqueue(...KEYS.map(() => page));
  await assert.rejects(
    t.client.messages.stream({
      model: "claude-sonnet-test",
      max_tokens: 10,
      messages: [{ role: "user", content: "x" }],
    }).finalMessage(),
    (err: unknown) => {
      assert.ok(err instanceof Anthropic.APIError, String(err));
      assert.match(err.message, /a web page: <html><h1>Welcome to nginx!/);
      return true;
    },
  );
  // Every key was asked: another may be behind a working gateway.
  assert.equal(t.fake.requests.length, KEYS.length);
  // An event stream a server merely labels a page is still the stream.
  t.fake.enqueue({
    sse: [
      openaiChunk({ role: "assistant", content: "Labelled a page." }),
      openaiChunk({}, "stop"),
      OPENAI_DONE,
    ],
    headers: { "content-type": "text/html" },
  });
  const labelled = await t.client.messages.stream({
    model: "claude-sonnet-test",
    max_tokens: 10,
    messages: [{ role: "user", content: "x" }],
  }).finalMessage();
  assert.deepEqual(labelled.content, [{ type: "text", text: "Labelled a page." }]);
});

Deno.test("openai: a stream cut mid-answer ends with an error event the SDK raises", async () => {
  await using t = await setup();
  t.fake.enqueue({
    resetAfterChunks: 3,
    sse: [
      openaiChunk({ role: "assistant", content: "" }),
      openaiChunk({ content: "Once upon" }),
      openaiChunk({ content: " a time" }),
      openaiChunk({ content: " there" }),
      openaiChunk({}, "stop"),
      OPENAI_DONE,
    ],
  });
  await assert.rejects(
    t.client.messages.stream({
      model: "claude-sonnet-test",
      max_tokens: 10,
      messages: [{ role: "user", content: "x" }],
    }).finalMessage(),
    (err: unknown) => err instanceof Anthropic.APIError,
  );
});

Deno.test("openai: an unreadable stream event is an upstream fault, never an empty answer", async () => {
  await using t = await setup();
  const ask = {
    model: "claude-sonnet-test",
    max_tokens: 10,
    messages: [{ role: "user" as const, content: "x" }],
  };
  // Before any content: the next key answers.
  t.fake.enqueue({ sse: ["data: {not json\n\n", OPENAI_DONE] });
  const msg = await t.client.messages.stream(ask).finalMessage();
  assert.equal((msg.content[0] as Anthropic.TextBlock).text, "Hello from fake OpenAI");
  assert.equal(t.fake.requests.length, 2);
  // After some: the stream ends with an error, not with part of the answer as if whole.
  t.fake.enqueue({
    sse: [
      openaiChunk({ role: "assistant", content: "Once" }),
      'data: {"choices":[{"delta":{"content":" upon\n\n',
      openaiChunk({}, "stop"),
      OPENAI_DONE,
    ],
  });
  await assert.rejects(t.client.messages.stream(ask).finalMessage(), (err: unknown) => {
    assert.ok(err instanceof Anthropic.APIError, String(err));
    assert.match(err.message, /unreadable stream event/);
    return true;
  });
});

Deno.test("openai: a stream that ends before its first event is answered by the next key", async () => {
  // A 200 whose stream closes at once (a load balancer dropping the upstream), or holds no event.
  for (const sse of [[], ["<html>upstream hiccup</html>\n\n"]]) {
    await using t = await setup();
    t.fake.enqueue({ sse });
    const msg = await t.client.messages.stream({
      model: "claude-sonnet-test",
      max_tokens: 10,
      messages: [{ role: "user", content: "x" }],
    }).finalMessage();
    assert.equal((msg.content[0] as Anthropic.TextBlock).text, "Hello from fake OpenAI");
    const keys = t.fake.requests.map((r) => r.headers.get("authorization"));
    assert.deepEqual(keys, [`Bearer ${KEYS[0]}`, `Bearer ${KEYS[1]}`]);
  }
});

Deno.test("openai: 50 concurrent streaming requests all complete, each correct", async () => {
  await using t = await setup();
  const results = await Promise.all(
    Array.from({ length: 50 }, (_, i) =>
      t.client.messages.stream({
        model: "claude-sonnet-test",
        max_tokens: 50,
        messages: [{ role: "user", content: `request ${i}` }],
      }).finalMessage()),
  );
  for (const r of results) {
    assert.equal((r.content[0] as Anthropic.TextBlock).text, "Hello from fake OpenAI");
    assert.equal(r.stop_reason, "end_turn");
  }
  assert.equal(t.fake.requests.length, 50);
  // Round-robin spread the load over both keys.
  const first = t.fake.requests.filter((r) =>
    r.headers.get("authorization") === `Bearer ${KEYS[0]}`
  );
  assert.equal(first.length, 25);
});

Deno.test({
  name: "openai: every Claude Code request replays to a 200 and a well-formed answer",
  ignore: !HAVE_CLAUDE_CODE_FIXTURES,
  async fn() {
    await using t = await setup();
    for (const { name, body } of claudeCodeFixtures()) {
      if (name.startsWith("count-tokens")) continue;
      for (const stream of [true, false]) {
        const res = await fetch(`${t.server.url}/v1/messages?beta=true`, {
          method: "POST",
          headers: {
            "x-api-key": ACCESS_KEY,
            "content-type": "application/json",
            "anthropic-version": "2023-06-01",
            "anthropic-beta": "claude-code-20250219,interleaved-thinking-2025-05-14",
          },
          body: JSON.stringify({ ...body, stream }),
        });
        assert.equal(res.status, 200, `${name} stream=${stream}: ${await res.clone().text()}`);
        if (stream) {
          assertWellFormedStream(parseSse(await res.text()));
        } else {
          const msg = await res.json();
          assert.equal(msg.type, "message");
          assert.ok(msg.content.length > 0);
        }
      }
    }
    // The fake rejects anything the real API would (unknown fields, cache_control, pairing…).
    assert.ok(t.fake.requests.length >= 6);
    // Repeated tools are converted once and spliced in: what goes upstream is still the same.
    const tools = t.fake.requests.map((r) => JSON.stringify(r.body.tools));
    assert.equal(tools[tools.length - 1], tools[0]);
    assert.ok(JSON.parse(tools[0]).length >= 20);
  },
});

Deno.test("openai: a custom upstream without keys (a local server) is called without auth", async () => {
  const fake = await startFakeOpenAI();
  const server = await startTestServer({
    config: {
      upstream: [{ name: "local", baseUrl: fake.url, serviceType: "custom", apiKeys: [] }],
    },
  });
  try {
    const client = new Anthropic({ apiKey: ACCESS_KEY, baseURL: server.url, maxRetries: 0 });
    const msg = await client.messages.create({
      model: "llama3",
      max_tokens: 20,
      messages: [{ role: "user", content: "hi" }],
    });
    assert.equal((msg.content[0] as Anthropic.TextBlock).text, "Hello from fake OpenAI");
    assert.equal(fake.requests[0].headers.get("authorization"), null);
    assert.equal(fake.requests[0].body.model, "llama3");
    // A server that does want a key is said to lack one, not to have rejected keys there are not.
    fake.enqueue({
      status: 401,
      json: openaiError("You didn't provide an API key.", "invalid_request_error"),
    });
    await assert.rejects(
      client.messages.create({
        model: "llama3",
        max_tokens: 20,
        messages: [{ role: "user", content: "hi" }],
      }),
      (err: unknown) => {
        assert.ok(err instanceof Anthropic.APIError && err.status === 502, String(err));
        assert.match(err.message, /Upstream \\"local\\" has no API key.*add its key/);
        return true;
      },
    );
  } finally {
    await server.close();
    await fake.close();
  }
});

Deno.test("openai: a slow first token does not keep the client silent past the ping interval", async () => {
  await using t = await setup({ STREAM_PING_INTERVAL: "150" });
  t.fake.enqueue({
    sse: [
      openaiChunk({ role: "assistant", content: "" }),
      openaiChunk({ content: "thought long" }) + openaiChunk({}, "stop") +
      openaiUsageChunk(openaiUsage(10, 2)) + OPENAI_DONE,
    ],
    delayMs: 1_500,
  });
  const { first, firstMs, text } = await streamTimed(t.server.url, ACCESS_KEY);
  // Headers and keepalives come once the ping interval passes, long before the first token.
  assert.ok(firstMs < 1_200, `first bytes after ${firstMs} ms`);
  assert.match(first, /^: waiting for the upstream/);
  const { blocks, stopReason } = assertWellFormedStream(parseSse(text));
  assert.equal(blocks[0].text, "thought long");
  assert.equal(stopReason, "end_turn");
});

Deno.test("openai: a server that ignores stream:true and answers JSON still gives the client a stream", async () => {
  await using t = await setup();
  t.fake.enqueue({
    status: 200,
    json: openaiCompletion(
      {
        content: "Whole answer",
        tool_calls: [{
          id: "call_W1",
          type: "function",
          function: { name: "get_weather", arguments: '{"city":"Lima"}' },
        }],
      },
      "tool_calls",
      openaiUsage(12, 7),
    ),
  });
  const final = await t.client.messages.stream({
    model: "claude-sonnet-test",
    max_tokens: 50,
    tools: [weatherTool],
    messages: [{ role: "user", content: "weather in Lima" }],
  }).finalMessage();
  assert.equal((final.content[0] as Anthropic.TextBlock).text, "Whole answer");
  assert.deepEqual((final.content[1] as Anthropic.ToolUseBlock).input, { city: "Lima" });
  assert.equal(final.stop_reason, "tool_use");
  assert.equal(final.usage.output_tokens, 7);
});

Deno.test("openai: an upstream that refuses Claude Code's max_tokens is retried within its limit", async () => {
  await using t = await setup();
  t.fake.enqueue({
    status: 400,
    json: {
      error: {
        message: "Invalid max_tokens value, the valid range of max_tokens is [1, 8192]",
        type: "invalid_request_error",
        param: null,
        code: "invalid_request_error",
      },
    },
  });
  const ask = () =>
    t.client.messages.stream({
      model: "claude-sonnet-test",
      max_tokens: 64000,
      messages: [{ role: "user", content: "hi" }],
    }).finalMessage();
  const first = await ask();
  assert.equal(first.type, "message");
  const sent = t.fake.requests.map((r) => r.body.max_completion_tokens);
  assert.deepEqual(sent, [64000, 8192]);
  // Learned: the next request goes out within the limit at once.
  await ask();
  assert.equal(t.fake.requests[2].body.max_completion_tokens, 8192);
  assert.equal(t.fake.requests.length, 3);
});

Deno.test("openai: models.list shows the model map's names, and the upstream's own models a request could reach", async () => {
  await using t = await setup();
  const models = await t.client.models.list();
  const ids = models.data.map((m) => m.id);
  // The map's default would send gpt-fake and gpt-fake-mini to gpt-4.1: they are not offered.
  assert.deepEqual(ids, ["gpt-4o", "gpt-4o-mini", "gpt-4.1"]);
  assert.ok(
    models.data.every((m) => m.type === "model" && !Number.isNaN(Date.parse(m.created_at))),
  );
  const listed = t.fake.requests.find((r) => r.path === "/v1/models")!;
  assert.equal(listed.headers.get("authorization"), `Bearer ${KEYS[0]}`);
});

Deno.test("openai: web search runs on the search model the map names", async () => {
  const fake = await startFakeOpenAI();
  await using t = await proxyTo(fake, {
    name: "oai",
    baseUrl: `${fake.url}/v1`,
    serviceType: "openai",
    apiKeys: KEYS,
    models: { web_search: "gpt-4o-mini-search-preview", default: "gpt-4o" },
  });
  const ask = {
    model: "claude-sonnet-test",
    max_tokens: 1000,
    temperature: 0.5,
    messages: [{ role: "user" as const, content: "Perform a web search for the query: euro 2024" }],
    tools: [{
      type: "web_search_20250305" as const,
      name: "web_search" as const,
      user_location: { type: "approximate" as const, city: "Paris", country: "FR" },
    }],
  };
  const streamed = await t.client.messages.stream(ask).finalMessage();
  const plain = await t.client.messages.create(ask);
  for (const msg of [streamed, plain]) {
    const call = msg.content.find((b) =>
      b.type === "server_tool_use"
    ) as Anthropic.ServerToolUseBlock;
    assert.ok(call, msg.content.map((b) => b.type).join());
    const result = msg.content.find((b) =>
      b.type === "web_search_tool_result"
    ) as Anthropic.WebSearchToolResultBlock;
    assert.equal(result.tool_use_id, call.id);
    assert.deepEqual(
      (result.content as Anthropic.WebSearchResultBlock[]).map((r) => r.url),
      [
        "https://example1.com/answer?utm_source=openai",
        "https://example2.com/answer?utm_source=openai",
      ],
    );
    const text = msg.content.filter((b) => b.type === "text").map((b) => b.text).join("");
    assert.equal(text, "Two pages answer this.");
    assert.equal(msg.usage.server_tool_use?.web_search_requests, 1);
  }
  for (const seen of fake.requests) {
    assert.equal(seen.body.model, "gpt-4o-mini-search-preview");
    assert.deepEqual(seen.body.web_search_options, {
      user_location: { type: "approximate", approximate: { city: "Paris", country: "FR" } },
    });
    assert.equal(seen.body.temperature, undefined, "search models refuse sampling settings");
  }
  const { tools: _tools, ...withoutTools } = ask;
  await t.client.messages.create(withoutTools);
  assert.equal(fake.requests.at(-1)!.body.model, "gpt-4o", "other requests keep the default");
});

Deno.test("openai: without a search model the model is told web search is unavailable", async () => {
  await using t = await setup();
  const answer = await t.client.messages.create({
    model: "claude-sonnet-test",
    max_tokens: 1000,
    messages: [{ role: "user", content: "Perform a web search for the query: euro 2024" }],
    tools: [{ type: "web_search_20250305", name: "web_search" }],
  });
  assert.deepEqual(answer.content.map((b) => b.type), ["text"]);
  const sent = t.fake.requests[0].body;
  assert.equal(sent.web_search_options, undefined);
  assert.equal(sent.messages[0].role, "system");
  assert.match(sent.messages[0].content, /web search tool is not available/);
});

Deno.test("openai: streamed answers leave their upstream connection to the next request", async () => {
  await using t = await setup();
  for (let i = 0; i < 3; i++) {
    const message = await t.client.messages.stream({
      model: "claude-sonnet-test",
      max_tokens: 100,
      messages: [{ role: "user", content: `Hello ${i}` }],
    }).finalMessage();
    assert.equal(message.stop_reason, "end_turn");
  }
  const ports = new Set(t.fake.requests.map((r) => r.clientPort));
  assert.equal(ports.size, 1, "one kept-alive connection, not a new one (and TLS handshake) each");
});

/** A compatible server (vLLM, llama.cpp, Ollama, Groq) that holds to its chat template. */
async function setupCompat(rules: CompatRules = { strictTemplate: true }, model = "qwen3-coder") {
  const fake = await startFakeOpenAI(rules);
  return await proxyTo(fake, {
    name: "compat",
    baseUrl: `${fake.url}/v1`,
    serviceType: "custom",
    apiKeys: KEYS,
    models: { default: model },
  });
}

Deno.test("openai: an optional parameter the server refuses by name (Groq's reasoning_effort) is left out, for this request and the next", async () => {
  await using t = await setupCompat({}, "llama-3.3-70b-versatile");
  t.fake.enqueue({
    status: 400,
    json: openaiError(
      "`reasoning_effort` is not supported with this model",
      "invalid_request_error",
    ),
  });
  const ask = {
    model: "claude-sonnet-test",
    max_tokens: 20000,
    thinking: { type: "enabled" as const, budget_tokens: 19999 },
    messages: [{ role: "user" as const, content: "hi" }],
  };
  const first = await t.client.messages.create(ask);
  assert.equal(first.type, "message");
  const [refused, retried] = t.fake.requests;
  assert.equal(refused.body.reasoning_effort, "high");
  assert.equal(retried.body.reasoning_effort, undefined);
  assert.equal(retried.body.max_tokens, 20000);
  await t.client.messages.create(ask);
  assert.equal(t.fake.requests.length, 3);
  assert.equal(t.fake.requests[2].body.reasoning_effort, undefined);
});

Deno.test("openai: xAI's refusals of reasoningEffort and stop (its camelCase, its own error shape) leave each out, and the proxy applies the stop", async () => {
  await using t = await setupCompat({}, "grok-4-0709");
  // xAI's error body is no OpenAI error object: a code sentence and the message as `error`.
  const xaiRefusal = (parameter: string) => ({
    status: 400,
    json: {
      code: "Client specified an invalid argument",
      error: `Model grok-4-0709 does not support parameter ${parameter}.`,
    },
  });
  t.fake.enqueue(xaiRefusal("reasoningEffort"), xaiRefusal("stop"), {
    status: 200,
    json: openaiCompletion(
      { content: "The answer is 4. END and more" },
      "stop",
      openaiUsage(12, 9),
      "grok-4-0709",
    ),
  });
  const ask = {
    model: "claude-sonnet-test",
    max_tokens: 20000,
    thinking: { type: "enabled" as const, budget_tokens: 10000 },
    stop_sequences: ["END"],
    messages: [{ role: "user" as const, content: "2+2?" }],
  };
  const answer = await t.client.messages.create(ask);
  assert.deepEqual(answer.content, [{ type: "text", text: "The answer is 4. " }]);
  assert.equal(answer.stop_reason, "stop_sequence");
  assert.equal(answer.stop_sequence, "END");
  const sent = t.fake.requests.map((r) => [r.body.reasoning_effort, r.body.stop]);
  assert.deepEqual(sent, [["medium", ["END"]], [undefined, ["END"]], [undefined, undefined]]);
});

Deno.test("openai: an OpenAI reasoning model behind a custom upstream that refuses max_tokens and temperature gets max_completion_tokens and no temperature", async () => {
  await using t = await setupCompat({}, "o4-mini");
  t.fake.enqueue({
    status: 400,
    json: openaiError(
      "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.",
      "invalid_request_error",
      "unsupported_parameter",
      "max_tokens",
    ),
  });
  t.fake.enqueue({
    status: 400,
    json: openaiError(
      "Unsupported parameter: 'temperature' is not supported with this model.",
      "invalid_request_error",
      "unsupported_parameter",
      "temperature",
    ),
  });
  const ask = {
    model: "claude-sonnet-test",
    max_tokens: 1000,
    temperature: 0.5,
    messages: [{ role: "user" as const, content: "hi" }],
  };
  assert.equal((await t.client.messages.create(ask)).type, "message");
  const sent = t.fake.requests.map((r) => [r.body.max_tokens, r.body.max_completion_tokens]);
  assert.deepEqual(sent, [[1000, undefined], [undefined, 1000], [undefined, 1000]]);
  assert.equal(t.fake.requests[2].body.temperature, undefined);
  await t.client.messages.create(ask);
  const next = t.fake.requests[3].body;
  assert.deepEqual([next.max_tokens, next.max_completion_tokens, next.temperature], [
    undefined,
    1000,
    undefined,
  ]);
});

Deno.test("openai: Mistral's reasoning models' content as a list of parts (thinking, then text) becomes a thinking block and the text, streamed or not", async () => {
  await using t = await setupCompat({}, "magistral-medium-latest");
  const thinking = { type: "thinking", thinking: [{ type: "text", text: "mistral thinks" }] };
  t.fake.enqueue({
    sse: [
      openaiChunk({ role: "assistant", content: [thinking] }),
      openaiChunk({ content: [{ type: "text", text: "Hello" }] }),
      openaiChunk({ content: " world" }),
      openaiChunk({}, "stop"),
      OPENAI_DONE,
    ],
  });
  const ask = {
    model: "claude-sonnet-test",
    max_tokens: 4096,
    thinking: { type: "enabled" as const, budget_tokens: 1024 },
    messages: [{ role: "user" as const, content: "hi" }],
  };
  const streamed = await t.client.messages.stream(ask).finalMessage();
  const shown = (m: Anthropic.Message) =>
    m.content.map((b) =>
      b.type === "thinking" ? ["thinking", b.thinking] : b.type === "text" ? ["text", b.text] : []
    );
  assert.deepEqual(shown(streamed), [["thinking", "mistral thinks"], ["text", "Hello world"]]);
  t.fake.enqueue({
    status: 200,
    json: openaiCompletion(
      { content: [thinking, { type: "text", text: "Hello world" }] },
      "stop",
      openaiUsage(5, 5),
    ),
  });
  const whole = await t.client.messages.create(ask);
  assert.deepEqual(shown(whole), [["thinking", "mistral thinks"], ["text", "Hello world"]]);
});

Deno.test("openai: a Mistral model (vLLM, Mistral's API) takes Claude Code's tool loop: 9-character ids, no user turn after a result", async () => {
  await using t = await setupCompat({ strictTemplate: true, mistral: true }, "devstral-small-2507");
  const tools = [weatherTool];
  const first = await t.client.messages.create({
    model: "claude-sonnet-test",
    max_tokens: 100,
    tools,
    messages: [{ role: "user", content: 'use tool get_weather with {"city":"Oslo"}' }],
  });
  const call = first.content.find((b) => b.type === "tool_use") as Anthropic.ToolUseBlock;
  assert.ok(call, JSON.stringify(first.content));
  // Claude Code's own ids (and ids from another upstream) next to the one this server made.
  const history: Anthropic.MessageParam[] = [
    { role: "user", content: "weather in Rome, then Oslo" },
    {
      role: "assistant",
      content: [{
        type: "tool_use",
        id: "toolu_01XyZabcdefghijklmnop",
        name: "get_weather",
        input: { city: "Rome" },
      }],
    },
    {
      role: "user",
      content: [
        { type: "tool_result", tool_use_id: "toolu_01XyZabcdefghijklmnop", content: "SUNNY" },
        { type: "text", text: "<system-reminder>\nToday is Monday.\n</system-reminder>" },
      ],
    },
    { role: "assistant", content: first.content },
    {
      role: "user",
      content: [{ type: "tool_result", tool_use_id: call.id, content: "RAINY" }, {
        type: "text",
        text: "and now?",
      }],
    },
  ];
  for (const stream of [false, true]) {
    const msg = stream
      ? await t.client.messages.stream({
        model: "claude-sonnet-test",
        max_tokens: 100,
        tools,
        messages: history,
      })
        .finalMessage()
      : await t.client.messages.create({
        model: "claude-sonnet-test",
        max_tokens: 100,
        tools,
        messages: history,
      });
    assert.equal(msg.stop_reason, "end_turn");
  }
  const sent = t.fake.requests.at(-1)!.body.messages;
  assert.deepEqual(sent.map((m: any) => m.role), [
    "user",
    "assistant",
    "tool",
    "assistant",
    "tool",
  ]);
  // Every call keeps its result, and the text after a result still reaches the model.
  assert.equal(sent[1].tool_calls[0].id, sent[2].tool_call_id);
  assert.equal(sent[3].tool_calls[0].id, sent[4].tool_call_id);
  assert.notEqual(sent[2].tool_call_id, sent[4].tool_call_id);
  assert.match(sent[2].content, /^SUNNY\n[^]*Today is Monday/);
  assert.match(sent[4].content, /^RAINY\n[^]*and now\?/);
});

Deno.test("openai: Groq's tool_use_failed (the model wrote a call its parser could not read) is an error the client retries, not its own fault", async () => {
  await using t = await setupCompat({}, "llama-3.3-70b-versatile");
  const failed = {
    status: 400,
    json: {
      error: {
        message:
          "Failed to call a function. Please adjust your prompt. See 'failed_generation' for more details.",
        type: "invalid_request_error",
        code: "tool_use_failed",
        failed_generation: '<function=get_weather{"city": "Oslo"}</function>',
      },
    },
  };
  t.fake.enqueue(failed);
  // As Claude Code does: the SDK retries what the API says may pass.
  const client = new Anthropic({ apiKey: ACCESS_KEY, baseURL: t.server.url, maxRetries: 1 });
  const msg = await client.messages.create({
    model: "claude-sonnet-test",
    max_tokens: 100,
    tools: [weatherTool],
    messages: [{ role: "user", content: "weather in Oslo?" }],
  });
  assert.equal(msg.stop_reason, "end_turn");
  assert.equal(t.fake.requests.length, 2);
  // Not held against the key: the same key answers the retry.
  const keys = t.fake.requests.map((r) => r.headers.get("authorization"));
  assert.equal(keys[0], keys[1]);
  t.fake.enqueue(failed);
  await assert.rejects(
    t.client.messages.create({
      model: "claude-sonnet-test",
      max_tokens: 100,
      tools: [weatherTool],
      messages: [{ role: "user", content: "weather in Oslo?" }],
    }),
    (err: unknown) => {
      assert.ok(err instanceof Anthropic.APIError && err.status! >= 500, String(err));
      assert.match(err.message, /Failed to call a function/);
      return true;
    },
  );
});

Deno.test("openai: Kimi (thinking on by default) gets reasoning_content on every tool-call turn, so tool loops go on", async () => {
  await using t = await setupCompat({ toolCallReasoning: true }, "kimi-k2.6");
  const calls = (id: string): Anthropic.MessageParam[] => [
    { role: "assistant", content: [{ type: "tool_use", id, name: "get_weather", input: {} }] },
    { role: "user", content: [{ type: "tool_result", tool_use_id: id, content: "ok" }] },
  ];
  const msg = await t.client.messages.create({
    model: "claude-sonnet-test",
    max_tokens: 100,
    tools: [weatherTool],
    messages: [
      { role: "user", content: "go" },
      {
        role: "assistant",
        content: [
          {
            type: "thinking",
            thinking: "Check the weather.",
            signature: "gateway-openai-reasoning",
          },
          { type: "tool_use", id: "call_a", name: "get_weather", input: {} },
        ],
      },
      { role: "user", content: [{ type: "tool_result", tool_use_id: "call_a", content: "ok" }] },
      // A turn whose thinking the client did not keep (or another model made).
      ...calls("call_b"),
    ],
  });
  assert.equal(msg.stop_reason, "end_turn");
  const sent = t.fake.requests[0].body.messages;
  assert.equal(sent[1].reasoning_content, "Check the weather.");
  assert.equal(sent[3].reasoning_content, "");
});

Deno.test("openai: OpenRouter's reasoning_details (Gemini 3's thought signatures) go back on their tool-call turn, streamed and not", async () => {
  await using t = await setupCompat({ reasoningDetails: true }, "google/gemini-3-pro-preview");
  const text = { type: "reasoning.text", format: "google-gemini-v1", index: 0 };
  const encrypted = {
    type: "reasoning.encrypted",
    data: "CiQB0e2Kb-signature",
    id: "tool_get_weather_1",
    format: "google-gemini-v1",
    index: 1,
  };
  const call = {
    index: 0,
    id: "tool_get_weather_1",
    type: "function",
    function: { name: "get_weather", arguments: '{"city":"Oslo"}' },
  };
  for (const stream of [false, true]) {
    t.fake.requests.length = 0;
    t.fake.enqueue(
      stream
        ? {
          sse: [
            openaiChunk({
              role: "assistant",
              reasoning: "Check ",
              reasoning_details: [{ ...text, text: "Check " }],
            }),
            openaiChunk({ reasoning: "Oslo.", reasoning_details: [{ ...text, text: "Oslo." }] }),
            openaiChunk({ tool_calls: [call], reasoning_details: [encrypted] }),
            openaiChunk({}, "tool_calls"),
            openaiUsageChunk(openaiUsage(10, 5)),
            OPENAI_DONE,
          ],
        }
        : {
          status: 200,
          json: openaiCompletion(
            {
              reasoning: "Check Oslo.",
              reasoning_details: [{ ...text, text: "Check Oslo." }, encrypted],
              tool_calls: [{ id: call.id, type: "function", function: call.function }],
            },
            "tool_calls",
            openaiUsage(10, 5),
          ),
        },
    );
    const ask = {
      model: "claude-sonnet-test",
      max_tokens: 4096,
      thinking: { type: "enabled" as const, budget_tokens: 2048 },
      tools: [weatherTool],
      messages: [{ role: "user" as const, content: "weather in Oslo?" }],
    };
    const first = stream
      ? await t.client.messages.stream(ask).finalMessage()
      : await t.client.messages.create(ask);
    assert.equal(first.stop_reason, "tool_use");
    const thinking = first.content.find((b) => b.type === "thinking")!;
    assert.equal(thinking.type === "thinking" && thinking.thinking, "Check Oslo.");
    const use = first.content.find((b) => b.type === "tool_use")!;
    const again = await t.client.messages.create({
      ...ask,
      messages: [
        ...ask.messages,
        { role: "assistant", content: first.content },
        {
          role: "user",
          content: [{ type: "tool_result", tool_use_id: use.id, content: "sunny" }],
        },
      ],
    });
    assert.equal(again.stop_reason, "end_turn", `stream: ${stream}`);
    const turn = t.fake.requests[1].body.messages[1];
    assert.deepEqual(turn.reasoning_details, [{ ...text, text: "Check Oslo." }, encrypted]);
  }
});

Deno.test("openai: with thinking display omitted, DeepSeek still gets each tool-call turn's reasoning back, streamed and not", async () => {
  await using t = await setupCompat({ toolCallReasoning: true }, "deepseek-v4-pro");
  const call = {
    index: 0,
    id: "call_00_weather",
    type: "function",
    function: { name: "get_weather", arguments: '{"city":"Oslo"}' },
  };
  for (const stream of [false, true]) {
    t.fake.requests.length = 0;
    t.fake.enqueue(
      stream
        ? {
          sse: [
            openaiChunk({ role: "assistant", reasoning_content: "Reasoning step " }),
            openaiChunk({ reasoning_content: "0, in Oslo." }),
            openaiChunk({ tool_calls: [call] }),
            openaiChunk({}, "tool_calls"),
            openaiUsageChunk(openaiUsage(10, 5)),
            OPENAI_DONE,
          ],
        }
        : {
          status: 200,
          json: openaiCompletion(
            {
              reasoning_content: "Reasoning step 0, in Oslo.",
              tool_calls: [{ id: call.id, type: "function", function: call.function }],
            },
            "tool_calls",
            openaiUsage(10, 5),
          ),
        },
    );
    // Claude Code's own setting.
    const ask = {
      model: "claude-sonnet-test",
      max_tokens: 4096,
      thinking: { type: "adaptive", display: "omitted" },
      tools: [weatherTool],
      messages: [{ role: "user" as const, content: "weather in Oslo?" }],
    } as unknown as Anthropic.MessageCreateParamsNonStreaming;
    const first = stream
      ? await t.client.messages.stream(ask).finalMessage()
      : await t.client.messages.create(ask);
    const thinking = first.content.find((b) => b.type === "thinking")!;
    // As Anthropic's: no text shown, only a signature.
    assert.equal(thinking.type === "thinking" && thinking.thinking, "");
    const use = first.content.find((b) => b.type === "tool_use")!;
    await t.client.messages.create({
      ...ask,
      messages: [
        ...ask.messages,
        { role: "assistant", content: first.content },
        {
          role: "user",
          content: [{ type: "tool_result", tool_use_id: use.id, content: "sunny" }],
        },
      ],
    });
    const turn = t.fake.requests[1].body.messages[1];
    assert.equal(turn.reasoning_content, "Reasoning step 0, in Oslo.", `stream: ${stream}`);
  }
});

Deno.test({
  name:
    "openai: a server without json_schema (DeepSeek's) refuses it once, then answers Claude Code's title request in JSON mode",
  ignore: !HAVE_CLAUDE_CODE_FIXTURES,
  async fn() {
    await using t = await setupCompat(
      { strictTemplate: true, jsonObjectOnly: true },
      "deepseek-chat",
    );
    const { body } = claudeCodeFixtures().find((f) => f.name.includes("small-model"))!;
    const schema = (body as any).output_config.format.schema;
    for (const stream of [true, false]) {
      const res = await fetch(`${t.server.url}/v1/messages?beta=true`, {
        method: "POST",
        headers: { "x-api-key": ACCESS_KEY, "content-type": "application/json" },
        body: JSON.stringify({ ...body, stream }),
      });
      assert.equal(res.status, 200, await res.clone().text());
      await res.body?.cancel();
    }
    const [refused, ...answered] = t.fake.requests;
    assert.equal(refused.body.response_format.type, "json_schema");
    assert.equal(answered.length, 2, "learned: the second request is not refused");
    for (const seen of answered) {
      assert.deepEqual(seen.body.response_format, { type: "json_object" });
      // The schema the client asked for is still what the model is told to follow.
      assert.ok(seen.body.messages[0].content.includes(JSON.stringify(schema)));
    }
  },
});

Deno.test({
  name:
    "openai: a local server of a DeepSeek model (LM Studio, no JSON mode) gets the title request's schema",
  ignore: !HAVE_CLAUDE_CODE_FIXTURES,
  async fn() {
    await using t = await setupCompat(
      { strictTemplate: true, jsonSchemaOnly: true },
      "deepseek-r1-distill-qwen-7b",
    );
    const { body } = claudeCodeFixtures().find((f) => f.name.includes("small-model"))!;
    for (const stream of [true, false]) {
      const res = await fetch(`${t.server.url}/v1/messages?beta=true`, {
        method: "POST",
        headers: { "x-api-key": ACCESS_KEY, "content-type": "application/json" },
        body: JSON.stringify({ ...body, stream }),
      });
      assert.equal(res.status, 200, await res.clone().text());
      await res.body?.cancel();
    }
    assert.equal(t.fake.requests.length, 2);
    for (const seen of t.fake.requests) assert.equal(seen.body.response_format.type, "json_schema");
  },
});

Deno.test({
  name:
    "openai: a compatible server with a strict chat template and no reasoning_content takes every Claude Code request",
  ignore: !HAVE_CLAUDE_CODE_FIXTURES,
  async fn() {
    await using t = await setupCompat({ strictTemplate: true, rejectReasoningContent: true });
    for (const { name, body } of claudeCodeFixtures()) {
      if (name.startsWith("count-tokens")) continue;
      for (const stream of [true, false]) {
        const res = await fetch(`${t.server.url}/v1/messages?beta=true`, {
          method: "POST",
          headers: { "x-api-key": ACCESS_KEY, "content-type": "application/json" },
          body: JSON.stringify({ ...body, stream }),
        });
        assert.equal(res.status, 200, `${name} stream=${stream}: ${await res.clone().text()}`);
        await res.body?.cancel();
      }
    }
    for (const seen of t.fake.requests) {
      assert.equal(seen.body.messages.filter((m: any) => m.role === "system").length, 1);
    }
  },
});

Deno.test("openai: calls split over two assistant turns reach a compatible server with both results", async () => {
  await using t = await setupCompat();
  const call = (id: string, city: string): Anthropic.ToolUseBlockParam => ({
    type: "tool_use",
    id,
    name: "get_weather",
    input: { city },
  });
  const result = (id: string, text: string): Anthropic.ToolResultBlockParam => ({
    type: "tool_result",
    tool_use_id: id,
    content: text,
  });
  const msg = await t.client.messages.create({
    model: "claude-sonnet-test",
    max_tokens: 100,
    tools: [weatherTool],
    messages: [
      { role: "user", content: "weather in Oslo and Rome" },
      { role: "assistant", content: [call("toolu_A", "Oslo")] },
      { role: "assistant", content: [call("toolu_B", "Rome")] },
      { role: "user", content: [result("toolu_A", "RESULT_A")] },
      { role: "user", content: [result("toolu_B", "RESULT_B")] },
    ],
  });
  assert.equal((msg.content[0] as Anthropic.TextBlock).text, "Tool result received: RESULT_B");
  const sent = t.fake.requests[0].body.messages;
  assert.deepEqual(sent.map((m: any) => m.role), ["user", "assistant", "tool", "tool"]);
  assert.deepEqual(sent.slice(2).map((m: any) => m.content), ["RESULT_A", "RESULT_B"]);
});

Deno.test("openai: a PDF reaches a compatible server as a note instead of a file part it refuses", async () => {
  await using t = await setupCompat();
  await t.client.messages.create({
    model: "claude-sonnet-test",
    max_tokens: 50,
    messages: [{
      role: "user",
      content: [
        {
          type: "document",
          source: { type: "base64", media_type: "application/pdf", data: "JVBE" },
        },
        { type: "text", text: "Summarise it" },
      ],
    }],
  });
  assert.equal(
    t.fake.requests[0].body.messages[0].content,
    "[PDF document omitted: the upstream does not accept files]\nSummarise it",
  );
});

Deno.test("openai: a context-length error inside a 200 is the client's 400, not retried on the next key", async () => {
  await using t = await setup();
  const error = {
    message: "This model's maximum context length is 128000 tokens.",
    type: "invalid_request_error",
    param: "messages",
    code: "context_length_exceeded",
  };
  t.fake.enqueue(
    { sse: [`data: ${JSON.stringify({ error })}\n\n`] },
    { status: 200, json: { error } },
  );
  const ask = {
    model: "claude-sonnet-test",
    max_tokens: 10,
    messages: [{ role: "user" as const, content: "x" }],
  };
  for (
    const call of [
      () => t.client.messages.stream(ask).finalMessage(),
      () => t.client.messages.create(ask),
    ]
  ) {
    await assert.rejects(call(), (err: unknown) => {
      assert.ok(err instanceof Anthropic.BadRequestError, String(err));
      assert.match(err.message, /maximum context length/);
      return true;
    });
  }
  assert.equal(t.fake.requests.length, 2);
});

Deno.test("openai: a server error inside a 200 answer is retried on the next key", async () => {
  await using t = await setup();
  t.fake.enqueue({ status: 200, json: { error: { message: "boom", type: "server_error" } } });
  const msg = await t.client.messages.create({
    model: "claude-sonnet-test",
    max_tokens: 10,
    messages: [{ role: "user", content: "x" }],
  });
  assert.equal((msg.content[0] as Anthropic.TextBlock).text, "Hello from fake OpenAI");
  assert.deepEqual(
    t.fake.requests.map((r) => r.headers.get("authorization")),
    KEYS.map((k) => `Bearer ${k}`),
  );
});

Deno.test("openai: Ollama's calls without ids become one block each; a cut call comes back as max_tokens", async () => {
  await using t = await setupCompat();
  const whole = (city: string) =>
    openaiChunk({
      tool_calls: [{ index: 0, function: { name: "get_weather", arguments: { city } } }],
    });
  t.fake.enqueue(
    { sse: [whole("Oslo"), whole("Rome"), openaiChunk({}, "tool_calls"), OPENAI_DONE] },
    {
      sse: [
        openaiChunk({
          tool_calls: [{
            index: 0,
            id: "call_1",
            type: "function",
            function: { name: "get_weather", arguments: '{"city":"Ro' },
          }],
        }),
        openaiChunk({}, "length"),
        OPENAI_DONE,
      ],
    },
  );
  const ask = {
    model: "claude-sonnet-test",
    max_tokens: 100,
    tools: [weatherTool],
    messages: [{ role: "user" as const, content: "weather in Oslo and Rome" }],
  };
  const both = await t.client.messages.stream(ask).finalMessage();
  assert.equal(both.stop_reason, "tool_use");
  assert.deepEqual(both.content.map((b) => (b as Anthropic.ToolUseBlock).input), [
    { city: "Oslo" },
    { city: "Rome" },
  ]);
  const cut = await t.client.messages.stream(ask).finalMessage();
  assert.equal(cut.stop_reason, "max_tokens");
  // Broken off, as Anthropic's would be: the SDK reads no arguments, nothing runs { city: "Ro" }.
  assert.deepEqual((cut.content[0] as Anthropic.ToolUseBlock).input, {});
});

Deno.test("openai: streamed arguments that are no JSON object still give the SDK an object, never a parse error, and a tool_use stop as unstreamed", async () => {
  await using t = await setup();
  const cases: Array<[string, Record<string, unknown>]> = [
    ["null", {}],
    ["[1,2]", { _raw: "[1,2]" }],
    ['"Paris"', { _raw: '"Paris"' }],
    ["city=Paris", { _raw: "city=Paris" }],
    // Whole arguments with more after them (some servers send them twice) are the call.
    ['{"city":"Paris"}}', { city: "Paris" }],
    ['{"city":"Paris"}{"city":"Rome"}', { city: "Paris" }],
    // A weak model's slips: a missing colon and an escape JSON has not break the call off; a
    // trailing comma does not.
    ['{"city" "Paris"}', { city: null }],
    ['{"city":"Par\\qis"}', { city: "Par" }],
    ['{"city":"Paris",}', { city: "Paris" }],
    ['{"city":"Paris", }', { city: "Paris" }],
    ['{"city":"Paris","days":[1,2,],}', { city: "Paris", days: [1, 2] }],
  ];
  for (const [args, input] of cases) {
    t.fake.enqueue({
      sse: [
        openaiChunk({
          role: "assistant",
          tool_calls: [{
            index: 0,
            id: "call_1",
            type: "function",
            function: { name: "get_weather", arguments: "" },
          }],
        }),
        ...[args.slice(0, 3), args.slice(3)].map((piece) =>
          openaiChunk({ tool_calls: [{ index: 0, function: { arguments: piece } }] })
        ),
        openaiChunk({}, "tool_calls"),
        OPENAI_DONE,
      ],
    });
    const final = await t.client.messages.stream({
      model: "claude-sonnet-test",
      max_tokens: 100,
      tools: [weatherTool],
      messages: [{ role: "user", content: "weather?" }],
    }).finalMessage();
    const block = final.content[0] as Anthropic.ToolUseBlock;
    assert.deepEqual(block.input, input, args);
    // Offered to run, as the unstreamed answer is: the tool answers what it makes of the input.
    assert.equal(final.stop_reason, "tool_use", args);
  }
});

Deno.test("openai: arguments cut off after a comma, or ending in a trailing comma, give the members the model wrote and nothing more", async () => {
  await using t = await setup();
  const bashTool = {
    name: "Bash",
    input_schema: {
      type: "object" as const,
      properties: { command: { type: "string" }, timeout: { type: "number" } },
      required: ["command"],
      additionalProperties: false,
    },
  };
  const cases: Array<[string[], Record<string, unknown>]> = [
    [['{"command": "ls', ' -la", '], { command: "ls -la" }],
    [['{"command": "ls -la",', " ", "\n"], { command: "ls -la" }],
    [['{"command": "ls -la"', ",", " }"], { command: "ls -la" }],
    [['{"command": "echo a,b",', ' "timeout": 5', ",}"], { command: "echo a,b", timeout: 5 }],
  ];
  const ask = {
    model: "claude-sonnet-test",
    max_tokens: 100,
    tools: [bashTool],
    messages: [{ role: "user" as const, content: "list" }],
  };
  for (const [pieces, input] of cases) {
    t.fake.enqueue({
      sse: [
        openaiChunk({
          role: "assistant",
          tool_calls: [{
            index: 0,
            id: "call_1",
            type: "function",
            function: { name: "Bash", arguments: "" },
          }],
        }),
        ...pieces.map((piece) =>
          openaiChunk({ tool_calls: [{ index: 0, function: { arguments: piece } }] })
        ),
        openaiChunk({}, "tool_calls"),
        OPENAI_DONE,
      ],
    });
    const streamed = await t.client.messages.stream(ask).finalMessage();
    assert.deepEqual((streamed.content[0] as Anthropic.ToolUseBlock).input, input, pieces.join(""));
    assert.equal(streamed.stop_reason, "tool_use");
    t.fake.enqueue({
      status: 200,
      json: openaiCompletion(
        {
          tool_calls: [{
            id: "call_1",
            type: "function",
            function: { name: "Bash", arguments: pieces.join("") },
          }],
        },
        "tool_calls",
        openaiUsage(5, 5),
      ),
    });
    const whole = await t.client.messages.create(ask);
    assert.deepEqual((whole.content[0] as Anthropic.ToolUseBlock).input, input, pieces.join(""));
    assert.equal(whole.stop_reason, "tool_use");
  }
});

Deno.test("openai: odd but real streams (empty choices, null content, refusals, logprobs, old function_call, CRLF) assemble through the SDK", async () => {
  await using t = await setup();
  const raw = (o: unknown) => `data: ${JSON.stringify(o)}\n\n`;
  const cases: Array<[string, string[], unknown[], string]> = [
    [
      "empty choices first",
      [
        raw({ id: "x", object: "chat.completion.chunk", choices: [], prompt_filter_results: [] }),
        openaiChunk({ role: "assistant", content: "Hi" }),
        openaiChunk({}, "stop"),
        openaiUsageChunk(openaiUsage(3, 1)),
        OPENAI_DONE,
      ],
      [{ type: "text", text: "Hi" }],
      "end_turn",
    ],
    [
      "null content",
      [
        openaiChunk({ role: "assistant", content: null }),
        openaiChunk({ content: null, tool_calls: null }),
        openaiChunk({ content: "ok" }),
        openaiChunk({}, "stop"),
        OPENAI_DONE,
      ],
      [{ type: "text", text: "ok" }],
      "end_turn",
    ],
    [
      "refusal",
      [
        openaiChunk({ role: "assistant", content: null, refusal: "" }),
        openaiChunk({ refusal: "I can't help." }),
        openaiChunk({}, "stop"),
        OPENAI_DONE,
      ],
      [{ type: "text", text: "I can't help." }],
      "refusal",
    ],
    [
      "logprobs",
      [
        raw({
          id: "x",
          object: "chat.completion.chunk",
          choices: [{
            index: 0,
            delta: { content: "A" },
            logprobs: { content: [{ token: "A", logprob: -0.1, bytes: [65], top_logprobs: [] }] },
            finish_reason: null,
          }],
        }),
        openaiChunk({}, "stop"),
        OPENAI_DONE,
      ],
      [{ type: "text", text: "A" }],
      "end_turn",
    ],
    [
      "content_filter",
      [
        openaiChunk({ role: "assistant", content: "Partial" }),
        openaiChunk({}, "content_filter"),
        OPENAI_DONE,
      ],
      [{ type: "text", text: "Partial" }],
      "refusal",
    ],
    [
      "function_call",
      [
        openaiChunk({ role: "assistant", function_call: { name: "get_weather", arguments: "" } }),
        openaiChunk({ function_call: { arguments: '{"city":' } }),
        openaiChunk({ function_call: { arguments: '"Paris"}' } }),
        openaiChunk({}, "function_call"),
        OPENAI_DONE,
      ],
      [{
        type: "tool_use",
        name: "get_weather",
        input: { city: "Paris" },
        caller: { type: "direct" },
      }],
      "tool_use",
    ],
    ["no [DONE]", [openaiChunk({ role: "assistant", content: "Hi" }), openaiChunk({}, "stop")], [
      { type: "text", text: "Hi" },
    ], "end_turn"],
    [
      "CRLF",
      [
        openaiChunk({ role: "assistant", content: "Hi" }).replaceAll("\n", "\r\n"),
        openaiChunk({}, "stop").replaceAll("\n", "\r\n"),
        "data: [DONE]\r\n\r\n",
      ],
      [{ type: "text", text: "Hi" }],
      "end_turn",
    ],
  ];
  for (const [what, sse, content, stop] of cases) {
    t.fake.enqueue({ sse });
    const final = await t.client.messages.stream({
      model: "claude-sonnet-test",
      max_tokens: 100,
      tools: [weatherTool],
      messages: [{ role: "user", content: "hi" }],
    }).finalMessage();
    assert.deepEqual(
      final.content.map(({ id: _, ...b }: any) => b),
      content,
      what,
    );
    assert.equal(final.stop_reason, stop, what);
  }
});

Deno.test("openai: an upstream error quoting the key never shows the key to the client", async () => {
  await using t = await setup();
  const error = {
    message: `Incorrect API key provided: ${KEYS[0]}. You can find your API key at platform`,
    type: "invalid_request_error",
    param: null,
    code: "invalid_api_key",
  };
  const quoting = `data: ${JSON.stringify({ error })}\n\n`;
  const rejected = (key: string) => ({
    status: 401,
    json: { error: { ...error, message: error.message.replace(KEYS[0], key) } },
  });
  // After the answer started, and before it did (every key refused: the last refusal is quoted).
  t.fake.enqueue(
    { sse: [openaiChunk({ role: "assistant", content: "Hel" }), quoting] },
    rejected(KEYS[1]),
    rejected(KEYS[0]),
  );
  const raw = (stream: boolean) =>
    fetch(`${t.server.url}/v1/messages`, {
      method: "POST",
      headers: { "x-api-key": ACCESS_KEY, "content-type": "application/json" },
      body: JSON.stringify({
        model: "claude-sonnet-test",
        max_tokens: 10,
        stream,
        messages: [{ role: "user", content: "x" }],
      }),
    });
  const streamed = await (await raw(true)).text();
  assert.match(streamed, /event: error/);
  assert.match(streamed, /Incorrect API key provided/);
  assert.doesNotMatch(streamed, new RegExp(KEYS[0]));
  const refused = await raw(false);
  assert.equal(refused.status, 502);
  const body = await refused.text();
  assert.match(body, /Incorrect API key provided/);
  assert.doesNotMatch(body, /sk-openai-test-key/);
});

Deno.test("openai: an upstream echoing its URL's secret or a key percent-encoded shows neither to the client or the log", async () => {
  const key = "sk-UPS/TREAM+SECRET=0001";
  const fake = await startFakeOpenAI();
  await using t = await proxyTo(fake, {
    name: "gw",
    baseUrl: `${fake.url}/v1?key=GATEWAY-QUERY-SECRET-42`,
    serviceType: "custom",
    apiKeys: [key],
  });
  t.fake.enqueue({
    status: 400,
    json: {
      error: {
        message: `Bad request to /v1/chat/completions?key=GATEWAY-QUERY-SECRET-42 with key ${
          encodeURIComponent(key)
        }`,
        type: "invalid_request_error",
      },
    },
  });
  const res = await fetch(`${t.server.url}/v1/messages`, {
    method: "POST",
    headers: { "x-api-key": ACCESS_KEY, "content-type": "application/json" },
    body: JSON.stringify({
      model: "m",
      max_tokens: 10,
      messages: [{ role: "user", content: "x" }],
    }),
  });
  const body = await res.text();
  assert.equal(res.status, 400);
  assert.match(body, /Bad request/);
  for (const text of [body, ...t.server.logs]) {
    assert.doesNotMatch(text, /GATEWAY-QUERY-SECRET|SECRET%3D0001|SECRET=0001/);
  }
});

Deno.test("openai: a server that names the stop string it hit (vLLM, SGLang) gives stop_sequence", async () => {
  for (const reportsStop of ["stop_reason", "matched_stop"] as const) {
    const fake = await startFakeOpenAI({ reportsStop });
    await using t = await proxyTo(fake, {
      name: "vllm",
      serviceType: "custom",
      apiKeys: [],
    });
    const params = {
      model: "qwen3",
      max_tokens: 50,
      stop_sequences: ["\nUser:", " fake"],
      messages: [{ role: "user" as const, content: "hi" }],
    };
    const msg = await t.client.messages.create(params);
    assert.equal(msg.stop_reason, "stop_sequence", reportsStop);
    assert.equal(msg.stop_sequence, " fake");
    assert.deepEqual(msg.content, [{ type: "text", text: "Hello from" }]);
    const streamed = await t.client.messages.stream(params).finalMessage();
    assert.equal(streamed.stop_reason, "stop_sequence", reportsStop);
    assert.equal(streamed.stop_sequence, " fake");
    assert.equal((streamed.content[0] as Anthropic.TextBlock).text, "Hello from");
    // An answer that ends by itself is still end_turn.
    const natural = await t.client.messages.create({ ...params, stop_sequences: ["nowhere"] });
    assert.equal(natural.stop_reason, "end_turn");
    assert.equal(natural.stop_sequence, null);
  }
});

Deno.test("openai: structured output asked the older way (top-level output_format) is still asked for", async () => {
  await using t = await setup();
  const schema = {
    type: "object",
    properties: { title: { type: "string" } },
    required: ["title"],
    additionalProperties: false,
  };
  t.fake.enqueue({
    status: 200,
    json: openaiCompletion({ content: '{"title":"Hi"}' }, "stop", openaiUsage(9, 4)),
  });
  // As SDKs before output_config send it, with the structured-outputs-2025-11-13 beta.
  const res = await fetch(`${t.server.url}/v1/messages?beta=true`, {
    method: "POST",
    headers: {
      "x-api-key": ACCESS_KEY,
      "content-type": "application/json",
      "anthropic-beta": "structured-outputs-2025-11-13",
    },
    body: JSON.stringify({
      model: "claude-sonnet-test",
      max_tokens: 100,
      messages: [{ role: "user", content: "Title this" }],
      output_format: { type: "json_schema", schema },
    }),
  });
  assert.equal(res.status, 200);
  assert.deepEqual(JSON.parse((await res.json()).content[0].text), { title: "Hi" });
  assert.deepEqual(t.fake.requests[0].body.response_format, {
    type: "json_schema",
    json_schema: { name: "output", schema, strict: true },
  });
});

Deno.test("openai: the SDK's toolRunner and message threads work: a thread continued by id is replayed whole", async () => {
  await using t = await setup();
  const ran: unknown[] = [];
  const runner = t.client.beta.messages.toolRunner({
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
  });
  const final = await runner.runUntilDone();
  assert.deepEqual(ran, [{ city: "Paris" }]);
  assert.equal((final.content[0] as Anthropic.TextBlock).text, "Tool result received: sunny");
  // The upstream saw the whole conversation every time, never a turn without its call.
  const last = t.fake.requests.at(-1)!.body.messages;
  assert.equal(last.at(-2).tool_calls[0].function.name, "get_weather");
  assert.equal(last.at(-1).role, "tool");

  // A thread with the SDK's default handling: each turn after the first is replayed whole.
  const thread = t.client.beta.messages.thread({ model: "claude-sonnet-test", max_tokens: 50 });
  await thread.send({ role: "user", content: "Hello" });
  const second = await thread.send({ role: "user", content: "Again" });
  assert.equal((second.content[0] as Anthropic.TextBlock).text, "Hello from fake OpenAI");
  const users = t.fake.requests.at(-1)!.body.messages.filter((m: any) => m.role === "user");
  assert.deepEqual(users.map((m: any) => m.content), ["Hello", "Again"]);
});

Deno.test("openai: a server that sends its usage chunk and then neither [DONE] nor the end of the body does not hold the answer", async () => {
  // Without the end at the usage chunk, the silence would end the answer with an error event.
  await using t = await setup({ REQUEST_TIMEOUT: "1500", STREAM_PING_INTERVAL: "500" });
  t.fake.enqueue({
    sse: [
      openaiChunk({ role: "assistant", content: "all of it" }),
      openaiChunk({}, "stop"),
      openaiUsageChunk(openaiUsage(9, 3)),
    ],
    thenHang: true,
  });
  const final = await t.client.messages.stream({
    model: "claude-sonnet-test",
    max_tokens: 100,
    messages: [{ role: "user", content: "Hello" }],
  }).finalMessage();
  assert.equal((final.content[0] as Anthropic.TextBlock).text, "all of it");
  assert.equal(final.stop_reason, "end_turn");
  assert.equal(final.usage.output_tokens, 3);
});

/** A client tool's call, its result next turn, and what the upstream saw of both. */
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
  assert.equal(sent.messages[1].tool_calls[0].function.name, name);
  assert.equal(sent.messages[2].role, "tool");
  assert.equal(sent.messages[2].tool_call_id, sent.messages[1].tool_calls[0].id);
  return sent;
}

Deno.test("openai: Anthropic's text editor and bash tools reach the model as functions, and their calls round trip, streamed and not", async () => {
  await using t = await setup();
  const tools: Anthropic.ToolUnion[] = [
    { type: "text_editor_20250728", name: "str_replace_based_edit_tool" },
    { type: "bash_20250124", name: "bash" },
    weatherTool,
  ];
  for (const stream of [false, true]) {
    const sent = await clientToolRoundTrip(
      t,
      tools,
      "str_replace_based_edit_tool",
      { command: "str_replace", path: "/repo/a.py", old_str: "x = 1", new_str: "x = 2" },
      stream,
    );
    const editor = sent.tools.find((f: any) => f.function.name === "str_replace_based_edit_tool");
    assert.deepEqual(
      editor.function.parameters.properties.command.enum,
      ["view", "create", "str_replace", "insert"],
      "this version has no undo_edit",
    );
    await clientToolRoundTrip(t, tools, "bash", { command: "ls -la" }, stream);
  }
});

Deno.test("openai: the model is told which of Anthropic's server tools it does not have (web fetch, code execution)", async () => {
  await using t = await setup();
  const answer = await t.client.messages.create({
    model: "claude-sonnet-test",
    max_tokens: 1000,
    system: "Be brief.",
    messages: [{
      role: "user",
      content: "Fetch https://example.com and count its words in Python",
    }],
    tools: [
      { type: "web_fetch_20250910", name: "web_fetch" },
      { type: "code_execution_20250825", name: "code_execution" },
      weatherTool,
    ],
  });
  assert.deepEqual(answer.content.map((b) => b.type), ["text"]);
  const sent = t.fake.requests[0].body;
  assert.deepEqual(sent.tools.map((f: any) => f.function.name), ["get_weather"]);
  assert.equal(sent.messages[0].role, "system");
  assert.match(sent.messages[0].content, /^Be brief\./);
  assert.match(sent.messages[0].content, /not available[^\n]*: web_fetch, code_execution\b/);
  assert.match(sent.messages[0].content, /Do not claim/);
});

Deno.test("openai: Anthropic's memory and computer use tools round trip through the beta API", async () => {
  await using t = await setup();
  const tools: Anthropic.Beta.BetaToolUnion[] = [
    { type: "memory_20250818", name: "memory" },
    { type: "computer_20250124", name: "computer", display_width_px: 1024, display_height_px: 768 },
  ];
  const api = t.client.beta.messages;
  for (const stream of [false, true]) {
    const sent = await clientToolRoundTrip(
      t,
      tools,
      "memory",
      { command: "rename", old_path: "/memories/a.md", new_path: "/memories/b.md" },
      stream,
      api,
    );
    const screen = sent.tools.find((f: any) => f.function.name === "computer");
    assert.match(screen.function.description, /1024x768 pixels/);
    await clientToolRoundTrip(
      t,
      tools,
      "computer",
      { action: "scroll", coordinate: [512, 300], scroll_direction: "down", scroll_amount: 3 },
      stream,
      api,
    );
  }
});

Deno.test("openai: a tool_choice naming a server tool the upstream cannot run leaves the model free to answer", async () => {
  await using t = await setup();
  for (const stream of [false, true]) {
    const ask = {
      model: "claude-sonnet-test",
      max_tokens: 1000,
      messages: [{ role: "user" as const, content: "Fetch https://example.com" }],
      tools: [{ type: "web_fetch_20250910" as const, name: "web_fetch" as const }, weatherTool],
      tool_choice: { type: "tool" as const, name: "web_fetch" },
    };
    const answer = stream
      ? await t.client.messages.stream(ask).finalMessage()
      : await t.client.messages.create(ask);
    assert.deepEqual(answer.content.map((b) => b.type), ["text"]);
    const sent = t.fake.requests.at(-1)!.body;
    assert.match(sent.messages[0].content, /not available[^\n]*: web_fetch\./);
  }
});

Deno.test("openai: an MCP toolset, which Anthropic's MCP connector runs, is named to the model as unavailable instead of refused", async () => {
  await using t = await setup();
  const answer = await t.client.beta.messages.create({
    model: "claude-sonnet-test",
    max_tokens: 1000,
    messages: [{ role: "user", content: "List my open tickets" }],
    mcp_servers: [{ type: "url", url: "https://mcp.example.com/sse", name: "tickets" }],
    tools: [{ type: "mcp_toolset", mcp_server_name: "tickets" }, weatherTool],
    betas: ["mcp-client-2025-11-20"],
  });
  assert.deepEqual(answer.content.map((b) => b.type), ["text"]);
  const sent = t.fake.requests[0].body;
  assert.deepEqual(sent.tools.map((f: any) => f.function.name), ["get_weather"]);
  assert.match(sent.messages[0].content, /not available[^\n]*: the tools of MCP server tickets\./);
});

Deno.test("openai: what an earlier turn's web search found reaches the model with the next question", async () => {
  const fake = await startFakeOpenAI();
  await using t = await proxyTo(fake, {
    name: "oai",
    baseUrl: `${fake.url}/v1`,
    serviceType: "openai",
    apiKeys: KEYS,
    models: { web_search: "gpt-4o-mini-search-preview", default: "gpt-4o" },
  });
  for (const stream of [false, true]) {
    await searchThenFollowUp(t.client.messages, "claude-sonnet-test", stream);
    const sent = fake.requests.at(-1)!.body.messages;
    assert.deepEqual(sent.map((m: any) => m.role), ["user", "assistant", "user"]);
    const said = sent[1].content as string;
    assert.match(said, /Searched the web for "[^"]*euro 2024"/);
    assert.match(said, /Example page 1 — https:\/\/example1\.com\/answer\?utm_source=openai/);
    assert.match(said, /Example page 2 — https:\/\/example2\.com\/answer/);
    assert.match(said, /Two pages answer this\./);
  }
});

Deno.test("openai: an Anthropic upstream's server tools in the history (search, fetch, code, tool search) reach the model as text in their place, and the client's call keeps its result", async () => {
  for (const mistral of [false, true]) {
    await using t = mistral
      ? await setupCompat({ strictTemplate: true, mistral: true }, "devstral-small-2507")
      : await setup();
    const answer = await t.client.messages.create({
      model: "claude-sonnet-test",
      max_tokens: 200,
      tools: [weatherTool],
      messages: [
        { role: "user", content: "When did Deno 2 come out? And the weather in Paris?" },
        { role: "assistant", content: SERVER_TOOL_TURN },
        {
          role: "user",
          content: [{ type: "tool_result", tool_use_id: CLIENT_CALL_ID, content: "18C" }],
        },
      ],
    });
    assert.match((answer.content[0] as Anthropic.TextBlock).text, /Tool result received: 18C/);
    const sent = t.fake.requests.at(-1)!.body.messages;
    assert.deepEqual(sent.map((m: any) => m.role), ["user", "assistant", "tool"]);
    assertSaysInOrder(sent[1].content, SERVER_TOOL_TURN_SAYS);
    assert.equal(sent[1].tool_calls.length, 1);
    assert.equal(sent[1].tool_calls[0].function.name, "get_weather");
    assert.equal(sent[2].tool_call_id, sent[1].tool_calls[0].id);
  }
});

Deno.test("openai: deferred tools are offered once a tool_reference loads them, and the placeholder never", async () => {
  await using t = await setup();
  const ask = (messages: any[]) =>
    t.client.messages.create({
      model: "claude-sonnet-test",
      max_tokens: 100,
      tools: DEFERRED_TOOLS,
      messages,
    } as any);
  const offered = (i: number) => t.fake.requests[i].body.tools.map((f: any) => f.function.name);
  // Twice each: the second time the proxy knows the tools text (Claude Code sends it every turn).
  for (const i of [0, 1]) {
    await ask([ASK]);
    assert.deepEqual(offered(i), ["Read", "ToolSearch"]);
  }
  for (const i of [2, 3]) {
    await ask(LOADED);
    assert.deepEqual(offered(i), ["Read", "ToolSearch", "WebSearch"]);
    const result = t.fake.requests[i].body.messages.find((m: any) => m.role === "tool");
    assert.equal(result.content, "[Tool loaded: WebSearch]");
  }
  await ask([ASK]);
  assert.deepEqual(offered(4), ["Read", "ToolSearch"]);
});

Deno.test("openai: a text-only server refusing an image gets it again as a note, and so does the rest of the session", async () => {
  await using t = await setupCompat({ textOnly: true }, "qwen3-coder");
  const png =
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";
  const ask = () =>
    t.client.messages.create({
      model: "claude-sonnet-test",
      max_tokens: 100,
      messages: [{
        role: "user",
        content: [
          { type: "image", source: { type: "base64", media_type: "image/png", data: png } },
          { type: "text", text: "What is in this picture?" },
        ],
      }],
    });
  const first = await ask();
  assert.equal(first.type, "message");
  const sent = t.fake.requests.map((r) => JSON.stringify(r.body.messages));
  assert.equal(sent.length, 2, "refused once, then sent with a note");
  assert.match(sent[0], /image_url/);
  assert.doesNotMatch(sent[1], /image_url/);
  assert.match(sent[1], /does not take images/);
  // Learned: the next request goes with the note at once.
  await ask();
  assert.equal(t.fake.requests.length, 3);
  assert.doesNotMatch(JSON.stringify(t.fake.requests[2].body.messages), /image_url/);
  // No key was set aside for it.
  assert.equal(t.server.services.health.list().length, 0);
});

Deno.test("openai: an upstream that counts nothing (no usage, or nulls) gives estimates, streamed or not, never zeros", async () => {
  await using t = await setup();
  const params = {
    model: "claude-sonnet-test",
    max_tokens: 100,
    messages: [{ role: "user" as const, content: "Tell me something. ".repeat(200) }],
  };
  t.fake.enqueue({
    status: 200,
    json: openaiCompletion({ content: "A fairly long answer, of some words." }, "stop", undefined),
  });
  const whole = await t.client.messages.create(params);
  assert.ok(whole.usage.input_tokens > 500, `input ${whole.usage.input_tokens}`);
  assert.ok(whole.usage.output_tokens > 0);
  const nulls = { prompt_tokens: null, completion_tokens: null, total_tokens: null };
  t.fake.enqueue({
    sse: [
      openaiChunk({ role: "assistant", content: "A fairly long answer, of some words." }),
      openaiChunk({}, "stop"),
      openaiUsageChunk(nulls),
      OPENAI_DONE,
    ],
  });
  const streamed = await t.client.messages.stream(params).finalMessage();
  assert.ok(streamed.usage.input_tokens > 500, `input ${streamed.usage.input_tokens}`);
  assert.ok(streamed.usage.output_tokens > 0);
  // A prompt read whole from the cache is no empty prompt: its count stays the upstream's.
  t.fake.enqueue({
    status: 200,
    json: openaiCompletion({ content: "Cached." }, "stop", {
      prompt_tokens: 1200,
      completion_tokens: 3,
      total_tokens: 1203,
      prompt_tokens_details: { cached_tokens: 1200 },
    }),
  });
  const cached = await t.client.messages.create(params);
  assert.equal(cached.usage.input_tokens, 0);
  assert.equal(cached.usage.cache_read_input_tokens, 1200);
  assert.equal(cached.usage.output_tokens, 3);
});

Deno.test("openai: an MCP tool whose array names no items reaches OpenAI, which refuses such a schema, with items", async () => {
  await using t = await setup();
  const msg = await t.client.messages.create({
    model: "claude-sonnet-test",
    max_tokens: 50,
    tools: [{
      name: "mcp__tracker__label",
      input_schema: { type: "object", properties: { labels: { type: "array" } } },
    }],
    messages: [{ role: "user", content: "label it" }],
  });
  assert.equal(msg.type, "message");
  const sent = t.fake.requests[0].body.tools[0].function.parameters;
  assert.deepEqual(sent.properties.labels, { type: "array", items: {} });
});

Deno.test("openai: stop sequences the upstream cannot take (a reasoning model's, a fifth) end the answer where they appear", async () => {
  const fake = await startFakeOpenAI();
  await using t = await proxyTo(fake, {
    name: "oai",
    baseUrl: `${fake.url}/v1`,
    serviceType: "openai",
    apiKeys: KEYS,
    models: { opus: "gpt-5", default: "gpt-4o" },
  });
  const hi = [{ role: "user" as const, content: "hi" }];
  // The fake streams "Hello", " from", " fake", " OpenAI": "m fa" spans two chunks.
  for (const [stop, text] of [[" fake", "Hello from"], ["m fa", "Hello fro"]]) {
    const params = { model: "claude-opus-x", max_tokens: 50, stop_sequences: [stop], messages: hi };
    const msg = await t.client.messages.create(params);
    assert.equal(fake.requests.at(-1)!.body.stop, undefined, "a reasoning model refuses `stop`");
    const streamed = await t.client.messages.stream(params).finalMessage();
    for (const m of [msg, streamed]) {
      assert.equal(m.stop_reason, "stop_sequence", stop);
      assert.equal(m.stop_sequence, stop);
      assert.deepEqual(m.content.map((b) => (b as Anthropic.TextBlock).text), [text]);
    }
  }
  // Text that only begins a stop sequence is held, then sent whole.
  const held = await t.client.messages.stream({
    model: "claude-opus-x",
    max_tokens: 50,
    stop_sequences: [" OpenAI!"],
    messages: hi,
  }).finalMessage();
  assert.equal(held.stop_reason, "end_turn");
  assert.equal((held.content[0] as Anthropic.TextBlock).text, "Hello from fake OpenAI");
  // OpenAI takes four: the fifth is met by the proxy.
  const five = ["zz1", "zz2", "zz3", "zz4", " OpenAI"];
  const params = { model: "claude-x", max_tokens: 50, stop_sequences: five, messages: hi };
  const msg = await t.client.messages.create(params);
  assert.deepEqual(fake.requests.at(-1)!.body.stop, five.slice(0, 4));
  const streamed = await t.client.messages.stream(params).finalMessage();
  for (const m of [msg, streamed]) {
    assert.equal(m.stop_reason, "stop_sequence");
    assert.equal(m.stop_sequence, " OpenAI");
    assert.equal((m.content[0] as Anthropic.TextBlock).text, "Hello from fake");
  }
});

Deno.test("openai: with disable_parallel_tool_use a server that ignores parallel_tool_calls (Ollama) still gives one call, streamed and not", async () => {
  await using t = await setupCompat({}, "llama3.1");
  const call = (index: number, city: string) => ({
    index,
    id: `call_${city}`,
    type: "function",
    function: { name: "get_weather", arguments: JSON.stringify({ city }) },
  });
  for (const stream of [false, true]) {
    t.fake.enqueue(
      stream
        ? {
          sse: [
            openaiChunk({ role: "assistant", content: null }),
            openaiChunk({ tool_calls: [call(0, "Oslo")] }),
            openaiChunk({ tool_calls: [call(1, "Rome")] }),
            openaiChunk({}, "tool_calls"),
            openaiUsageChunk(openaiUsage(40, 12)),
            OPENAI_DONE,
          ],
        }
        : {
          status: 200,
          json: openaiCompletion(
            { tool_calls: [call(0, "Oslo"), call(1, "Rome")].map(({ index: _, ...c }) => c) },
            "tool_calls",
            openaiUsage(40, 12),
          ),
        },
    );
    const params = {
      model: "claude-sonnet-test",
      max_tokens: 100,
      tools: [weatherTool],
      tool_choice: { type: "auto" as const, disable_parallel_tool_use: true },
      messages: [{ role: "user" as const, content: "weather in Oslo and Rome" }],
    };
    const msg = stream
      ? await t.client.messages.stream(params).finalMessage()
      : await t.client.messages.create(params);
    assert.equal(t.fake.requests.at(-1)!.body.parallel_tool_calls, false);
    assert.equal(msg.stop_reason, "tool_use");
    assert.deepEqual(
      msg.content.map((b) => [b.type, (b as Anthropic.ToolUseBlock).input]),
      [["tool_use", { city: "Oslo" }]],
      `stream=${stream}`,
    );
  }
});

Deno.test("openai: a prefill the model writes again (it cannot continue one) is taken off the answer, streamed and not", async () => {
  await using t = await setup();
  const reply = '{"answer": 42}';
  for (const stream of [false, true]) {
    t.fake.enqueue(
      stream
        ? {
          sse: [
            openaiChunk({ role: "assistant", content: "" }),
            ...['{"ans', 'wer"', ": 4", "2}"].map((content) => openaiChunk({ content })),
            openaiChunk({}, "stop"),
            openaiUsageChunk(openaiUsage(20, 6)),
            OPENAI_DONE,
          ],
        }
        : {
          status: 200,
          json: openaiCompletion({ content: reply }, "stop", openaiUsage(20, 6)),
        },
    );
    const params = {
      model: "claude-sonnet-test",
      max_tokens: 100,
      messages: [
        { role: "user" as const, content: "The answer, as JSON" },
        { role: "assistant" as const, content: '{"answer":' },
      ],
    };
    const msg = stream
      ? await t.client.messages.stream(params).finalMessage()
      : await t.client.messages.create(params);
    assert.equal(t.fake.requests.at(-1)!.body.messages.at(-1).content, '{"answer":');
    assert.equal((msg.content[0] as Anthropic.TextBlock).text, " 42}", `stream=${stream}`);
  }
});

Deno.test("openai: a call id the server gives again in a later turn (call_0 every answer) is replaced, streamed and not", async () => {
  await using t = await setupCompat({}, "qwen3");
  const call = {
    id: "call_0",
    type: "function",
    function: { name: "get_weather", arguments: '{"city":"Rome"}' },
  };
  const messages: Anthropic.MessageParam[] = [
    { role: "user", content: "weather in Oslo, then Rome" },
    {
      role: "assistant",
      content: [{ type: "tool_use", id: "call_0", name: "get_weather", input: { city: "Oslo" } }],
    },
    { role: "user", content: [{ type: "tool_result", tool_use_id: "call_0", content: "3C" }] },
  ];
  for (const stream of [false, true]) {
    t.fake.enqueue(
      stream
        ? {
          sse: [
            openaiChunk({ role: "assistant", content: null }),
            openaiChunk({ tool_calls: [{ index: 0, ...call }] }),
            openaiChunk({}, "tool_calls"),
            openaiUsageChunk(openaiUsage(40, 12)),
            OPENAI_DONE,
          ],
        }
        : {
          status: 200,
          json: openaiCompletion({ tool_calls: [call] }, "tool_calls", openaiUsage(40, 12)),
        },
    );
    const params = { model: "claude-sonnet-test", max_tokens: 100, tools: [weatherTool], messages };
    const msg = stream
      ? await t.client.messages.stream(params).finalMessage()
      : await t.client.messages.create(params);
    const use = msg.content.find((b) => b.type === "tool_use") as Anthropic.ToolUseBlock;
    assert.deepEqual(use.input, { city: "Rome" });
    assert.notEqual(use.id, "call_0", `stream=${stream}`);
    assert.match(use.id, /^[a-zA-Z0-9_-]+$/);
  }
});

Deno.test("openai: a stop sequence met in text after a call ends the text there; the call is kept and run (tool_use), streamed and not", async () => {
  // o3 takes no stop sequences: the proxy applies them.
  const fake = await startFakeOpenAI();
  await using t = await proxyTo(fake, {
    name: "oai",
    baseUrl: `${fake.url}/v1`,
    serviceType: "openai",
    apiKeys: KEYS,
    models: { default: "o3" },
  });
  const call = {
    id: "call_1",
    type: "function",
    function: { name: "get_weather", arguments: '{"city":"Oslo"}' },
  };
  for (const stream of [false, true]) {
    t.fake.enqueue(
      stream
        ? {
          sse: [
            openaiChunk({ role: "assistant", content: null }),
            openaiChunk({ tool_calls: [{ index: 0, ...call }] }),
            openaiChunk({ content: "after END x" }),
            openaiChunk({}, "tool_calls"),
            openaiUsageChunk(openaiUsage(40, 12)),
            OPENAI_DONE,
          ],
        }
        : {
          status: 200,
          json: openaiCompletion(
            { content: "after END x", tool_calls: [call] },
            "tool_calls",
            openaiUsage(40, 12),
          ),
        },
    );
    const params = {
      model: "claude-opus-x",
      max_tokens: 100,
      tools: [weatherTool],
      stop_sequences: ["END"],
      messages: [{ role: "user" as const, content: "weather in Oslo" }],
    };
    const msg = stream
      ? await t.client.messages.stream(params).finalMessage()
      : await t.client.messages.create(params);
    assert.equal(msg.stop_reason, "tool_use", `stream=${stream}`);
    assert.equal(msg.stop_sequence, null);
    const use = msg.content.find((b) => b.type === "tool_use") as Anthropic.ToolUseBlock;
    assert.deepEqual(use.input, { city: "Oslo" });
    const text = msg.content.find((b) => b.type === "text") as Anthropic.TextBlock | undefined;
    assert.equal(text?.text, "after ");
  }
});

Deno.test("openai: a compatible server's continuation of a prefill is kept whole, even when it begins as the prefill did", async () => {
  await using t = await setupCompat({}, "qwen3");
  // llama.cpp, Ollama and vLLM continue the last assistant message: "[" then "[1,2],[3,4]]".
  t.fake.enqueue({
    status: 200,
    json: openaiCompletion({ content: "[1,2],[3,4]]" }, "stop", openaiUsage(20, 6)),
  });
  const msg = await t.client.messages.create({
    model: "claude-sonnet-test",
    max_tokens: 100,
    messages: [
      { role: "user", content: "Pairs, as a JSON array of arrays" },
      { role: "assistant", content: "[" },
    ],
  });
  assert.equal((msg.content[0] as Anthropic.TextBlock).text, "[1,2],[3,4]]");
});

Deno.test("openai: Gemini 3 through Google's OpenAI endpoint gets each call's thought signature back on the next turn, streamed and whole; other servers never see one", async () => {
  const signature = btoa("gemini-thought-signature-".repeat(20));
  await using t = await setupCompat({}, "gemini-3-pro-preview");
  const call = (extra: Record<string, unknown>) => ({
    id: "function-call-1",
    type: "function",
    function: { name: "get_weather", arguments: '{"city":"Paris"}' },
    extra_content: { google: { thought_signature: signature } },
    ...extra,
  });
  const tools = [{
    name: "get_weather",
    description: "Weather for a city",
    input_schema: { type: "object" as const, properties: { city: { type: "string" } } },
  }];
  for (const stream of [true, false]) {
    if (stream) {
      // Google sends a call whole in one chunk, its signature beside it.
      t.fake.enqueue({
        sse: [
          openaiChunk({ role: "assistant", tool_calls: [call({ index: 0 })] }),
          openaiChunk({}, "tool_calls"),
          openaiUsageChunk(openaiUsage(20, 8)),
          "data: [DONE]\n\n",
        ],
      });
    } else {
      t.fake.enqueue({
        status: 200,
        json: openaiCompletion({ tool_calls: [call({})] }, "tool_calls", openaiUsage(20, 8)),
      });
    }
    const ask = {
      model: "claude-sonnet-test",
      max_tokens: 1000,
      tools,
      messages: [{ role: "user" as const, content: "Weather in Paris?" }],
    };
    const first = stream
      ? await t.client.messages.stream(ask).finalMessage()
      : await t.client.messages.create(ask);
    const use = first.content.find((b) => b.type === "tool_use")!;
    assert.ok(use && use.type === "tool_use", "a tool_use block");
    assert.match(use.id, /^[a-zA-Z0-9_-]+$/, "an id Anthropic's own API would take back");
    // The next turn, as Claude Code sends it, to Google's endpoint (this fake cannot stand at
    // its address) and to other servers.
    const next = {
      ...ask,
      messages: [
        ...ask.messages,
        { role: "assistant" as const, content: first.content },
        {
          role: "user" as const,
          content: [{ type: "tool_result" as const, tool_use_id: use.id, content: "18°C, sunny" }],
        },
      ],
    } as MessagesRequest;
    const sentTo = (baseUrl: string, serviceType: "custom" | "openai", model: string) => {
      const messages = build(next, { ...context({ serviceType, baseUrl }), model }).messages;
      return {
        messages,
        assistant: messages.find((m: { role: string }) => m.role === "assistant"),
        result: messages.find((m: { role: string }) => m.role === "tool"),
      };
    };
    for (const kind of ["custom", "openai"] as const) {
      const google = sentTo(
        "https://generativelanguage.googleapis.com/v1beta/openai/",
        kind,
        "gemini-3-pro-preview",
      );
      validateChatRequest(
        { model: "gemini-3-pro-preview", messages: google.messages },
        { thoughtSignatures: new Set([signature]) },
      );
      assert.equal(
        google.assistant.tool_calls[0].extra_content.google.thought_signature,
        signature,
      );
      assert.equal(google.result.tool_call_id, google.assistant.tool_calls[0].id);
    }
    // Mistral refuses any field it does not know (422): the signature stays home.
    const mistral = sentTo("https://api.mistral.ai/v1", "custom", "mistral-large-latest");
    assert.equal(mistral.assistant.tool_calls[0].extra_content, undefined);
    assert.match(mistral.assistant.tool_calls[0].id, /^[a-zA-Z0-9]{9}$/);
  }
});

Deno.test("openai: more stop sequences than the proxy applies itself are refused at once, before the upstream is asked; a few are applied", async () => {
  await using t = await setupCompat({}, "qwen3-coder");
  const ask = (stop_sequences: string[]) => ({
    model: "claude-sonnet-test",
    max_tokens: 100,
    stop_sequences,
    messages: [{ role: "user" as const, content: "count" }],
  });
  const many = Array.from({ length: 5_000 }, (_, i) => `stop-${i}`);
  const refused = await t.client.messages.create(ask(many)).catch((e) => e);
  assert.equal(refused.status, 400);
  assert.match(refused.error.error.message, /stop_sequences/);
  const long = await t.client.messages.create(ask(["a", "b", "c", "d", "x".repeat(20_000)]))
    .catch((e) => e);
  assert.equal(long.status, 400);
  assert.equal(t.fake.requests.length, 0, "the upstream was never asked");
  t.fake.enqueue({
    status: 200,
    json: openaiCompletion({ content: "one two STOP8 three" }, "stop", openaiUsage(5, 5)),
  });
  const answer = await t.client.messages.create(
    ask(Array.from({ length: 10 }, (_, i) => `STOP${i}`)),
  );
  assert.equal(answer.stop_sequence, "STOP8");
});

Deno.test("openai: an upstream error echoing a credential the proxy cannot know as a key (base64 in a Basic header) reaches the client masked", async () => {
  await using t = await setupCompat({}, "qwen3-coder");
  const basic = btoa(`user:${KEYS[0]}`);
  t.fake.enqueue({
    status: 400,
    json: openaiError(
      `bad request; you sent Authorization: Basic ${basic}`,
      "invalid_request_error",
    ),
  });
  const refused = await t.client.messages.create({
    model: "claude-sonnet-test",
    max_tokens: 10,
    messages: [{ role: "user", content: "hi" }],
  }).catch((e) => e);
  assert.equal(refused.status, 400);
  const message = refused.error.error.message as string;
  assert.match(message, /bad request/);
  assert.ok(!message.includes(basic), message);
});

Deno.test("openai: a server that streams although asked for a whole answer still gives the whole message", async () => {
  await using t = await setupCompat({}, "qwen3-coder");
  const call = {
    index: 0,
    id: "call_1",
    type: "function",
    function: { name: "get_weather", arguments: '{"city":' },
  };
  t.fake.enqueue({
    sse: [
      openaiChunk({ role: "assistant", reasoning_content: "Look it up." }),
      openaiChunk({ content: "Checking." }),
      openaiChunk({ tool_calls: [call] }),
      openaiChunk({ tool_calls: [{ index: 0, function: { arguments: '"Oslo"}' } }] }),
      openaiChunk({}, "tool_calls"),
      openaiUsageChunk(openaiUsage(12, 7)),
      OPENAI_DONE,
    ],
  });
  const msg = await t.client.messages.create({
    model: "claude-sonnet-test",
    max_tokens: 4096,
    thinking: { type: "enabled", budget_tokens: 1024 },
    tools: [weatherTool],
    messages: [{ role: "user", content: "weather in Oslo?" }],
  });
  assert.equal(t.fake.requests[0].body.stream, undefined);
  assert.deepEqual(msg.content.map((b) => b.type), ["thinking", "text", "tool_use"]);
  assert.equal(msg.content[1].type === "text" && msg.content[1].text, "Checking.");
  const use = msg.content[2];
  assert.ok(use.type === "tool_use");
  assert.equal(use.id, "call_1");
  assert.deepEqual(use.input, { city: "Oslo" });
  assert.equal(msg.stop_reason, "tool_use");
  assert.equal(msg.model, "claude-sonnet-test");
  assert.equal(msg.usage.input_tokens, 12);
  assert.equal(msg.usage.output_tokens, 7);
  // A whole answer the server merely labels a stream is still the answer.
  t.fake.enqueue({
    status: 200,
    json: openaiCompletion({ content: "Labelled a stream." }, "stop", openaiUsage(3, 4)),
    headers: { "content-type": "text/event-stream" },
  });
  const labelled = await t.client.messages.create({
    model: "claude-sonnet-test",
    max_tokens: 100,
    messages: [{ role: "user", content: "hi" }],
  });
  assert.deepEqual(labelled.content, [{ type: "text", text: "Labelled a stream." }]);
  // An error sent that way is the error it names, not an answer that is no JSON (a 529).
  t.fake.enqueue({
    sse: [`data: ${JSON.stringify({ error: { message: "bad tool schema", code: 400 } })}\n\n`],
  });
  await assert.rejects(
    t.client.messages.create({
      model: "claude-sonnet-test",
      max_tokens: 100,
      messages: [{ role: "user", content: "hi" }],
    }),
    (err: unknown) => {
      assert.ok(err instanceof Anthropic.BadRequestError, String(err));
      assert.match(err.message, /bad tool schema/);
      return true;
    },
  );
});

Deno.test("openai: more tools than OpenAI takes (an MCP server with 150) go as the first 128, the chosen one among them, and the model is told which are missing", async () => {
  const many = Array.from({ length: 150 }, (_, i) => ({
    name: `mcp__big__tool_${i}`,
    description: `Tool ${i}`,
    input_schema: { type: "object" as const, properties: {} },
  }));
  const ask = {
    model: "claude-sonnet-test",
    max_tokens: 50,
    tools: many,
    tool_choice: { type: "tool" as const, name: "mcp__big__tool_140" },
    messages: [{ role: "user" as const, content: "go" }],
  };
  {
    await using t = await setup();
    await t.client.messages.create(ask);
    const sent = t.fake.requests[0].body;
    assert.equal(sent.tools.length, 128);
    assert.ok(sent.tools.some((t: any) => t.function.name === "mcp__big__tool_140"));
    assert.equal(sent.tool_choice.function.name, "mcp__big__tool_140");
    const system = sent.messages[0];
    assert.equal(system.role, "system");
    assert.match(system.content, /at most 128 tools.*mcp__big__tool_149/s);
    assert.doesNotMatch(system.content, /mcp__big__tool_140\b/);
    // A tool the conversation already called stays offered too, past the first 128.
    await t.client.messages.create({
      ...ask,
      tool_choice: { type: "auto" },
      messages: [
        { role: "user", content: "go" },
        {
          role: "assistant",
          content: [{ type: "tool_use", id: "toolu_1", name: "mcp__big__tool_145", input: {} }],
        },
        { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_1", content: "ok" }] },
      ],
    });
    const again = t.fake.requests[1].body.tools.map((t: any) => t.function.name);
    assert.equal(again.length, 128);
    assert.ok(again.includes("mcp__big__tool_145"));
  }
  {
    // A compatible server is sent them all; one that refuses them (as this fake does, in OpenAI's
    // words) is held to 128 from then on, the request answered all the same.
    await using t = await setupCompat({}, "qwen3-coder");
    await t.client.messages.create(ask);
    // The strict fake refuses more than 128, as OpenAI does: the proxy retried within them.
    assert.equal(t.fake.requests[0].body.tools.length, 150);
    assert.equal(t.fake.requests.length, 2);
    assert.equal(t.fake.requests[1].body.tools.length, 128);
    await t.client.messages.create(ask);
    assert.equal(t.fake.requests.length, 3);
    assert.equal(t.fake.requests[2].body.tools.length, 128);
  }
});
