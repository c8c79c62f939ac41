// The fake must stay as strict as the real API, or end-to-end tests stop catching bad requests.
// deno-lint-ignore-file no-explicit-any
import assert from "node:assert/strict";
import {
  type CompatRules,
  type FakeUpstream,
  OPENAI_DONE,
  openaiChunk,
  openaiCompletion,
  openaiUsage,
  startFakeOpenAI,
} from "./openai_upstream.ts";

const VALID = {
  model: "gpt-4.1",
  messages: [{ role: "user", content: "hi" }],
};

async function withFake(
  fn: (fake: FakeUpstream) => Promise<void>,
  options?: { requireKey?: string[] } & CompatRules,
): Promise<void> {
  const fake = await startFakeOpenAI(options);
  try {
    await fn(fake);
  } finally {
    await fake.close();
  }
}

async function post(
  fake: FakeUpstream,
  body: unknown,
  key = "sk-good",
  path = "/v1/chat/completions",
) {
  const res = await fetch(fake.url + path, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, text, json, headers: res.headers };
}

function dataEvents(text: string): any[] {
  return text.split("\n\n").filter(Boolean).map((frame) => {
    assert.ok(frame.startsWith("data: "), frame);
    const data = frame.slice(6);
    return data === "[DONE]" ? "[DONE]" : JSON.parse(data);
  });
}

const call = (id: string, name = "Bash") => ({
  id,
  type: "function",
  function: { name, arguments: "{}" },
});

const INVALID: [string, unknown, RegExp][] = [
  [
    "unknown top-level field",
    { ...VALID, thinking: { type: "adaptive" } },
    /Unrecognized request argument supplied: thinking/,
  ],
  [
    "Anthropic system field",
    { ...VALID, system: "be nice" },
    /Unrecognized request argument supplied: system/,
  ],
  ["top_k", { ...VALID, top_k: 5 }, /Unrecognized request argument supplied: top_k/],
  ["missing model", { messages: VALID.messages }, /model/],
  ["missing messages", { model: "gpt-4.1" }, /Missing required parameter: 'messages'/],
  ["empty messages", { model: "gpt-4.1", messages: [] }, /empty array/],
  ["not JSON", "{nope", /could not parse the JSON body/],
  [
    "cache_control in a content part",
    {
      ...VALID,
      messages: [{
        role: "user",
        content: [{ type: "text", text: "hi", cache_control: { type: "ephemeral" } }],
      }],
    },
    /cache_control/,
  ],
  [
    "cache_control in a tool",
    {
      ...VALID,
      tools: [{
        type: "function",
        function: { name: "a", parameters: {} },
        cache_control: { type: "ephemeral" },
      }],
    },
    /cache_control/,
  ],
  [
    "unknown role",
    { ...VALID, messages: [{ role: "human", content: "hi" }] },
    /Invalid value: 'human'/,
  ],
  [
    "tool calls not answered",
    {
      ...VALID,
      messages: [
        { role: "user", content: "go" },
        { role: "assistant", content: null, tool_calls: [call("c1"), call("c2")] },
        { role: "tool", tool_call_id: "c1", content: "ok" },
        { role: "user", content: "next" },
      ],
    },
    /did not have response messages: c2/,
  ],
  [
    "tool calls answered after a user message",
    {
      ...VALID,
      messages: [
        { role: "assistant", content: null, tool_calls: [call("c1")] },
        { role: "user", content: "wait" },
        { role: "tool", tool_call_id: "c1", content: "ok" },
      ],
    },
    /must be followed by tool messages/,
  ],
  [
    "tool calls as the last message",
    {
      ...VALID,
      messages: [{ role: "user", content: "go" }, {
        role: "assistant",
        content: null,
        tool_calls: [call("c1")],
      }],
    },
    /did not have response messages: c1/,
  ],
  [
    "tool message without a call",
    {
      ...VALID,
      messages: [{ role: "user", content: "go" }, {
        role: "tool",
        tool_call_id: "c1",
        content: "ok",
      }],
    },
    /must be a response to a preceeding message with 'tool_calls'/,
  ],
  [
    "tool message for another id",
    {
      ...VALID,
      messages: [
        { role: "assistant", content: null, tool_calls: [call("c1")] },
        { role: "tool", tool_call_id: "c9", content: "ok" },
      ],
    },
    /must be a response to a preceeding message/,
  ],
  [
    "Anthropic image part in user content",
    {
      ...VALID,
      messages: [{
        role: "user",
        content: [{
          type: "image",
          source: { type: "base64", media_type: "image/png", data: "x" },
        }],
      }],
    },
    /Invalid value: 'image'/,
  ],
  [
    "tool_result part in user content",
    {
      ...VALID,
      messages: [{ role: "user", content: [{ type: "tool_result", tool_use_id: "x" }] }],
    },
    /Invalid value: 'tool_result'/,
  ],
  [
    "image part in a tool message",
    {
      ...VALID,
      messages: [
        { role: "assistant", content: null, tool_calls: [call("c1")] },
        {
          role: "tool",
          tool_call_id: "c1",
          content: [{ type: "image_url", image_url: { url: "x" } }],
        },
      ],
    },
    /Invalid value: 'image_url'/,
  ],
  [
    "max_tokens with max_completion_tokens",
    { ...VALID, max_tokens: 10, max_completion_tokens: 10 },
    /max_tokens/,
  ],
  ["empty tools", { ...VALID, tools: [] }, /'tools': empty array/],
  [
    "tool name with a dot",
    { ...VALID, tools: [{ type: "function", function: { name: "mcp.server", parameters: {} } }] },
    /does not match pattern/,
  ],
  [
    "tool name over 64 characters",
    { ...VALID, tools: [{ type: "function", function: { name: "a".repeat(65), parameters: {} } }] },
    /does not match pattern/,
  ],
  [
    "stream_options without stream",
    { ...VALID, stream_options: { include_usage: true } },
    /only allowed when 'stream' is enabled/,
  ],
  [
    "tool_choice without tools",
    { ...VALID, tool_choice: "auto" },
    /only allowed when 'tools' are specified/,
  ],
  [
    "parallel_tool_calls without tools",
    { ...VALID, parallel_tool_calls: false },
    /only allowed when 'tools'/,
  ],
  ["five stop sequences", { ...VALID, stop: ["a", "b", "c", "d", "e"] }, /'stop'/],
  ["user over 64 characters", { ...VALID, user: "u".repeat(65) }, /'user': string too long/],
  [
    "tool call id over 40 characters",
    {
      ...VALID,
      messages: [
        { role: "assistant", content: null, tool_calls: [call("c".repeat(41))] },
        { role: "tool", tool_call_id: "c".repeat(41), content: "ok" },
      ],
    },
    /maximum length 40/,
  ],
  [
    "assistant message with neither content nor tool calls",
    { ...VALID, messages: [{ role: "user", content: "a" }, { role: "assistant", content: null }] },
    /content/,
  ],
];

Deno.test("fake rejects what the real API rejects, with an OpenAI-shaped 400", async () => {
  await withFake(async (fake) => {
    for (const [label, body, message] of INVALID) {
      const res = await post(fake, body);
      assert.equal(res.status, 400, `${label}: ${res.text}`);
      assert.equal(res.json.error.type, "invalid_request_error", label);
      assert.match(res.json.error.message, message, label);
      assert.ok("param" in res.json.error && "code" in res.json.error, label);
    }
    assert.equal(fake.requests.length, INVALID.length, "rejected requests are still recorded");
  });
});

Deno.test("fake accepts a full valid conversation", async () => {
  await withFake(async (fake) => {
    const res = await post(fake, {
      model: "gpt-4.1",
      messages: [
        { role: "system", content: "sys" },
        {
          role: "user",
          content: [
            { type: "text", text: "look" },
            { type: "image_url", image_url: { url: "data:image/png;base64,AAAA" } },
            {
              type: "file",
              file: { filename: "a.pdf", file_data: "data:application/pdf;base64,JVB" },
            },
          ],
        },
        { role: "assistant", content: null, tool_calls: [call("c1"), call("c2", "Read")] },
        { role: "tool", tool_call_id: "c2", content: "two" },
        { role: "tool", tool_call_id: "c1", content: [{ type: "text", text: "one" }] },
        { role: "system", content: "mid-conversation note" },
        { role: "user", content: "thanks" },
      ],
      tools: [{ type: "function", function: { name: "Bash", parameters: { type: "object" } } }],
      tool_choice: "auto",
      parallel_tool_calls: false,
      max_completion_tokens: 100,
      reasoning_effort: "low",
      user: "u1",
    });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.object, "chat.completion");
    assert.equal(res.json.choices[0].message.content, "Hello from fake OpenAI");
    assert.equal(res.json.choices[0].finish_reason, "stop");
    assert.equal(fake.requests[0].path, "/v1/chat/completions");
    assert.equal(fake.requests[0].body.user, "u1");
    assert.equal(fake.requests[0].headers.get("authorization"), "Bearer sk-good");
  });
});

Deno.test("fake in compat modes refuses what strict chat templates and Groq refuse", async () => {
  const user = (content: unknown) => ({ role: "user", content });
  const cases: [CompatRules, unknown[], RegExp][] = [
    [{ strictTemplate: true }, [user("a"), { role: "system", content: "s" }], /at the beginning/],
    [{ strictTemplate: true }, [user("a"), user("b")], /must alternate/],
    [
      { strictTemplate: true },
      [user([{ type: "file", file: { file_data: "data:application/pdf;base64,JVB" } }])],
      /file/,
    ],
    [
      { rejectReasoningContent: true },
      [user("a"), { role: "assistant", content: "b", reasoning_content: "" }],
      /reasoning_content' is unsupported/,
    ],
  ];
  for (const [rules, messages, message] of cases) {
    await withFake(async (fake) => {
      const res = await post(fake, { model: "m", messages });
      assert.equal(res.status, 400, res.text);
      assert.match(res.json.error.message, message);
      // The same body is fine for api.openai.com.
      const plain = await startFakeOpenAI();
      try {
        assert.equal((await post(plain, { model: "m", messages })).status, 200);
      } finally {
        await plain.close();
      }
    }, rules);
  }
});

Deno.test("fake with a context window refuses as current vLLM does: max_tokens, characters, then a floor", async () => {
  await withFake(async (fake) => {
    // About 9500 characters, 2400 tokens.
    const messages = [{ role: "user", content: "word ".repeat(1900) }];
    const ask = (max_tokens: number) => post(fake, { model: "m", messages, max_tokens });
    let res = await ask(64000);
    assert.equal(res.status, 400);
    assert.equal(
      res.json.error.message,
      "max_tokens=64000 cannot be greater than max_model_len=max_total_tokens=5000. Please request fewer output tokens.",
    );
    res = await ask(5000);
    assert.equal(res.status, 400);
    assert.match(
      res.json.error.message,
      /^This model's maximum context length is 5000 tokens\. However, you requested 5000 output tokens and your prompt contains \d+ characters \(more than 0 characters, which is the upper bound for 0 input tokens\)/,
    );
    res = await ask(4000);
    assert.equal(res.status, 400);
    assert.match(
      res.json.error.message,
      /you requested 4000 output tokens and your prompt contains at least 1001 input tokens, for a total of at least 5001 tokens/,
    );
    assert.equal((await ask(2000)).status, 200);
  }, { contextWindow: 5000 });
});

Deno.test("fake checks the key when asked to, and the queue waits for a valid request", async () => {
  await withFake(async (fake) => {
    fake.enqueue({
      status: 429,
      json: { error: { message: "slow down", type: "requests", code: "rate_limit_exceeded" } },
    });
    const bad = await post(fake, VALID, "sk-wrong");
    assert.equal(bad.status, 401);
    assert.equal(bad.json.error.code, "invalid_api_key");
    const invalid = await post(fake, { ...VALID, top_k: 1 });
    assert.equal(invalid.status, 400);
    const queued = await post(fake, VALID);
    assert.equal(queued.status, 429);
    assert.equal(queued.json.error.message, "slow down");
    assert.equal((await post(fake, VALID)).status, 200);
  }, { requireKey: ["sk-good", "sk-other"] });
});

Deno.test("fake answers unknown paths with 404", async () => {
  await withFake(async (fake) => {
    const res = await post(fake, VALID, "sk-good", "/v1/responses");
    assert.equal(res.status, 404);
    assert.match(res.json.error.message, /Invalid URL/);
  });
});

Deno.test("fake default stream: text chunks, usage only when asked, [DONE] last", async () => {
  await withFake(async (fake) => {
    const withUsage = await post(fake, {
      ...VALID,
      stream: true,
      stream_options: { include_usage: true },
    });
    assert.equal(withUsage.headers.get("content-type"), "text/event-stream");
    const events = dataEvents(withUsage.text);
    assert.equal(events.at(-1), "[DONE]");
    const chunks = events.slice(0, -1);
    assert.ok(chunks.every((c) => c.object === "chat.completion.chunk" && c.model === "gpt-4.1"));
    assert.equal(
      chunks.map((c) => c.choices[0]?.delta.content ?? "").join(""),
      "Hello from fake OpenAI",
    );
    const usage = chunks.at(-1);
    assert.deepEqual(usage.choices, []);
    assert.ok(usage.usage.prompt_tokens > 0);
    assert.equal(chunks.at(-2).choices[0].finish_reason, "stop");
    assert.ok(chunks.slice(0, -1).every((c) => c.usage === null));

    const without = dataEvents((await post(fake, { ...VALID, stream: true })).text).slice(0, -1);
    assert.ok(without.every((c) => c.choices.length === 1 && !("usage" in c)));
  });
});

Deno.test("fake default: `use tool NAME with JSON` calls the tool, streamed in fragments", async () => {
  await withFake(async (fake) => {
    const messages = [{
      role: "user",
      content: 'now use tool Bash with {"command":"ls -la /tmp"}',
    }];
    const tools = [{
      type: "function",
      function: { name: "Bash", parameters: { type: "object" } },
    }];
    const undeclared = await post(fake, { ...VALID, messages });
    assert.equal(undeclared.json.choices[0].finish_reason, "stop", "a model calls declared tools");
    const plain = await post(fake, { ...VALID, messages, tools });
    const tc = plain.json.choices[0].message.tool_calls[0];
    assert.equal(plain.json.choices[0].finish_reason, "tool_calls");
    const other = { type: "function", function: { name: "Read" } };
    const refused = await post(fake, { ...VALID, messages, tools, tool_choice: other });
    assert.equal(refused.status, 400, "a named tool_choice must be one of the tools");
    assert.equal(tc.function.name, "Bash");
    assert.deepEqual(JSON.parse(tc.function.arguments), { command: "ls -la /tmp" });
    assert.match(tc.id, /^call_/);

    const chunks = dataEvents(
      (await post(fake, { ...VALID, messages, tools, stream: true })).text,
    ).slice(0, -1);
    const fragments = chunks.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []);
    assert.ok(fragments.length > 2, "arguments arrive in several fragments");
    assert.equal(fragments[0].function.name, "Bash");
    assert.ok(fragments.every((f: any) => f.index === 0));
    assert.deepEqual(JSON.parse(fragments.map((f: any) => f.function.arguments).join("")), {
      command: "ls -la /tmp",
    });
    assert.equal(chunks.at(-1).choices[0].finish_reason, "tool_calls");
  });
});

Deno.test("fake default: a tool message gets its content echoed back", async () => {
  await withFake(async (fake) => {
    const res = await post(fake, {
      ...VALID,
      messages: [
        { role: "user", content: "go" },
        { role: "assistant", content: null, tool_calls: [call("c1")] },
        { role: "tool", tool_call_id: "c1", content: "x".repeat(300) },
      ],
    });
    assert.equal(res.json.choices[0].message.content, `Tool result received: ${"x".repeat(200)}`);
  });
});

Deno.test("fake scripted replies: plain text, JSON with headers, and timed SSE", async () => {
  await withFake(async (fake) => {
    fake.enqueue(
      { status: 502, text: "<html><title>502 Bad Gateway</title></html>" },
      {
        status: 200,
        json: openaiCompletion({ content: "scripted" }, "stop", openaiUsage(5, 1)),
        headers: { "x-request-id": "req_1" },
      },
      {
        sse: [openaiChunk({ content: "a" }), openaiChunk({ content: "b" }, "stop"), OPENAI_DONE],
        delayMs: 40,
      },
    );
    const html = await post(fake, VALID);
    assert.equal(html.status, 502);
    assert.match(html.text, /Bad Gateway/);
    const json = await post(fake, VALID);
    assert.equal(json.json.choices[0].message.content, "scripted");
    assert.equal(json.headers.get("x-request-id"), "req_1");
    const started = Date.now();
    const sse = await post(fake, VALID);
    assert.ok(Date.now() - started >= 70, "chunks are spaced by delayMs");
    assert.equal(dataEvents(sse.text).length, 3);
  });
});

Deno.test("fake resetAfterChunks drops the connection after K chunks", async () => {
  await withFake(async (fake) => {
    fake.enqueue({
      resetAfterChunks: 1,
      sse: [openaiChunk({ content: "first" }), openaiChunk({ content: "never" })],
    });
    const res = await fetch(fake.url + "/v1/chat/completions", {
      method: "POST",
      body: JSON.stringify({ ...VALID, stream: true }),
    });
    assert.equal(res.status, 200);
    const reader = res.body!.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    assert.match(first, /first/);
    await assert.rejects(async () => {
      while (!(await reader.read()).done) { /* drain */ }
    });
  });
});

Deno.test("fake hang never answers until closed", async () => {
  const fake = await startFakeOpenAI();
  fake.enqueue({ hang: true });
  const pending = fetch(fake.url + "/v1/chat/completions", {
    method: "POST",
    body: JSON.stringify(VALID),
  });
  const raced = await Promise.race([
    pending.then(() => "answered"),
    new Promise((resolve) => setTimeout(() => resolve("still waiting"), 150)),
  ]);
  assert.equal(raced, "still waiting");
  await fake.close();
  const res = await pending;
  await res.body?.cancel();
});
