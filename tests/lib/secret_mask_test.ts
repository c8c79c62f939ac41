import assert from "node:assert/strict";
import { clip, MASK, maskerFor, maskUrl, urlSecrets } from "../../lib/secret_mask.ts";
import { anthropicProvider } from "../../lib/providers/anthropic.ts";
import { geminiErrorFailure } from "../../lib/providers/gemini_errors.ts";
import { openaiErrorFailure } from "../../lib/providers/openai_errors.ts";
import { unreadableAnswer } from "../../lib/upstream_fetch.ts";

/** As many keys as it takes to look secrets up by their ends, sharing a prefix as real ones do. */
const MANY = Array.from(
  { length: 400 },
  (_, i) => `sk-proj-${i.toString(36)}q${"r".repeat(i % 7)}`,
);

Deno.test("secret mask: a few secrets and many are masked alike, wherever they stand", () => {
  for (const pool of [["sk-proj-alpha1", "sk-proj-alpha12345", 'tok"en'], MANY]) {
    const secrets = [...pool, "sk-proj-alpha1", "sk-proj-alpha12345", 'tok"en', "ab¢€"];
    const mask = maskerFor(secrets);
    const label = `${secrets.length} secrets`;
    assert.equal(mask("nothing here"), "nothing here", label);
    assert.equal(mask(""), "", label);
    // At the start, at the end, alone, side by side.
    assert.equal(mask("sk-proj-alpha1"), MASK, label);
    assert.equal(mask("sk-proj-alpha1 x"), `${MASK} x`, label);
    assert.equal(mask("x sk-proj-alpha1"), `x ${MASK}`, label);
    assert.equal(mask("sk-proj-alpha1sk-proj-alpha1"), MASK + MASK, label);
    // One secret holding another is masked whole, not leaving its end.
    assert.equal(mask("key=sk-proj-alpha12345&"), `key=${MASK}&`, label);
    assert.equal(mask('a "tok"en" ab¢€.'), `a "${MASK}" ${MASK}.`, label);
    // Every key of a large pool, in a line of text.
    for (const key of pool) assert.equal(mask(`k=${key};`), `k=${MASK};`, `${label}: ${key}`);
    // A prefix or a near miss is not a secret.
    assert.equal(mask("sk-proj- and sk-proj-alpha"), "sk-proj- and sk-proj-alpha", label);
  }
});

Deno.test("secret mask: overlapping secrets leave nothing of either", () => {
  for (const extra of [[], MANY]) {
    const mask = maskerFor(["abcdef12", "ef12ghij", ...extra]);
    const out = mask("<abcdef12ghij>");
    assert.ok(!/abcd|ef12|ghij/.test(out), out);
    assert.ok(out.startsWith("<") && out.endsWith(">"), out);
  }
});

Deno.test("secret mask: 20,000 keys are ready and mask a line at once", () => {
  const keys = Array.from({ length: 20_000 }, () => `sk-proj-${crypto.randomUUID()}`);
  const started = performance.now();
  const mask = maskerFor(keys);
  const line = `INFO upstream failed key=${keys[12_345]} status=401 ${"x".repeat(16_000)}`;
  assert.equal(mask(line), `INFO upstream failed key=${MASK} status=401 ${"x".repeat(16_000)}`);
  const ms = performance.now() - started;
  // As one pattern this took over half a second to build and 46 ms for 16 KB of text.
  assert.ok(ms < 300, `${Math.round(ms)} ms`);
});

Deno.test("secret mask: an upstream's error text cut where a key stands keeps none of the key", () => {
  const key = "sk-TRUNCATIONSECRETKEY0123456789abcdef";
  const mask = maskerFor([key]);
  for (const pad of [150, 190, 199, 450, 470, 490, 499]) {
    const body = `${"x ".repeat(pad / 2)}${pad % 2 ? "y" : ""}${key} and more after it`;
    const messages = [
      openaiErrorFailure(500, body, new Headers()).message,
      geminiErrorFailure(500, body, new Headers()).message,
      anthropicProvider.parseError(500, body, new Headers()).message,
      unreadableAnswer(body).message,
    ];
    for (const message of messages) {
      const shown = mask(message);
      assert.doesNotMatch(shown, /TRUNCATION/, `cut after ${pad}: ${shown.slice(-60)}`);
      assert.ok(shown.startsWith("x x") || shown.includes("x x"), shown.slice(0, 40));
    }
  }
  // Text that is cut between words keeps what it had.
  assert.equal(clip("one two three", 7), "one two");
  assert.equal(clip("one two three", 6), "one ");
  assert.equal(clip("short", 10), "short");
});

Deno.test("secret mask: a base URL shows no password, token user, or key in its query", () => {
  const cases: Array<[string, string, string[]]> = [
    ["https://user:hunter2@gw.example/v1", "https://user:•••@gw.example/v1", ["hunter2"]],
    ["http://TOKENONLYSECRET@127.0.0.1:9/oa", "http://•••@127.0.0.1:9/oa", ["TOKENONLYSECRET"]],
    ["https://g.example/v1beta?key=AIzaX&alt=sse", "https://g.example/v1beta?key=•••&alt=sse", [
      "AIzaX",
    ]],
    ["https://api.openai.com/v1", "https://api.openai.com/v1", []],
  ];
  for (const [url, shown, secrets] of cases) {
    assert.equal(maskUrl(url), shown);
    assert.deepEqual(urlSecrets(url), secrets);
  }
});
