// What the client sees, and which keys the upstream saw, when upstreams and keys fail.
import assert from "node:assert/strict";
import { healthId } from "../../lib/key_pool.ts";
import { ACCESS_KEY, startTestServer } from "../helpers/server.ts";
import { anthropicStream, startFakeAnthropic } from "../fakes/anthropic_upstream.ts";

const KEYS = ["sk-fault-key-aaaa-1111", "sk-fault-key-bbbb-2222", "sk-fault-key-cccc-3333"];

async function setup(env: Record<string, string> = {}, extra: { fallback?: boolean } = {}) {
  const fake = await startFakeAnthropic();
  const backup = extra.fallback ? await startFakeAnthropic() : undefined;
  const upstream = [{
    name: "main",
    baseUrl: fake.url,
    serviceType: "anthropic",
    apiKeys: KEYS,
    ...(backup ? { fallback: "backup" } : {}),
  }];
  if (backup) {
    upstream.push({
      name: "backup",
      baseUrl: backup.url,
      serviceType: "anthropic",
      apiKeys: ["sk-backup-key-9999"],
    });
  }
  const server = await startTestServer({ env, config: { upstream, loadBalance: "failover" } });
  return {
    fake,
    backup,
    server,
    keysSeen: () => fake.requests.map((r) => r.headers.get("x-api-key")),
    async [Symbol.asyncDispose]() {
      await server.close();
      await fake.close();
      await backup?.close();
    },
  };
}

function post(url: string, body: Record<string, unknown>, init: RequestInit = {}) {
  return fetch(`${url}/v1/messages`, {
    method: "POST",
    headers: { "x-api-key": ACCESS_KEY, "content-type": "application/json" },
    body: JSON.stringify({
      model: "test-model",
      max_tokens: 16,
      messages: [{ role: "user", content: "hello" }],
      ...body,
    }),
    ...init,
  });
}

const rateLimited = (headers: Record<string, string> = {}) => ({
  status: 429,
  json: { type: "error", error: { type: "rate_limit_error", message: "slow down" } },
  headers,
});

Deno.test("a 429 with retry-after cools that key down and the next key answers", async () => {
  await using t = await setup();
  t.fake.enqueue(rateLimited({ "retry-after": "30" }));
  const res = await post(t.server.url, {});
  assert.equal(res.status, 200);
  await res.body?.cancel();
  assert.deepEqual(t.keysSeen(), [KEYS[0], KEYS[1]]);
  const state = t.server.services.health.get(healthId(t.fake.url, KEYS[0]), "test-model");
  assert.equal(state?.state, "cooldown");
  assert.ok(state!.until! - Date.now() > 25_000 && state!.until! - Date.now() <= 30_000);
  // The cooling key is skipped on the next request.
  const again = await post(t.server.url, {});
  await again.body?.cancel();
  assert.deepEqual(t.keysSeen(), [KEYS[0], KEYS[1], KEYS[1]]);
});

Deno.test("a 429 without retry-after cools the key 10 s, doubling while it stays limited", async () => {
  await using t = await setup();
  const id = healthId(t.fake.url, KEYS[0]);
  const cooling = () => {
    const state = t.server.services.health.get(id, "test-model");
    assert.equal(state?.state, "cooldown");
    return state!.until! - Date.now();
  };
  t.fake.enqueue(rateLimited());
  const res = await post(t.server.url, {});
  await res.body?.cancel();
  const first = cooling();
  assert.ok(first > 8_000 && first <= 10_000, `first cooldown ${first} ms`);
  // Its cooldown over, the key is limited again: twice as long.
  await t.server.services.health.clear(id);
  t.fake.enqueue(rateLimited());
  const again = await post(t.server.url, {});
  await again.body?.cancel();
  const second = cooling();
  assert.ok(second > 18_000 && second <= 20_000, `second cooldown ${second} ms`);
  // A success forgets the count.
  await t.server.services.health.clear(id);
  const ok = await post(t.server.url, {});
  await ok.body?.cancel();
  t.fake.enqueue(rateLimited());
  const third = await post(t.server.url, {});
  await third.body?.cancel();
  assert.ok(cooling() <= 10_000);
  assert.deepEqual(t.keysSeen(), [KEYS[0], KEYS[1], KEYS[0], KEYS[1], KEYS[0], KEYS[0], KEYS[1]]);
});

Deno.test("a 401 disables the key, and the client never sees the upstream's 401", async () => {
  await using t = await setup();
  t.fake.enqueue({
    status: 401,
    json: { type: "error", error: { type: "authentication_error", message: "invalid x-api-key" } },
  });
  const res = await post(t.server.url, {});
  assert.equal(res.status, 200);
  await res.body?.cancel();
  const state = t.server.services.health.get(healthId(t.fake.url, KEYS[0]), "any-model");
  assert.equal(state?.state, "disabled");
  assert.match(state!.reason, /401/);
});

Deno.test("every key rejected with 401 becomes 502 api_error, not 401", async () => {
  await using t = await setup();
  const unauthorized = {
    status: 401,
    json: { type: "error", error: { type: "authentication_error", message: "bad key" } },
  };
  t.fake.enqueue(unauthorized, unauthorized, unauthorized);
  const res = await post(t.server.url, {});
  assert.equal(res.status, 502);
  assert.equal(res.headers.get("x-should-retry"), "false");
  const body = await res.json();
  assert.equal(body.error.type, "api_error");
  assert.ok(body.request_id.startsWith("req_"));
  assert.equal(t.fake.requests.length, 3);
});

Deno.test("every key rate limited: 429 with retry-after set to the soonest recovery", async () => {
  await using t = await setup();
  t.fake.enqueue(
    rateLimited({ "retry-after": "40" }),
    rateLimited({ "retry-after": "7" }),
    rateLimited({ "retry-after": "20" }),
  );
  const res = await post(t.server.url, {});
  assert.equal(res.status, 429);
  assert.equal((await res.json()).error.type, "rate_limit_error");
  assert.equal(res.headers.get("retry-after"), "7");
  // Nothing left to try: the next request is answered without calling the upstream.
  const again = await post(t.server.url, {});
  assert.equal(again.status, 429);
  await again.body?.cancel();
  assert.equal(t.fake.requests.length, 3);
});

Deno.test("keys rate limited or rejected: 429 with retry-after at once, not 529 (nothing comes back sooner)", async () => {
  await using t = await setup();
  const unauthorized = {
    status: 401,
    json: { type: "error", error: { type: "authentication_error", message: "bad key" } },
  };
  t.fake.enqueue(unauthorized, rateLimited({ "retry-after": "30" }), unauthorized);
  for (const stream of [false, true]) {
    const res = await post(t.server.url, { stream });
    assert.equal(res.status, 429, `stream: ${stream}`);
    assert.equal((await res.json()).error.type, "rate_limit_error");
    const wait = Number(res.headers.get("retry-after"));
    assert.ok(wait >= 28 && wait <= 30, `retry-after ${wait}`);
  }
  assert.deepEqual(t.keysSeen(), KEYS);
});

Deno.test("every key failing with 500 becomes 529 overloaded_error", async () => {
  await using t = await setup();
  const boom = {
    status: 500,
    json: { type: "error", error: { type: "api_error", message: "boom" } },
  };
  t.fake.enqueue(boom, boom, boom);
  const res = await post(t.server.url, {});
  assert.equal(res.status, 529);
  assert.equal((await res.json()).error.type, "overloaded_error");
  assert.deepEqual(t.keysSeen(), KEYS);
  // Every key is cooling down now, yet the next request still tries one: the upstream is back.
  const again = await post(t.server.url, {});
  assert.equal(again.status, 200);
  await again.body?.cancel();
  assert.deepEqual(t.keysSeen(), [...KEYS, KEYS[0]]);
});

Deno.test("a probe answered with the request's own fault leaves the next request free to try", async () => {
  await using t = await setup();
  const boom = {
    status: 500,
    json: { type: "error", error: { type: "api_error", message: "boom" } },
  };
  const invalid = {
    status: 400,
    json: { type: "error", error: { type: "invalid_request_error", message: "bad field" } },
  };
  t.fake.enqueue(boom, boom, boom, invalid);
  assert.equal((await (await post(t.server.url, {})).json()).error.type, "overloaded_error");
  // Every key cooling down: one is tried anyway, and its upstream finds fault with the request.
  const probe = await post(t.server.url, {});
  assert.equal(probe.status, 400);
  await probe.body?.cancel();
  // The upstream answered: the next request reaches it too, instead of a 429 of the proxy's own.
  const next = await post(t.server.url, {});
  assert.equal(next.status, 200);
  await next.body?.cancel();
  assert.deepEqual(t.keysSeen(), [...KEYS, KEYS[0], KEYS[0]]);
});

Deno.test("a 400 is the request's fault: returned as is, no other key tried", async () => {
  await using t = await setup();
  t.fake.enqueue({
    status: 400,
    json: {
      type: "error",
      error: { type: "invalid_request_error", message: "prompt is too long" },
    },
  });
  const res = await post(t.server.url, {});
  assert.equal(res.status, 400);
  const body = await res.json();
  assert.equal(body.error.type, "invalid_request_error");
  assert.equal(body.error.message, "prompt is too long");
  assert.equal(t.fake.requests.length, 1);
  assert.equal(
    t.server.services.health.get(healthId(t.fake.url, KEYS[0]), "test-model"),
    undefined,
  );
});

Deno.test("a model the upstream does not know is a 404 that says how the model went there", async () => {
  await using t = await setup();
  const notFound = {
    status: 404,
    json: { type: "error", error: { type: "not_found_error", message: "model: test-model" } },
  };
  t.fake.enqueue(notFound);
  const res = await post(t.server.url, {});
  assert.equal(res.status, 404);
  const { error } = await res.json();
  assert.equal(error.type, "not_found_error");
  assert.match(
    error.message,
    /^model: test-model \(sent to upstream "main" as requested, no model map entry taking it: .*deno task config model main default <model>\)$/,
  );
  assert.equal(t.fake.requests.length, 1, "no other key tried");
});

Deno.test("a 404 page at the base URL is a 502 telling to check it, not a model that does not exist", async () => {
  await using t = await setup();
  t.fake.enqueue({
    status: 404,
    text:
      "<html><head><title>404 Not Found</title></head><body><h1>404 Not Found</h1></body></html>",
    headers: { "content-type": "text/html" },
  });
  const res = await post(t.server.url, {});
  assert.equal(res.status, 502);
  assert.equal(res.headers.get("x-should-retry"), "false");
  const { error } = await res.json();
  assert.equal(error.type, "api_error");
  assert.match(
    error.message,
    /^Upstream answered 404 at http:\/\/127\.0\.0\.1:\d+\/v1\/messages \(404 Not Found 404 Not Found\), no API there: check the upstream's base URL$/,
  );
  assert.equal(t.fake.requests.length, 1, "no other key tried: each would meet the same page");
  assert.equal(t.server.services.health.list().length, 0, "no key set aside");
});

Deno.test("an upstream that hangs before headers times out and the next key answers", async () => {
  await using t = await setup({ REQUEST_TIMEOUT: "300" });
  t.fake.enqueue({ hang: true });
  const started = Date.now();
  const res = await post(t.server.url, {});
  assert.equal(res.status, 200);
  await res.body?.cancel();
  assert.ok(Date.now() - started < 2_000);
  assert.deepEqual(t.keysSeen(), [KEYS[0], KEYS[1]]);
});

Deno.test("with ENABLE_RESPONSE_LOGS an error answer is logged as the client got it", async () => {
  await using t = await setup({ ENABLE_RESPONSE_LOGS: "true", LOG_LEVEL: "info" });
  t.fake.enqueue({
    status: 400,
    json: { type: "error", error: { type: "invalid_request_error", message: "bad model" } },
  });
  const res = await post(t.server.url, {});
  assert.equal(res.status, 400);
  const sent = await res.text();
  // Info lines go out in batches, up to 50 ms late.
  let line: string | undefined;
  for (let i = 0; i < 50 && !line; i++) {
    line = t.server.logs.find((l) => /response body/.test(l));
    if (!line) await new Promise((r) => setTimeout(r, 20));
  }
  assert.match(line ?? "", /bad model/);
  assert.match(sent, /bad model/);
});

Deno.test("keys that hang until their upstream's time runs out leave the fallback time of its own", async () => {
  await using t = await setup({ REQUEST_TIMEOUT: "300" }, { fallback: true });
  t.fake.enqueue({ hang: true }, { hang: true }, { hang: true });
  const res = await post(t.server.url, {});
  assert.equal(res.status, 200);
  await res.body?.cancel();
  assert.equal(t.keysSeen().length, 2, "twice REQUEST_TIMEOUT: two of the three keys");
  assert.equal(t.backup!.requests.length, 1, "the fallback answered");
  let line = "";
  for (let i = 0; i < 50 && !line; i++) {
    line = t.server.logs.find((l) => /\/v1\/messages 200/.test(l)) ?? "";
    if (!line) await new Promise((r) => setTimeout(r, 20));
  }
  assert.match(line, /upstream=backup\b/);
});

Deno.test("keys that hang until the time runs out, with no fallback, are a 529 that says so", async () => {
  await using t = await setup({ REQUEST_TIMEOUT: "300" });
  t.fake.enqueue({ hang: true }, { hang: true }, { hang: true });
  const res = await post(t.server.url, {});
  assert.equal(res.status, 529);
  const body = await res.json();
  assert.match(body.error.message, /ran out with 1 not tried/);
  assert.equal(t.keysSeen().length, 2);
});

Deno.test("a key that made a request wait out its timeout stays aside twice the timeout, not a few seconds", async () => {
  await using t = await setup({ REQUEST_TIMEOUT: "3000" });
  t.fake.enqueue({ hang: true });
  const res = await post(t.server.url, {});
  assert.equal(res.status, 200);
  await res.body?.cancel();
  const state = t.server.services.health.get(healthId(t.fake.url, KEYS[0]), "test-model");
  assert.equal(state?.state, "cooldown");
  const left = state!.until! - Date.now();
  assert.ok(left > 5_500 && left <= 6_000, `aside for ${left} ms`);
});

Deno.test("an early 5xx in a stream fails over invisibly", async () => {
  await using t = await setup();
  t.fake.enqueue({
    status: 503,
    json: { type: "error", error: { type: "overloaded_error", message: "x" } },
  });
  const res = await post(t.server.url, { stream: true });
  assert.equal(res.status, 200);
  const text = await res.text();
  assert.match(text, /event: message_stop/);
  assert.deepEqual(t.keysSeen(), [KEYS[0], KEYS[1]]);
});

Deno.test("a stream reset after some chunks ends with an error event", async () => {
  await using t = await setup();
  t.fake.enqueue({ resetAfterChunks: 3, sse: anthropicStream("a b c d e f") });
  const res = await post(t.server.url, { stream: true });
  assert.equal(res.status, 200);
  const text = await res.text();
  assert.match(text, /event: content_block_start/);
  assert.match(
    text,
    /event: error\ndata: \{"type":"error","error":\{"details":null,"type":"api_error"/,
  );
  assert.doesNotMatch(text, /message_stop/);
});

Deno.test("a key that sends its headers and then nothing fails over, however long past the ping interval", async () => {
  await using t = await setup({ STREAM_PING_INTERVAL: "100", REQUEST_TIMEOUT: "600" });
  t.fake.enqueue({ sse: [], thenHang: true });
  const started = Date.now();
  const res = await post(t.server.url, { stream: true });
  assert.equal(res.status, 200);
  const text = await res.text();
  assert.ok(Date.now() - started < 3_000);
  // The client heard keepalives meanwhile, then the next key's answer, whole.
  assert.match(text, /^: waiting for the upstream\n\n/);
  assert.equal(text.match(/event: message_start/g)?.length, 1);
  assert.match(text, /event: message_stop/);
  assert.doesNotMatch(text, /event: error/);
  assert.deepEqual(t.keysSeen(), [KEYS[0], KEYS[1]]);
  const state = t.server.services.health.get(healthId(t.fake.url, KEYS[0]), "test-model");
  assert.equal(state?.state, "cooldown");
});

Deno.test("a key whose stream breaks after it began is set aside for the next request", async () => {
  await using t = await setup();
  t.fake.enqueue({ resetAfterChunks: 3, sse: anthropicStream("a b c d e f") });
  const first = await post(t.server.url, { stream: true });
  assert.match(await first.text(), /event: error/);
  const second = await post(t.server.url, { stream: true });
  assert.match(await second.text(), /event: message_stop/);
  assert.deepEqual(t.keysSeen(), [KEYS[0], KEYS[1]]);
  // The log, /metrics and the key's usage count the broken attempt as failed, not as a success.
  const obs = t.server.services.observability;
  await obs.flush();
  const outcomes = [];
  for (const res of [first, second]) {
    const entry = await obs.requestLog.get(res.headers.get("request-id")!);
    outcomes.push(entry!.attempts.map((a) => a.outcome).join());
  }
  assert.deepEqual(outcomes, ["failed", "skipped,ok"]);
  const metrics = await (await fetch(`${t.server.url}/metrics`)).text();
  assert.match(metrics, /claude_proxy_upstream_attempts_total\{[^}]*outcome="failed"[^}]*\} 1/);
});

Deno.test("requests in flight together do not each try a key another of them just set aside", async () => {
  await using t = await setup();
  const overloaded = 'event: error\ndata: {"type":"error","error":{"type":"overloaded_error",' +
    '"message":"busy"}}\n\n';
  t.fake.enqueue(
    // Whichever request reaches the first key first fails at once and goes on to the second key,
    // which rejects it; the other fails on the first key only later.
    { status: 503, json: { type: "error", error: { type: "overloaded_error", message: "x" } } },
    { sse: ["", overloaded], delayMs: 300 },
    {
      status: 401,
      json: { type: "error", error: { type: "authentication_error", message: "no" } },
    },
  );
  const [a, b] = await Promise.all([
    post(t.server.url, { stream: true }).then((r) => r.text()),
    post(t.server.url, { stream: true }).then((r) => r.text()),
  ]);
  assert.match(a, /event: message_stop/);
  assert.match(b, /event: message_stop/);
  assert.deepEqual(t.keysSeen(), [KEYS[0], KEYS[0], KEYS[1], KEYS[2], KEYS[2]]);
});

Deno.test("a slow drip gets ping events while the upstream is silent", async () => {
  await using t = await setup({ STREAM_PING_INTERVAL: "100", REQUEST_TIMEOUT: "5000" });
  const frames = anthropicStream("one two");
  t.fake.enqueue({ sse: frames, delayMs: 350 });
  const res = await post(t.server.url, { stream: true });
  const text = await res.text();
  const upstreamPings = frames.filter((f) => f.startsWith("event: ping")).length;
  assert.ok((text.match(/event: ping/g) ?? []).length > upstreamPings + 3);
  assert.match(text, /message_stop/);
});

Deno.test("a stream silent past REQUEST_TIMEOUT ends with an error event", async () => {
  await using t = await setup({ STREAM_PING_INTERVAL: "100", REQUEST_TIMEOUT: "400" });
  const frames = anthropicStream("one two");
  t.fake.enqueue({ sse: frames.slice(0, 3), thenHang: true });
  const started = Date.now();
  const res = await post(t.server.url, { stream: true });
  const text = await res.text();
  assert.ok(Date.now() - started < 3_000);
  assert.match(
    text,
    /event: error\ndata: \{"type":"error","error":\{"details":null,"type":"overloaded_error","message":"Upstream went silent/,
  );
  assert.doesNotMatch(text, /message_stop/);
});

Deno.test("when every key of an upstream fails, its fallback takes the request", async () => {
  await using t = await setup({}, { fallback: true });
  const boom = {
    status: 500,
    json: { type: "error", error: { type: "api_error", message: "boom" } },
  };
  t.fake.enqueue(boom, boom, boom);
  const res = await post(t.server.url, {});
  assert.equal(res.status, 200);
  await res.body?.cancel();
  assert.equal(t.backup!.requests.length, 1);
  assert.equal(t.backup!.requests[0].headers.get("x-api-key"), "sk-backup-key-9999");
  assert.ok(t.server.logs.some((l) => l.includes("falling back") && l.includes("backup")));
  // Its keys cooling down, the failed upstream is not probed while a fallback can answer, and
  // the warning that every key failed is not said again for a request that tried none.
  const warned = () => t.server.logs.filter((l) => l.includes("every key failed")).length;
  assert.equal(warned(), 1);
  const again = await post(t.server.url, {});
  assert.equal(again.status, 200);
  await again.body?.cancel();
  assert.equal(t.fake.requests.length, 3);
  assert.equal(t.backup!.requests.length, 2);
  assert.equal(warned(), 1, "no key of the first upstream was tried this time");
});

Deno.test("keys set aside after 5xx are probed by one request at a time", async () => {
  await using t = await setup({ REQUEST_TIMEOUT: "1000" });
  const boom = {
    status: 500,
    json: { type: "error", error: { type: "api_error", message: "boom" } },
  };
  t.fake.enqueue(boom, boom, boom, { hang: true });
  (await post(t.server.url, {})).body?.cancel();
  // The probe hangs; the requests beside it are answered at once instead of waiting with it.
  const probe = post(t.server.url, {});
  await new Promise((r) => setTimeout(r, 100));
  const beside = await post(t.server.url, {});
  assert.equal(beside.status, 429);
  await beside.body?.cancel();
  assert.equal(t.fake.requests.length, 4);
  (await probe).body?.cancel();
});

Deno.test("a client that disconnects aborts the upstream request at once", async () => {
  await using t = await setup();
  t.fake.enqueue({ sse: anthropicStream("x ".repeat(50)), delayMs: 100 });
  const ctrl = new AbortController();
  const res = await post(t.server.url, { stream: true }, { signal: ctrl.signal });
  const reader = res.body!.getReader();
  await reader.read();
  ctrl.abort();
  await reader.cancel().catch(() => {});
  await new Promise((r) => setTimeout(r, 300));
  const sentSoon = t.fake.requests[0].chunksSent;
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(t.fake.requests[0].chunksSent, sentSoon, "the upstream kept streaming");
  assert.ok(sentSoon < 10);
  assert.ok(t.server.logs.some((l) => l.includes("client closed")));
});

Deno.test("a 204 to a stream request is a key's passing fault, and the next key answers", async () => {
  await using t = await setup();
  t.fake.enqueue({ status: 204 });
  const res = await post(t.server.url, { stream: true });
  assert.equal(res.status, 200);
  assert.match(await res.text(), /event: message_stop/);
  assert.deepEqual(t.keysSeen(), [KEYS[0], KEYS[1]]);
});

Deno.test("a stream the client leaves counts the output it was sent, not message_start's 1", async () => {
  await using t = await setup();
  t.fake.enqueue({ sse: anthropicStream("word ".repeat(60)), delayMs: 40 });
  const ctrl = new AbortController();
  const res = await post(t.server.url, { stream: true }, { signal: ctrl.signal });
  const reader = res.body!.getReader();
  let text = "";
  const decoder = new TextDecoder();
  while ((text.match(/text_delta/g) ?? []).length < 20) {
    text += decoder.decode((await reader.read()).value);
  }
  ctrl.abort();
  await reader.cancel().catch(() => {});
  let line: string | undefined;
  for (let i = 0; i < 50 && !line; i++) {
    await new Promise((r) => setTimeout(r, 50));
    line = t.server.logs.find((l) => /\/v1\/messages 499/.test(l));
  }
  // Twenty deltas of "word " and more: some 25 tokens by the text, never the stand-in 1.
  const out = Number(line?.match(/ out=(\d+)/)?.[1]);
  assert.ok(out >= 20 && out < 80, line);
});

Deno.test("MAX_CONCURRENT_REQUESTS holds: past it the client gets 529", async () => {
  await using t = await setup({ MAX_CONCURRENT_REQUESTS: "2", REQUEST_TIMEOUT: "2000" });
  t.fake.enqueue({ sse: anthropicStream("slow"), delayMs: 300 }, {
    sse: anthropicStream("slow"),
    delayMs: 300,
  });
  const a = await post(t.server.url, { stream: true });
  const b = await post(t.server.url, { stream: true });
  const c = await post(t.server.url, {});
  assert.equal(c.status, 529);
  assert.equal((await c.json()).error.type, "overloaded_error");
  await a.text();
  await b.text();
  const d = await post(t.server.url, {});
  assert.equal(d.status, 200);
  await d.body?.cancel();
});

Deno.test("an upstream answer that unpacks to more than 64 MB (gzip sent anyway) is a fault, not held whole", async () => {
  // 70 MB of JSON, compressed to a few hundred KB: sent despite accept-encoding: identity.
  const mb = new TextEncoder().encode(" ".repeat(1024 * 1024));
  let n = 0;
  const gz = new Uint8Array(
    await new Response(
      new ReadableStream<Uint8Array>({
        start: (ctrl) => ctrl.enqueue(new TextEncoder().encode('{"id":"chatcmpl-1","pad":"')),
        pull: (ctrl) => n++ < 70 ? ctrl.enqueue(mb) : ctrl.close(),
      }).pipeThrough(
        new CompressionStream("gzip") as unknown as TransformStream<Uint8Array, Uint8Array>,
      ),
    ).arrayBuffer(),
  );
  let asked = 0;
  const bomb = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    asked++;
    await req.body?.cancel();
    return new Response(gz, {
      headers: { "content-type": "application/json", "content-encoding": "gzip" },
    });
  });
  const server = await startTestServer({
    config: {
      upstream: [{
        name: "bomb",
        baseUrl: `http://127.0.0.1:${bomb.addr.port}`,
        serviceType: "openai",
        apiKeys: [KEYS[0]],
      }],
    },
  });
  try {
    const res = await post(server.url, {});
    const body = await res.json();
    assert.equal(res.status, 529);
    assert.match(body.error.message, /more than 64 MB/);
    assert.equal(asked, 1);
  } finally {
    await server.close();
    await bomb.shutdown();
  }
});

Deno.test("count_tokens counts against MAX_CONCURRENT_REQUESTS too: each reads a body as large as a request's", async () => {
  await using t = await setup({ MAX_CONCURRENT_REQUESTS: "1", REQUEST_TIMEOUT: "3000" });
  t.fake.enqueue({ sse: anthropicStream("slow"), delayMs: 300 });
  const busy = await post(t.server.url, { stream: true });
  const count = () =>
    fetch(`${t.server.url}/v1/messages/count_tokens`, {
      method: "POST",
      headers: { "x-api-key": ACCESS_KEY, "content-type": "application/json" },
      body: JSON.stringify({ model: "m", messages: [{ role: "user", content: "hi" }] }),
    });
  const refused = await count();
  assert.equal(refused.status, 529);
  assert.equal((await refused.json()).error.type, "overloaded_error");
  await busy.text();
  const counted = await count();
  assert.equal(counted.status, 200);
  assert.equal(typeof (await counted.json()).input_tokens, "number");
});

Deno.test("past MAX_CONCURRENT_REQUESTS a request is refused before its body is read", async () => {
  await using t = await setup({ MAX_CONCURRENT_REQUESTS: "1", REQUEST_TIMEOUT: "3000" });
  t.fake.enqueue({ sse: anthropicStream("slow"), delayMs: 300 });
  const busy = await post(t.server.url, { stream: true });
  // A body that would take its sender long to finish: the refusal must not wait for it.
  let sent = 0;
  const chunk = new TextEncoder().encode(" ".repeat(64 * 1024));
  const opening = new TextEncoder().encode('{"model":"m","max_tokens":5,"messages":[');
  const body = new ReadableStream<Uint8Array>({
    start(ctrl) {
      ctrl.enqueue(opening);
    },
    async pull(ctrl) {
      if (sent >= 8 * 1024 * 1024) return ctrl.close();
      await new Promise((r) => setTimeout(r, 20));
      sent += chunk.byteLength;
      ctrl.enqueue(chunk);
    },
  });
  const refused = await fetch(`${t.server.url}/v1/messages`, {
    method: "POST",
    headers: { "x-api-key": ACCESS_KEY, "content-type": "application/json" },
    body,
    duplex: "half",
  } as RequestInit);
  assert.equal(refused.status, 529);
  assert.equal((await refused.json()).error.type, "overloaded_error");
  assert.ok(sent < 2 * 1024 * 1024, `${sent} bytes were read first`);
  await body.cancel().catch(() => {});
  await busy.text();
});

Deno.test("MAX_CONCURRENT_REQUESTS counts requests still uploading: one past it is refused before its body is read", async () => {
  await using t = await setup({ MAX_CONCURRENT_REQUESTS: "1", REQUEST_TIMEOUT: "5000" });
  const encoder = new TextEncoder();
  const piece = encoder.encode(" ".repeat(64 * 1024));
  /** A 4 MB body sent in pieces, as a slow link sends a long conversation. */
  const upload = () => {
    const body = { sent: 0, stream: undefined as unknown as ReadableStream<Uint8Array> };
    body.stream = new ReadableStream<Uint8Array>({
      start(ctrl) {
        ctrl.enqueue(encoder.encode('{"model":"m","max_tokens":5,"messages":[{"role":"user",'));
      },
      async pull(ctrl) {
        if (body.sent >= 4 * 1024 * 1024) {
          ctrl.enqueue(encoder.encode('"content":"hi"}]}'));
          return ctrl.close();
        }
        await new Promise((r) => setTimeout(r, 10));
        body.sent += piece.byteLength;
        ctrl.enqueue(piece);
      },
    });
    return body;
  };
  const send = (body: ReadableStream<Uint8Array>, signal?: AbortSignal) =>
    fetch(`${t.server.url}/v1/messages`, {
      method: "POST",
      headers: { "x-api-key": ACCESS_KEY, "content-type": "application/json" },
      body,
      duplex: "half",
      signal,
    } as RequestInit);
  const first = upload();
  const firstAnswer = send(first.stream);
  await new Promise((r) => setTimeout(r, 100));
  const second = upload();
  const refused = await send(second.stream);
  assert.equal(refused.status, 529);
  await refused.body?.cancel();
  assert.ok(second.sent < 1024 * 1024, `${second.sent} bytes were read first`);
  await second.stream.cancel().catch(() => {});
  const answered = await firstAnswer;
  assert.equal(answered.status, 200);
  await answered.body?.cancel();
  // A body that never arrives whole gives its slot back too.
  const leaving = new AbortController();
  const third = send(upload().stream, leaving.signal).catch(() => undefined);
  await new Promise((r) => setTimeout(r, 100));
  leaving.abort();
  await third;
  for (let i = 0; i < 100 && t.server.services.inFlight.count > 0; i++) {
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.equal(t.server.services.inFlight.count, 0);
  const next = await post(t.server.url, {});
  assert.equal(next.status, 200);
  await next.body?.cancel();
});

Deno.test("a body that stops arriving is a 408 in time, and its concurrency slot comes back", async () => {
  await using t = await setup({ MAX_CONCURRENT_REQUESTS: "1", REQUEST_TIMEOUT: "400" });
  const conn = await Deno.connect({
    hostname: "127.0.0.1",
    port: Number(new URL(t.server.url).port),
  });
  try {
    // Headers that promise 1000 bytes, then 9 of them, then nothing: a stalled upload.
    await conn.write(new TextEncoder().encode(
      `POST /v1/messages HTTP/1.1\r\nhost: x\r\nx-api-key: ${ACCESS_KEY}\r\n` +
        `content-type: application/json\r\ncontent-length: 1000\r\n\r\n{"model":`,
    ));
    const started = Date.now();
    const buf = new Uint8Array(4096);
    const n = await conn.read(buf);
    const head = new TextDecoder().decode(buf.subarray(0, n ?? 0));
    assert.match(head, /^HTTP\/1\.1 408/);
    assert.match(head, /"type":"invalid_request_error"/);
    assert.ok(Date.now() - started < 3_000, `${Date.now() - started} ms`);
  } finally {
    conn.close();
  }
  const next = await post(t.server.url, {});
  assert.equal(next.status, 200);
  await next.body?.cancel();
});

Deno.test("a large declared body that stops arriving is a 408 once it stops, not after the time its length would earn", async () => {
  await using t = await setup({ MAX_CONCURRENT_REQUESTS: "1", REQUEST_TIMEOUT: "600" });
  const conn = await Deno.connect({
    hostname: "127.0.0.1",
    port: Number(new URL(t.server.url).port),
  });
  try {
    // 32 MB promised would earn over ten minutes at 50 KB/s; bytes come for a while, then stop.
    await conn.write(new TextEncoder().encode(
      `POST /v1/messages HTTP/1.1\r\nhost: x\r\nx-api-key: ${ACCESS_KEY}\r\n` +
        `content-type: application/json\r\ncontent-length: 33000000\r\n\r\n{"model":`,
    ));
    const started = Date.now();
    for (let i = 0; i < 3; i++) {
      await new Promise((r) => setTimeout(r, 300));
      await conn.write(new TextEncoder().encode(" ".repeat(20_000)));
    }
    const buf = new Uint8Array(4096);
    const n = await conn.read(buf);
    const head = new TextDecoder().decode(buf.subarray(0, n ?? 0));
    assert.match(head, /^HTTP\/1\.1 408/);
    const took = Date.now() - started;
    // Still coming at 900 ms, past the 600 ms a stalled body gets: the wait runs from the last bytes.
    assert.ok(took >= 900 && took < 4_000, `${took} ms`);
  } finally {
    conn.close();
  }
  const next = await post(t.server.url, {});
  assert.equal(next.status, 200);
  await next.body?.cancel();
});

Deno.test("a large declared body that keeps coming a byte at a time is a 408 once it falls behind a slow pace", async () => {
  await using t = await setup({ MAX_CONCURRENT_REQUESTS: "1", REQUEST_TIMEOUT: "600" });
  const conn = await Deno.connect({
    hostname: "127.0.0.1",
    port: Number(new URL(t.server.url).port),
  });
  const started = Date.now();
  let answered = false;
  try {
    await conn.write(new TextEncoder().encode(
      `POST /v1/messages HTTP/1.1\r\nhost: x\r\nx-api-key: ${ACCESS_KEY}\r\n` +
        `content-type: application/json\r\ncontent-length: 33000000\r\n\r\n{`,
    ));
    // Never silent for long enough to count as stopped: a byte every 150 ms.
    const trickle = (async () => {
      while (!answered && Date.now() - started < 8_000) {
        await new Promise((r) => setTimeout(r, 150));
        await conn.write(new TextEncoder().encode(" ")).catch(() => {});
      }
    })();
    const buf = new Uint8Array(4096);
    const n = await conn.read(buf);
    answered = true;
    await trickle;
    assert.match(new TextDecoder().decode(buf.subarray(0, n ?? 0)), /^HTTP\/1\.1 408/);
    const took = Date.now() - started;
    assert.ok(took < 4_000, `${took} ms`);
  } finally {
    answered = true;
    conn.close();
  }
  const next = await post(t.server.url, {});
  assert.equal(next.status, 200);
  await next.body?.cancel();
});

Deno.test("a body sent in chunks, with no length, may take longer than the first grace while it keeps coming", async () => {
  await using t = await setup({ REQUEST_TIMEOUT: "600" });
  const body = JSON.stringify({
    model: "claude-sonnet-test",
    max_tokens: 10,
    messages: [{ role: "user", content: "x".repeat(120_000) }],
  });
  const bytes = new TextEncoder().encode(body);
  // About 1.2 s at 100 KB/s: past the 600 ms grace, at a pace a slow uplink keeps.
  let at = 0;
  const slow = new ReadableStream<Uint8Array>({
    async pull(ctrl) {
      if (at >= bytes.length) return ctrl.close();
      await new Promise((r) => setTimeout(r, 100));
      ctrl.enqueue(bytes.subarray(at, at + 10_000));
      at += 10_000;
    },
  });
  const res = await fetch(`${t.server.url}/v1/messages`, {
    method: "POST",
    headers: { "x-api-key": ACCESS_KEY, "content-type": "application/json" },
    body: slow,
  });
  assert.equal(res.status, 200, await res.clone().text());
  await res.body?.cancel();
});

Deno.test("a passthrough stream slow to start gets no ping before its message_start", async () => {
  await using t = await setup({ STREAM_PING_INTERVAL: "100", REQUEST_TIMEOUT: "5000" });
  const frames = anthropicStream("late");
  t.fake.enqueue({ sse: ["", ...frames], delayMs: 400 });
  const res = await post(t.server.url, { stream: true });
  const text = await res.text();
  // Comments (": waiting for the upstream", sent when even the headers are late under load) are
  // skipped by every SSE reader; an event before message_start breaks the SDKs.
  const events = text.replace(/^(?::[^\n]*\n\n)+/, "");
  assert.ok(events.startsWith("event: message_start"), text.slice(0, 80));
  assert.match(text, /message_stop/);
});

/** A long streamed answer: enough bytes that a client not reading holds the proxy back. */
function longStream(): string[] {
  const frames = anthropicStream("x");
  const piece = "y".repeat(16 * 1024);
  const deltas = Array.from(
    { length: 256 },
    () =>
      `event: content_block_delta\ndata: ${
        JSON.stringify({
          type: "content_block_delta",
          index: 0,
          delta: { type: "text_delta", text: piece },
        })
      }\n\n`,
  );
  return [...frames.slice(0, 3), ...deltas, ...frames.slice(3)];
}

Deno.test("a client that reads slowly gets the whole answer: the upstream is not counted silent", async () => {
  await using t = await setup({ REQUEST_TIMEOUT: "1000", STREAM_PING_INTERVAL: "300" });
  t.fake.enqueue({ sse: longStream() });
  const res = await post(t.server.url, { stream: true });
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = decoder.decode((await reader.read()).value, { stream: true });
  // Longer than REQUEST_TIMEOUT without reading, while the upstream has everything ready.
  await new Promise((r) => setTimeout(r, 1600));
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
  }
  assert.doesNotMatch(text, /event: error/);
  assert.match(text, /event: message_stop/);
});

Deno.test("a client that stops reading a stream gives its concurrency slot back", async () => {
  await using t = await setup({ MAX_CONCURRENT_REQUESTS: "1", REQUEST_TIMEOUT: "1000" });
  t.fake.enqueue({ sse: longStream() });
  const stalled = await post(t.server.url, { stream: true });
  assert.equal(stalled.status, 200);
  // Never read: after twice REQUEST_TIMEOUT (counted from its last write, which waits for the
  // socket's buffers to fill) its slot is free for the next request, and not before.
  const started = Date.now();
  let status = 0;
  while (Date.now() - started < 15_000) {
    const next = await post(t.server.url, {});
    await next.body?.cancel();
    status = next.status;
    if (status === 200) break;
    assert.equal(status, 529);
    await new Promise((r) => setTimeout(r, 100));
  }
  await stalled.body?.cancel().catch(() => {});
  assert.equal(status, 200, "the slot came back");
  assert.ok(Date.now() - started >= 2_000, "not before twice REQUEST_TIMEOUT");
});

Deno.test("an upstream error whose body never ends is answered from its start, not waited on", async () => {
  const encoder = new TextEncoder();
  let cancelled = false;
  const upstream = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => {
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(ctrl) {
        // The first bytes say what is wrong; then filler, without end.
        ctrl.enqueue(
          encoder.encode(sent++ === 0 ? '{"error":{"message":"bad ' : "x".repeat(16384)),
        );
      },
      cancel() {
        cancelled = true;
      },
    });
    return new Response(body, { status: 400, headers: { "content-type": "application/json" } });
  });
  const server = await startTestServer({
    env: { REQUEST_TIMEOUT: "20000" },
    config: {
      upstream: [{
        name: "endless",
        baseUrl: `http://127.0.0.1:${upstream.addr.port}`,
        serviceType: "openai",
        apiKeys: [KEYS[0]],
      }],
    },
  });
  try {
    const started = Date.now();
    const res = await post(server.url, {});
    const body = await res.json();
    assert.equal(res.status, 400);
    assert.equal(body.type, "error");
    assert.ok(Date.now() - started < 5_000, `took ${Date.now() - started} ms`);
    for (let i = 0; i < 50 && !cancelled; i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(cancelled, "the rest of the body is not read");
  } finally {
    await server.close();
    await upstream.shutdown();
  }
});
