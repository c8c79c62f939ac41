// Two real server processes on one KV file: what one learns, the other knows within a second.
import assert from "node:assert/strict";
import { ConfigStore } from "../lib/store/config_store.ts";
import { startFakeAnthropic } from "./fakes/anthropic_upstream.ts";

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
