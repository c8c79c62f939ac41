// Admin sessions and the login throttle, in KV so every instance agrees and a logout is immediate.
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { secretsEqual } from "../auth.ts";
import { keys } from "./keys.ts";

export interface Session {
  id: string;
  /** Sent back by every form and htmx request; forged cross-site requests cannot know it. */
  csrf: string;
  /** AES key that seals data the browser must carry but not read (a pending import). */
  sealKey: string;
  /** Ties the session to the password it was opened with: a new password ends it. */
  passwordTag?: string;
  createdAt: number;
  expiresAt: number;
}

interface Attempts {
  count: number;
  resetAt: number;
}

export const SESSION_TTL_MS = 12 * 60 * 60 * 1000;
const LOGIN_WINDOW_MS = 60_000;
const LOGIN_MAX_FAILURES = 5;

export class SessionStore {
  /**
   * `password`: the admin password sessions are opened with. A session opened under another one
   * (before the operator changed a leaked password) is refused.
   */
  constructor(
    private kv: Deno.Kv,
    private now: () => number = Date.now,
    private password?: string,
  ) {}

  /** A keyed hash of the password, per session: nothing in KV gives the password away. */
  private tagFor(id: string): string | undefined {
    return this.password === undefined ? undefined : toBase64Url(
      hmac(sha256, encoder.encode(this.password), encoder.encode(`admin-session:${id}`)),
    );
  }

  async create(ttlMs = SESSION_TTL_MS): Promise<Session> {
    const now = this.now();
    const id = randomToken(32);
    const session: Session = {
      id,
      csrf: randomToken(24),
      sealKey: randomToken(32),
      passwordTag: this.tagFor(id),
      createdAt: now,
      expiresAt: now + ttlMs,
    };
    await this.kv.set(keys.adminSession(session.id), session, { expireIn: ttlMs });
    return session;
  }

  /** The live session with this id, or null (unknown, expired, or malformed id). */
  async get(id: string | undefined): Promise<Session | null> {
    if (!id || !/^[A-Za-z0-9_-]{20,100}$/.test(id)) return null;
    const entry = await this.kv.get<Session>(keys.adminSession(id));
    // expireIn is a lower bound on deletion, not a promise of it.
    if (!entry.value || entry.value.expiresAt <= this.now()) return null;
    const want = this.tagFor(id);
    if (want !== undefined && !secretsEqual(entry.value.passwordTag ?? "", want)) return null;
    return entry.value;
  }

  async delete(id: string | undefined): Promise<void> {
    if (!id || !/^[A-Za-z0-9_-]{20,100}$/.test(id)) return;
    await this.kv.delete(keys.adminSession(id));
  }

  /** Each address's password tries on this instance, one after another. */
  #tries = new Map<string, Promise<unknown>>();

  /**
   * One password try of this address, `right` or not. Tries of one address are taken one at a
   * time, each after the failures before it are counted, so guesses sent all at once are held to
   * the limit as guesses sent one by one; a right password is no failure, so scripts sending it
   * many times at once are never locked out. While the address is locked out every try is
   * refused, right or wrong, so a refusal tells nothing of the password. Answers 0 when the try
   * goes ahead (a wrong one counted, a right one starting the count over), else the milliseconds
   * until the address may try again.
   */
  tryPassword(address: string, right: boolean): Promise<number> {
    const before = this.#tries.get(address) ?? Promise.resolve();
    const run = before.then(() => this.#tryPassword(address, right));
    const settled = run.catch(() => {});
    this.#tries.set(address, settled);
    settled.then(() => {
      if (this.#tries.get(address) === settled) this.#tries.delete(address);
    });
    return run;
  }

  async #tryPassword(address: string, right: boolean): Promise<number> {
    const key = keys.loginAttempts(address);
    for (let attempt = 0; attempt < 20; attempt++) {
      const entry = await this.kv.get<Attempts>(key);
      const now = this.now();
      const current = entry.value && entry.value.resetAt > now ? entry.value : null;
      if (current && current.count >= LOGIN_MAX_FAILURES) return current.resetAt - now;
      if (right) {
        if (entry.value) await this.kv.delete(key);
        return 0;
      }
      const next: Attempts = current
        ? { count: current.count + 1, resetAt: current.resetAt }
        : { count: 1, resetAt: now + LOGIN_WINDOW_MS };
      const res = await this.kv.atomic().check(entry)
        .set(key, next, { expireIn: Math.max(1000, next.resetAt - now) })
        .commit();
      if (res.ok) return 0;
    }
    // Lost every race to other instances counting this address's failures: this one waits.
    return 1000;
  }
}

/** Encrypts `text` for this session only: the browser carries it without being able to read it. */
export async function seal(session: Session, text: string): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const data = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv },
    await aesKey(session),
    new TextEncoder().encode(text),
  );
  const out = new Uint8Array(12 + data.byteLength);
  out.set(iv);
  out.set(new Uint8Array(data), 12);
  return toBase64Url(out);
}

/** The text sealed for this session, or null if it was sealed for another or tampered with. */
export async function unseal(session: Session, sealed: string): Promise<string | null> {
  try {
    const bytes = fromBase64Url(sealed);
    if (bytes.length < 13) return null;
    const data = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: bytes.slice(0, 12) },
      await aesKey(session),
      bytes.slice(12),
    );
    return new TextDecoder().decode(data);
  } catch {
    return null;
  }
}

function aesKey(session: Session): Promise<CryptoKey> {
  return crypto.subtle.importKey(
    "raw",
    fromBase64Url(session.sealKey),
    "AES-GCM",
    false,
    ["encrypt", "decrypt"],
  );
}

const encoder = new TextEncoder();

function randomToken(bytes: number): string {
  return toBase64Url(crypto.getRandomValues(new Uint8Array(bytes)));
}

function toBase64Url(bytes: Uint8Array): string {
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function fromBase64Url(text: string): Uint8Array<ArrayBuffer> {
  const bin = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}
