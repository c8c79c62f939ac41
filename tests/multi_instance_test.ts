// Two real server processes on one KV file: what one learns, the other knows within a second.
import assert from "node:assert/strict";
import { lastHourCounts } from "../lib/observability/usage_report.ts";
import { ConfigStore } from "../lib/store/config_store.ts";
import { startFakeAnthropic } from "./fakes/anthropic_upstream.ts";
import { ACCESS_KEY, ADMIN_PASSWORD, startTestServer } from "./helpers/server.ts";

const ACCESS = "multi-instance-access-key";
const GOOD = "sk-multi-good-key-2222";
const DEAD = "sk-multi-dead-key-1111";

async function startServer(kvPath: string) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("../main.ts", import.meta.url).pathname],
    env: {
      PORT: "0",
      HOSTNAME: "127.0.0.1",
      KV_PATH: kvPath,
      PROXY_ACCESS_KEY: ACCESS,
      LOG_LEVEL: "warn",
    },
    cwd: new URL("..", import.meta.url).pathname,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  const deadline = Date.now() + 20_000;
  while (!/listening on http:\/\/[^:]+:(\d+)/.test(seen)) {
    if (Date.now() > deadline) throw new Error(`server did not start: ${seen}`);
    const { value, done } = await reader.read();
    if (done) throw new Error(`server exited: ${seen}`);
    seen += value;
  }
  const port = seen.match(/listening on http:\/\/[^:]+:(\d+)/)![1];
  // Keep draining so the child never blocks on a full pipe.
  (async () => {
    while (!(await reader.read()).done) { /* drain */ }
  })();
  child.stderr.pipeTo(new WritableStream()).catch(() => {});
  return {
    url: `http://127.0.0.1:${port}`,
    async stop() {
      child.kill("SIGTERM");
      await child.status;
    },
  };
}

async function until(check: () => Promise<boolean>, ms: number): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < ms) {
    if (await check()) return Date.now() - started;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`not true within ${ms} ms`);
}

Deno.test({
  name: "two processes on one KV: config changes and dead keys are shared within a second",
  sanitizeResources: false,
  async fn() {
    const dir = await Deno.makeTempDir();
    const kvPath = `${dir}/shared.kv`;
    const fake = await startFakeAnthropic({ requireKey: [GOOD] });
    const a = await startServer(kvPath);
    const b = await startServer(kvPath);
    const kv = await Deno.openKv(kvPath);
    try {
      const store = await ConfigStore.open(kv, "failover", { watch: false });
      const ask = (server: { url: string }) =>
        fetch(`${server.url}/v1/messages`, {
          method: "POST",
          headers: { "x-api-key": ACCESS, "content-type": "application/json" },
          body: JSON.stringify({
            model: "m",
            max_tokens: 5,
            messages: [{ role: "user", content: "hi" }],
          }),
        });

      await store.replace({
        upstream: [{
          name: "shared",
          baseUrl: fake.url,
          serviceType: "anthropic",
          apiKeys: [DEAD, GOOD],
        }],
        loadBalance: "failover",
      });
      const health = async (s: { url: string }) => (await (await fetch(`${s.url}/health`)).json());
      const seenA = await until(
        async () => (await health(a)).config.currentUpstream === "shared",
        1000,
      );
      const seenB = await until(
        async () => (await health(b)).config.currentUpstream === "shared",
        1000,
      );
      assert.ok(seenA < 1000 && seenB < 1000);

      // A meets the dead key first (failover order) and disables it.
      const first = await ask(a);
      assert.equal(first.status, 200);
      await first.body?.cancel();
      assert.deepEqual(fake.requests.map((r) => r.headers.get("x-api-key")), [DEAD, GOOD]);

      // B skips it without trying it, within a second.
      await new Promise((r) => setTimeout(r, 1000));
      const second = await ask(b);
      assert.equal(second.status, 200);
      await second.body?.cancel();
      assert.deepEqual(fake.requests.slice(2).map((r) => r.headers.get("x-api-key")), [GOOD]);
    } finally {
      kv.close();
      await a.stop();
      await b.stop();
      await fake.close();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});

/** The same KV, counting each read and write made through it while `on`. */
function countingKv(kv: Deno.Kv) {
  const counts = { reads: 0, writes: 0, on: false };
  const proxy = new Proxy(kv, {
    get(target, prop) {
      const value = Reflect.get(target, prop);
      if (typeof value !== "function") return value;
      const kind = ["get", "getMany", "list"].includes(String(prop))
        ? "reads"
        : ["set", "delete", "atomic", "enqueue"].includes(String(prop))
        ? "writes"
        : undefined;
      if (!kind) return value.bind(target);
      return (...args: unknown[]) => {
        if (counts.on) counts[kind]++;
        return value.apply(target, args);
      };
    },
  });
  return { kv: proxy, counts };
}

Deno.test({
  name: "three instances on one KV, as on Deno Deploy (watch only): every shared state is shared",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const fake = await startFakeAnthropic({ requireKey: [GOOD] });
    const shared = await Deno.openKv(":memory:");
    const { kv, counts } = countingKv(shared);
    const servers = await Promise.all([0, 1, 2].map(() => startTestServer({ kv })));
    const [a, b, c] = servers;
    const ask = (s: { url: string }) =>
      fetch(`${s.url}/v1/messages`, {
        method: "POST",
        headers: { "x-api-key": ACCESS_KEY, "content-type": "application/json" },
        body: JSON.stringify({
          model: "m",
          max_tokens: 5,
          messages: [{ role: "user", content: "hi" }],
        }),
      }).then(async (r) => ({ status: r.status, text: await r.text() }));
    try {
      const put = await fetch(`${a.url}/admin/api/config`, {
        method: "PUT",
        headers: { authorization: `Bearer ${ADMIN_PASSWORD}`, "content-type": "application/json" },
        body: JSON.stringify({
          upstream: [{
            name: "shared",
            baseUrl: fake.url,
            serviceType: "anthropic",
            apiKeys: [DEAD, GOOD],
          }],
          loadBalance: "failover",
        }),
      });
      assert.equal(put.status, 200, await put.text());
      await until(async () => {
        await Promise.resolve();
        return servers.every((s) => s.services.store.snapshot.doc.upstream.length === 1);
      }, 1000);

      // A disables the dead key; B and C skip it.
      assert.equal((await ask(a)).status, 200);
      await until(async () => {
        await Promise.resolve();
        return [b, c].every((s) => s.services.health.list().length === 1);
      }, 1000);
      const before = fake.requests.length;
      assert.equal((await ask(b)).status, 200);
      assert.equal((await ask(c)).status, 200);
      assert.deepEqual(
        fake.requests.slice(before).map((r) => r.headers.get("x-api-key")),
        [GOOD, GOOD],
      );

      // Serving requests reads nothing from KV and writes nothing while every key is healthy.
      counts.on = true;
      for (let i = 0; i < 9; i++) assert.equal((await ask(servers[i % 3])).status, 200);
      counts.on = false;
      assert.deepEqual({ reads: counts.reads, writes: counts.writes }, { reads: 0, writes: 0 });

      // The request log and the usage figures of all three add up, seen from any of them.
      await Promise.all(servers.map((s) => s.services.observability.flush()));
      const total = 12;
      assert.equal(
        (await b.services.observability.requestLog.list({}, { limit: 50 })).items.length,
        total,
      );
      assert.equal(
        (await lastHourCounts(c.services.observability.usage, Date.now())).requests,
        total,
      );

      // A session opened on A works on B; signing out on C ends it everywhere.
      const form = await fetch(`${a.url}/admin/login`);
      const loginCookie = form.headers.getSetCookie()[0].split(";")[0];
      const csrf = (await form.text()).match(/name="_csrf" value="([^"]+)"/)![1];
      const login = await fetch(`${a.url}/admin/login`, {
        method: "POST",
        redirect: "manual",
        headers: {
          cookie: loginCookie,
          origin: a.url,
          "content-type": "application/x-www-form-urlencoded",
        },
        body: new URLSearchParams({ _csrf: csrf, password: ADMIN_PASSWORD }),
      });
      assert.equal(login.status, 303);
      const session = login.headers.getSetCookie().find((x) => x.startsWith("admin_session="))!
        .split(";")[0];
      const page = (s: { url: string }) =>
        fetch(`${s.url}/admin`, { headers: { cookie: session }, redirect: "manual" })
          .then(async (r) => ({ status: r.status, html: await r.text() }));
      const onB = await page(b);
      assert.equal(onB.status, 200);
      const token = onB.html.match(/name="_csrf" value="([^"]+)"/)![1];
      const logout = await fetch(`${c.url}/admin/logout`, {
        method: "POST",
        redirect: "manual",
        headers: {
          cookie: session,
          origin: c.url,
          "content-type": "application/x-www-form-urlencoded",
        },
        body: new URLSearchParams({ _csrf: token }),
      });
      await logout.body?.cancel();
      assert.equal(logout.status, 303);
      assert.equal((await page(a)).status, 303);

      // Wrong passwords count together: the sixth, on any instance, is turned away.
      const tries: number[] = [];
      for (let i = 0; i < 6; i++) {
        const r = await fetch(`${servers[i % 3].url}/admin/api/config`, {
          headers: { authorization: "Bearer wrong-password" },
        });
        await r.body?.cancel();
        tries.push(r.status);
      }
      assert.deepEqual(tries, [401, 401, 401, 401, 401, 429]);
    } finally {
      await Promise.all(servers.map((s) => s.close()));
      shared.close();
      await fake.close();
    }
  },
});
