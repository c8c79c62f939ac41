// The admin pages over real HTTP: sessions, CSRF, forms with their errors, conflicts, keys,
// import/export, and no secret in any page.
import assert from "node:assert/strict";
import { createApp } from "../../../lib/app.ts";
import { healthId, keyId } from "../../../lib/key_pool.ts";
import { startFakeAnthropic } from "../../fakes/anthropic_upstream.ts";
import { Browser, formGuards, signIn } from "../../helpers/admin_browser.ts";
import {
  ACCESS_KEY,
  ADMIN_PASSWORD,
  startTestServer,
  type TestServer,
} from "../../helpers/server.ts";

const KEY_1 = "sk-ant-api03-first-secret-key-000111";
const KEY_2 = "sk-ant-api03-second-secret-key-000222";
const KEY_3 = "sk-ant-api03-third-secret-key-000333";

/** The health id of an upstream's key, at the base URL the server has for it now. */
function at(s: TestServer, upstream: string, key: string): string {
  const u = s.services.store.snapshot.doc.upstream.find((x) => x.name === upstream)!;
  return healthId(u.baseUrl, key);
}

const baseConfig = () => ({
  upstream: [
    {
      name: "primary",
      baseUrl: "https://api.anthropic.com",
      serviceType: "anthropic",
      apiKeys: [KEY_1, KEY_2],
    },
    {
      name: "backup",
      baseUrl: "https://backup.example",
      serviceType: "openai",
      apiKeys: [KEY_3],
      models: { sonnet: "gpt-4o", default: "gpt-4o-mini" },
    },
  ],
  currentUpstream: 0,
  loadBalance: "failover" as const,
});

async function withServer(
  fn: (s: TestServer) => Promise<void>,
  options: Parameters<typeof startTestServer>[0] = { config: baseConfig() },
): Promise<void> {
  const s = await startTestServer(options);
  try {
    await fn(s);
  } finally {
    await s.close();
  }
}

const PAGES = [
  "/admin",
  "/admin/upstreams",
  "/admin/upstreams/new",
  "/admin/upstreams/primary",
  "/admin/upstreams/primary/keys",
  "/admin/upstreams/primary/delete",
  "/admin/strategy",
  "/admin/transfer",
  "/admin/export",
  "/admin/fragments/key-states",
  "/admin/logs",
];

const POSTS = [
  "/admin/logout",
  "/admin/upstreams/new",
  "/admin/upstreams/primary",
  "/admin/upstreams/primary/delete",
  "/admin/upstreams/primary/use",
  "/admin/upstreams/primary/move",
  "/admin/upstreams/primary/keys",
  "/admin/upstreams/primary/keys/enable-all",
  `/admin/upstreams/primary/keys/${keyId(KEY_1)}/disable`,
  `/admin/upstreams/primary/keys/${keyId(KEY_1)}/enable`,
  `/admin/upstreams/primary/keys/${keyId(KEY_1)}/test`,
  `/admin/upstreams/primary/keys/${keyId(KEY_1)}/delete`,
  "/admin/strategy",
  "/admin/transfer/preview",
  "/admin/transfer/apply",
];

Deno.test("without ADMIN_PASSWORD every admin path answers 403 saying how to enable it", async () => {
  await withServer(async (s) => {
    for (const path of ["/admin", "/admin/login", "/admin/upstreams", "/admin/anything"]) {
      const res = await fetch(s.url + path);
      assert.equal(res.status, 403, path);
      assert.match(await res.text(), /set a long random password[\s\S]*ADMIN_PASSWORD=/);
    }
    const post = await fetch(s.url + "/admin/login", {
      method: "POST",
      headers: { origin: s.url },
      body: new URLSearchParams({ password: "" }),
    });
    assert.equal(post.status, 403);
    await post.body?.cancel();
    const api = await fetch(s.url + "/admin/api/config", {
      headers: { authorization: "Bearer " },
    });
    assert.equal(api.status, 403);
    assert.match((await api.json()).error.message, /ADMIN_PASSWORD/);
  }, { env: { ADMIN_PASSWORD: "" }, config: baseConfig() });
});

Deno.test("every page and fragment needs a session", async () => {
  await withServer(async (s) => {
    const anon = new Browser(s.url);
    for (const path of PAGES) {
      const res = await anon.get(path);
      await res.body?.cancel();
      assert.equal(res.status, 303, path);
      assert.equal(res.headers.get("location"), `/admin/login?next=${encodeURIComponent(path)}`);
    }
    // htmx is told where to go instead of swapping the sign-in page into a fragment.
    const htmx = await anon.get("/admin/fragments/key-states", { "hx-request": "true" });
    await htmx.body?.cancel();
    assert.equal(htmx.status, 401);
    assert.match(htmx.headers.get("hx-redirect")!, /^\/admin\/login/);
    for (const path of POSTS) {
      const res = await anon.post(path, { version: "" }, { csrf: false });
      await res.body?.cancel();
      assert.equal(res.status, 303, path);
      assert.match(res.headers.get("location")!, /^\/admin\/login/, path);
    }
    // A made-up session id is no session.
    anon.cookies.set("admin_session", "A".repeat(43));
    const forged = await anon.get("/admin");
    await forged.body?.cancel();
    assert.equal(forged.status, 303);
    assert.equal(s.services.store.snapshot.doc.upstream.length, 2, "nothing changed");
  });
});

Deno.test("sign-in sets a strict HttpOnly cookie; sign-out ends the session everywhere", async () => {
  await withServer(async (s) => {
    const b = new Browser(s.url);
    const login = await b.text("/admin/login");
    b.csrf = login.match(/name="_csrf" value="([^"]+)"/)![1];
    const wrong = await b.post("/admin/login", { password: "nope" });
    assert.equal(wrong.status, 401);
    assert.match(await wrong.text(), /Wrong password/);
    const ok = await b.post("/admin/login", { password: ADMIN_PASSWORD, next: "/admin/strategy" });
    await ok.body?.cancel();
    assert.equal(ok.status, 303);
    assert.equal(ok.headers.get("location"), "/admin/strategy");
    const cookie = ok.headers.getSetCookie().find((c) => c.startsWith("admin_session="))!;
    assert.match(cookie, /HttpOnly/);
    assert.match(cookie, /SameSite=Strict/);
    assert.match(cookie, /Path=\/admin/);
    assert.doesNotMatch(cookie, /Secure/, "plain http here");

    // Behind a TLS-terminating proxy the cookie is Secure.
    const tls = new Browser(s.url);
    tls.csrf = (await tls.text("/admin/login")).match(/name="_csrf" value="([^"]+)"/)![1];
    const secure = await tls.post("/admin/login", { password: ADMIN_PASSWORD }, {
      headers: { "x-forwarded-proto": "https" },
    });
    await secure.body?.cancel();
    assert.match(
      secure.headers.getSetCookie().find((c) => c.startsWith("admin_session="))!,
      /; Secure/,
    );
    // A chain of proxies lists its hops, the client's first: the same answer as the dashboard's.
    const chained = new Browser(s.url);
    chained.csrf = (await chained.text("/admin/login")).match(/name="_csrf" value="([^"]+)"/)![1];
    const viaTwo = await chained.post("/admin/login", { password: ADMIN_PASSWORD }, {
      headers: { "x-forwarded-proto": "https, http" },
    });
    await viaTwo.body?.cancel();
    assert.match(
      viaTwo.headers.getSetCookie().find((c) => c.startsWith("admin_session="))!,
      /; Secure/,
    );

    // An open redirect through `next` is refused.
    const b2 = new Browser(s.url);
    b2.csrf = (await b2.text("/admin/login")).match(/name="_csrf" value="([^"]+)"/)![1];
    const evil = await b2.post("/admin/login", {
      password: ADMIN_PASSWORD,
      next: "//evil.example",
    });
    await evil.body?.cancel();
    assert.equal(evil.headers.get("location"), "/admin");
    // So is one that leaves /admin by a dot segment, which the browser resolves.
    for (const next of ["/admin/../v1/models", "/admin/%2e%2e/v1/models", "/admin/.."]) {
      const b3 = new Browser(s.url);
      b3.csrf = (await b3.text("/admin/login")).match(/name="_csrf" value="([^"]+)"/)![1];
      const out = await b3.post("/admin/login", { password: ADMIN_PASSWORD, next });
      await out.body?.cancel();
      assert.equal(out.headers.get("location"), "/admin", next);
    }

    const page = await b.text("/admin");
    b.csrf = page.match(/name="_csrf" value="([^"]+)"/)![1];
    const saved = b.cookieHeader;
    const out = await b.post("/admin/logout");
    await out.body?.cancel();
    assert.equal(out.status, 303);
    // The old cookie, replayed, no longer opens anything.
    const replay = await fetch(s.url + "/admin", {
      headers: { cookie: saved },
      redirect: "manual",
    });
    await replay.body?.cancel();
    assert.equal(replay.status, 303);
  });
});

Deno.test("a new ADMIN_PASSWORD ends the sessions signed in with the old one", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const before = await startTestServer({ kv, config: baseConfig() });
    const b = await signIn(before.url);
    const cookie = b.cookieHeader;
    const open = await b.get("/admin");
    await open.body?.cancel();
    assert.equal(open.status, 200);
    await before.close();

    // Restarted with the password changed (it had leaked, say): the old cookie opens nothing.
    const after = await startTestServer({ kv, env: { ADMIN_PASSWORD: "a-brand-new-password-77" } });
    try {
      for (const path of ["/admin", "/admin/api/config"]) {
        const res = await fetch(after.url + path, { headers: { cookie }, redirect: "manual" });
        await res.body?.cancel();
        assert.ok(res.status === 303 || res.status === 401, `${path}: ${res.status}`);
      }
      // Signing in with the new password works as ever.
      const again = await signIn(after.url, "a-brand-new-password-77");
      const page = await again.get("/admin");
      await page.body?.cancel();
      assert.equal(page.status, 200);
    } finally {
      await after.close();
    }
  } finally {
    kv.close();
  }
});

Deno.test("the sign-in form itself is protected against cross-site posts", async () => {
  await withServer(async (s) => {
    const b = new Browser(s.url);
    await (await b.get("/admin/login")).body?.cancel();
    // No token from the form: refused even with the right password.
    const noToken = await b.post("/admin/login", { password: ADMIN_PASSWORD }, { csrf: false });
    assert.equal(noToken.status, 403);
    await noToken.body?.cancel();
    const crossSite = await b.post("/admin/login", { password: ADMIN_PASSWORD }, {
      origin: "https://evil.example",
    });
    assert.equal(crossSite.status, 403);
    await crossSite.body?.cancel();
  });
});

Deno.test("an anonymous sign-in post is refused past 64 KB, not read to its end", async () => {
  await withServer(async (s) => {
    const app = createApp(s.services);
    let sent = 0;
    const chunk = new TextEncoder().encode("password=" + "a".repeat(64 * 1024));
    // 16 MB with no declared length, as a client uploading slowly or forever would send it.
    const body = new ReadableStream<Uint8Array>({
      pull(ctrl) {
        if (sent >= 16 * 1024 * 1024) return ctrl.close();
        sent += chunk.byteLength;
        ctrl.enqueue(chunk);
      },
    });
    const res = await app.request(`${s.url}/admin/login`, {
      method: "POST",
      headers: { origin: s.url, "content-type": "application/x-www-form-urlencoded" },
      body,
      duplex: "half",
    } as RequestInit);
    assert.equal(res.status, 413);
    await res.body?.cancel();
    assert.ok(sent <= 256 * 1024, `${sent} bytes read`);
    const declared = await app.request(`${s.url}/admin/login`, {
      method: "POST",
      headers: {
        origin: s.url,
        "content-type": "application/x-www-form-urlencoded",
        "content-length": String(1024 * 1024),
      },
      body: "password=" + "a".repeat(1024 * 1024 - 9),
    });
    assert.equal(declared.status, 413);
    await declared.body?.cancel();
  });
});

Deno.test("CSRF: posts without the token or from another origin are refused", async () => {
  await withServer(async (s) => {
    const b = await signIn(s.url);
    const guards = await b.guardsOf("/admin/strategy");
    const attempts: Array<[string, Parameters<Browser["post"]>[2]]> = [
      ["no Origin", { origin: null }],
      ["another Origin", { origin: "https://evil.example" }],
      ["no token", { csrf: false }],
    ];
    for (const [label, options] of attempts) {
      const res = await b.post("/admin/strategy", { loadBalance: "random", ...guards }, options);
      assert.equal(res.status, 403, label);
      await res.body?.cancel();
    }
    const wrong = await b.post("/admin/strategy", { loadBalance: "random", ...guards }, {
      csrf: false,
      headers: { "x-csrf-token": "not-the-token" },
    });
    assert.equal(wrong.status, 403);
    await wrong.body?.cancel();
    assert.equal(s.services.store.snapshot.doc.loadBalance, "failover", "nothing changed");

    // The htmx header carries the token as well as the hidden field does.
    const viaHeader = await b.post("/admin/strategy", { loadBalance: "random", ...guards }, {
      csrf: false,
      headers: { "x-csrf-token": b.csrf },
    });
    await viaHeader.body?.cancel();
    assert.equal(viaHeader.status, 303);
    assert.equal(s.services.store.snapshot.doc.loadBalance, "random");
    // Another session's token is not this session's.
    const other = await signIn(s.url);
    const mixed = await b.post("/admin/strategy", { loadBalance: "failover", version: "" }, {
      csrf: false,
      headers: { "x-csrf-token": other.csrf },
    });
    assert.equal(mixed.status, 403);
    await mixed.body?.cancel();
  });
});

Deno.test("the kind picker names each kind apart, offers no plain alias, and keeps an upstream's own", async () => {
  await withServer(async (s) => {
    const b = await signIn(s.url);
    const html = await b.text("/admin/upstreams/new");
    const options = [...html.matchAll(/<option value="([^"]*)"[^>]*>([^<]*)</g)]
      .map((m) => [m[1], m[2]]).filter(([v]) =>
        /^(openai|custom|gemini|anthropic|claude)$/.test(v)
      );
    const labels = Object.fromEntries(options);
    assert.deepEqual(Object.keys(labels).sort(), ["anthropic", "custom", "gemini", "openai"]);
    assert.notEqual(
      labels.custom.replace(/ \(custom\)$/, ""),
      labels.openai.replace(/ \(openai\)$/, ""),
    );
    assert.match(labels.custom, /OpenAI-compatible/);
    // An upstream stored with the alias keeps it when its form is shown (and saved) again.
    const doc = s.services.store.snapshot.doc;
    await s.services.store.replace({
      ...doc,
      upstream: [...doc.upstream, {
        name: "aliased",
        baseUrl: "https://api.anthropic.com",
        serviceType: "claude",
        apiKeys: [],
      }],
    });
    const edit = await b.text("/admin/upstreams/aliased");
    assert.match(edit, /<option value="claude"[^>]*selected/);
  });
});

Deno.test("a bad upstream form comes back 422 with each error beside its field", async () => {
  await withServer(async (s) => {
    const b = await signIn(s.url);
    const guards = await b.guardsOf("/admin/upstreams/new");
    const before = s.services.store.snapshot.version;
    const fields = {
      ...guards,
      name: "backup",
      serviceType: "openai",
      baseUrl: "not a url",
      maxTokens: "lots",
      modelFrom: ["sonnet", "haiku", ""],
      modelTo: ["gpt-4o", "", ""],
      modelDefault: "",
      fallback: "",
      maxTokensField: "",
      description: "",
    };
    const res = await b.post("/admin/upstreams/new", fields);
    assert.equal(res.status, 422);
    const html = await res.text();
    assert.match(html, /<!doctype html>/, "a plain form gets the whole page");
    assert.match(html, /id="f-maxTokens-error"[^>]*>must be a whole number from 1 to 1,000,000/);
    assert.match(html, /id="models-error"[^>]*>row 2 needs both/);
    assert.match(html, /id="f-maxTokens"[^>]*aria-invalid="true"/);
    assert.match(html, /value="not a url"/, "what was typed is kept");
    // What the document rules refuse is said in the same answer, not after the rest is mended.
    assert.match(html, /id="f-baseUrl-error"[^>]*>must be an http\(s\) URL/);
    const named = await b.post("/admin/upstreams/new", { ...fields, name: "bad/name" });
    assert.equal(named.status, 422);
    const all = await named.text();
    assert.match(all, /id="f-name-error"[^>]*>must not contain \//);
    assert.match(all, /id="f-baseUrl-error"[^>]*>must be an http\(s\) URL/);
    assert.match(all, /id="f-maxTokens-error"/);
    assert.equal(s.services.store.snapshot.version, before, "nothing saved");

    // Errors only the document rules catch are placed beside their field too.
    const res2 = await b.post("/admin/upstreams/new", {
      ...fields,
      maxTokens: "",
      modelTo: ["gpt-4o", "gpt-4o-mini", ""],
    }, { headers: { "hx-request": "true" } });
    assert.equal(res2.status, 422);
    assert.equal(res2.headers.get("hx-retarget"), "#upstream-form");
    assert.equal(res2.headers.get("hx-reswap"), "outerHTML");
    const fragment = await res2.text();
    assert.match(fragment, /^<form id="upstream-form"/, "htmx gets only the form");
    assert.match(fragment, /id="f-baseUrl-error"[^>]*>must be an http\(s\) URL/);
    const taken = await b.post("/admin/upstreams/new", {
      ...fields,
      maxTokens: "",
      modelTo: ["gpt-4o", "gpt-4o-mini", ""],
      baseUrl: "https://backup2.example",
    });
    assert.equal(taken.status, 422);
    assert.match(
      await taken.text(),
      /id="f-name-error"[^>]*>&quot;backup&quot; is already used by another upstream/,
    );
    assert.equal(s.services.store.snapshot.version, before, "nothing was stored");
  });
});

Deno.test("upstreams: add, edit with a model map, reorder, make current, delete", async () => {
  const fake = await startFakeAnthropic();
  try {
    await withServer(async (s) => {
      const b = await signIn(s.url);
      let guards = await b.guardsOf("/admin/upstreams/new");
      const added = await b.post("/admin/upstreams/new", {
        ...guards,
        name: "local",
        serviceType: "anthropic",
        baseUrl: fake.url,
        description: "a local relay",
        // "constructor" is a name like any other, not a member every object already has.
        modelFrom: ["opus", "claude-3-haiku", "constructor", ""],
        modelTo: ["claude-opus-4", "claude-haiku-4", "claude-x", ""],
        modelDefault: "claude-sonnet-4",
        fallback: "primary",
        maxTokens: "8192",
        maxTokensField: "",
      });
      await added.body?.cancel();
      assert.equal(added.status, 303);
      assert.equal(added.headers.get("location"), "/admin/upstreams/local/keys");
      const keysPage = await b.text("/admin/upstreams/local/keys");
      assert.match(keysPage, /Upstream “local” added/, "the notice survives the redirect");
      assert.doesNotMatch(await b.text("/admin/upstreams"), /Upstream “local” added/, "once");
      const u = s.services.store.snapshot.doc.upstream[2];
      assert.deepEqual(u.models, {
        opus: "claude-opus-4",
        "claude-3-haiku": "claude-haiku-4",
        constructor: "claude-x",
        default: "claude-sonnet-4",
      });
      assert.equal(u.fallback, "primary");
      assert.equal(u.maxTokens, 8192);
      assert.equal(u.description, "a local relay");

      // The edit form shows the map as rows; a rename keeps fallbacks pointing at it, and the
      // health of its keys.
      const health = s.services.health;
      await health.disable(at(s, "primary", KEY_1), "401 from the upstream");
      await health.coolDown(at(s, "primary", KEY_2), "claude-sonnet-4", 60_000, "429");
      const edit = await b.text("/admin/upstreams/primary");
      assert.match(edit, /value="https:\/\/api.anthropic.com"/);
      guards = formGuards(edit);
      const saved = await b.post("/admin/upstreams/primary", {
        ...guards,
        name: "main",
        serviceType: "anthropic",
        baseUrl: "https://api.anthropic.com",
        modelFrom: [""],
        modelTo: [""],
        modelDefault: "",
        fallback: "",
        maxTokens: "",
        maxTokensField: "",
        description: "",
      });
      await saved.body?.cancel();
      assert.equal(saved.status, 303);
      let doc = s.services.store.snapshot.doc;
      assert.equal(doc.upstream[0].name, "main");
      assert.deepEqual(doc.upstream[0].apiKeys, [KEY_1, KEY_2], "keys untouched by the form");
      assert.equal(doc.upstream[2].fallback, "main");
      assert.equal(health.get(at(s, "main", KEY_1), "any")?.state, "disabled");
      assert.equal(health.get(at(s, "main", KEY_2), "claude-sonnet-4")?.state, "cooldown");
      assert.match(await b.text("/admin/upstreams/main/keys"), /401 from the upstream/);

      guards = await b.guardsOf("/admin/upstreams");
      const before = s.services.store.snapshot.doc.upstream.map((x) => x.name);
      const sideways = await b.post("/admin/upstreams/local/move", { ...guards, direction: "x" });
      assert.equal(sideways.status, 422);
      assert.match(await sideways.text(), /Move an upstream up or down/);
      assert.deepEqual(
        s.services.store.snapshot.doc.upstream.map((x) => x.name),
        before,
        "a move without a direction moves nothing",
      );
      await (await b.post("/admin/upstreams/local/move", { ...guards, direction: "up" })).body
        ?.cancel();
      guards = await b.guardsOf("/admin/upstreams");
      await (await b.post("/admin/upstreams/local/use", { ...guards })).body?.cancel();
      doc = s.services.store.snapshot.doc;
      assert.deepEqual(doc.upstream.map((x) => x.name), ["main", "local", "backup"]);
      assert.equal(doc.currentUpstream, 1);

      // Delete asks first (a page that works without JavaScript), then deletes, with its health.
      const localKey = at(s, "local", "some-key");
      await health.disable(localKey, "disabled by hand");
      const confirm = await b.text("/admin/upstreams/local/delete");
      assert.match(confirm, /Delete upstream “local”\?/);
      assert.match(confirm, /It is the current upstream/);
      const gone = await b.post("/admin/upstreams/local/delete", {
        ...formGuards(confirm),
      });
      await gone.body?.cancel();
      assert.equal(gone.status, 303);
      doc = s.services.store.snapshot.doc;
      assert.deepEqual(doc.upstream.map((x) => x.name), ["main", "backup"]);
      assert.ok(!health.list().some((x) => x.healthId === localKey), "its key health went too");

      const missing = await b.get("/admin/upstreams/nowhere");
      assert.equal(missing.status, 404);
      assert.match(await missing.text(), /There is no upstream “nowhere”/);
    });
  } finally {
    await fake.close();
  }
});

Deno.test("two admins at once: a form conflicts only with a change to what it shows, and keeps what was typed", async () => {
  await withServer(async (s) => {
    const alice = await signIn(s.url);
    const bob = await signIn(s.url);
    const aliceStrategy = await alice.guardsOf("/admin/strategy");
    const aliceBackup = await alice.guardsOf("/admin/upstreams/backup");
    const bobBackup = await bob.guardsOf("/admin/upstreams/backup");
    const backupFields = { name: "backup", serviceType: "openai" };

    // Bob changes the strategy and adds a key: Alice's strategy form showed the strategy.
    const bobStrategy = await bob.post("/admin/strategy", {
      ...await bob.guardsOf("/admin/strategy"),
      loadBalance: "round-robin",
    });
    await bobStrategy.body?.cancel();
    assert.equal(bobStrategy.status, 303);
    const bobKeys = await bob.post("/admin/upstreams/backup/keys", { keys: KEY_3 });
    await bobKeys.body?.cancel();
    assert.equal(bobKeys.status, 303);

    const late = await alice.post("/admin/strategy", { ...aliceStrategy, loadBalance: "random" });
    assert.equal(late.status, 409);
    const latePage = await late.text();
    assert.match(latePage, /changed elsewhere \(to round-robin\) since this page was loaded/);
    assert.match(latePage, /id="f-loadBalance-random"[^>]*checked/, "her choice is kept");
    assert.equal(s.services.store.snapshot.doc.loadBalance, "round-robin");
    const again = await alice.post("/admin/strategy", {
      ...formGuards(latePage),
      loadBalance: "random",
    });
    await again.body?.cancel();
    assert.equal(again.status, 303, "saved again, her choice is set");
    assert.equal(s.services.store.snapshot.doc.loadBalance, "random");

    // Neither touched the settings of "backup": Alice's form of it saves.
    const saved = await alice.post("/admin/upstreams/backup", {
      ...aliceBackup,
      ...backupFields,
      baseUrl: "https://alice.example",
    });
    await saved.body?.cancel();
    assert.equal(saved.status, 303);
    assert.deepEqual(s.services.store.snapshot.doc.upstream[1].apiKeys.at(-1), KEY_3);

    // Bob's form of "backup" showed the settings Alice has just changed.
    const lateForm = await bob.post("/admin/upstreams/backup", {
      ...bobBackup,
      ...backupFields,
      baseUrl: "https://bob.example",
    }, { headers: { "hx-request": "true" } });
    assert.equal(lateForm.status, 409);
    const fragment = await lateForm.text();
    assert.match(fragment, /^<form id="upstream-form"/);
    assert.match(fragment, /“backup” was changed elsewhere since this page was loaded/);
    assert.match(fragment, /value="https:\/\/bob.example"/, "the typed values are kept");
    assert.equal(s.services.store.snapshot.doc.upstream[1].baseUrl, "https://alice.example");
    const replaced = await bob.post("/admin/upstreams/backup", {
      ...formGuards(fragment),
      ...backupFields,
      baseUrl: "https://bob.example",
    });
    await replaced.body?.cancel();
    assert.equal(replaced.status, 303, "saved again, his entries replace hers");
    assert.equal(s.services.store.snapshot.doc.upstream[1].baseUrl, "https://bob.example");
  });
});

Deno.test("an upstream renamed or replaced under an open page: pasted keys go to no other server, and nothing typed is lost", async () => {
  await withServer(async (s) => {
    const admin = await signIn(s.url);
    const other = await signIn(s.url);
    const keysPage = await admin.guardsOf("/admin/upstreams/backup/keys");
    const editPage = await admin.guardsOf("/admin/upstreams/backup");
    const NEW_KEY = "sk-meant-for-backup-0000000001";
    const doc = () => s.services.store.snapshot.doc;

    // Elsewhere, "backup" is renamed and another upstream, at another server, takes its name.
    const renamed = await other.post("/admin/upstreams/backup", {
      ...await other.guardsOf("/admin/upstreams/backup"),
      name: "backup-old",
      serviceType: "openai",
      baseUrl: "https://backup.example",
    });
    await renamed.body?.cancel();
    assert.equal(renamed.status, 303);

    // The edit form of the name that is gone comes back as a new upstream's, entries kept.
    const edited = await admin.post("/admin/upstreams/backup", {
      ...editPage,
      name: "backup",
      serviceType: "openai",
      baseUrl: "https://backup.example",
      description: "typed here",
    });
    assert.equal(edited.status, 404);
    const form = await edited.text();
    assert.match(form, /There is no upstream “backup” any more/);
    assert.match(form, /action="\/admin\/upstreams\/new"/);
    assert.match(form, /value="typed here"/);

    // Keys pasted for the name that is gone are given back, added nowhere.
    const gone = await admin.post("/admin/upstreams/backup/keys", { ...keysPage, keys: NEW_KEY });
    assert.equal(gone.status, 404);
    const page = await gone.text();
    assert.match(page, /Keys not added/);
    assert.match(page, new RegExp(`<textarea[^>]*id="f-kept-keys"[^>]*>\\n?${NEW_KEY}</textarea>`));

    const added = await other.post("/admin/upstreams/new", {
      name: "backup",
      serviceType: "openai",
      baseUrl: "https://elsewhere.example",
    });
    await added.body?.cancel();
    assert.equal(added.status, 303);
    // A paste refused for a typo keeps the server its page showed: mended, it is still refused.
    const typo = await admin.post("/admin/upstreams/backup/keys", {
      ...keysPage,
      keys: "sk-typo key-00000001",
    }, { headers: { "hx-request": "true" } });
    assert.equal(typo.status, 422);
    const replaced = await admin.post("/admin/upstreams/backup/keys", {
      ...formGuards(await typo.text()),
      keys: NEW_KEY,
    }, { headers: { "hx-request": "true" } });
    assert.equal(replaced.status, 409);
    const fragment = await replaced.text();
    assert.match(fragment, /“backup” now leads to another server/);
    assert.ok(fragment.includes(NEW_KEY), "the paste is kept");
    assert.ok(!doc().upstream.some((u) => u.apiKeys.includes(NEW_KEY)), "added nowhere");
    // Sent again from the form as it came back, they go where the name leads now.
    const again = await admin.post("/admin/upstreams/backup/keys", {
      ...formGuards(fragment),
      keys: NEW_KEY,
    });
    await again.body?.cancel();
    assert.equal(again.status, 303);
    assert.deepEqual(doc().upstream.find((u) => u.name === "backup")!.apiKeys, [NEW_KEY]);
  });
});

Deno.test("keys: paste many, blanks and duplicates reported, disable/enable/test in place, delete", async () => {
  const fake = await startFakeAnthropic({ requireKey: [KEY_1] });
  const config = baseConfig();
  config.upstream[0].baseUrl = fake.url;
  try {
    await withServer(async (s) => {
      const b = await signIn(s.url);
      const NEW_1 = "sk-ant-api03-pasted-key-aaaaaaaa";
      const NEW_2 = "sk-ant-api03-pasted-key-bbbbbbbb";
      const guards = await b.guardsOf("/admin/upstreams/primary/keys");
      const res = await b.post("/admin/upstreams/primary/keys", {
        ...guards,
        keys: `${NEW_1}\n\n${KEY_1}, ${NEW_2}\n${NEW_1}\n`,
      });
      await res.body?.cancel();
      assert.equal(res.status, 303);
      const page = await b.text("/admin/upstreams/primary/keys");
      assert.match(page, /Added 2 keys\. Ignored 2 duplicates and 1 blank entry\./);
      assert.deepEqual(s.services.store.snapshot.doc.upstream[0].apiKeys, [
        KEY_1,
        KEY_2,
        NEW_1,
        NEW_2,
      ]);

      const empty = await b.post("/admin/upstreams/primary/keys", {
        ...formGuards(page),
        keys: " \n, ",
      }, { headers: { "hx-request": "true" } });
      assert.equal(empty.status, 422);
      assert.equal(empty.headers.get("hx-retarget"), "#add-keys-form");
      assert.match(await empty.text(), /id="f-keys-error"[^>]*>No key given/);

      const base = `/admin/upstreams/primary/keys/${keyId(KEY_2)}`;
      const htmx = { headers: { "hx-request": "true" } };
      const disabled = await b.post(`${base}/disable`, {}, htmx);
      const row = await disabled.text();
      assert.match(row, /^<tr id="key-/);
      assert.match(row, /disabled<\/span> <span class="reason">admin: disabled by hand/);
      assert.equal(s.services.health.list()[0].state, "disabled");
      assert.match(await b.text("/admin/upstreams"), /1 disabled/);

      const enabled = await (await b.post(`${base}/enable`, {}, htmx)).text();
      assert.match(enabled, /badge-ok">active/);
      assert.equal(s.services.health.list().length, 0);

      // The test button: KEY_2 is refused by the fake, KEY_1 accepted; the result shows inline,
      // and the refused key is disabled as a request's refusal would disable it.
      const bad = await (await b.post(`${base}/test`, {}, htmx)).text();
      assert.match(bad, /class="test-result bad"/);
      assert.match(bad, /disabled<\/span> <span class="reason">401: /);
      assert.equal(s.services.health.get(at(s, "primary", KEY_2), "*")?.state, "disabled");
      // A key taken out by hand keeps that reason through a refused test (no check re-enables it).
      await b.post(`${base}/enable`, {}, htmx).then((r) => r.body?.cancel());
      await b.post(`${base}/disable`, {}, htmx).then((r) => r.body?.cancel());
      await b.post(`${base}/test`, {}, htmx).then((r) => r.body?.cancel());
      assert.equal(
        s.services.health.get(at(s, "primary", KEY_2), "*")?.reason,
        "admin: disabled by hand",
      );
      const good = await (await b.post(
        `/admin/upstreams/primary/keys/${keyId(KEY_1)}/test`,
        {},
        htmx,
      )).text();
      assert.match(good, /class="test-result ok"[^>]*>✓ 200 · key works/);
      // Without htmx the page comes back by a redirect (a reload does not test again), the
      // result in its notice.
      const plain = await b.post(`/admin/upstreams/primary/keys/${keyId(KEY_1)}/test`, {
        view: "state=active&q=0111",
      });
      assert.equal(plain.status, 303);
      await plain.body?.cancel();
      const back = "/admin/upstreams/primary/keys?state=active&q=0111";
      assert.equal(plain.headers.get("location"), back, "to the list it was sent from");
      assert.match(
        await b.text(back),
        /Test of sk-ant…0111: 200 · key works( \(\d+ ms\))?</,
      );

      await s.services.health.disable(at(s, "primary", KEY_1), "401: invalid x-api-key");
      await s.services.health.disable(at(s, "primary", NEW_1), "401: invalid x-api-key");
      const again = await b.text("/admin/upstreams/primary/keys");
      assert.match(again, /Re-enable 3 disabled keys/);
      await (await b.post("/admin/upstreams/primary/keys/enable-all")).body?.cancel();
      assert.match(await b.text("/admin/upstreams/primary/keys"), /Re-enabled 3 keys/);
      assert.equal(s.services.health.list().length, 0);

      const del = await b.post(`${base}/delete`, { ...formGuards(again) });
      await del.body?.cancel();
      assert.equal(del.status, 303);
      assert.match(await b.text("/admin/upstreams/primary/keys"), /Key sk-ant…0222 deleted/);
      assert.ok(!s.services.store.snapshot.doc.upstream[0].apiKeys.includes(KEY_2));
    }, { config });
  } finally {
    await fake.close();
  }
});

Deno.test("keys: 2,000 keys are listed a hundred a page, found by state or by a piece of the key, and a delete comes back to its page", async () => {
  const keys = Array.from(
    { length: 2000 },
    (_, i) =>
      `sk-many-${String(i).padStart(4, "0")}-${"x".repeat(24)}${String(i).padStart(4, "0")}`,
  );
  const config = baseConfig();
  config.upstream[1].apiKeys = keys;
  await withServer(async (s) => {
    const b = await signIn(s.url);
    const base = "/admin/upstreams/backup/keys";
    const rows = (html: string) => html.match(/<tr id="key-/g)?.length ?? 0;
    const first = await b.text(base);
    assert.equal(rows(first), 100);
    assert.match(first, /Keys 1–100 of 2000 · page 1 of 20/);
    assert.match(first, /href="\/admin\/upstreams\/backup\/keys\?page=2">Next/);
    assert.ok(first.length < 400_000, `the page is ${first.length} bytes`);

    const last = await b.text(`${base}?page=20`);
    assert.equal(rows(last), 100);
    assert.match(last, /Keys 1901–2000 of 2000/);
    assert.ok(last.includes("sk-man…1999"));
    assert.match(await b.text(`${base}?page=999`), /page 20 of 20/, "past the end: the last page");

    await s.services.health.disable(at(s, "backup", keys[5]), "401: invalid key");
    await s.services.health.disable(at(s, "backup", keys[1500]), "401: invalid key");
    const disabled = await b.text(`${base}?state=disabled`);
    assert.equal(rows(disabled), 2);
    assert.match(disabled, /2 keys of 2000 match/);
    assert.match(disabled, /disabled \(2\)/);

    // By the end of the key, as the page shows it; a whole key pasted is matched and shown masked.
    assert.equal(rows(await b.text(`${base}?q=1234`)), 1);
    // The filter's form sends it in its body, and the list's address has it masked.
    const filtered = await b.post(`${base}/filter`, { state: "", q: keys[42] });
    assert.equal(filtered.status, 303);
    await filtered.body?.cancel();
    assert.equal(filtered.headers.get("location"), `${base}?q=sk-man%E2%80%A60042`);
    const byForm = await b.post(`${base}/filter`, { state: "disabled", q: "" });
    await byForm.body?.cancel();
    assert.equal(byForm.headers.get("location"), `${base}?state=disabled`);
    // An address that holds a whole key (an old link) is not kept either: the page is the one of
    // the masked key.
    const asked = await b.get(`${base}?state=&q=${encodeURIComponent(keys[42])}`);
    assert.equal(asked.status, 303);
    await asked.body?.cancel();
    const moved = asked.headers.get("location") ?? "";
    assert.ok(!moved.includes(keys[42].slice(6, -4)), moved);
    assert.equal(new URL(moved, s.url).searchParams.get("q"), "sk-man…0042");
    const whole = await b.text(moved);
    assert.equal(rows(whole), 1);
    assert.ok(!whole.includes(keys[42]), "the pasted key is not shown back");
    assert.match(await b.text(`${base}?q=nothing-like-it`), /No key matches/);

    const page3 = await b.text(`${base}?page=3`);
    const id = page3.match(/<tr id="key-([^"]+)"/)![1];
    const del = await b.post(`${base}/${id}/delete`, {
      ...formGuards(page3),
      view: "?page=3",
    });
    await del.body?.cancel();
    assert.equal(del.status, 303);
    assert.equal(del.headers.get("location"), `${base}?page=3`);
    assert.equal(s.services.store.snapshot.doc.upstream[1].apiKeys.length, 1999);
    // An address in the view field goes nowhere but the list.
    const odd = await b.post(`${base}/${keyId(keys[0])}/delete`, {
      version: s.services.store.snapshot.version ?? "",
      view: "//evil.example/?page=2",
    });
    await odd.body?.cancel();
    assert.equal(odd.headers.get("location"), base);
  }, { config });
});

Deno.test("dashboard: an upstream of 3,000 keys is counted by state, with the keys not active listed, so the panel polled each second stays small", async () => {
  const keys = Array.from(
    { length: 3000 },
    (_, i) => `sk-lots-${String(i).padStart(5, "0")}-${"y".repeat(20)}`,
  );
  const config = baseConfig();
  config.upstream[1].apiKeys = keys;
  await withServer(async (s) => {
    const b = await signIn(s.url);
    for (let i = 0; i < 20; i++) {
      await s.services.health.disable(at(s, "backup", keys[i * 100]), "401: invalid key");
    }
    await s.services.health.coolDown(at(s, "backup", keys[7]), "gpt-4o", 60_000, "429: slow down");
    const panel = await b.text("/admin/fragments/key-states");
    assert.ok(panel.length < 30_000, `the panel is ${panel.length} bytes`);
    assert.match(panel, /2979 active · 1 cooling down · 20 disabled/);
    // The first twelve keys not active, in the upstream's order.
    assert.equal(panel.match(/badge-bad">disabled/g)?.length ?? 0, 11);
    assert.equal(panel.match(/badge-warn">cooling down/g)?.length ?? 0, 1);
    assert.match(
      panel,
      /href="\/admin\/upstreams\/backup\/keys\?state=disabled">9 more keys not active/,
    );
    assert.match(panel, /every 1s/, "a cooldown still counts down");
    // A small upstream still lists each of its keys.
    assert.equal(panel.match(/sk-ant…0111|sk-ant…0222/g)?.length, 2);
  }, { config });
});

Deno.test("dashboard: status, key states with countdown and reason, the Claude Code settings", async () => {
  await withServer(async (s) => {
    const b = await signIn(s.url);
    await s.services.health.coolDown(at(s, "primary", KEY_2), "claude-sonnet-4", 90_000, "429");
    await s.services.health.disable(at(s, "backup", KEY_3), "401: invalid api key");
    const html = await b.text("/admin");
    assert.match(html, /badge-ok">running/);
    assert.match(html, /Current upstream[\s\S]*primary/);
    assert.match(html, /Strategy[\s\S]*failover/);
    assert.match(html, /cooling down<\/span> <span class="countdown">1 min 30 s left<\/span>/);
    assert.match(html, /for claude-sonnet-4/);
    assert.match(html, /disabled<\/span> <span class="reason">401: invalid api key/);
    assert.match(html, /Requests, last hour/);
    assert.match(html, /&quot;ANTHROPIC_BASE_URL&quot;: &quot;http:\/\/127\.0\.0\.1:\d+&quot;/);
    assert.match(
      html,
      /&quot;ANTHROPIC_AUTH_TOKEN&quot;: &quot;&lt;your PROXY_ACCESS_KEY&gt;&quot;/,
    );
    assert.match(html, /href="\/admin\/logs"/);
    // The key panel polls every second while a countdown runs.
    const fragment = await b.text("/admin/fragments/key-states", { "hx-request": "true" });
    assert.match(fragment, /^<section id="key-states"[^>]*hx-trigger="every 1s"/);
    await s.services.health.clear(at(s, "primary", KEY_2));
    assert.match(await b.text("/admin/fragments/key-states"), /hx-trigger="every 10s"/);
  });
});

Deno.test("import: upload the original config.json, see the changes, apply; export downloads it", async () => {
  await withServer(async (s) => {
    const b = await signIn(s.url);
    const original = {
      upstream: [
        {
          baseUrl: "https://api.openai.com",
          apiKeys: ["sk-proj-legacy-key-0000000001", "sk-proj-legacy-key-0000000002"],
          serviceType: "openai",
          description: "OpenAI",
          modelMapping: { opus: "o3", sonnet: "gpt-4o", haiku: "gpt-4o-mini" },
        },
        {
          name: "primary",
          baseUrl: "https://api.anthropic.com",
          apiKeys: [KEY_1],
          serviceType: "claude",
        },
      ],
      currentUpstream: 1,
      loadBalance: "round-robin",
    };
    const guards = await b.guardsOf("/admin/transfer");
    const form = new FormData();
    form.append("version", guards.version);
    form.append(
      "file",
      new File([JSON.stringify(original)], "config.json", { type: "application/json" }),
    );
    const preview = await b.postMultipart("/admin/transfer/preview", form);
    assert.equal(preview.status, 200);
    const html = await preview.text();
    assert.match(html, /<strong>openai-1<\/strong>: added/);
    assert.match(html, /<strong>backup<\/strong>: removed/);
    assert.match(html, /<strong>primary<\/strong>: changes serviceType; 1 key removed/);
    assert.match(html, /Keys: 3 → 3/);
    assert.match(html, /Strategy: failover → round-robin/);
    assert.equal(s.services.store.snapshot.doc.upstream.length, 2, "nothing applied yet");
    assert.ok(!html.includes("sk-proj-legacy-key"), "the pending import is sealed, not shown");

    const sealed = html.match(/name="sealed" value="([^"]+)"/)![1];
    // A sealed import from another session cannot be applied here.
    const other = await signIn(s.url);
    const foreign = await other.post("/admin/transfer/apply", { sealed, ...guards });
    assert.equal(foreign.status, 400);
    await foreign.body?.cancel();

    const applied = await b.post("/admin/transfer/apply", { sealed, ...formGuards(html) });
    await applied.body?.cancel();
    assert.equal(applied.status, 303);
    const doc = s.services.store.snapshot.doc;
    assert.deepEqual(doc.upstream.map((u) => u.name), ["openai-1", "primary"]);
    assert.deepEqual(doc.upstream[0].models, {
      opus: "o3",
      sonnet: "gpt-4o",
      haiku: "gpt-4o-mini",
    });
    assert.equal(doc.upstream[1].serviceType, "claude");
    assert.equal(doc.loadBalance, "round-robin");

    const exported = await b.get("/admin/export");
    assert.equal(exported.status, 200);
    assert.match(exported.headers.get("content-disposition")!, /attachment; filename="config-/);
    assert.deepEqual(await exported.json(), doc);
  });
});

Deno.test("import: a file that repeats a key is previewed with a note, one copy kept", async () => {
  await withServer(async (s) => {
    const b = await signIn(s.url);
    const guards = formGuards(await b.text("/admin/transfer"));
    const res = await b.post("/admin/transfer/preview", {
      ...guards,
      config: JSON.stringify({
        upstream: [{
          name: "main",
          baseUrl: "https://api.openai.com",
          serviceType: "openai",
          apiKeys: [KEY_1, KEY_1],
        }],
      }),
    });
    assert.equal(res.status, 200);
    const html = await res.text();
    assert.match(html, /main listed 1 key more than once; each is kept once\./);
    const sealed = html.match(/name="sealed" value="([^"]+)"/)![1];
    const applied = await b.post("/admin/transfer/apply", { sealed, ...formGuards(html) });
    await applied.body?.cancel();
    assert.equal(applied.status, 303);
    assert.deepEqual(s.services.store.snapshot.doc.upstream[0].apiKeys, [KEY_1]);
  });
});

Deno.test("import: the original config.json's shared or slashed names are previewed renamed, with a note", async () => {
  await withServer(async (s) => {
    const b = await signIn(s.url);
    const guards = formGuards(await b.text("/admin/transfer"));
    const up = (name: string) => ({
      name,
      baseUrl: "https://api.openai.com",
      serviceType: "openai",
      apiKeys: [KEY_1],
    });
    const res = await b.post("/admin/transfer/preview", {
      ...guards,
      config: JSON.stringify({ upstream: [up("relay"), up("relay"), up("OpenRouter/free")] }),
    });
    assert.equal(res.status, 200);
    const html = await res.text();
    assert.match(html, /upstream \[1\] &quot;relay&quot; is named &quot;relay-2&quot;/);
    assert.match(html, /&quot;OpenRouter\/free&quot; is named &quot;OpenRouter-free&quot;/);
    const sealed = html.match(/name="sealed" value="([^"]+)"/)![1];
    const applied = await b.post("/admin/transfer/apply", { sealed, ...formGuards(html) });
    await applied.body?.cancel();
    assert.equal(applied.status, 303);
    assert.deepEqual(
      s.services.store.snapshot.doc.upstream.map((u) => u.name),
      ["relay", "relay-2", "OpenRouter-free"],
    );
  });
});

Deno.test("import: invalid input is refused with every problem listed and nothing changed", async () => {
  await withServer(async (s) => {
    const b = await signIn(s.url);
    const before = s.services.store.snapshot;
    const guards = formGuards(await b.text("/admin/transfer"));
    const res = await b.post("/admin/transfer/preview", {
      ...guards,
      config: JSON.stringify({
        upstream: [
          { name: "a", baseUrl: "nope", serviceType: "what", apiKeys: [KEY_1] },
          { name: "a", baseUrl: "https://b.example", serviceType: "openai", fallback: "zzz" },
        ],
        loadBalance: "fastest",
      }),
    });
    assert.equal(res.status, 422);
    const html = await res.text();
    for (const p of [/upstream\.0\.baseUrl/, /upstream\.0\.serviceType/, /loadBalance/]) {
      assert.match(html, p);
    }
    const notJson = await b.post("/admin/transfer/preview", {
      ...guards,
      config: `{"upstream": [${KEY_1}]}`,
    });
    assert.equal(notJson.status, 422);
    // The paste itself is given back in its box; the error must not quote it.
    const notJsonHtml = (await notJson.text()).replace(/(<textarea[^>]*>)[^<]*/g, "$1");
    assert.match(notJsonHtml, /not valid JSON/);
    assert.ok(!notJsonHtml.includes(KEY_1), "the parse error does not quote the key");
    assert.equal(s.services.store.snapshot.version, before.version);
  });
});

Deno.test("no page shows a secret: upstream keys, ADMIN_PASSWORD, PROXY_ACCESS_KEY", async () => {
  const fake = await startFakeAnthropic({ requireKey: [KEY_1] });
  const config = baseConfig();
  config.upstream[0].baseUrl = fake.url;
  try {
    await withServer(async (s) => {
      const secrets = [KEY_1, KEY_2, KEY_3, ADMIN_PASSWORD, ACCESS_KEY];
      const pages: Array<[string, string]> = [];
      const anon = new Browser(s.url);
      pages.push(["login", await anon.text("/admin/login")]);
      const b = await signIn(s.url);
      // Upstream errors may quote the key they refused, or another secret.
      await s.services.health.disable(at(s, "primary", KEY_2), `401: invalid x-api-key ${KEY_2}`);
      await s.services.health.coolDown(
        at(s, "backup", KEY_3),
        "*",
        60_000,
        `429: slow down ${KEY_3} (${ACCESS_KEY})`,
      );
      for (const path of PAGES.filter((p) => p !== "/admin/export")) {
        pages.push([path, await b.text(path)]);
        pages.push([`${path} (htmx)`, await b.text(path, { "hx-request": "true" })]);
      }
      const guards = formGuards(await b.text("/admin/upstreams/primary/keys"));
      const forms: Array<[string, Record<string, string>]> = [
        ["/admin/upstreams/primary/keys", { ...guards, keys: `${KEY_1} ${KEY_2}` }],
        ["/admin/upstreams/primary", {
          shown: "stale",
          name: "primary",
          baseUrl: "https://b.example",
        }],
        [`/admin/upstreams/primary/keys/${keyId(KEY_1)}/test`, {}],
        [`/admin/upstreams/primary/keys/${keyId(KEY_2)}/test`, {}],
        ["/admin/upstreams/new", { ...guards, name: "", baseUrl: "x", serviceType: "openai" }],
        ["/admin/transfer/preview", { ...guards, config: JSON.stringify(baseConfig()) }],
        ["/admin/transfer/preview", { ...guards, config: `{"k": ${KEY_1}}` }],
        ["/admin/strategy", { shown: "stale", loadBalance: "random" }],
      ];
      for (const [path, fields] of forms) {
        for (const headers of [{}, { "hx-request": "true" }] as Record<string, string>[]) {
          const res = await b.post(path, fields, { headers });
          // A refused paste is given back in its box to be corrected: the admin's own input.
          const html = (await res.text()).replace(/(<textarea[^>]*>)[^<]*/g, "$1");
          pages.push([`POST ${path} ${res.status}`, html]);
        }
      }
      for (const [label, html] of pages) {
        for (const secret of secrets) {
          assert.ok(!html.includes(secret), `${label} shows a secret`);
        }
      }
      assert.ok(pages.some(([, html]) => html.includes("sk-ant…0111")), "keys shown masked");
    }, { config });
  } finally {
    await fake.close();
  }
});

/** The edit form's fields for `name`, everything else as the base config has it. */
function primaryFields(
  guards: Record<string, string>,
  name: string,
): Record<string, string | string[]> {
  return {
    ...guards,
    name,
    serviceType: "anthropic",
    baseUrl: "https://api.anthropic.com",
    modelFrom: [""],
    modelTo: [""],
    modelDefault: "",
    fallback: "",
    maxTokens: "",
    maxTokensField: "",
    description: "",
  };
}

Deno.test("a blank upstream name is refused beside the field, nothing saved, key health kept", async () => {
  await withServer(async (s) => {
    const b = await signIn(s.url);
    const health = s.services.health;
    await health.disable(at(s, "primary", KEY_1), "admin: disabled by hand");
    const before = s.services.store.snapshot.version;
    for (const name of ["", "   "]) {
      const guards = await b.guardsOf("/admin/upstreams/primary");
      const edited = await b.post("/admin/upstreams/primary", primaryFields(guards, name));
      assert.equal(edited.status, 422);
      const html = await edited.text();
      assert.match(html, /id="f-name-error"[^>]*>must not be empty/);
      assert.doesNotMatch(html, /saved\./);
      const added = await b.post("/admin/upstreams/new", primaryFields(guards, name));
      assert.equal(added.status, 422);
      assert.match(await added.text(), /id="f-name-error"[^>]*>must not be empty/);
      // What else is wrong is said at once, not on the next try.
      for (const path of ["/admin/upstreams/primary", "/admin/upstreams/new"]) {
        const both = await b.post(path, { ...primaryFields(guards, name), baseUrl: "zzz" });
        const said = await both.text();
        assert.match(said, /id="f-name-error"[^>]*>must not be empty/, path);
        assert.match(said, /id="f-baseUrl-error"[^>]*>must be an http\(s\) URL/, path);
      }
    }
    assert.equal(s.services.store.snapshot.version, before, "nothing was stored");
    assert.equal(health.get(at(s, "primary", KEY_1), "any")?.state, "disabled");

    // A rename moves key health to the name as stored.
    const guards = await b.guardsOf("/admin/upstreams/primary");
    const renamed = await b.post("/admin/upstreams/primary", primaryFields(guards, "  main  "));
    await renamed.body?.cancel();
    assert.equal(renamed.status, 303);
    assert.equal(s.services.store.snapshot.doc.upstream[0].name, "main");
    assert.equal(health.get(at(s, "main", KEY_1), "any")?.state, "disabled");
    assert.match(await b.text("/admin/upstreams"), /Upstream “main” saved\./);
  });
});

Deno.test("names the pages cannot address are refused on the form; the hint states the rule", async () => {
  await withServer(async (s) => {
    const b = await signIn(s.url);
    const before = s.services.store.snapshot.version;
    const form = await b.text("/admin/upstreams/new");
    assert.match(form, /up to 64 characters, no \//);
    assert.doesNotMatch(form, /letters, digits, dashes/);
    for (const name of [".", "..", "New"]) {
      const guards = await b.guardsOf("/admin/upstreams/primary");
      for (const path of ["/admin/upstreams/new", "/admin/upstreams/primary"]) {
        const res = await b.post(path, primaryFields(guards, name));
        assert.equal(res.status, 422, `${name} on ${path}`);
        assert.match(await res.text(), /id="f-name-error"[^>]*>[^<]*reserved by the admin pages/);
      }
    }
    // Any other text is a name, with its links encoded.
    const guards = await b.guardsOf("/admin/upstreams/primary");
    const saved = await b.post("/admin/upstreams/primary", primaryFields(guards, "ä b?#%"));
    await saved.body?.cancel();
    assert.equal(saved.status, 303);
    const list = await b.text("/admin/upstreams");
    assert.match(list, /href="\/admin\/upstreams\/%C3%A4%20b%3F%23%25\/keys"/);
    assert.equal((await b.get("/admin/upstreams/%C3%A4%20b%3F%23%25/keys")).status, 200);
    assert.notEqual(s.services.store.snapshot.version, before);
  });
});

Deno.test("an htmx poll after the session ended returns the admin to their page, not the fragment", async () => {
  await withServer(async (s) => {
    const anon = new Browser(s.url);
    const poll = (headers: Record<string, string>) =>
      anon.get("/admin/fragments/key-states", { "hx-request": "true", ...headers });
    const page = "/admin/logs?status=error";
    const res = await poll({ "hx-current-url": s.url + page });
    await res.body?.cancel();
    assert.equal(res.headers.get("location"), null, "no redirect for htmx to swap in");
    const target = res.headers.get("hx-redirect")!;
    assert.equal(target, `/admin/login?next=${encodeURIComponent(page)}`);
    for (const current of ["https://evil.example/admin/logs", "not a url"]) {
      const other = await poll({ "hx-current-url": current });
      await other.body?.cancel();
      assert.equal(other.headers.get("hx-redirect"), "/admin/login?next=%2Fadmin");
    }
    const none = await poll({});
    await none.body?.cancel();
    assert.equal(none.headers.get("hx-redirect"), "/admin/login?next=%2Fadmin");

    // Signing in from there lands on the page.
    const login = await anon.text(target);
    anon.csrf = login.match(/name="_csrf" value="([^"]+)"/)![1];
    const next = login.match(/name="next" value="([^"]*)"/)![1].replaceAll("&amp;", "&");
    const signed = await anon.post("/admin/login", { password: ADMIN_PASSWORD, next });
    await signed.body?.cancel();
    assert.equal(signed.headers.get("location"), page);
  });
});

Deno.test("a name already taken is shown under Name; a rename carries the fallbacks that named it", async () => {
  const config = baseConfig();
  (config.upstream[1] as Record<string, unknown>).fallback = "primary";
  await withServer(async (s) => {
    const b = await signIn(s.url);
    const before = s.services.store.snapshot.version;
    // Whichever of the two holds the name first, the edited one is told beside its field.
    for (const path of ["/admin/upstreams/primary", "/admin/upstreams/new"]) {
      const guards = await b.guardsOf(path);
      const res = await b.post(path, primaryFields(guards, "Backup"));
      assert.equal(res.status, 422, path);
      const html = await res.text();
      assert.match(html, /id="f-name-error"[^>]*>&quot;Backup&quot; is already used by another/);
      assert.doesNotMatch(html, /upstream\.\d/, "no internal paths");
    }
    assert.equal(s.services.store.snapshot.version, before, "nothing was stored");

    const guards = await b.guardsOf("/admin/upstreams/primary");
    const res = await b.post("/admin/upstreams/primary", primaryFields(guards, "main"));
    await res.body?.cancel();
    assert.equal(res.status, 303);
    assert.equal(s.services.store.snapshot.doc.upstream[1].fallback, "main");
    assert.doesNotMatch(await b.text("/admin/upstreams"), /Too small/);
  }, { config });
});

Deno.test("a refused paste comes back in its box: keys (with the line at fault) and import", async () => {
  await withServer(async (s) => {
    const b = await signIn(s.url);
    const path = "/admin/upstreams/primary/keys";
    const pasted = "sk-fresh-key-0000000001\nsk-fresh key-0000000002\n";
    const textarea = (html: string) =>
      html.match(/<textarea[^>]*id="f-keys"[^>]*>([^<]*)<\/textarea>/)![1].replace(/^\n/, "");
    for (const headers of [{}, { "hx-request": "true" }] as Record<string, string>[]) {
      const guards = await b.guardsOf(path);
      const bad = await b.post(path, { ...guards, keys: pasted }, { headers });
      assert.equal(bad.status, 422);
      const html = await bad.text();
      assert.equal(textarea(html), pasted);
      assert.match(html, /Line 2: a key must not contain spaces/);
      // Any key a stored document refuses is said by its line, not by its place in the document.
      const ascii = await b.post(path, {
        ...guards,
        keys: "sk-fresh-key-0000000004\nsk-naïve-key-00000005",
      }, { headers });
      assert.equal(ascii.status, 422);
      const said = await ascii.text();
      assert.match(said, /Line 2: a key must be printable ASCII/);
      assert.doesNotMatch(said, /apiKeys/);
    }
    assert.deepEqual(s.services.store.snapshot.doc.upstream[0].apiKeys, [KEY_1, KEY_2]);

    // Import: text that is not JSON, then a preview applied after someone else saved.
    const config = '{"upstream": [}';
    const guards = await b.guardsOf("/admin/transfer");
    const refused = await b.post("/admin/transfer/preview", { ...guards, config });
    assert.equal(refused.status, 422);
    const importBox = (html: string) =>
      html.match(/<textarea[^>]*id="f-config"[^>]*>([^<]*)<\/textarea>/)![1].replace(/^\n/, "");
    assert.equal(importBox(await refused.text()), config.replaceAll('"', "&quot;"));
    const preview = await b.post("/admin/transfer/preview", {
      ...guards,
      config: JSON.stringify(baseConfig()),
    });
    const sealed = (await preview.text()).match(/name="sealed" value="([^"]+)"/)![1];
    const strategy = await b.guardsOf("/admin/strategy");
    await (await b.post("/admin/strategy", { ...strategy, loadBalance: "random" })).body?.cancel();
    const late = await b.post("/admin/transfer/apply", { ...guards, sealed });
    assert.equal(late.status, 409);
    const box = importBox(await late.text()).replaceAll("&quot;", '"');
    assert.equal(JSON.parse(box).upstream[0].name, "primary");
  });
});

Deno.test("the import preview keeps the address it was posted from; an unknown address is a styled 404", async () => {
  await withServer(async (s) => {
    const b = await signIn(s.url);
    const page = await b.text("/admin/transfer");
    assert.match(page, /<form id="import-form"[^>]*hx-push-url="false"/);
    const guards = formGuards(page);
    const preview = await b.post("/admin/transfer/preview", {
      ...guards,
      config: JSON.stringify(baseConfig()),
    }, { headers: { "hx-request": "true", "hx-boosted": "true" } });
    assert.equal(preview.status, 200);
    assert.equal(preview.headers.get("hx-push-url"), "false");
    await preview.body?.cancel();

    for (const path of ["/admin/transfer/preview", "/admin/nowhere"]) {
      const res = await b.get(path);
      assert.equal(res.status, 404);
      assert.match(res.headers.get("content-type")!, /text\/html/);
      const html = await res.text();
      assert.match(html, /<!doctype html>/);
      assert.match(html, /<link rel="stylesheet" href="\/static\/admin.css">/);
      assert.match(html, /<a class="button" href="\/admin">Back to the dashboard<\/a>/);
    }
  });
});

Deno.test("max tokens takes decimal digits from 1 to 1,000,000, with a plain message otherwise", async () => {
  await withServer(async (s) => {
    const b = await signIn(s.url);
    const before = s.services.store.snapshot.version;
    for (const value of ["0x10", "1e3", "12345678901234567890", "0", "1000001", "-5", "8.5"]) {
      const guards = await b.guardsOf("/admin/upstreams/primary");
      const res = await b.post("/admin/upstreams/primary", {
        ...primaryFields(guards, "primary"),
        maxTokens: value,
      });
      assert.equal(res.status, 422, value);
      const html = await res.text();
      assert.match(html, /id="f-maxTokens-error"[^>]*>must be a whole number from 1 to 1,000,000/);
      assert.doesNotMatch(html, /Too big|expected int/);
    }
    assert.equal(s.services.store.snapshot.version, before);
    const guards = await b.guardsOf("/admin/upstreams/primary");
    const ok = await b.post("/admin/upstreams/primary", {
      ...primaryFields(guards, "primary"),
      maxTokens: "1000000",
    });
    await ok.body?.cancel();
    assert.equal(ok.status, 303);
    assert.equal(s.services.store.snapshot.doc.upstream[0].maxTokens, 1_000_000);
  });
});

Deno.test("a short key is masked down to its last 2 characters on every page", async () => {
  const config = baseConfig();
  config.upstream[1].apiKeys = ["abcdefghi"];
  await withServer(async (s) => {
    const b = await signIn(s.url);
    for (const path of ["/admin", "/admin/upstreams/backup/keys"]) {
      const html = await b.text(path);
      assert.match(html, /•••…hi/, path);
      assert.doesNotMatch(html, /abc…|abcdefghi/, path);
    }
  }, { config });
});

Deno.test("a password or key written into a base URL is masked where the URL is shown", async () => {
  const config = baseConfig();
  config.upstream[0].baseUrl = "https://relay:pw-in-the-url@gw.example/v1?api_key=secret-param";
  await withServer(async (s) => {
    const b = await signIn(s.url);
    for (const path of ["/admin", "/admin/upstreams"]) {
      const html = await b.text(path);
      assert.ok(html.includes("•••"), path);
      assert.ok(!html.includes("pw-in-the-url") && !html.includes("secret-param"), path);
    }
    // The edit form keeps the address as stored, for the admin to change.
    assert.ok((await b.text("/admin/upstreams/primary")).includes("pw-in-the-url"));
  }, { config });
});

Deno.test("log filters go in the address, and Back to the log keeps them", async () => {
  await withServer(async (s) => {
    const b = await signIn(s.url);
    const query = "?status=5xx&upstream=primary";
    const changed = await b.get(`/admin/logs/rows${query}&live=1`, {
      "hx-request": "true",
      "hx-trigger": "log-filters",
    });
    await changed.body?.cancel();
    assert.equal(changed.headers.get("hx-push-url"), `/admin/logs${query}`);
    const poll = await b.get(`/admin/logs/rows${query}&live=1`, {
      "hx-request": "true",
      "hx-trigger": "log-rows",
    });
    await poll.body?.cancel();
    assert.equal(poll.headers.get("hx-push-url"), null, "a poll changes no address");

    const detail = await b.text(`/admin/logs/req_gone${query}`);
    assert.match(detail, /href="\/admin\/logs\?status=5xx&amp;upstream=primary">Back to the log/);
  });
});

Deno.test("a rename on the page keeps a disabled key disabled without writing key health: no crash can lose it", async () => {
  await withServer(async (s) => {
    const b = await signIn(s.url);
    const htmx = { headers: { "hx-request": "true" } };
    const off = await b.post(`/admin/upstreams/primary/keys/${keyId(KEY_1)}/disable`, {}, htmx);
    await off.body?.cancel();
    // Every write of key health moves this version: unchanged, nothing was written.
    const healthVersion = async () => (await s.kv.get(["key_health_version"])).versionstamp;
    const before = await healthVersion();
    assert.notEqual(before, null);

    const guards = await b.guardsOf("/admin/upstreams/primary");
    const renamed = await b.post("/admin/upstreams/primary", primaryFields(guards, "main"));
    await renamed.body?.cancel();
    assert.equal(renamed.status, 303);
    assert.equal(s.services.store.snapshot.doc.upstream[0].name, "main");
    assert.equal(await healthVersion(), before, "the rename wrote key health");
    assert.match(
      await b.text("/admin/upstreams/main/keys"),
      /disabled<\/span> <span class="reason">admin: disabled by hand/,
    );
  });
});

Deno.test("a new base URL on the page starts the upstream's keys fresh: another server", async () => {
  await withServer(async (s) => {
    const b = await signIn(s.url);
    const htmx = { headers: { "hx-request": "true" } };
    const off = await b.post(`/admin/upstreams/primary/keys/${keyId(KEY_1)}/disable`, {}, htmx);
    await off.body?.cancel();
    assert.match(await b.text("/admin/upstreams"), /1 disabled/);

    const guards = await b.guardsOf("/admin/upstreams/primary");
    const moved = await b.post("/admin/upstreams/primary", {
      ...primaryFields(guards, "primary"),
      baseUrl: "https://anthropic-relay.example",
    });
    await moved.body?.cancel();
    assert.equal(moved.status, 303);
    assert.equal(
      s.services.store.snapshot.doc.upstream[0].baseUrl,
      "https://anthropic-relay.example",
    );
    const keys = await b.text("/admin/upstreams/primary/keys");
    assert.doesNotMatch(keys, /disabled<\/span>/);
    assert.doesNotMatch(await b.text("/admin/upstreams"), /1 disabled/);
  });
});
