// The client surface: auth, CORS, limits, health, and Anthropic-shaped errors for everything.
import Anthropic from "@anthropic-ai/sdk";
import assert from "node:assert/strict";
import { ACCESS_KEY, startTestServer } from "../helpers/server.ts";
import { startFakeAnthropic } from "../fakes/anthropic_upstream.ts";

async function setup(env: Record<string, string> = {}) {
  const fake = await startFakeAnthropic();
  const server = await startTestServer({
    env,
    config: {
      upstream: [{
        name: "up",
        baseUrl: fake.url,
        serviceType: "anthropic",
        apiKeys: ["sk-up-1234567890"],
      }],
      loadBalance: "failover",
    },
  });
  return {
    fake,
    server,
    async [Symbol.asyncDispose]() {
      await server.close();
      await fake.close();
    },
  };
}

const body = JSON.stringify({
  model: "m",
  max_tokens: 5,
  messages: [{ role: "user", content: "hi" }],
});

async function assertAnthropicError(res: Response, status: number, type: string) {
  assert.equal(res.status, status);
  const json = await res.json();
  assert.equal(json.type, "error");
  assert.equal(json.error.type, type);
  assert.equal(typeof json.error.message, "string");
  assert.ok(json.request_id.startsWith("req_"));
  assert.equal(res.headers.get("request-id"), json.request_id);
  return json;
}

Deno.test("client surface: x-api-key and Bearer both authenticate; anything else is 401", async () => {
  await using t = await setup();
  const url = `${t.server.url}/v1/messages?beta=true`;
  const ok1 = await fetch(url, { method: "POST", headers: { "x-api-key": ACCESS_KEY }, body });
  assert.equal(ok1.status, 200);
  await ok1.body?.cancel();
  const ok2 = await fetch(url, {
    method: "POST",
    headers: { authorization: `Bearer ${ACCESS_KEY}` },
    body,
  });
  assert.equal(ok2.status, 200);
  await ok2.body?.cancel();
  const none = await fetch(url, { method: "POST", body });
  await assertAnthropicError(none, 401, "authentication_error");
  const wrong = await fetch(url, { method: "POST", headers: { "x-api-key": "nope" }, body });
  // A wrong key stays wrong: the SDK (and Claude Code) must not retry it for minutes.
  assert.equal(wrong.headers.get("x-should-retry"), "false");
  const json = await assertAnthropicError(wrong, 401, "authentication_error");
  assert.doesNotMatch(JSON.stringify(json), new RegExp(ACCESS_KEY));
  assert.match(json.error.message, /its own access key \(PROXY_ACCESS_KEY\), not an upstream's/);
  // Each refusal is a warn line of its own, naming the request, never the key tried.
  const refusals = t.server.logs.filter((l) => /\/v1\/messages 401/.test(l));
  assert.equal(refusals.length, 2, t.server.logs.join("\n"));
  assert.match(refusals[1], /WARN/);
  assert.match(refusals[1], new RegExp(json.request_id));
  assert.match(refusals[1], /Invalid API key/);
  assert.doesNotMatch(refusals.join("\n"), /nope/);
});

Deno.test("client surface: a refused request's path cannot forge a log line (its line is quoted, escaped)", async () => {
  await using t = await setup();
  const res = await fetch(
    `${t.server.url}/v1/x%0a2026-11-27T00:00:00.000Z%20ERROR%20forged%E2%80%AE%1b[31m`,
  );
  assert.equal(res.status, 401);
  await res.body?.cancel();
  const refused = t.server.logs.filter((l) => l.includes(" 401"));
  assert.equal(refused.length, 1);
  assert.ok(!["\n", "\u202e", "\x1b"].some((c) => refused[0].includes(c)), refused[0]);
  // Nor fields: a path with spaces and = is written quoted, one value.
  const fields = await fetch(
    `${t.server.url}/v1/messages%20200%20requestId=req_FORGED%20upstream=ant%20x=%22`,
  );
  assert.equal(fields.status, 401);
  await fields.body?.cancel();
  const line = t.server.logs.filter((l) => l.includes(" 401"))[1];
  assert.match(line, /WARN {2}"\/v1\/messages 200 requestId=req_FORGED upstream=ant x=\\"" 401 /);
  // Outside quoted values, one requestId: the proxy's.
  const unquoted = line.replace(/"(?:[^"\\]|\\.)*"/g, "");
  assert.equal(unquoted.match(/ requestId=/g)?.length, 1, line);
  assert.match(unquoted, / requestId=req_01/);
  assert.ok(!t.server.logs.some((l) => /^\S+ ERROR forged/m.test(l)), t.server.logs.join("\n"));
});

Deno.test("client surface: the access key counts in either header when both are sent", async () => {
  await using t = await setup();
  // Claude Code with ANTHROPIC_AUTH_TOKEN set to the proxy key and another ANTHROPIC_API_KEY left
  // in the environment sends both.
  const res = await fetch(`${t.server.url}/v1/messages?beta=true`, {
    method: "POST",
    headers: { "x-api-key": "sk-ant-api03-other", authorization: `Bearer ${ACCESS_KEY}` },
    body,
  });
  assert.equal(res.status, 200);
  await res.body?.cancel();
  const neither = await fetch(`${t.server.url}/v1/messages`, {
    method: "POST",
    headers: { "x-api-key": "sk-ant-api03-other", authorization: "Bearer also-wrong" },
    body,
  });
  await assertAnthropicError(neither, 401, "authentication_error");
});

Deno.test("client surface: without PROXY_ACCESS_KEY every /v1 request is refused", async () => {
  await using t = await setup({ PROXY_ACCESS_KEY: "" });
  const res = await fetch(`${t.server.url}/v1/messages`, {
    method: "POST",
    headers: { "x-api-key": "anything" },
    body,
  });
  const json = await assertAnthropicError(res, 401, "authentication_error");
  assert.match(json.error.message, /PROXY_ACCESS_KEY/);
});

Deno.test("client surface: CORS preflight is answered without auth", async () => {
  await using t = await setup();
  const res = await fetch(`${t.server.url}/v1/messages`, {
    method: "OPTIONS",
    headers: {
      origin: "https://app.example",
      "access-control-request-method": "POST",
      "access-control-request-headers": "x-api-key,content-type,anthropic-version",
    },
  });
  assert.ok(res.status === 204 || res.status === 200);
  assert.equal(res.headers.get("access-control-allow-origin"), "*");
  assert.match(res.headers.get("access-control-allow-headers") ?? "", /x-api-key/);
  await res.body?.cancel();
  // The answer itself carries the allow-origin header a browser needs, and exposes request-id.
  const answer = await fetch(`${t.server.url}/v1/messages`, {
    method: "POST",
    headers: { origin: "https://app.example", "x-api-key": ACCESS_KEY },
    body,
  });
  assert.equal(answer.headers.get("access-control-allow-origin"), "*");
  assert.match(answer.headers.get("access-control-expose-headers") ?? "", /request-id/);
  await answer.body?.cancel();
});

Deno.test("client surface: a browser can read x-should-retry, so the SDK there gives up at once too", async () => {
  await using t = await setup();
  await t.server.services.store.replace({ upstream: [] });
  const res = await fetch(`${t.server.url}/v1/messages`, {
    method: "POST",
    headers: { origin: "https://app.example", "x-api-key": ACCESS_KEY },
    body,
  });
  await assertAnthropicError(res, 500, "api_error");
  assert.equal(res.headers.get("x-should-retry"), "false");
  // A browser hides every response header not named here from the page, and so from the SDK.
  const exposed = (res.headers.get("access-control-expose-headers") ?? "").split(/\s*,\s*/);
  const names = [
    "request-id",
    "x-should-retry",
    "retry-after",
    "retry-after-ms",
    "anthropic-ratelimit-requests-remaining",
    "anthropic-ratelimit-output-tokens-reset",
  ];
  for (const name of names) {
    assert.ok(exposed.includes(name), `${name} not exposed: ${exposed}`);
  }
});

Deno.test("client surface: CORS_ORIGIN limits which origins are allowed", async () => {
  await using t = await setup({ CORS_ORIGIN: "https://good.example, https://other.example" });
  const preflight = (origin: string) =>
    fetch(`${t.server.url}/v1/messages`, {
      method: "OPTIONS",
      headers: { origin, "access-control-request-method": "POST" },
    });
  const good = await preflight("https://good.example");
  assert.equal(good.headers.get("access-control-allow-origin"), "https://good.example");
  await good.body?.cancel();
  const bad = await preflight("https://evil.example");
  assert.equal(bad.headers.get("access-control-allow-origin"), null);
  await bad.body?.cancel();
  // An answer to an origin not allowed says it depends on the Origin, as an allowed one does.
  for (const origin of ["https://good.example", "https://evil.example"]) {
    const res = await fetch(`${t.server.url}/v1/models`, { headers: { origin } });
    await res.body?.cancel();
    assert.match(res.headers.get("vary") ?? "", /origin/i, origin);
  }
});

Deno.test("client surface: HEAD / and GET / (and Claude Code's /api/hello) answer 200 without auth; /health has the original shape", async () => {
  await using t = await setup();
  const head = await fetch(`${t.server.url}/`, { method: "HEAD" });
  assert.equal(head.status, 200);
  assert.ok(head.headers.get("request-id"));
  const get = await fetch(`${t.server.url}/`);
  assert.equal(get.status, 200);
  await get.body?.cancel();
  // Claude Code's warm-up at start, as api.anthropic.com answers it.
  const hello = await fetch(`${t.server.url}/api/hello`, { method: "HEAD" });
  assert.equal(hello.status, 200);
  const health = await (await fetch(`${t.server.url}/health`)).json();
  assert.equal(health.status, "healthy");
  assert.ok(!Number.isNaN(Date.parse(health.timestamp)));
  assert.equal(typeof health.uptime, "number");
  assert.deepEqual(health.config, {
    upstreamCount: 1,
    currentUpstream: "up",
    loadBalance: "failover",
  });
});

Deno.test("client surface: bad bodies get a clear 400 invalid_request_error", async () => {
  await using t = await setup();
  const post = (b: string) =>
    fetch(`${t.server.url}/v1/messages`, {
      method: "POST",
      headers: { "x-api-key": ACCESS_KEY, "content-type": "application/json" },
      body: b,
    });
  await assertAnthropicError(await post("{not json"), 400, "invalid_request_error");
  const missing = await assertAnthropicError(await post("{}"), 400, "invalid_request_error");
  assert.match(missing.error.message, /model/);
  const badRole = await assertAnthropicError(
    await post(
      JSON.stringify({ model: "m", max_tokens: 1, messages: [{ role: "robot", content: "x" }] }),
    ),
    400,
    "invalid_request_error",
  );
  assert.match(badRole.error.message, /role/);
  await assertAnthropicError(await post("[]"), 400, "invalid_request_error");
  const badBlock = await assertAnthropicError(
    await post(
      JSON.stringify({ model: "m", max_tokens: 1, messages: [{ role: "user", content: [1] }] }),
    ),
    400,
    "invalid_request_error",
  );
  assert.match(badBlock.error.message, /content block/);
  // What the real API refuses, said as it would be: before, these went upstream made up.
  const hi = [{ role: "user", content: "hi" }];
  const refusals: Array<[Record<string, unknown>, RegExp]> = [
    [{ max_tokens: 1.5 }, /^max_tokens must be a whole number$/],
    [{ max_tokens: -5 }, /^max_tokens must be 0 or more$/],
    [{ tool_choice: { type: "tool" } }, /^tool_choice: a tool_choice of type tool names the tool$/],
    [
      { tools: [{ name: "t", description: "no schema" }] },
      /^tools\.0: a tool of the client's own needs an input_schema object$/,
    ],
    [
      { tools: [{ name: "", input_schema: { type: "object" } }] },
      /^tools\.0: each tool needs a name/,
    ],
    [{ thinking: { type: "enabled", budget_tokens: "x" } }, /^thinking\.budget_tokens: /],
    [{ thinking: { type: "enabled", budget_tokens: -1 } }, /^thinking\.budget_tokens: /],
  ];
  for (const [fields, said] of refusals) {
    const refused = await assertAnthropicError(
      await post(JSON.stringify({ model: "m", max_tokens: 10, messages: hi, ...fields })),
      400,
      "invalid_request_error",
    );
    assert.match(refused.error.message, said, JSON.stringify(fields));
  }
  assert.equal(t.fake.requests.length, 0);
  // Anthropic's own tools carry a type and no schema; a toolset no name.
  const served = await post(JSON.stringify({
    model: "m",
    max_tokens: 2048,
    messages: hi,
    tools: [
      { type: "web_search_20250305", name: "web_search" },
      { type: "custom", name: "c", input_schema: { type: "object" } },
    ],
    tool_choice: { type: "tool", name: "c" },
    thinking: { type: "enabled", budget_tokens: 1024 },
  }));
  assert.equal(served.status, 200, await served.clone().text());
  await served.body?.cancel();
});

Deno.test("client surface: unknown /v1 paths are Anthropic-shaped 404s", async () => {
  await using t = await setup();
  const res = await fetch(`${t.server.url}/v1/nothing`, { headers: { "x-api-key": ACCESS_KEY } });
  await assertAnthropicError(res, 404, "not_found_error");
  // Message batches and files are not served: a clear 404, never a hang.
  const client = new Anthropic({ apiKey: ACCESS_KEY, baseURL: t.server.url, maxRetries: 0 });
  await assert.rejects(
    client.messages.batches.list(),
    (err: unknown) => err instanceof Anthropic.NotFoundError,
  );
});

Deno.test("client surface: /v1 itself is an Anthropic-shaped 404, and a 401 without the key", async () => {
  await using t = await setup();
  for (const [method, path] of [["GET", "/v1"], ["POST", "/v1?beta=true"]]) {
    const res = await fetch(`${t.server.url}${path}`, {
      method,
      headers: { "x-api-key": ACCESS_KEY },
    });
    const json = await assertAnthropicError(res, 404, "not_found_error");
    assert.match(json.error.message, /\/v1/);
    const none = await fetch(`${t.server.url}${path}`, { method });
    await assertAnthropicError(none, 401, "authentication_error");
  }
});

Deno.test("client surface: a known path asked with the wrong method says which method it takes", async () => {
  await using t = await setup();
  const res = await fetch(`${t.server.url}/v1/messages`, { headers: { "x-api-key": ACCESS_KEY } });
  assert.equal(res.headers.get("allow"), "POST");
  const json = await assertAnthropicError(res, 405, "invalid_request_error");
  assert.match(json.error.message, /POST/);
  const del = await fetch(`${t.server.url}/v1/models`, {
    method: "DELETE",
    headers: { "x-api-key": ACCESS_KEY },
  });
  assert.match(del.headers.get("allow") ?? "", /GET/);
  await assertAnthropicError(del, 405, "invalid_request_error");
  // Every client route, its sub-paths too; HEAD goes with GET.
  for (
    const [method, path, allow] of [
      ["GET", "/v1/messages/count_tokens", "POST"],
      ["PUT", "/v1/messages", "POST"],
      ["POST", "/v1/models", "GET, HEAD"],
      ["POST", "/v1/models/vendor/some-model", "GET, HEAD"],
    ]
  ) {
    const res = await fetch(`${t.server.url}${path}`, {
      method,
      headers: { "x-api-key": ACCESS_KEY },
    });
    assert.equal(res.headers.get("allow"), allow, `${method} ${path}`);
    const json = await assertAnthropicError(res, 405, "invalid_request_error");
    assert.equal(json.error.message, `${path} takes ${allow.split(",")[0]}, not ${method}`);
  }
  const head = await fetch(`${t.server.url}/v1/messages`, {
    method: "HEAD",
    headers: { "x-api-key": ACCESS_KEY },
  });
  assert.equal(head.status, 405);
  assert.equal(head.headers.get("allow"), "POST");
  // A path that only looks like one is not: 404.
  const slash = await fetch(`${t.server.url}/v1/messages/`, {
    method: "POST",
    headers: { "x-api-key": ACCESS_KEY },
  });
  await assertAnthropicError(slash, 404, "not_found_error");
});

Deno.test("client surface: a base URL ending in /v1 is named as the cause of the 404", async () => {
  await using t = await setup();
  // ANTHROPIC_BASE_URL=http://host/v1, a common slip: the SDKs and Claude Code add /v1 themselves.
  const client = new Anthropic({
    apiKey: ACCESS_KEY,
    baseURL: `${t.server.url}/v1`,
    maxRetries: 0,
  });
  await assert.rejects(
    client.messages.create({
      model: "m",
      max_tokens: 5,
      messages: [{ role: "user", content: "hi" }],
    }),
    (err: unknown) => err instanceof Anthropic.NotFoundError && /base URL/i.test(err.message),
  );
  assert.equal(t.fake.requests.length, 0);
});

Deno.test("client surface: a path outside /v1 and the admin pages (a base URL a little off) gets an Anthropic-shaped 404 too", async () => {
  await using t = await setup();
  for (
    const [path, hint] of [["//v1/messages", /ends in a slash/], ["/v2/messages", /Not found/]]
  ) {
    const res = await fetch(`${t.server.url}${path}`, {
      method: "POST",
      headers: { "x-api-key": ACCESS_KEY, "content-type": "application/json" },
      body: "{}",
    });
    assert.equal(res.status, 404);
    assert.ok(res.headers.get("request-id"));
    const body = await res.json();
    assert.equal(body.type, "error");
    assert.equal(body.error.type, "not_found_error");
    assert.match(body.error.message, hint as RegExp);
  }
  // The pages' own files keep their plain answer.
  const asset = await fetch(`${t.server.url}/static/no-such-file.js`);
  assert.equal(asset.status, 404);
  assert.equal(await asset.text(), "Not found");
  assert.equal(t.fake.requests.length, 0);
});

Deno.test("client surface: MAX_BODY_SIZE answers 413 request_too_large", async () => {
  await using t = await setup({ MAX_BODY_SIZE: "1000" });
  const big = JSON.stringify({
    model: "m",
    max_tokens: 5,
    messages: [{ role: "user", content: "x".repeat(5000) }],
  });
  const res = await fetch(`${t.server.url}/v1/messages`, {
    method: "POST",
    headers: { "x-api-key": ACCESS_KEY, "content-type": "application/json" },
    body: big,
  });
  await assertAnthropicError(res, 413, "request_too_large");
  // Without a declared length (chunked), the body is counted as it arrives.
  const chunked = await fetch(`${t.server.url}/v1/messages`, {
    method: "POST",
    headers: { "x-api-key": ACCESS_KEY, "content-type": "application/json" },
    body: new Blob([big]).stream(),
    // @ts-ignore: Deno's fetch takes duplex for streamed bodies
    duplex: "half",
  });
  await assertAnthropicError(chunked, 413, "request_too_large");
  assert.equal(t.fake.requests.length, 0);
});

Deno.test("client surface: a 21 MB session under the default MAX_BODY_SIZE reaches the upstream whole", async () => {
  // Far past the 1-16 MB caps frameworks default to: a long session with screenshots, which
  // Claude Code sends again with every turn, so a lower cap anywhere leaves it stuck for good.
  await using t = await setup();
  const history = "a line of a long session. ".repeat(800_000);
  const raw = JSON.stringify({
    model: "m",
    max_tokens: 5,
    stream: true,
    messages: [{ role: "user", content: history }],
  });
  assert.ok(raw.length > 20_000_000);
  const res = await fetch(`${t.server.url}/v1/messages`, {
    method: "POST",
    headers: { "x-api-key": ACCESS_KEY, "content-type": "application/json" },
    body: raw,
  });
  assert.equal(res.status, 200);
  assert.match(await res.text(), /event: message_stop/);
  assert.equal(t.fake.requests[0].raw, raw);
});

Deno.test("client surface: the rate limit answers 429 with retry-after", async () => {
  await using t = await setup({
    ENABLE_RATE_LIMIT: "true",
    RATE_LIMIT_MAX_REQUESTS: "2",
    RATE_LIMIT_WINDOW: "60000",
  });
  for (let i = 0; i < 2; i++) {
    const ok = await fetch(`${t.server.url}/v1/messages`, {
      method: "POST",
      headers: { "x-api-key": ACCESS_KEY },
      body,
    });
    assert.equal(ok.status, 200);
    await ok.body?.cancel();
  }
  const limited = await fetch(`${t.server.url}/v1/messages`, {
    method: "POST",
    headers: { "x-api-key": ACCESS_KEY },
    body,
  });
  await assertAnthropicError(limited, 429, "rate_limit_error");
  const wait = Number(limited.headers.get("retry-after"));
  assert.ok(wait > 0 && wait <= 60);
});

Deno.test("client surface: the SDK gives up at once on a wrong access key instead of retrying", async () => {
  await using t = await setup();
  const client = new Anthropic({ apiKey: "wrong-key", baseURL: t.server.url, maxRetries: 3 });
  const started = Date.now();
  await assert.rejects(
    client.messages.create({
      model: "m",
      max_tokens: 5,
      messages: [{ role: "user", content: "hi" }],
    }),
    (err: unknown) => err instanceof Anthropic.AuthenticationError,
  );
  // Three retries with the SDK's backoff would take several seconds.
  assert.ok(Date.now() - started < 1_000, `took ${Date.now() - started} ms`);
});
