// Seeded, bounded fuzzing of the configuration surfaces: mutated documents PUT to the admin API
// (fields dropped and retyped, odd names and URLs, fallback cycles, bad model maps, odd maxTokens,
// currentUpstream out of range, extra fields, a BOM, cut JSON, wrong content-types, huge bodies,
// wrong If-Match), mutated forms posted to the admin pages by a signed-in admin, and the CLI run
// with odd arguments on a temporary KV file. Every answer is a success or a clear refusal (never a
// 5xx, a stack trace or an unescaped tag); a refusal leaves the stored document byte for byte as it
// was; an accepted document is what GET returns and what the proxy serves with.
// FUZZ_SEED=<n> replays a run; FUZZ_CASES sets its length.
import Anthropic from "@anthropic-ai/sdk";
import assert from "node:assert/strict";
import { runCli } from "../../lib/cli.ts";
import { keyId } from "../../lib/key_pool.ts";
import { ConfigStore } from "../../lib/store/config_store.ts";
import { startFakeOpenAI } from "../fakes/openai_upstream.ts";
import { type Browser, signIn } from "../helpers/admin_browser.ts";
import { ACCESS_KEY, ADMIN_PASSWORD, startTestServer } from "../helpers/server.ts";
import {
  assertErrorBody,
  assertMessage,
  BAD_UTF8,
  brief,
  chance,
  concat,
  int,
  type Json,
  LEAK,
  mutateJson,
  pick,
  type Rng,
  rngFrom,
  timedFetch,
  utf8,
} from "./fuzz_kit.ts";

const SEED = Number(Deno.env.get("FUZZ_SEED") ?? 2_611_2026);
const CASES = Number(Deno.env.get("FUZZ_CASES") ?? 60);
const ANSWER_MS = 8_000;
const BEARER = { authorization: `Bearer ${ADMIN_PASSWORD}` };

/** Long enough to be masked everywhere, each its own; none may be printed whole but by export. */
const keyN = (i: number) => `sk-fuzz-secret-${String(i).padStart(6, "0")}-abcdefghijkl`;

/** Names that are odd but valid: the pages and the CLI must address and escape them. */
const ODD_VALID_NAMES = [
  "a%41",
  "名前-ü",
  "<img src=x onerror=alert(1)>",
  'q"uote&amp',
  "dot.dot",
  "x".repeat(64),
];

const ODD_NAMES: Json[] = [
  ...ODD_VALID_NAMES,
  "",
  " ",
  " lead",
  "..",
  ".",
  "new",
  "NEW",
  "a/b",
  "x".repeat(65),
  "x".repeat(5000),
  "a\nb",
  "tab\there",
  "\u0000nul",
  "\u202eevil",
  "\u200bzero",
  "<script>alert(1)</script>",
  "MAIN",
  "Main ",
  5,
  null,
  ["main"],
];

const ODD_URLS: Json[] = [
  "",
  "ftp://x.example",
  "http://",
  "javascript:alert(1)",
  "https://x.example/v1/",
  "https://x.example/" + "/".repeat(5000),
  '  https://x.example/"><img src=x onerror=alert(1)>',
  "https://bücher.example",
  "http://[::1]:99999",
  "not a url",
  42,
];

const ODD_KINDS: Json[] = ["OpenAI", "openaiold", "claude", "gpt", "", " gemini ", 5, null];
const ODD_MAX_TOKENS: Json[] = [
  0,
  -1,
  1.5,
  1_000_000,
  1_000_001,
  "100",
  1e308,
  null,
  true,
  2 ** 53,
];
const ODD_MODELS: Json[] = [
  { "": "x" },
  { sonnet: "" },
  { default: 5 },
  [],
  "gpt-4o",
  { __proto__: "x" },
  { " sonnet ": " gpt-4o " },
  { haiku: "m".repeat(10_000) },
  null,
];
const ODD_KEYS: Json[] = [[], [""], ["a b"], ["x\u0000y"], 5, "sk-single", ["é"], [
  keyN(9),
  keyN(9),
]];

function upstreamAt(i: number, url: string, keys: number): Json {
  return {
    name: i === 0 ? "main" : `up-${i}`,
    baseUrl: url,
    serviceType: i % 3 === 2 ? "custom" : "openai",
    apiKeys: Array.from({ length: keys }, (_, k) => keyN(i * 10_000 + k)),
    ...(i % 2 ? { models: { sonnet: "gpt-4o", default: "gpt-4o-mini" } } : {}),
    ...(i === 1 ? { fallback: "main", maxTokens: 4096 } : {}),
  };
}

/** Valid starting points: small, several upstreams with a fallback, one holding 2000 keys. */
function baseDocs(url: string): Json[] {
  return [
    { upstream: [upstreamAt(0, url, 2)], currentUpstream: 0, loadBalance: "round-robin" },
    {
      upstream: [0, 1, 2, 3].map((i) => upstreamAt(i, url, 3)),
      currentUpstream: 1,
      loadBalance: "failover",
    },
    { upstream: [upstreamAt(0, url, 2000), upstreamAt(1, url, 5)], currentUpstream: 0 },
    { upstream: [] },
  ];
}

/** A change an admin means: still a valid document. */
function editConfig(rng: Rng, doc: Json): string {
  const list: Json[] = doc.upstream;
  const u = list.length ? pick(rng, list) : undefined;
  const r = int(rng, 6);
  if (r === 0) return (doc.loadBalance = pick(rng, ["round-robin", "random", "failover"]), "lb ok");
  if (r === 1 && list.length) return (doc.currentUpstream = int(rng, list.length), "current ok");
  if (r === 2 && u) return (u.apiKeys.push(keyN(50_000 + int(rng, 1000))), "key ok");
  if (r === 3 && u) {
    return (u.name = pick(rng, ODD_VALID_NAMES.slice(0, 3)) + list.indexOf(u), "name ok");
  }
  if (r === 4) return (list.reverse(), "reverse");
  return (u && (u.description = "déjà vu ✓ <b>"), "description ok");
}

/** A change to one upstream of the document, or to its top level, that a user could send. */
function mutateConfig(rng: Rng, doc: Json): string {
  const list: Json[] = Array.isArray(doc.upstream) ? doc.upstream : [];
  const u = list.length ? pick(rng, list) : undefined;
  const other = list.length ? pick(rng, list) : undefined;
  const r = int(rng, 16);
  if (u && typeof u === "object") {
    if (r === 0) return (u.name = pick(rng, ODD_NAMES), "name");
    if (r === 1) return (u.baseUrl = pick(rng, ODD_URLS), "baseUrl");
    if (r === 2) return (u.serviceType = pick(rng, ODD_KINDS), "serviceType");
    if (r === 3) return (u.maxTokens = pick(rng, ODD_MAX_TOKENS), "maxTokens");
    if (r === 4) return (u.models = pick(rng, ODD_MODELS), "models");
    if (r === 5) return (u.apiKeys = pick(rng, ODD_KEYS), "apiKeys");
    if (r === 6) {
      // Itself, nobody, another in other case, or a cycle through another.
      const to = pick(rng, [u.name, "nowhere", String(other?.name ?? "").toUpperCase()]);
      u.fallback = to;
      if (other && other !== u && chance(rng, 0.5)) other.fallback = u.name;
      return "fallback";
    }
    if (r === 7 && other && other !== u) return (other.name = String(u.name).toUpperCase(), "dup");
    if (r === 8) return (u.maxTokensField = pick(rng, ["max_tokens", "bogus", 1]), "field");
    if (r === 9) return (u[pick(rng, ["extra", "modelMapping", "weight"])] = { a: 1 }, "extra");
    if (r === 10) {
      return (delete u[pick(rng, ["name", "baseUrl", "serviceType", "apiKeys"])], "drop");
    }
  }
  if (r === 11) {
    doc.currentUpstream = pick(rng, [-1, list.length, list.length + 5, 1.5, "0", null]);
    return "currentUpstream";
  }
  if (r === 12) return (doc.loadBalance = pick(rng, ["ROUND-ROBIN", "fastest", "", null]), "lb");
  if (r === 13) return (doc[pick(rng, ["upstreams", "extra", "version"])] = [], "top extra");
  if (r === 14) {
    return (delete doc[pick(rng, ["upstream", "currentUpstream", "loadBalance"])], "drop top");
  }
  const { value, labels } = mutateJson(rng, doc, 1);
  for (const k of Object.keys(doc)) delete doc[k];
  Object.assign(doc, value);
  return labels.join(",");
}

/** The body a PUT sends: the document's JSON, or those bytes spoilt. */
function spoil(rng: Rng, text: string): { body: Uint8Array<ArrayBuffer>; how: string } {
  const bytes = utf8(text);
  switch (int(rng, 16)) {
    case 0:
      return { body: concat(new Uint8Array([0xef, 0xbb, 0xbf]), bytes), how: "BOM" };
    case 1:
      return { body: bytes.slice(0, int(rng, bytes.length)), how: "cut" };
    case 2: {
      const at = int(rng, bytes.length);
      return {
        body: concat(bytes.slice(0, at), pick(rng, BAD_UTF8), bytes.slice(at)),
        how: "bad UTF-8",
      };
    }
    case 3:
      return {
        body: utf8(pick(rng, ["", "null", "[]", '"x"', "{}", "1e999", "{".repeat(5000)])),
        how: "odd",
      };
    case 4: {
      // Past what one KV write takes: refused by its size.
      const doc = JSON.parse(text);
      const keys = Array.from({ length: 40_000 }, (_, i) => keyN(i));
      // The document may already be mutated: its first upstream a string, say.
      const first = doc?.upstream?.[0];
      if (first && typeof first === "object") first.apiKeys = keys;
      return { body: utf8(JSON.stringify(doc)), how: "huge" };
    }
    default:
      return { body: bytes, how: "" };
  }
}

const HEADERS: Array<Record<string, string>> = [
  { "content-type": "application/json" },
  { "content-type": "text/plain" },
  { "content-type": "application/x-www-form-urlencoded" },
  {},
];

/** The admin API's error shape, with every problem a string, and nothing leaked. */
function assertAdminError(status: number, text: string, said: string): void {
  let json: Json;
  try {
    json = JSON.parse(text);
  } catch {
    assert.fail(`${said}: the error is not JSON: ${brief(text, 300)}`);
  }
  assert.equal(typeof json?.error?.type, "string", said);
  assert.ok(json.error.message?.length > 0, said);
  assert.doesNotMatch(text, LEAK, `${said}: the answer leaks internals`);
  if (status === 400) {
    assert.ok(Array.isArray(json.error.problems) && json.error.problems.length > 0, said);
    for (const p of json.error.problems) assert.ok(typeof p === "string" && p.length > 0, said);
  }
}

async function getConfig(url: string): Promise<{ text: string; etag: string }> {
  const res = await timedFetch(`${url}/admin/api/config`, { headers: BEARER }, ANSWER_MS);
  assert.equal(res.status, 200);
  return { text: res.text, etag: res.headers.get("etag") ?? "" };
}

Deno.test("fuzz: mutated documents PUT to the admin API are stored whole or refused clearly", async () => {
  const fake = await startFakeOpenAI();
  const s = await startTestServer();
  const client = new Anthropic({ baseURL: s.url, apiKey: ACCESS_KEY, maxRetries: 0 });
  const rng = rngFrom(SEED);
  const bases = baseDocs(fake.url);
  let accepted = 0;
  let served = 0;
  try {
    for (let n = 0; n < CASES; n++) {
      const doc = structuredClone(pick(rng, bases));
      const labels = Array.from({ length: 1 + int(rng, 2) }, () => editConfig(rng, doc));
      if (chance(rng, 0.6)) labels.push(mutateConfig(rng, doc));
      const { body, how } = spoil(rng, JSON.stringify(doc));
      const before = await getConfig(s.url);
      const ifMatch = pick(rng, [
        undefined,
        undefined,
        undefined,
        before.etag,
        '"garbage"',
        "*",
        '"none"',
      ]);
      const headers = {
        ...BEARER,
        ...pick(rng, HEADERS),
        ...(ifMatch ? { "if-match": ifMatch } : {}),
      };
      const said = `seed ${SEED} case ${n} [${labels.join(" ")}${how ? " " + how : ""}` +
        ` if-match ${ifMatch}] ${brief(new TextDecoder().decode(body.slice(0, 300)), 300)}`;
      const res = await timedFetch(
        `${s.url}/admin/api/config`,
        { method: "PUT", headers, body },
        ANSWER_MS,
      );
      assert.ok([200, 400, 412, 413].includes(res.status), `${said}: status ${res.status}`);
      const after = await getConfig(s.url);
      if (res.status !== 200) {
        assertAdminError(res.status, res.text, said);
        assert.equal(after.text, before.text, `${said}: a refused PUT changed the document`);
        assert.equal(after.etag, before.etag, said);
        continue;
      }
      accepted++;
      assert.equal(after.text, res.text, `${said}: GET does not return what was accepted`);
      assert.equal(after.etag, res.headers.get("etag"), said);
      const stored = JSON.parse(res.text);
      const current = stored.upstream[stored.currentUpstream];
      if (current?.baseUrl !== fake.url) continue;
      // The proxy serves with it at once: a message, or a clear error when it cannot.
      try {
        const m = await client.messages.create({
          model: "claude-sonnet-4-5",
          max_tokens: 32,
          messages: [{ role: "user", content: "hi" }],
        }, { timeout: ANSWER_MS });
        assertMessage(m, said);
        served++;
      } catch (err) {
        if (!(err instanceof Anthropic.APIError)) throw err;
        assert.ok(err.status !== 500, `${said}: the proxy failed with it: ${err.message}`);
        assertErrorBody(JSON.stringify(err.error), said);
      }
    }
    assert.ok(accepted >= 5, `some documents were accepted (${accepted})`);
    assert.ok(served >= 3, `the proxy served with some (${served})`);
  } finally {
    await s.close();
    await fake.close();
  }
});

// ---------------------------------------------------------------------------------------------
// The admin pages

const INJECTED = /<script>alert|<img src=x/i;

function pagesDoc(): Json {
  return {
    upstream: [
      { ...upstreamAt(0, "http://127.0.0.1:1", 3) },
      ...ODD_VALID_NAMES.map((name, i) => ({
        name,
        baseUrl: `https://h${i}.example/"><img src=x onerror=alert(1)>`,
        serviceType: "openai",
        apiKeys: [keyN(100 + i)],
        description: "<script>alert(1)</script>",
        models: { "<img src=x>": "<script>alert(1)</script>" },
      })),
    ],
    currentUpstream: 0,
    loadBalance: "failover",
  };
}

function oddField(rng: Rng): string | string[] {
  const v = pick(rng, [...ODD_NAMES.filter((x) => typeof x === "string"), "https://x.example"]);
  return chance(rng, 0.15) ? [v, "second"] : v;
}

/** A form a page would post, then spoilt: fields dropped, repeated or odd, a stale version. */
function formFor(rng: Rng, doc: Json, version: string): { path: string; fields: Json } {
  const names: string[] = doc.upstream.map((u: Json) => u.name);
  const ref = chance(rng, 0.15)
    ? pick(rng, ["nosuch", "..", "%2e%2e", "new", " ", "%00", "a%2Fb"])
    : encodeURIComponent(pick(rng, names));
  const upstream = doc.upstream.find((u: Json) => encodeURIComponent(u.name) === ref);
  const key = chance(rng, 0.2) || !upstream?.apiKeys.length
    ? pick(rng, ["zzz", "0", "99", keyN(5), "%20"])
    : keyId(pick(rng, upstream.apiKeys));
  const upstreamFields = () => ({
    name: oddField(rng),
    serviceType: pick(rng, ["openai", "custom", "gemini", "anthropic", "claude", "bogus", ""]),
    baseUrl: pick(rng, ODD_URLS.filter((x) => typeof x === "string")),
    description: pick(rng, ["", "<script>alert(1)</script>", "d".repeat(3000)]),
    fallback: pick(rng, ["", ...names, "nowhere"]),
    maxTokens: pick(rng, ["", "0", "100", "1e3", "0x10", "1000001", " 42 ", "-1"]),
    maxTokensField: pick(rng, ["", "max_tokens", "max_completion_tokens", "<b>"]),
    modelFrom: pick(rng, [[], ["sonnet"], ["a", "a"], ["<img src=x>", ""], ["default"]]),
    modelTo: pick(rng, [[], ["gpt-4o"], ["x", "y"], ["<script>alert(1)</script>"]]),
    modelDefault: pick(rng, ["", "gpt-4o", "<img src=x>"]),
  });
  const [path, fields] = pick<() => [string, Json]>(rng, [
    () => ["/admin/upstreams/new", upstreamFields()],
    () => [`/admin/upstreams/${ref}`, upstreamFields()],
    () => [`/admin/upstreams/${ref}/delete`, {}],
    () => [`/admin/upstreams/${ref}/use`, {}],
    () => [`/admin/upstreams/${ref}/move`, { direction: pick(rng, ["up", "down", "", "left"]) }],
    () => [`/admin/upstreams/${ref}/keys`, {
      keys: pick(rng, [
        `${keyN(7)}\n${keyN(8)}`,
        "has space key-123456789",
        "",
        ",,,\n\n",
        `${keyN(7)}\u0000`,
        "<script>alert(1)</script>",
        keyN(1),
      ]),
    }],
    () => [`/admin/upstreams/${ref}/keys/${key}/${pick(rng, ["delete", "disable", "enable"])}`, {}],
    () => [`/admin/upstreams/${ref}/keys/enable-all`, {}],
    () => ["/admin/strategy", { loadBalance: pick(rng, ["random", "RANDOM", "", "<b>x</b>"]) }],
    () => ["/admin/transfer/preview", {
      config: pick(rng, ["", "{", '{"upstream":[{"name":"<script>alert(1)</script>"}]}', "[]"]),
    }],
  ])();
  fields.version = pick(rng, [version, version, version, "", "stale-version", ["a", "b"]]);
  for (const f of Object.keys(fields)) if (chance(rng, 0.1)) delete fields[f];
  return { path, fields };
}

Deno.test("fuzz: mutated admin forms are saved or refused in the page, always escaped", async () => {
  const s = await startTestServer({ config: pagesDoc() });
  const rng = rngFrom(SEED + 1);
  let saved = 0;
  let refused = 0;
  try {
    const b: Browser = await signIn(s.url);
    for (let n = 0; n < CASES; n++) {
      const before = await getConfig(s.url);
      const doc = JSON.parse(before.text);
      const { path, fields } = formFor(rng, doc, s.services.store.snapshot.version ?? "");
      const htmx: Record<string, string> = chance(rng, 0.3) ? { "hx-request": "true" } : {};
      const said = `seed ${SEED + 1} case ${n}: POST ${path} ${brief(fields, 400)}`;
      const res = await b.post(path, fields, { headers: htmx });
      const html = await res.text();
      assert.ok(res.status < 500, `${said}: status ${res.status} ${brief(html, 300)}`);
      assert.doesNotMatch(html, INJECTED, `${said}: markup from the input reached the page`);
      assert.doesNotMatch(html, LEAK, `${said}: the page leaks internals`);
      const after = await getConfig(s.url);
      if (res.status >= 400) {
        refused++;
        assert.match(
          html,
          /role="alert"|class="field-error"|There is no admin page/,
          `${said}: no error shown`,
        );
        assert.equal(after.text, before.text, `${said}: a refused form changed the document`);
      } else {
        if (after.text !== before.text) saved++;
        // Where the redirect leads shows the outcome, escaped.
        const to = res.headers.get("location") ?? res.headers.get("hx-redirect");
        if (to) {
          const page = await b.get(to);
          const text = await page.text();
          assert.ok(page.status < 500, `${said}: ${to} answered ${page.status}`);
          assert.doesNotMatch(text, INJECTED, `${said}: ${to} shows markup from the input`);
        }
      }
      // A refused paste comes back in its box to be corrected: only what was pasted may show.
      const pasted = String(fields.keys ?? "");
      for (const k of JSON.parse(after.text).upstream.flatMap((u: Json) => u.apiKeys)) {
        assert.ok(!html.includes(k) || pasted.includes(k), `${said}: a key shown whole`);
      }
    }
    for (const page of ["/admin", "/admin/upstreams", "/admin/strategy", "/admin/logs"]) {
      const text = await (await b.get(page)).text();
      assert.doesNotMatch(text, INJECTED, `${page} shows markup from the configuration`);
    }
    assert.ok(saved >= 3 && refused >= 3, `saved ${saved}, refused ${refused}`);
  } finally {
    await s.close();
  }
});

// ---------------------------------------------------------------------------------------------
// The CLI

const CLI_WORDS = [
  "show",
  "add",
  "remove",
  "use",
  "key",
  "list",
  "balance",
  "clear",
  "import",
  "export",
  "frob",
  "",
  "__proto__",
  "--url",
  "-h",
  "main",
  "0",
  "9",
  "-1",
  "https://x.example",
  "openai",
  "gemini",
  "random",
  "a b",
  "x\ny",
  ...ODD_VALID_NAMES,
  "..",
  "\u202eevil",
];

function cliArgs(rng: Rng, keys: string[]): string[] {
  const word = () => pick(rng, CLI_WORDS);
  const secret = () =>
    pick(rng, [keyN(int(rng, 50)), `${keyN(1)} spaced`, `${keyN(2)}\n${keyN(3)}`, pick(rng, keys)]);
  const shapes: Array<() => string[]> = [
    () => ["key", pick(rng, ["main", "0", "nosuch", word()]), "add", secret(), secret()],
    () => ["key", pick(rng, ["main", word()]), "remove", pick(rng, [secret(), "0", "zzz"])],
    () => ["key", word(), pick(rng, ["list", "add", "frob", ""])],
    // A key where the command or the action should be ("add" forgotten).
    () => ["key", pick(rng, ["main", "0"]), secret()],
    () => [secret(), word()],
    () => ["add", word(), pick(rng, ["https://x.example", "ftp://x", word()]), word()],
    () => ["add", word(), word()],
    () => [pick(rng, ["use", "remove"]), word()],
    () => ["balance", word()],
    () => Array.from({ length: int(rng, 5) }, word),
  ];
  return pick(rng, shapes)();
}

Deno.test("fuzz: the CLI with odd arguments: one clear line on refusal, store kept, keys masked", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cli_fuzz_" });
  const kvPath = `${dir}/proxy.kv`;
  const rng = rngFrom(SEED + 2);
  const read = async () => {
    const kv = await Deno.openKv(kvPath);
    const store = await ConfigStore.open(kv, "failover", { watch: false });
    store.close();
    kv.close();
    return store.snapshot;
  };
  try {
    {
      const kv = await Deno.openKv(kvPath);
      const store = await ConfigStore.open(kv, "failover", { watch: false });
      await store.replace(pagesDoc());
      store.close();
      kv.close();
    }
    let failures = 0;
    for (let n = 0; n < CASES * 2; n++) {
      const before = await read();
      const keys: string[] = before.doc.upstream.flatMap((u) => u.apiKeys);
      const args = cliArgs(rng, keys.length ? keys : [keyN(0)]);
      const said = `seed ${SEED + 2} case ${n}: config ${JSON.stringify(args)}`;
      let out = "";
      let err = "";
      const code = await runCli(args, {
        stdout: (t) => out += t,
        stderr: (t) => err += t,
        env: { KV_PATH: kvPath, LOG_LEVEL: "error" },
        dotEnvPath: null,
      });
      assert.doesNotMatch(out + err, LEAK, `${said}: ${brief(out + err)}`);
      // An export prints the keys: that is what it is for.
      const exported = args.includes("export") && code === 0;
      // Each key inside an argument, not the argument whole: "<key> spaced" may be said back as
      // "<key>" alone.
      const typed = args.flatMap((a) => a.match(/sk-fuzz[A-Za-z0-9_-]{8,}/g) ?? []);
      // A word added as a key by a run of words ("key main add openai") is in any text naming
      // that word, and typed again as a command it is said back as the mistyped word it is (words
      // as long as a key are masked, asTyped).
      const stored = keys.filter((k) => k.length >= 12 && !(k.length < 20 && args.includes(k)));
      const secrets = exported ? [] : [...stored, ...typed];
      for (const k of secrets) {
        assert.ok(!(out + err).includes(k), `${said}: a key printed whole: ${brief(out + err)}`);
      }
      if (code === 0) continue;
      failures++;
      assert.ok(code === 1 || code === 2, `${said}: exit ${code}`);
      assert.ok(err.trim().length > 0 && out === "", `${said}: ${brief(out)} / ${brief(err)}`);
      const after = await read();
      assert.equal(after.version, before.version, `${said}: a refused command changed the store`);
    }
    assert.ok(failures >= 10, `some commands were refused (${failures})`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
