import assert from "node:assert/strict";
import { HAVE_CLAUDE_CODE_FIXTURES } from "../../helpers/fixtures.ts";
import { upstreamJson } from "../../helpers/upstream_body.ts";
import type { MessagesRequest } from "../../../lib/anthropic.ts";
import { ProxyError } from "../../../lib/errors.ts";
import { geminiProvider, geminiUrl } from "../../../lib/providers/gemini.ts";
import { parseToolId } from "../../../lib/providers/gemini_thought_signatures.ts";
import type { CallContext } from "../../../lib/providers/types.ts";
import { failureOf } from "../../../lib/upstream_fetch.ts";
import { checkGeminiRequest, rateLimitBody, startFakeGemini } from "../../fakes/gemini_upstream.ts";
import {
  type Any,
  claudeCode,
  clientBlocks,
  ctx,
  fixture,
  SIGS,
  stream,
} from "../../helpers/gemini_calls.ts";

Deno.test("URL: the version is added once, whatever the base URL looks like", () => {
  assert.equal(geminiUrl("", "models"), "https://generativelanguage.googleapis.com/v1beta/models");
  assert.equal(geminiUrl("https://g.example/", "models"), "https://g.example/v1beta/models");
  assert.equal(geminiUrl("https://g.example/v1beta/", "models"), "https://g.example/v1beta/models");
  assert.equal(
    geminiUrl("https://g.example/proxy/v1", "models"),
    "https://g.example/proxy/v1/models",
  );
  // A gateway's query on the base URL stays at the end, joined to the method's own.
  assert.equal(
    geminiUrl("https://g.example/gw/?key=abc", "models/m:streamGenerateContent", "?alt=sse"),
    "https://g.example/gw/v1beta/models/m:streamGenerateContent?key=abc&alt=sse",
  );

  const body = { model: "m", max_tokens: 10, messages: [{ role: "user" as const, content: "hi" }] };
  const s = geminiProvider.buildRequest(body, ctx({ model: "models/gemini-2.5-pro" }), "");
  assert.equal(
    s.url,
    "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse",
  );
  assert.equal(s.headers["x-goog-api-key"], "key-a");
  const n = geminiProvider.buildRequest(
    body,
    ctx({ stream: false, upstream: { ...ctx().upstream, baseUrl: "http://h:1/v1beta" } }),
    "",
  );
  assert.equal(n.url, "http://h:1/v1beta/models/gemini-2.5-flash:generateContent");
  // A model name no URL can hold whole (a lone surrogate) is no crash.
  const odd = geminiProvider.buildRequest(body, ctx({ model: "gemini-\ud800" }), "");
  assert.match(odd.url, /models\/gemini-%EF%BF%BD:streamGenerateContent\?alt=sse$/);
});

Deno.test("non-stream: a stream asked without alt=sse comes as a JSON array of chunks, read in order", () => {
  const chunks = [
    { candidates: [{ content: { role: "model", parts: [{ text: "Hello " }] } }] },
    {
      candidates: [{
        content: { role: "model", parts: [{ text: "world" }] },
        finishReason: "STOP",
      }],
      usageMetadata: { promptTokenCount: 7, candidatesTokenCount: 2, totalTokenCount: 9 },
    },
  ];
  const msg = geminiProvider.parseResponse(chunks, ctx({ stream: true }));
  assert.deepEqual(msg.content.map((b: Any) => b.text), ["Hello world"]);
  assert.equal(msg.stop_reason, "end_turn");
  assert.equal(msg.usage.input_tokens, 7);
  assert.equal(msg.usage.output_tokens, 2);
  // An error among the chunks is the upstream's error, not an empty answer.
  assert.throws(
    () =>
      geminiProvider.parseResponse(
        [chunks[0], { error: { code: 503, message: "overloaded", status: "UNAVAILABLE" } }],
        ctx({ stream: true }),
      ),
    (err: unknown) => failureOf(err as ProxyError).status === 503,
  );
  // No chunk at all: an empty answer, said as one with no candidate (not as a STOP).
  assert.throws(
    () => geminiProvider.parseResponse([], ctx({ stream: true })),
    (err: unknown) => /empty answer \(no candidate\)/.test(failureOf(err as ProxyError).message),
  );
});

Deno.test("non-stream: thoughts, text and parallel calls in one message", () => {
  const c = ctx({ stream: false });
  const msg = geminiProvider.parseResponse(JSON.parse(fixture("parallel_calls.json")), c);
  assert.equal(msg.model, "claude-sonnet-4-5");
  assert.equal(msg.stop_reason, "tool_use");
  assert.deepEqual(msg.content.map((b) => b.type), ["thinking", "text", "tool_use", "tool_use"]);
  const [thinking, text, a, b] = msg.content as Any[];
  assert.equal(thinking.thinking, "**Checking the files**\n\nI need to read two files.");
  assert.ok(thinking.signature.length > 0);
  assert.equal(text.text, "Let me read both files.");
  assert.deepEqual(a.input, { file_path: "/tmp/a.txt" });
  assert.deepEqual(b.input, { file_path: "/tmp/b.txt", limit: 20 });
  assert.equal(parseToolId(a.id)?.signature, SIGS.S2);
  // Every field Anthropic's usage has, the ones that do not apply as it sends them.
  assert.deepEqual(msg.usage, {
    input_tokens: 6075,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 2048,
    cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 },
    output_tokens: 271,
    output_tokens_details: { thinking_tokens: 230 },
    server_tool_use: { web_search_requests: 0, web_fetch_requests: 0 },
    service_tier: "standard",
    inference_geo: "not_available",
    speed: "standard",
  });
});

Deno.test("non-stream: a failure in a 200 keeps whose fault it is, so another key is tried", () => {
  const c = ctx({ stream: false });
  const faultOf = (json: unknown) => {
    try {
      geminiProvider.parseResponse(json, c);
    } catch (err) {
      if (err instanceof ProxyError) return failureOf(err);
      throw err;
    }
    assert.fail("no failure");
  };
  // The stream path retries these on another key; a non-stream request must too. An empty answer
  // is the model's, not the key's, in both.
  assert.equal(faultOf({ candidates: [{ finishReason: "STOP" }] }).keyFault, undefined);
  const limited = faultOf({ error: rateLimitBody("7s").error });
  assert.equal(limited.keyFault, "rate_limit");
  assert.equal(limited.retryAfterMs, 7000);
});

Deno.test({
  name: "count tokens: the generateContentRequest wrapper with system and tools",
  ignore: !HAVE_CLAUDE_CODE_FIXTURES,
}, () => {
  const req = claudeCode("count-tokens-request-with-tools.json");
  const r = geminiProvider.countTokensRequest!(req, ctx({ model: "gemini-2.5-flash" }), "");
  assert.equal(
    r.url,
    "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:countTokens",
  );
  const body = upstreamJson(r);
  assert.deepEqual(Object.keys(body), ["generateContentRequest"]);
  assert.equal(body.generateContentRequest.model, "models/gemini-2.5-flash");
  assert.equal(checkGeminiRequest(body.generateContentRequest), undefined);
  assert.ok(body.generateContentRequest.tools[0].functionDeclarations.length > 0);
  assert.equal(geminiProvider.parseCountTokens!({ totalTokens: 4242 }), 4242);
});

Deno.test({
  name: "end to end against the strict fake: a tool round trip on a thinking model",
  ignore: !HAVE_CLAUDE_CODE_FIXTURES,
}, async () => {
  const fake = await startFakeGemini({ thinkingModel: true, requireKey: ["key-a"] });
  try {
    const upstream = { ...ctx().upstream, baseUrl: fake.url };
    const send = async (body: MessagesRequest, c: CallContext) => {
      const req = geminiProvider.buildRequest(body, c, "");
      const res = await fetch(req.url, { method: "POST", headers: req.headers, body: req.body });
      const text = await res.text();
      assert.equal(res.status, 200, text);
      return stream(text, c);
    };
    const base = claudeCode("claude-code-main-request.json");
    const first: MessagesRequest = {
      ...base,
      messages: [{ role: "user", content: 'use tool Read with {"file_path":"/etc/hosts"}' }],
    };
    const c1 = ctx({ upstream });
    const events = await send(first, c1);
    assert.equal(events.at(-2)!.data.delta.stop_reason, "tool_use");
    const blocks = clientBlocks(events);
    const call = blocks.find((b) => b.type === "tool_use");
    assert.deepEqual(call.input, { file_path: "/etc/hosts" });

    const second: MessagesRequest = {
      ...base,
      messages: [
        ...first.messages,
        { role: "assistant", content: blocks },
        {
          role: "user",
          content: [{ type: "tool_result", tool_use_id: call.id, content: "127.0.0.1 localhost" }],
        },
      ],
    };
    const answer = clientBlocks(await send(second, ctx({ upstream })));
    assert.match(
      answer.find((b) => b.type === "text").text,
      /^Tool result received: \{"output":"127\.0\.0\.1/,
    );
    assert.equal(
      fake.requests[1].body.contents[1].parts.at(-1).thoughtSignature,
      parseToolId(call.id)?.signature,
    );

    // The text answer ends on its text; the next turn replays the call's signature still.
    assert.equal(answer.at(-1).type, "text");
    const third: MessagesRequest = {
      ...base,
      messages: [
        ...second.messages,
        { role: "assistant", content: answer },
        { role: "user", content: "thanks" },
      ],
    };
    await send(third, ctx({ upstream }));
    const replayed = fake.requests[2].body.contents[3];
    assert.equal(replayed.role, "model");
    assert.match(replayed.parts.at(-1).text, /^Tool result received/);
  } finally {
    await fake.close();
  }
});
