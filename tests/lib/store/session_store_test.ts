import assert from "node:assert/strict";
import { SessionStore } from "../../../lib/store/session_store.ts";

async function withKv(fn: (kv: Deno.Kv) => Promise<void>) {
  const kv = await Deno.openKv(":memory:");
  try {
    await fn(kv);
  } finally {
    kv.close();
  }
}

/** HMAC-SHA256 in base64url without padding, by WebCrypto: what sessions already stored hold. */
async function hmacB64url(key: string, data: string): Promise<string> {
  const enc = new TextEncoder();
  const k = await crypto.subtle.importKey(
    "raw",
    enc.encode(key),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", k, enc.encode(data)));
  return btoa(String.fromCharCode(...mac)).replace(/\+/g, "-").replace(/\//g, "_").replace(
    /=+$/,
    "",
  );
}

Deno.test("a session is tied to the password it was opened with, by an HMAC of it", async () => {
  await withKv(async (kv) => {
    const session = await new SessionStore(kv, Date.now, "hunter2 ✓").create();
    assert.equal(
      session.passwordTag,
      await hmacB64url("hunter2 ✓", `admin-session:${session.id}`),
      "sessions opened before an upgrade stay open",
    );
    assert.ok(!JSON.stringify(session).includes("hunter2"));
    assert.equal(
      (await new SessionStore(kv, Date.now, "hunter2 ✓").get(session.id))?.id,
      session.id,
    );
    assert.equal(await new SessionStore(kv, Date.now, "new password").get(session.id), null);
  });
});
