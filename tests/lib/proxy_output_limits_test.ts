// An upstream whose output shares a context window with the prompt (vLLM): Claude Code's 64k
// max_tokens is retried within what the prompt leaves, and a long prompt's refusal does not cap
// the answers of later, shorter ones.
import assert from "node:assert/strict";
import Anthropic from "@anthropic-ai/sdk";
import { startFakeOpenAI } from "../fakes/openai_upstream.ts";
import { proxyTo } from "../helpers/proxy_to.ts";

const CONTEXT = 32_768;

function startFakeVllm() {
  const sent: Array<{ maxTokens: number; prompt: number }> = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    // deno-lint-ignore no-explicit-any
    const body: any = await req.json();
    const prompt = Math.ceil(JSON.stringify(body.messages).length / 4);
    sent.push({ maxTokens: body.max_tokens, prompt });
    if (body.max_tokens > CONTEXT - prompt) {
      const message = `'max_tokens' or 'max_completion_tokens' is too large: ${body.max_tokens}. ` +
        `This model's maximum context length is ${CONTEXT} tokens and your request has ${prompt} ` +
        `input tokens (${body.max_tokens} > ${CONTEXT} - ${prompt}).`;
      return Response.json(
        { object: "error", message, type: "BadRequestError", param: null, code: 400 },
        { status: 400 },
      );
    }
    return Response.json({
      id: "chatcmpl-vllm-1",
      object: "chat.completion",
      created: 1767225600,
      model: "qwen3",
      choices: [{
        index: 0,
        message: { role: "assistant", content: "ok" },
        finish_reason: "stop",
      }],
      usage: { prompt_tokens: prompt, completion_tokens: 1, total_tokens: prompt + 1 },
    });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}/v1`,
    sent,
    close: () => server.shutdown(),
  };
}

Deno.test("a context-window refusal is retried within what this prompt leaves, and not kept as a cap", async () => {
  await using t = await proxyTo(startFakeVllm(), {
    name: "vllm",
    serviceType: "custom",
    apiKeys: [],
    models: { default: "qwen3" },
  });
  const ask = (text: string) =>
    t.client.messages.stream({
      model: "claude-sonnet-4-5",
      max_tokens: 64_000,
      messages: [{ role: "user", content: text }],
    }).finalMessage();
  const long = "word ".repeat(20_000);
  assert.equal((await ask(long)).stop_reason, "end_turn");
  const [refused, retried] = t.fake.sent;
  assert.equal(refused.maxTokens, 64_000);
  assert.equal(retried.maxTokens, CONTEXT - retried.prompt);

  // A short prompt afterwards may use nearly the whole window, at the first attempt.
  assert.equal((await ask("hi")).stop_reason, "end_turn");
  assert.equal(t.fake.sent.length, 3);
  assert.ok(t.fake.sent[2].maxTokens > 32_000, `sent ${t.fake.sent[2].maxTokens}`);

  // And a long one again fits at once: the learned window minus a generous guess of its prompt.
  assert.equal((await ask(long)).stop_reason, "end_turn");
  assert.equal(t.fake.sent.length, 4);
  assert.ok(t.fake.sent[3].maxTokens <= CONTEXT - t.fake.sent[3].prompt);
});

Deno.test("current vLLM, which names only a floor of the prompt, is retried within its window; a prompt over it is too long", async () => {
  const window = 40_960;
  await using t = await proxyTo(
    await startFakeOpenAI({ strictTemplate: true, contextWindow: window }),
    {
      name: "vllm",
      serviceType: "custom",
      apiKeys: [],
      models: { default: "Qwen/Qwen3-32B" },
    },
  );
  const ask = (text: string) =>
    t.client.messages.stream({
      model: "claude-sonnet-4-5",
      max_tokens: 64_000,
      messages: [{ role: "user", content: text }],
    }).finalMessage();
  const answer = await ask("word ".repeat(16_000));
  assert.equal(answer.stop_reason, "end_turn");
  const sent = t.fake.requests.map((r) => r.body.max_tokens);
  assert.equal(sent[0], 64_000);
  assert.ok(sent.length <= 3, `tried ${sent.join(", ")}`);

  // A prompt the window cannot hold comes back in Anthropic's words, for Claude Code to compact.
  const err = await ask("word ".repeat(60_000)).catch((e) => e);
  assert.ok(err instanceof Anthropic.BadRequestError, String(err));
  assert.match(err.message, /prompt is too long/);
});

Deno.test("a limit learned of one server is not applied to another put under the same upstream name", async () => {
  const sent: number[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    // deno-lint-ignore no-explicit-any
    const body: any = await req.json();
    const asked = body.max_completion_tokens ?? body.max_tokens;
    sent.push(asked);
    if (asked > 16_384 && !req.url.includes("/big/")) {
      return Response.json({
        error: {
          message:
            `max_tokens is too large: ${asked}. This model supports at most 16384 completion tokens, whereas you provided ${asked}.`,
          type: "invalid_request_error",
          param: "max_tokens",
          code: "invalid_value",
        },
      }, { status: 400 });
    }
    return Response.json({
      id: "chatcmpl-1",
      object: "chat.completion",
      created: 1767225600,
      model: "m",
      choices: [{ index: 0, message: { role: "assistant", content: "ok" }, finish_reason: "stop" }],
      usage: { prompt_tokens: 5, completion_tokens: 1, total_tokens: 6 },
    });
  });
  const origin = `http://127.0.0.1:${server.addr.port}`;
  const fake = { url: `${origin}/small/v1`, close: () => server.shutdown() };
  await using t = await proxyTo(fake, {
    name: "up",
    serviceType: "custom",
    apiKeys: [],
    models: { default: "m" },
  });
  const ask = () =>
    t.client.messages.stream({
      model: "claude-sonnet-4-5",
      max_tokens: 64_000,
      messages: [{ role: "user", content: "hi" }],
    }).finalMessage();
  await ask();
  await ask();
  assert.deepEqual(sent, [64_000, 16_384, 16_384], "learned, then asked within it at once");
  // The same name, another server: it is asked for what the client asked.
  const doc = t.server.services.store.snapshot.doc;
  await t.server.services.store.replace({
    ...doc,
    upstream: [{ ...doc.upstream[0], baseUrl: `${origin}/big/v1` }],
  });
  await ask();
  assert.deepEqual(sent.slice(3), [64_000]);
});
