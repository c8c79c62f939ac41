import assert from "node:assert/strict";
import { secretMatcher, secretsEqual, sha256Hex } from "../../lib/auth.ts";
import { healthId, keyId } from "../../lib/key_pool.ts";

async function webCryptoHex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

Deno.test("sha256Hex is SHA-256 of the text's UTF-8, as WebCrypto computes it", async () => {
  const texts = ["", "abc", "sk-ant-api03-" + "x".repeat(95), "clé 🔑 ключ", "a".repeat(1000)];
  for (const text of texts) assert.equal(sha256Hex(text), await webCryptoHex(text), text);
  // FIPS 180-2's example.
  assert.equal(
    sha256Hex("abc"),
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  );
});

Deno.test("key ids are the first 16 hex digits of the key's SHA-256, as stored health has them", async () => {
  const key = "sk-proj-abcdefghijklmnop";
  assert.equal(keyId(key), (await webCryptoHex(key)).slice(0, 16));
  const base = "https://api.openai.com/v1";
  assert.equal(healthId(base, key), (await webCryptoHex(`${base}\u0000${key}`)).slice(0, 16));
  assert.notEqual(healthId("https://other.example/v1", key), healthId(base, key));
});

Deno.test("a secret matches only itself", () => {
  const matches = secretMatcher("proxy-secret");
  assert.equal(matches("proxy-secret"), true);
  assert.equal(matches("proxy-secret"), true, "a remembered match still matches");
  for (const guess of ["", "proxy-secre", "proxy-secret ", "Proxy-secret", "proxy-secret\u0000"]) {
    assert.equal(matches(guess), false, JSON.stringify(guess));
  }
  assert.equal(secretsEqual("a", "a"), true);
  assert.equal(secretsEqual("a", "b"), false);
  assert.equal(secretsEqual("", "a"), false);
});
