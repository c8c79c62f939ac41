// A streamed request whose upstream is slow to send even its headers: the client is not left
// silent, keys are still tried in turn, and the end is an answer or an error the SDK raises.
import Anthropic from "@anthropic-ai/sdk";
import assert from "node:assert/strict";
import { OPENAI_DONE, openaiChunk, startFakeOpenAI } from "../fakes/openai_upstream.ts";
import { proxyTo } from "../helpers/proxy_to.ts";
import { ACCESS_KEY } from "../helpers/server.ts";

const KEYS = ["sk-open-key-aaaa-1111", "sk-open-key-bbbb-2222"];
const ASK = {
  model: "claude-sonnet-test",
  max_tokens: 10,
  stream: true,
  messages: [{ role: "user" as const, content: "x" }],
};

async function setup(env: Record<string, string>) {
  const fake = await startFakeOpenAI();
  return await proxyTo(fake, {
    name: "oai",
    baseUrl: `${fake.url}/v1`,
    serviceType: "openai",
    apiKeys: KEYS,
  }, { env: { STREAM_PING_INTERVAL: "100", ...env } });
}

function post(url: string) {
  return fetch(`${url}/v1/messages`, {
    method: "POST",
    headers: { "x-api-key": ACCESS_KEY, "content-type": "application/json" },
    body: JSON.stringify(ASK),
  });
}

const answer = (text: string) => ({
  sse: [openaiChunk({ role: "assistant", content: text }), openaiChunk({}, "stop"), OPENAI_DONE],
});

Deno.test("stream opening: an upstream slow to send its headers: the client gets headers and keepalives, then the answer", async () => {
  await using t = await setup({ REQUEST_TIMEOUT: "5000" });
  // Pings every 100 ms, the upstream's headers after 3 s: the client's come long before those
  // (a slow CI machine has seconds of room).
  t.fake.enqueue({ ...answer("Late but whole"), headersAfterMs: 3_000 });
  const started = Date.now();
  const res = await post(t.server.url);
  const headersAfter = Date.now() - started;
  assert.equal(res.status, 200);
  assert.ok(headersAfter < 2_000, `headers after ${headersAfter} ms`);
  assert.match(res.headers.get("content-type") ?? "", /text\/event-stream/);
  const text = await res.text();
  const keepalives = text.match(/^: waiting for the upstream\n\n/gm) ?? [];
  assert.ok(keepalives.length >= 2, text.slice(0, 200));
  // The answer follows the comments unchanged, from its own message_start.
  const events = text.slice(text.indexOf("event: "));
  assert.match(events, /^event: message_start\n/);
  assert.match(events, /Late but whole/);
  assert.match(events, /event: message_stop\n/);
  // The SDK reads past the comments.
  t.fake.enqueue({ ...answer("Read by the SDK"), headersAfterMs: 250 });
  const msg = await t.client.messages.stream(ASK).finalMessage();
  assert.equal((msg.content[0] as Anthropic.TextBlock).text, "Read by the SDK");
});

Deno.test("stream opening: keys are still tried in turn once the stream is open", async () => {
  await using t = await setup({ REQUEST_TIMEOUT: "300" });
  t.fake.enqueue({ hang: true }, answer("From the second key"));
  const res = await post(t.server.url);
  const text = await res.text();
  assert.ok(text.startsWith(": waiting for the upstream\n\n"));
  assert.match(text, /From the second key/);
  assert.match(text, /event: message_stop/);
  assert.deepEqual(
    t.fake.requests.map((r) => r.headers.get("authorization")),
    KEYS.map((k) => `Bearer ${k}`),
  );
});

Deno.test("stream opening: every key failing after the stream opened ends it with an error event the SDK raises", async () => {
  // Time enough for the 400 below, sent once the stream has opened, on a busy machine.
  await using t = await setup({ REQUEST_TIMEOUT: "1000" });
  t.fake.enqueue({ hang: true }, { hang: true });
  await assert.rejects(t.client.messages.stream(ASK).finalMessage(), (err: unknown) => {
    assert.ok(err instanceof Anthropic.APIError, String(err));
    assert.match(err.message, /overloaded_error/);
    assert.match(err.message, /Upstream unavailable after trying every key/);
    return true;
  });
  // An error the upstream named (a 400) comes as it would have as a status.
  t.fake.enqueue({
    status: 400,
    headersAfterMs: 250,
    json: { error: { message: "bad max_tokens", type: "invalid_request_error" } },
  });
  await assert.rejects(t.client.messages.stream(ASK).finalMessage(), (err: unknown) => {
    assert.ok(err instanceof Anthropic.APIError, String(err));
    assert.match(err.message, /invalid_request_error/);
    assert.match(err.message, /bad max_tokens/);
    return true;
  });
});

Deno.test("stream opening: a client that leaves the open stream ends the attempt and frees its slot", async () => {
  await using t = await setup({ REQUEST_TIMEOUT: "10000" });
  t.fake.enqueue({ hang: true });
  const res = await post(t.server.url);
  const reader = res.body!.getReader();
  await reader.read();
  assert.equal(t.server.services.inFlight.count, 1);
  await reader.cancel();
  const until = Date.now() + 2000;
  while (t.server.services.inFlight.count > 0 && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.equal(t.server.services.inFlight.count, 0);
  assert.equal(t.fake.requests.length, 1, "no other key tried for a client that left");
});

Deno.test("stream opening: a prompt answer has no keepalive in front of it", async () => {
  await using t = await setup({ REQUEST_TIMEOUT: "5000" });
  t.fake.enqueue(answer("At once"));
  const text = await (await post(t.server.url)).text();
  assert.ok(text.startsWith("event: message_start\n"), text.slice(0, 80));
});
