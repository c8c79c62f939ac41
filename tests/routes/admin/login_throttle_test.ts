// Sign-in throttling: 5 failed tries a minute per address (sign-in form and admin API bearer
// together), then even the right password waits.
import assert from "node:assert/strict";
import { createApp } from "../../../lib/app.ts";
import { parseConfig } from "../../../lib/config.ts";
import { createLogger } from "../../../lib/log.ts";
import { createServices } from "../../../lib/services.ts";
import { SessionStore } from "../../../lib/store/session_store.ts";

const PASSWORD = "throttle-test-password";
const ORIGIN = "http://admin.test";

async function withApp(
  fn: (
    login: (address: string, password: string) => Promise<Response>,
    tick: (ms: number) => void,
    api: (address: string, password: string) => Promise<Response>,
  ) => Promise<void>,
): Promise<void> {
  const kv = await Deno.openKv(":memory:");
  let now = Date.UTC(2026, 0, 1);
  const config = parseConfig({ ADMIN_PASSWORD: PASSWORD, LOG_LEVEL: "error" });
  const services = await createServices(kv, config, {
    now: () => now,
    watch: false,
    logger: createLogger(config, () => {}),
  });
  const app = createApp(services);
  const login = async (address: string, password: string) => {
    const env = { remoteAddr: { hostname: address, port: 40000, transport: "tcp" } };
    const form = await app.request(`${ORIGIN}/admin/login`, {}, env);
    const cookie = form.headers.getSetCookie()[0].split(";")[0];
    const token = (await form.text()).match(/name="_csrf" value="([^"]+)"/)![1];
    return await app.request(`${ORIGIN}/admin/login`, {
      method: "POST",
      headers: { cookie, origin: ORIGIN, "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ _csrf: token, password }).toString(),
    }, env);
  };
  const api = async (address: string, password: string) =>
    await app.request(`${ORIGIN}/admin/api/config`, {
      headers: { authorization: `Bearer ${password}` },
    }, { remoteAddr: { hostname: address, port: 40000, transport: "tcp" } });
  try {
    await fn(login, (ms) => now += ms, api);
  } finally {
    services.close();
    kv.close();
  }
}

Deno.test("five failed sign-ins a minute lock that address out, even with the right password", async () => {
  await withApp(async (login, tick) => {
    for (let i = 0; i < 5; i++) {
      const res = await login("10.0.0.1", "guess-" + i);
      assert.equal(res.status, 401, `try ${i + 1}`);
      await res.body?.cancel();
    }
    const locked = await login("10.0.0.1", PASSWORD);
    assert.equal(locked.status, 429);
    assert.ok(Number(locked.headers.get("retry-after")) > 0);
    assert.match(await locked.text(), /Too many failed attempts/);
    assert.equal(locked.headers.getSetCookie().some((c) => c.startsWith("admin_session=")), false);

    // Another address is not held back by it.
    const other = await login("10.0.0.2", PASSWORD);
    assert.equal(other.status, 303);
    await other.body?.cancel();

    // After the minute, the right password works again and clears the count.
    tick(61_000);
    const later = await login("10.0.0.1", PASSWORD);
    assert.equal(later.status, 303);
    await later.body?.cancel();
  });
});

Deno.test("failures spread over more than a minute do not lock anyone out", async () => {
  await withApp(async (login, tick) => {
    for (let i = 0; i < 8; i++) {
      const res = await login("10.0.0.3", "wrong");
      assert.equal(res.status, 401);
      await res.body?.cancel();
      tick(15_000);
    }
    const res = await login("10.0.0.3", PASSWORD);
    assert.equal(res.status, 303);
    await res.body?.cancel();
  });
});

Deno.test("wrong bearer passwords on the admin API are throttled like sign-ins, on the same count", async () => {
  await withApp(async (login, tick, api) => {
    for (let i = 0; i < 5; i++) {
      const res = await api("10.0.1.1", "guess-" + i);
      assert.equal(res.status, 401, `try ${i + 1}`);
      await res.body?.cancel();
    }
    const locked = await api("10.0.1.1", PASSWORD);
    assert.equal(locked.status, 429);
    assert.ok(Number(locked.headers.get("retry-after")) > 0);
    const body = await locked.json();
    assert.equal(body.error.type, "rate_limit_error");
    assert.match(body.error.message, /Too many failed attempts/);
    // The sign-in form is closed to that address too, and other addresses are not held back.
    const form = await login("10.0.1.1", PASSWORD);
    assert.equal(form.status, 429);
    await form.body?.cancel();
    const other = await api("10.0.1.2", PASSWORD);
    assert.equal(other.status, 200);
    await other.body?.cancel();

    tick(61_000);
    const later = await api("10.0.1.1", PASSWORD);
    assert.equal(later.status, 200);
    await later.body?.cancel();

    // Failed sign-ins count against the API as well, and a right password starts the count over.
    for (let i = 0; i < 4; i++) await (await login("10.0.1.3", "wrong")).body?.cancel();
    const right = await api("10.0.1.3", PASSWORD);
    assert.equal(right.status, 200);
    await right.body?.cancel();
    for (let i = 0; i < 4; i++) await (await api("10.0.1.3", "wrong")).body?.cancel();
    const still = await api("10.0.1.3", PASSWORD);
    assert.equal(still.status, 200);
    await still.body?.cancel();
    await (await login("10.0.1.4", "wrong")).body?.cancel();
    for (let i = 0; i < 4; i++) await (await api("10.0.1.4", "wrong")).body?.cancel();
    const mixed = await api("10.0.1.4", PASSWORD);
    assert.equal(mixed.status, 429);
    await mixed.body?.cancel();
  });
});

Deno.test("sessions expire and are refused after their time", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    let now = 1_000;
    const sessions = new SessionStore(kv, () => now);
    const s = await sessions.create(60_000);
    assert.equal((await sessions.get(s.id))?.csrf, s.csrf);
    assert.equal(await sessions.get("not a valid id"), null);
    now += 60_001;
    assert.equal(await sessions.get(s.id), null);
  } finally {
    kv.close();
  }
});

Deno.test("guesses sent all at once are throttled like guesses sent one by one", async () => {
  await withApp(async (login, _tick, api) => {
    const answers = await Promise.all(
      Array.from(
        { length: 30 },
        (_, i) => i % 2 ? api("10.0.2.1", "guess-" + i) : login("10.0.2.1", "guess-" + i),
      ),
    );
    const statuses = answers.map((r) => r.status);
    await Promise.all(answers.map((r) => r.body?.cancel()));
    const checked = statuses.filter((s) => s === 401).length;
    assert.ok(checked <= 5, `${checked} of 30 parallel guesses were checked: ${statuses}`);
    assert.equal(checked + statuses.filter((s) => s === 429).length, 30);
  });
});

Deno.test("an IPv6 client cannot escape the lock by moving to another address of its own /64", async () => {
  await withApp(async (login, _tick, api) => {
    const own = (i: number) => `2001:db8:aa:bb::${(i + 1).toString(16)}`;
    for (let i = 0; i < 5; i++) {
      const res = await api(own(i), "guess-" + i);
      assert.equal(res.status, 401, `try ${i + 1}`);
      await res.body?.cancel();
    }
    for (const address of [own(5), "2001:db8:aa:bb:ffff:1:2:3", "2001:0db8:00aa:00bb::9"]) {
      const locked = await login(address, PASSWORD);
      assert.equal(locked.status, 429, address);
      await locked.body?.cancel();
    }
    // Another network, and an IPv4 address mapped into IPv6, are counted on their own.
    const other = await api("2001:db8:aa:bc::1", PASSWORD);
    assert.equal(other.status, 200);
    await other.body?.cancel();
    for (let i = 0; i < 5; i++) await (await api("::ffff:10.0.3.1", "wrong")).body?.cancel();
    const mapped = await api("10.0.3.1", PASSWORD);
    assert.equal(mapped.status, 429, "::ffff:10.0.3.1 is 10.0.3.1");
    await mapped.body?.cancel();
    const neighbour = await api("::ffff:10.0.3.2", PASSWORD);
    assert.equal(neighbour.status, 200);
    await neighbour.body?.cancel();
  });
});

Deno.test("the right password sent many times at once (parallel CLI calls) is never locked out", async () => {
  await withApp(async (login, _tick, api) => {
    const answers = await Promise.all(
      Array.from(
        { length: 30 },
        (_, i) => i % 5 ? api("10.0.4.1", PASSWORD) : login("10.0.4.1", PASSWORD),
      ),
    );
    const statuses = answers.map((r) => r.status);
    await Promise.all(answers.map((r) => r.body?.cancel()));
    assert.ok(statuses.every((s) => s === 200 || s === 303), `${statuses}`);
  });
});
