// The answers the proxy writes itself (OpenAI-style and Gemini upstreams) carry the same fields, at
// every level, as Anthropic's own (the fake Anthropic's, passed through as they are), read through
// the official SDK: code written against the real API reads null, 0 or "standard" where it
// expects them, never undefined.
import type Anthropic from "@anthropic-ai/sdk";
import type { APIError } from "@anthropic-ai/sdk";
import assert from "node:assert/strict";
import {
  anthropicMessage,
  anthropicStream,
  anthropicStreamError,
  anthropicToolMessage,
  anthropicToolStream,
  startFakeAnthropic,
} from "../fakes/anthropic_upstream.ts";
import {
  bareStreamError,
  callPart,
  chunk,
  errorBody,
  sseEvent,
  sseReply,
  startFakeGemini,
  usageMetadata,
} from "../fakes/gemini_upstream.ts";
import {
  OPENAI_DONE,
  openaiChunk,
  openaiCompletion,
  openaiUsage,
  openaiUsageChunk,
  startFakeOpenAI,
} from "../fakes/openai_upstream.ts";
import { proxyTo } from "../helpers/proxy_to.ts";

const weatherTool = {
  name: "get_weather",
  description: "Weather for a city",
  input_schema: {
    type: "object" as const,
    properties: { city: { type: "string" } },
    required: ["city"],
  },
};

type Scenario = "text" | "tool";

interface Upstream {
  name: string;
  client: Anthropic;
  /** Queues the upstream's answer for the next request. */
  answer(scenario: Scenario, stream: boolean): void;
  /** Queues a stream that fails after some text. */
  failMidStream(): void;
  [Symbol.asyncDispose](): Promise<void>;
}

async function anthropic(): Promise<Upstream> {
  const t = await proxyTo(await startFakeAnthropic(), {
    name: "ant",
    serviceType: "anthropic",
    apiKeys: ["sk-ant-fake"],
  });
  return {
    name: "anthropic",
    client: t.client,
    answer(scenario, stream) {
      const input = { city: "Paris" };
      if (stream) {
        t.fake.enqueue({
          sse: scenario === "text"
            ? anthropicStream("Hello there")
            : anthropicToolStream("toolu_01", "get_weather", input),
        });
      } else {
        t.fake.enqueue({
          status: 200,
          json: scenario === "text"
            ? anthropicMessage("Hello there")
            : anthropicToolMessage("toolu_01", "get_weather", input),
        });
      }
    },
    failMidStream() {
      t.fake.enqueue({
        sse: [...anthropicStream("cut short").slice(0, 4), anthropicStreamError()],
      });
    },
    [Symbol.asyncDispose]: () => t[Symbol.asyncDispose](),
  };
}

async function openai(): Promise<Upstream> {
  const fake = await startFakeOpenAI();
  const t = await proxyTo(fake, {
    name: "oai",
    baseUrl: `${fake.url}/v1`,
    serviceType: "openai",
    apiKeys: ["sk-openai-fake"],
    models: { default: "gpt-4o" },
  });
  const call = { id: "call_01", type: "function", function: { name: "get_weather" } };
  return {
    name: "openai",
    client: t.client,
    answer(scenario, stream) {
      const args = JSON.stringify({ city: "Paris" });
      if (!stream) {
        t.fake.enqueue({
          status: 200,
          json: scenario === "text"
            ? openaiCompletion({ content: "Hello there" }, "stop", openaiUsage(12, 5))
            : openaiCompletion(
              { tool_calls: [{ ...call, function: { ...call.function, arguments: args } }] },
              "tool_calls",
              openaiUsage(12, 5),
            ),
        });
        return;
      }
      const body = scenario === "text"
        ? [openaiChunk({ role: "assistant", content: "Hello there" }), openaiChunk({}, "stop")]
        : [
          openaiChunk({
            role: "assistant",
            tool_calls: [{ index: 0, ...call, function: { ...call.function, arguments: "" } }],
          }),
          openaiChunk({ tool_calls: [{ index: 0, function: { arguments: args } }] }),
          openaiChunk({}, "tool_calls"),
        ];
      t.fake.enqueue({ sse: [...body, openaiUsageChunk(openaiUsage(12, 5)), OPENAI_DONE] });
    },
    failMidStream() {
      t.fake.enqueue({
        sse: [
          openaiChunk({ role: "assistant", content: "cut short" }),
          `data: ${
            JSON.stringify({ error: { message: "Overloaded", type: "server_error", code: null } })
          }\n\n`,
        ],
      });
    },
    [Symbol.asyncDispose]: () => t[Symbol.asyncDispose](),
  };
}

async function gemini(): Promise<Upstream> {
  const key = "AIzaFakeGeminiKeyNumberOne000000000000";
  const t = await proxyTo(await startFakeGemini({ requireKey: [key] }), {
    name: "gem",
    serviceType: "gemini",
    apiKeys: [key],
    models: { default: "gemini-2.5-flash" },
  });
  return {
    name: "gemini",
    client: t.client,
    answer(scenario, stream) {
      const parts = scenario === "text"
        ? [{ text: "Hello there" }]
        : [callPart("get_weather", { city: "Paris" })];
      const whole = chunk(parts, { finishReason: "STOP", usage: usageMetadata(12, 5) });
      t.fake.enqueue(stream ? sseReply([whole]) : { status: 200, json: whole });
    },
    failMidStream() {
      t.fake.enqueue({
        sse: [
          sseEvent(chunk([{ text: "cut short" }])) +
          bareStreamError(errorBody(503, "UNAVAILABLE", "The model is overloaded.")),
        ],
      });
    },
    [Symbol.asyncDispose]: () => t[Symbol.asyncDispose](),
  };
}

function request(scenario: Scenario) {
  return {
    model: "claude-sonnet-test",
    max_tokens: 200,
    messages: [{ role: "user" as const, content: "Weather in Paris?" }],
    ...(scenario === "tool" ? { tools: [weatherTool] } : {}),
  };
}

/** The keys of every object in an answer, by path; values that are the model's data are skipped. */
function keysByPath(value: unknown, path = "", out: Record<string, string[]> = {}) {
  if (Array.isArray(value)) {
    value.forEach((v, i) => keysByPath(v, `${path}[${i}]`, out));
  } else if (value && typeof value === "object") {
    out[path || "."] = Object.keys(value).sort();
    for (const [k, v] of Object.entries(value)) {
      // A tool's input is the model's own object; an id or text is a string anyway.
      if (k === "input") continue;
      keysByPath(v, `${path}.${k}`, out);
    }
  }
  return out;
}

async function nonStreaming(u: Upstream, scenario: Scenario) {
  u.answer(scenario, false);
  return await u.client.messages.create(request(scenario));
}

async function streamed(u: Upstream, scenario: Scenario) {
  u.answer(scenario, true);
  const events: Record<string, unknown[]> = {};
  const stream = await u.client.messages.create({ ...request(scenario), stream: true });
  for await (const ev of stream) (events[ev.type] ??= []).push(ev);
  return events;
}

async function finalMessage(u: Upstream, scenario: Scenario) {
  u.answer(scenario, true);
  return await u.client.messages.stream(request(scenario)).finalMessage();
}

async function withUpstreams(
  fn: (reference: Upstream, translated: Upstream[]) => Promise<void>,
): Promise<void> {
  await using ref = await anthropic();
  await using oai = await openai();
  await using gem = await gemini();
  await fn(ref, [oai, gem]);
}

for (const scenario of ["text", "tool"] as const) {
  Deno.test(`shape: a ${scenario} answer has Anthropic's fields at every level`, async () => {
    await withUpstreams(async (ref, translated) => {
      const want = keysByPath(await nonStreaming(ref, scenario));
      for (const u of translated) {
        const got = keysByPath(await nonStreaming(u, scenario));
        assert.deepEqual(got, want, `${u.name}, not streaming`);
      }
    });
  });

  Deno.test(`shape: a streamed ${scenario} answer's events have Anthropic's fields`, async () => {
    await withUpstreams(async (ref, translated) => {
      const want = await streamed(ref, scenario);
      for (const u of translated) {
        const got = await streamed(u, scenario);
        for (const type of ["message_start", "content_block_start", "message_delta"]) {
          assert.deepEqual(
            got[type]?.map((e) => keysByPath(e)),
            want[type].map((e) => keysByPath(e)),
            `${u.name}, ${type}`,
          );
        }
      }
    });
  });

  Deno.test(`shape: stream().finalMessage() of a ${scenario} answer matches`, async () => {
    await withUpstreams(async (ref, translated) => {
      const want = keysByPath(await finalMessage(ref, scenario));
      for (const u of translated) {
        const got = keysByPath(await finalMessage(u, scenario));
        assert.deepEqual(got, want, `${u.name}, finalMessage()`);
      }
    });
  });
}

Deno.test("shape: an error after the 200 has the body Anthropic writes into a stream", async () => {
  const caught = async (u: Upstream) => {
    u.failMidStream();
    const stream = await u.client.messages.create({ ...request("text"), stream: true });
    try {
      for await (const _ of stream) { /* until the error */ }
    } catch (err) {
      return err as APIError;
    }
    assert.fail(`${u.name}: the stream ended without its error`);
  };
  await withUpstreams(async (ref, translated) => {
    const want = await caught(ref);
    for (const u of translated) {
      const got = await caught(u);
      assert.deepEqual(keysByPath(got.error), keysByPath(want.error), u.name);
      assert.match((got.error as { request_id: string }).request_id, /^req_/, u.name);
    }
  });
});

Deno.test("shape: fields that do not apply read as Anthropic sends them", async () => {
  await using oai = await openai();
  await using gem = await gemini();
  for (const u of [oai, gem]) {
    for (const msg of [await nonStreaming(u, "text"), await finalMessage(u, "text")]) {
      assert.equal(msg.container, null, u.name);
      assert.equal(msg.stop_details, null, u.name);
      assert.equal(msg.diagnostics, null, u.name);
      assert.equal((msg.content[0] as Anthropic.TextBlock).text, "Hello there");
      assert.deepEqual(msg.usage.cache_creation, {
        ephemeral_5m_input_tokens: 0,
        ephemeral_1h_input_tokens: 0,
      });
      assert.deepEqual(msg.usage.server_tool_use, {
        web_search_requests: 0,
        web_fetch_requests: 0,
      });
      assert.equal(msg.usage.service_tier, "standard");
      assert.equal(msg.usage.inference_geo, "not_available");
      assert.equal(msg.usage.input_tokens, 12);
      assert.equal(msg.usage.output_tokens, 5);
    }
    // A text block that cites nothing has no citations field: the Vercel AI SDK refuses a null.
    const whole = await nonStreaming(u, "text");
    assert.ok(!("citations" in whole.content[0]), `${u.name}: ${JSON.stringify(whole.content[0])}`);
    const tool = await nonStreaming(u, "tool");
    assert.deepEqual((tool.content[0] as Anthropic.ToolUseBlock).caller, { type: "direct" });
  }
});

Deno.test("shape: an answer given back as it came (as toolRunner does) is taken as history", async () => {
  await using oai = await openai();
  await using gem = await gemini();
  for (const u of [oai, gem]) {
    const call = await nonStreaming(u, "tool");
    const use = call.content[0] as Anthropic.ToolUseBlock;
    u.answer("text", false);
    const next = await u.client.messages.create({
      ...request("tool"),
      messages: [
        { role: "user", content: "Weather in Paris?" },
        { role: "assistant", content: call.content },
        {
          role: "user",
          content: [{ type: "tool_result", tool_use_id: use.id, content: "Sunny" }],
        },
        { role: "assistant", content: (await nonStreaming(u, "text")).content },
        { role: "user", content: "Thanks" },
      ],
    });
    assert.equal((next.content[0] as Anthropic.TextBlock).text, "Hello there", u.name);
  }
});
