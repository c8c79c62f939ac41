// The admin JSON API: authentication, the document round trip, validation, version conflicts.
import Anthropic from "@anthropic-ai/sdk";
import assert from "node:assert/strict";
import { healthId } from "../../../lib/key_pool.ts";
import { StoreBusyError } from "../../../lib/store/busy_retry.ts";
import { signIn } from "../../helpers/admin_browser.ts";
import { startFakeOpenAI } from "../../fakes/openai_upstream.ts";
import {
  ACCESS_KEY,
  ADMIN_PASSWORD,
  startTestServer,
  type TestServer,
} from "../../helpers/server.ts";

const KEY_1 = "sk-proj-api-test-key-0000000001";
const KEY_2 = "sk-proj-api-test-key-0000000002";
const BEARER = { authorization: `Bearer ${ADMIN_PASSWORD}` };

const config = () => ({
  upstream: [
    {
      name: "main",
      baseUrl: "https://api.openai.com",
      serviceType: "openai",
      apiKeys: [KEY_1, KEY_2],
      models: { sonnet: "gpt-4o" },
    },
  ],
  currentUpstream: 0,
  loadBalance: "round-robin" as const,
});

async function withServer(fn: (s: TestServer) => Promise<void>): Promise<void> {
  const s = await startTestServer({ config: config() });
  try {
    await fn(s);
  } finally {
    await s.close();
  }
}

function put(s: TestServer, body: unknown, headers: Record<string, string> = {}) {
  return fetch(`${s.url}/admin/api/config`, {
    method: "PUT",
    headers: { ...BEARER, "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

Deno.test("the API needs the admin password as a bearer token (or a session)", async () => {
  await withServer(async (s) => {
    const attempts: Record<string, string>[] = [
      {},
      { authorization: "Bearer wrong" },
      { authorization: "Basic x" },
    ];
    for (const headers of attempts) {
      const res = await fetch(`${s.url}/admin/api/config`, { headers });
      assert.equal(res.status, 401);
      const body = await res.json();
      assert.equal(body.error.type, "authentication_error");
      // The shape of every other error the server answers with, its request id included.
      assert.equal(body.type, "error");
      assert.equal(body.request_id, res.headers.get("request-id"));
      assert.ok(!JSON.stringify(body).includes(KEY_1));
    }
    const put401 = await fetch(`${s.url}/admin/api/config`, { method: "PUT", body: "{}" });
    assert.equal(put401.status, 401);
    await put401.body?.cancel();
    assert.equal(s.services.store.snapshot.doc.upstream.length, 1);
  });
});

Deno.test("a method a route does not take is a 405 naming those it does; an unknown path a 404", async () => {
  await withServer(async (s) => {
    for (
      const [method, path, takes] of [["POST", "config", "GET, PUT"], [
        "DELETE",
        "keys/status",
        "GET",
      ]]
    ) {
      const res = await fetch(`${s.url}/admin/api/${path}`, { method, headers: BEARER });
      assert.equal(res.status, 405, `${method} ${path}`);
      assert.match(res.headers.get("allow") ?? "", /^GET, HEAD/);
      const body = await res.json();
      assert.equal(body.error.type, "invalid_request_error");
      assert.equal(body.error.message, `/admin/api/${path} takes ${takes}, not ${method}`);
    }
    const unknown = await fetch(`${s.url}/admin/api/nothing`, { headers: BEARER });
    assert.equal(unknown.status, 404);
    assert.equal((await unknown.json()).error.type, "not_found_error");
    assert.equal(s.services.store.snapshot.doc.upstream.length, 1);
  });
});

Deno.test("GET returns the document with its keys and version; PUT of it round-trips", async () => {
  await withServer(async (s) => {
    const res = await fetch(`${s.url}/admin/api/config`, { headers: BEARER });
    assert.equal(res.status, 200);
    const etag = res.headers.get("etag")!;
    assert.match(etag, /^"[0-9a-f]+"$/);
    const doc = await res.json();
    assert.deepEqual(doc, s.services.store.snapshot.doc, "exactly the document, keys included");
    assert.deepEqual(doc.upstream[0].apiKeys, [KEY_1, KEY_2]);

    doc.loadBalance = "random";
    const saved = await put(s, doc, { "if-match": etag });
    assert.equal(saved.status, 200);
    assert.notEqual(saved.headers.get("etag"), etag);
    assert.equal((await saved.json()).loadBalance, "random");
    assert.equal(s.services.store.snapshot.doc.loadBalance, "random", "live at once");
  });
});

Deno.test("PUT with invalid input: 400 listing every problem, stored config unchanged", async () => {
  await withServer(async (s) => {
    const before = s.services.store.snapshot;
    const res = await put(s, {
      upstream: [
        { name: "a/b", baseUrl: "ftp://x", serviceType: "nosuch", apiKeys: [""] },
        { name: "ok", baseUrl: "https://b.example", serviceType: "openai", maxTokens: -1 },
        { name: "big", baseUrl: "https://c.example", serviceType: "openai", maxTokens: 2e6 },
        {
          name: "paste",
          baseUrl: "https://d.example/",
          serviceType: "openai",
          apiKeys: ["a\r\nb"],
        },
      ],
      currentUpstream: 1.5,
      loadBalance: "fastest",
    });
    assert.equal(res.status, 400);
    const body = await res.json();
    assert.equal(body.error.type, "invalid_request_error");
    const problems: string[] = body.error.problems;
    for (
      const path of [
        "upstream.0.name",
        "upstream.0.baseUrl",
        "upstream.0.serviceType",
        "upstream.0.apiKeys.0",
        "upstream.1.maxTokens",
        "upstream.2.maxTokens",
        "upstream.3.apiKeys.0",
        "currentUpstream",
        "loadBalance",
      ]
    ) {
      assert.ok(problems.some((p) => p.startsWith(path + ":")), `${path} in ${problems}`);
    }
    const notJson = await put(s, "{nope");
    assert.equal(notJson.status, 400);
    assert.deepEqual((await notJson.json()).error.problems, ["body: not valid JSON"]);
    const notObject = await put(s, "[1]");
    assert.equal(notObject.status, 400);
    await notObject.body?.cancel();

    assert.equal(s.services.store.snapshot.version, before.version);
    const after = await (await fetch(`${s.url}/admin/api/config`, { headers: BEARER })).json();
    assert.deepEqual(after, before.doc);
  });
});

Deno.test("PUT of a document too large for the store: 400 saying its size, stored config unchanged", async () => {
  await withServer(async (s) => {
    const before = await (await fetch(`${s.url}/admin/api/config`, { headers: BEARER })).text();
    const keys = Array.from({ length: 40_000 }, (_, i) => `sk-big-${i}`.padEnd(24, "x"));
    const res = await put(s, {
      upstream: [{
        name: "big",
        baseUrl: "https://b.example",
        serviceType: "openai",
        apiKeys: keys,
      }],
    });
    assert.equal(res.status, 400);
    const body = await res.json();
    assert.equal(body.error.type, "invalid_request_error");
    assert.match(body.error.problems.join("\n"), /too large to store: about \d+ KB/);
    const after = await (await fetch(`${s.url}/admin/api/config`, { headers: BEARER })).text();
    assert.equal(after, before);
  });
});

Deno.test("a body over 8 MB, to the API or a page, is refused (413) before it is held whole", async () => {
  await withServer(async (s) => {
    const before = await (await fetch(`${s.url}/admin/api/config`, { headers: BEARER })).text();
    // Streamed without a length, so the limit must count what arrives.
    const chunk = new Uint8Array(1024 * 1024).fill(32);
    let sent = 0;
    const body = () =>
      new ReadableStream<Uint8Array>({
        pull(ctrl) {
          if (sent++ < 64) ctrl.enqueue(chunk);
          else ctrl.close();
        },
      });
    const res = await fetch(`${s.url}/admin/api/config`, {
      method: "PUT",
      headers: { ...BEARER, "content-type": "application/json" },
      body: body(),
    });
    assert.equal(res.status, 413);
    assert.equal((await res.json()).error.type, "request_too_large");
    assert.ok(sent < 64, `the whole body was read (${sent} MB)`);
    // The same on the pages, for a signed-in admin's form post (a key paste gone wrong).
    const b = await signIn(s.url);
    const page = await b.post("/admin/upstreams/main/keys", {
      keys: "x".repeat(9 * 1024 * 1024),
    });
    assert.equal(page.status, 413);
    assert.match(await page.text(), /larger than 8 MB/);
    const after = await (await fetch(`${s.url}/admin/api/config`, { headers: BEARER })).text();
    assert.equal(after, before);
  });
});

Deno.test("PUT with a key of 70,000 characters (a file pasted as a key): 400, and the server serves on", async () => {
  const fake = await startFakeOpenAI();
  await withServer(async (s) => {
    const doc = (keys: string[]) => ({
      upstream: [{ name: "main", baseUrl: fake.url, serviceType: "openai", apiKeys: keys }],
    });
    const refused = await put(s, doc([KEY_1, `sk-${"z".repeat(70_000)}`]));
    assert.equal(refused.status, 400);
    const body = await refused.json();
    assert.match(body.error.problems.join("\n"), /upstream\.0\.apiKeys\.1: a key must be at most/);
    const saved = await put(s, doc([KEY_1]));
    assert.equal(saved.status, 200);
    await saved.body?.cancel();
    const client = new Anthropic({ baseURL: s.url, apiKey: ACCESS_KEY, maxRetries: 0 });
    const message = await client.messages.create({
      model: "claude-haiku-4-5",
      max_tokens: 16,
      messages: [{ role: "user", content: "hi" }],
    });
    assert.equal(message.type, "message");
  });
  await fake.close();
});

Deno.test("PUT with a member nested thousands deep: 400 saying where, and the stored config still copies, exports and saves", async () => {
  await withServer(async (s) => {
    const before = structuredClone(s.services.store.snapshot.doc);
    const upstream = JSON.stringify(before.upstream[0]).slice(0, -1) +
      `,"extra":${"[".repeat(20_000)}${"]".repeat(20_000)}}`;
    const res = await fetch(`${s.url}/admin/api/config`, {
      method: "PUT",
      headers: { ...BEARER, "content-type": "application/json" },
      body: `{"upstream":[${upstream}]}`,
    });
    assert.equal(res.status, 400);
    const body = await res.json();
    assert.deepEqual(body.error.problems, ["upstream.0.extra: nested more than 32 deep"]);
    assert.deepEqual(s.services.store.snapshot.doc, before);
    // As deep as a setting goes is kept.
    const kept = { ...before.upstream[0], extra: { a: { b: [1, [2]] } } };
    const saved = await put(s, { ...before, upstream: [kept] });
    assert.equal(saved.status, 200);
    await saved.body?.cancel();
    const exported = await fetch(`${s.url}/admin/api/config`, { headers: BEARER });
    assert.deepEqual((await exported.json()).upstream[0].extra, kept.extra);
  });
});

Deno.test("PUT with a name holding a line break, an escape or an invisible character: 400", async () => {
  await withServer(async (s) => {
    const before = await (await fetch(`${s.url}/admin/api/config`, { headers: BEARER })).text();
    for (const name of ["a\nb", "red\u001b[31m", "\u202eevil", "ma\u200bin"]) {
      const res = await put(s, {
        upstream: [{ name, baseUrl: "https://b.example", serviceType: "openai" }],
      });
      assert.equal(res.status, 400, JSON.stringify(name));
      const body = await res.json();
      assert.match(body.error.problems.join("\n"), /upstream\.0\.name: .*control or invisible/);
    }
    const after = await (await fetch(`${s.url}/admin/api/config`, { headers: BEARER })).text();
    assert.equal(after, before);
  });
});

Deno.test("PUT with a key outside printable ASCII (a masked key copied back): 400 saying so", async () => {
  await withServer(async (s) => {
    const before = await (await fetch(`${s.url}/admin/api/config`, { headers: BEARER })).text();
    for (const key of ["sk-proj…wxyz", "sk-\u202eabcdef0123456789", "sk-ключ-0123456789"]) {
      const res = await put(s, {
        upstream: [{
          name: "m",
          baseUrl: "https://b.example",
          serviceType: "openai",
          apiKeys: [key],
        }],
      });
      assert.equal(res.status, 400, JSON.stringify(key));
      const body = await res.json();
      assert.match(body.error.problems.join("\n"), /apiKeys\.0: .*printable ASCII/);
      assert.ok(!JSON.stringify(body).includes(key), "the key is not echoed");
    }
    const after = await (await fetch(`${s.url}/admin/api/config`, { headers: BEARER })).text();
    assert.equal(after, before);
  });
});

Deno.test("PUT without an upstream list, or with a misspelt setting, is a 400 and wipes nothing", async () => {
  await withServer(async (s) => {
    const before = s.services.store.snapshot;
    const upstream = config().upstream;
    const cases: Array<[unknown, string[]]> = [
      [{}, ["upstream: missing"]],
      [{ upstreams: upstream }, ["upstream: missing", "upstreams: unknown setting"]],
      [{ upstream, loadbalance: "random" }, ["loadbalance: unknown setting"]],
      [{ upstream: [{ name: "x" }], port: 3000 }, ["port: unknown setting", "upstream.0.baseUrl"]],
      // An upstream's setting misspelt would do nothing without a word; one of its own is kept.
      [
        { upstream: [{ ...upstream[0], maxToken: 100, fallbak: "y", note: "mine" }] },
        [
          "upstream.0.maxToken: unknown setting; did you mean maxTokens?",
          "upstream.0.fallbak: unknown setting; did you mean fallback?",
        ],
      ],
      [{ upstream: [{ ...upstream[0], ApiKeys: [] }] }, ["upstream.0.ApiKeys: unknown setting"]],
      // Text no page, URL or terminal can show as it is.
      [{ upstream: [{ ...upstream[0], name: "bad\ud800" }] }, ["upstream.0.name: must not"]],
      [
        { upstream: [{ ...upstream[0], description: "a\x1b[31mred" }] },
        ["upstream.0.description: must not"],
      ],
      [
        { upstream: [{ ...upstream[0], models: { sonnet: "abc\u202egnp.exe" } }] },
        ["upstream.0.models.sonnet: must not"],
      ],
    ];
    for (const [body, expected] of cases) {
      const res = await put(s, body);
      assert.equal(res.status, 400, JSON.stringify(body));
      const problems: string[] = (await res.json()).error.problems;
      for (const p of expected) {
        assert.ok(problems.some((q) => q.startsWith(p)), `${p} in ${problems}`);
      }
      assert.ok(!problems.some((q) => q.includes("note")), `${problems}`);
    }
    assert.equal(s.services.store.snapshot.version, before.version);
    assert.deepEqual(s.services.store.snapshot.doc.upstream, before.doc.upstream);

    const own = await put(s, {
      upstream: [{ ...upstream[0], note: "mine", model: "x", description: "one\r\ntwo\tthree" }],
    });
    assert.equal(own.status, 200, "settings of an old file's own are kept");
    await own.body?.cancel();

    // Every setting the contract lists is accepted, and an empty list is an explicit "none".
    const emptied = await put(s, { upstream: [], currentUpstream: 0, loadBalance: "failover" });
    assert.equal(emptied.status, 200);
    await emptied.body?.cancel();
    assert.deepEqual(s.services.store.snapshot.doc.upstream, []);
  });
});

Deno.test("PUT with a stale If-Match is a 412 (precondition failed); without one it simply replaces", async () => {
  await withServer(async (s) => {
    const first = await fetch(`${s.url}/admin/api/config`, { headers: BEARER });
    const etag = first.headers.get("etag")!;
    const doc = await first.json();
    const other = await put(s, { ...doc, loadBalance: "failover" });
    assert.equal(other.status, 200);
    await other.body?.cancel();

    const stale = await put(s, { ...doc, loadBalance: "random" }, { "if-match": etag });
    assert.equal(stale.status, 412);
    const refused = await stale.json();
    assert.match(refused.error.message, /changed elsewhere/);
    // One of the error types the contract names, as every other error of the API.
    assert.equal(refused.error.type, "invalid_request_error");
    assert.equal(s.services.store.snapshot.doc.loadBalance, "failover");
    // A list of tags matches when any of them is the current version, as HTTP has it.
    const current = other.headers.get("etag")!;
    const listed = await put(s, { ...doc, loadBalance: "random" }, {
      "if-match": `${etag}, ${current}`,
    });
    assert.equal(listed.status, 200);
    await listed.body?.cancel();
    const noneOf = await put(s, doc, { "if-match": `${etag}, ${current}` });
    assert.equal(noneOf.status, 412, "both tags are stale now");
    await noneOf.body?.cancel();
    const any = await put(s, { ...doc, loadBalance: "random" }, { "if-match": "*" });
    assert.equal(any.status, 200);
    await any.body?.cancel();
  });
});

Deno.test("PUTs without If-Match sent at once all replace: the last one stored wins, none is a 409", async () => {
  await withServer(async (s) => {
    // Signed in: a script's bearer calls, this many at once from one address, would meet the
    // password throttle instead.
    const b = await signIn(s.url);
    const headers = {
      cookie: b.cookieHeader,
      "x-csrf-token": b.csrf,
      origin: s.url,
      "content-type": "application/json",
    };
    const docs = Array.from({ length: 30 }, (_, i) => {
      const doc = config();
      doc.upstream[0].name = `main-${i}`;
      return doc;
    });
    const statuses = await Promise.all(docs.map(async (doc) => {
      const res = await fetch(`${s.url}/admin/api/config`, {
        method: "PUT",
        headers,
        body: JSON.stringify(doc),
      });
      await res.body?.cancel();
      return res.status;
    }));
    assert.deepEqual(statuses, docs.map(() => 200));
    const stored = (await s.services.store.refresh()).doc.upstream[0].name;
    assert.ok(docs.some((d) => d.upstream[0].name === stored), stored);
  });
});

Deno.test("the original config.json shape is accepted by PUT", async () => {
  await withServer(async (s) => {
    const res = await put(s, {
      upstream: [
        {
          baseUrl: "https://api.anthropic.com",
          apiKeys: ["sk-ant-legacy-0000000000001"],
          serviceType: "claude",
          description: "relay",
          modelMapping: {
            opus: "claude-opus-4",
            sonnet: "claude-sonnet-4",
            haiku: "claude-haiku-4",
          },
        },
      ],
      currentUpstream: 0,
      loadBalance: "failover",
    });
    assert.equal(res.status, 200);
    const doc = await res.json();
    assert.equal(doc.upstream[0].name, "claude-1");
    assert.deepEqual(doc.upstream[0].models, {
      opus: "claude-opus-4",
      sonnet: "claude-sonnet-4",
      haiku: "claude-haiku-4",
    });
  });
});

Deno.test("PUT of the contract's own example, which repeats a key, keeps one copy of each key", async () => {
  await withServer(async (s) => {
    const example = {
      upstream: [
        {
          name: "openai-main",
          baseUrl: "https://api.openai.com",
          serviceType: "openai",
          apiKeys: ["sk-...", "sk-..."],
          models: { haiku: "gpt-4o-mini", sonnet: "gpt-4o", opus: "o3", default: "gpt-4o" },
        },
        {
          name: "gemini-main",
          baseUrl: "https://generativelanguage.googleapis.com",
          serviceType: "gemini",
          apiKeys: ["AIza..."],
        },
      ],
      currentUpstream: 0,
      loadBalance: "round-robin",
    };
    const res = await put(s, example);
    assert.equal(res.status, 200, await res.clone().text());
    assert.deepEqual((await res.json()).upstream[0].apiKeys, ["sk-..."]);

    const res2 = await put(s, {
      ...example,
      upstream: [{ ...example.upstream[0], apiKeys: [KEY_2, KEY_1, KEY_2, KEY_1] }],
    });
    assert.equal(res2.status, 200);
    await res2.body?.cancel();
    assert.deepEqual(s.services.store.snapshot.doc.upstream[0].apiKeys, [KEY_2, KEY_1]);
    assert.ok(s.logs.some((l) => /configuration replaced.*repeatedKeysDropped=2/.test(l)));
  });
});

Deno.test("a session cookie works too, but writes then need the CSRF token and same origin", async () => {
  await withServer(async (s) => {
    const form = await fetch(`${s.url}/admin/login`);
    const loginCookie = form.headers.getSetCookie()[0].split(";")[0];
    const token = (await form.text()).match(/name="_csrf" value="([^"]+)"/)![1];
    const signed = await fetch(`${s.url}/admin/login`, {
      method: "POST",
      headers: { cookie: loginCookie, origin: s.url },
      body: new URLSearchParams({ _csrf: token, password: ADMIN_PASSWORD }),
      redirect: "manual",
    });
    await signed.body?.cancel();
    const cookie = signed.headers.getSetCookie().find((c) => c.startsWith("admin_session="))!
      .split(";")[0];
    const page = await (await fetch(`${s.url}/admin`, { headers: { cookie } })).text();
    const csrf = page.match(/name="_csrf" value="([^"]+)"/)![1];

    const got = await fetch(`${s.url}/admin/api/config`, { headers: { cookie } });
    assert.equal(got.status, 200);
    const doc = await got.json();
    const body = JSON.stringify({ ...doc, loadBalance: "random" });

    const noToken = await fetch(`${s.url}/admin/api/config`, {
      method: "PUT",
      headers: { cookie, "content-type": "application/json" },
      body,
    });
    assert.equal(noToken.status, 403);
    await noToken.body?.cancel();
    // A form-encodable body from another site is refused by the origin check.
    const crossSite = await fetch(`${s.url}/admin/api/config`, {
      method: "PUT",
      headers: {
        cookie,
        "x-csrf-token": csrf,
        "content-type": "text/plain",
        origin: "https://evil.example",
      },
      body,
    });
    assert.equal(crossSite.status, 403);
    // Said in the API's JSON, as its other refusals are.
    assert.equal(crossSite.headers.get("content-type"), "application/json");
    assert.equal((await crossSite.json()).error.type, "permission_error");
    assert.equal(s.services.store.snapshot.doc.loadBalance, "round-robin");
    // JSON from another site, or sent by a browser from another site, is refused too.
    const foreigns: Record<string, string>[] = [
      { origin: "https://evil.example" },
      { "sec-fetch-site": "cross-site" },
    ];
    for (const foreign of foreigns) {
      const json = await fetch(`${s.url}/admin/api/config`, {
        method: "PUT",
        headers: { cookie, "x-csrf-token": csrf, "content-type": "application/json", ...foreign },
        body,
      });
      assert.equal(json.status, 403, JSON.stringify(foreign));
      assert.equal((await json.json()).error.type, "permission_error");
    }
    assert.equal(s.services.store.snapshot.doc.loadBalance, "round-robin");

    const ok = await fetch(`${s.url}/admin/api/config`, {
      method: "PUT",
      headers: { cookie, "x-csrf-token": csrf, "content-type": "application/json", origin: s.url },
      body,
    });
    assert.equal(ok.status, 200);
    await ok.body?.cancel();
    // Bearer callers are scripts: no origin check applies to them.
    const script = await put(s, { ...doc, loadBalance: "failover" }, {
      origin: "https://elsewhere.example",
      "content-type": "text/plain",
    });
    assert.equal(script.status, 200);
    await script.body?.cancel();
  });
});

Deno.test("key status lists every key masked with its state", async () => {
  await withServer(async (s) => {
    await s.services.health.disable(healthId("https://api.openai.com", KEY_2), "401: bad key");
    const res = await fetch(`${s.url}/admin/api/keys/status`, { headers: BEARER });
    assert.equal(res.status, 200);
    const text = await res.text();
    assert.ok(!text.includes(KEY_1) && !text.includes(KEY_2), "masked");
    const body = JSON.parse(text);
    assert.deepEqual(
      body.upstreams[0].keys.map((k: { state: string; masked: string }) => [k.masked, k.state]),
      [["sk-pro…0001", "active"], ["sk-pro…0002", "disabled"]],
    );
    const missing = await fetch(`${s.url}/admin/api/nothing`, { headers: BEARER });
    assert.equal(missing.status, 404);
    assert.equal((await missing.json()).error.type, "not_found_error");
  });
});

Deno.test("PUT refuses the names the admin pages cannot address: '.', '..', 'new' in any case", async () => {
  await withServer(async (s) => {
    const before = s.services.store.snapshot.version;
    for (const name of [".", "..", "new", "New", " NEW "]) {
      const doc = config();
      doc.upstream[0].name = name;
      const res = await put(s, doc);
      assert.equal(res.status, 400, name);
      const problems: string[] = (await res.json()).error.problems;
      assert.ok(problems.some((p) => /^upstream\.0\.name: .*reserved/.test(p)), `${problems}`);
    }
    assert.equal(s.services.store.snapshot.version, before);
  });
});

Deno.test("a store held locked past every retry is a 503 to retry, not an internal error", async () => {
  await withServer(async (s) => {
    const before = s.services.store.snapshot;
    // As when another process keeps the KV file locked longer than the retries wait.
    s.services.store.replace = () => {
      throw new StoreBusyError(new TypeError("database is locked"));
    };
    const res = await put(s, { ...config(), loadBalance: "random" });
    assert.equal(res.status, 503);
    assert.equal(res.headers.get("retry-after"), "1");
    const body = await res.json();
    assert.equal(body.type, "error");
    assert.match(body.error.message, /locked/);
    assert.equal(s.services.store.snapshot, before);
    assert.ok(!s.logs.some((l) => /unhandled error/.test(l)), s.logs.join("\n"));
  });
});

Deno.test("a rename through PUT keeps the key the upstream refused out of rotation", async () => {
  const DEAD = "sk-proj-revoked-key-000000000d";
  const GOOD = "sk-proj-working-key-000000000g";
  const fake = await startFakeOpenAI({ requireKey: [GOOD] });
  const doc = (name: string) => ({
    upstream: [{
      name,
      baseUrl: fake.url,
      serviceType: "openai",
      apiKeys: [DEAD, GOOD],
      models: { default: "gpt-fake" },
    }],
    currentUpstream: 0,
    loadBalance: "failover" as const,
  });
  const s = await startTestServer({ config: doc("main") });
  const client = new Anthropic({ apiKey: ACCESS_KEY, baseURL: s.url, maxRetries: 0 });
  const ask = () =>
    client.messages.create({
      model: "claude-sonnet-test",
      max_tokens: 16,
      messages: [{ role: "user", content: "hi" }],
    });
  const keysSent = () => fake.requests.map((r) => r.headers.get("authorization"));
  try {
    await ask();
    assert.deepEqual(keysSent(), [`Bearer ${DEAD}`, `Bearer ${GOOD}`], "the 401 disabled DEAD");
    const res = await put(s, doc("renamed"));
    assert.equal(res.status, 200);
    await res.body?.cancel();
    fake.requests.length = 0;
    await ask();
    assert.deepEqual(keysSent(), [`Bearer ${GOOD}`], "the revoked key was tried again");
    const status = await (await fetch(`${s.url}/admin/api/keys/status`, { headers: BEARER }))
      .json();
    assert.deepEqual(
      status.upstreams[0].keys.map((k: { state: string }) => k.state),
      ["disabled", "active"],
    );
  } finally {
    await s.close();
    await fake.close();
  }
});

Deno.test("a PUT that removes an upstream leaves none of its key health in the store", async () => {
  await withServer(async (s) => {
    await s.services.health.disable(healthId("https://api.openai.com", KEY_2), "401: bad key");
    const stored = async () => {
      const out: Deno.KvKey[] = [];
      for await (const e of s.kv.list({ prefix: ["key_health_by_server"] })) out.push(e.key);
      return out.length;
    };
    assert.equal(await stored(), 1);
    const doc = config();
    doc.upstream[0] = { ...doc.upstream[0], name: "other", baseUrl: "https://other.example" };
    const res = await put(s, doc);
    assert.equal(res.status, 200);
    await res.body?.cancel();
    const started = Date.now();
    while (await stored() > 0) {
      if (Date.now() - started > 1000) assert.fail("the removed key's state is still stored");
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.deepEqual(s.services.health.list(), []);
  });
});
