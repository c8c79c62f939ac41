// The server process as users start it: what it writes to stdout and stderr.
import assert from "node:assert/strict";
import { ConfigStore } from "../lib/store/config_store.ts";
import { anthropicStream, startFakeAnthropic } from "./fakes/anthropic_upstream.ts";

const ACCESS = "main-test-access-key-0001";
const UPSTREAM_KEY = "sk-main-test-upstream-key-0001";

/**
 * A child's environment: only what a server needs from the machine (PATH, HOME, Deno's cache), and
 * `env`; none of the caller's settings (a LOG_FORMAT or HTTP_PROXY of the shell running the tests).
 */
function ownEnv(env: Record<string, string>): { clearEnv: true; env: Record<string, string> } {
  const kept: Record<string, string> = {};
  for (const name of ["PATH", "HOME", "DENO_DIR", "XDG_CACHE_HOME", "TMPDIR"]) {
    const value = Deno.env.get(name);
    if (value !== undefined) kept[name] = value;
  }
  return { clearEnv: true, env: { ...kept, ...env } };
}

/** main.ts in an empty directory (no .env), with these settings; an empty value is unset. */
function startMain(dir: string, env: Record<string, string>) {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("../main.ts", import.meta.url).pathname],
    ...ownEnv({
      PORT: "0",
      HOSTNAME: "127.0.0.1",
      NO_COLOR: "1",
      ADMIN_PASSWORD: "",
      LOG_LEVEL: "",
      ...env,
    }),
    cwd: dir,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/** Every line must be one JSON object; returns them. */
function jsonLines(text: string, stream: string): Record<string, unknown>[] {
  return text.split("\n").filter((l) => l !== "").map((line) => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      assert.fail(`${stream} line is not JSON: ${line}`);
    }
    assert.equal(typeof parsed, "object", `${stream}: ${line}`);
    assert.ok(parsed && !Array.isArray(parsed), `${stream}: ${line}`);
    return parsed as Record<string, unknown>;
  });
}

Deno.test({
  name: "LOG_FORMAT=json: every line the server writes, start-up included, is one JSON object",
  sanitizeResources: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "main_test_" });
    const kvPath = `${dir}/proxy.kv`;
    const fake = await startFakeAnthropic();
    const kv = await Deno.openKv(kvPath);
    const store = await ConfigStore.open(kv, "failover", { watch: false });
    await store.replace({
      upstream: [{
        name: "fake",
        baseUrl: fake.url,
        serviceType: "anthropic",
        apiKeys: [UPSTREAM_KEY],
      }],
    });
    store.close();
    kv.close();
    // No ADMIN_PASSWORD: the start-up lines then carry a warning too.
    const child = startMain(dir, {
      KV_PATH: kvPath,
      PROXY_ACCESS_KEY: ACCESS,
      LOG_FORMAT: "json",
      LOG_LEVEL: "debug",
      ENABLE_REQUEST_LOGS: "true",
      ENABLE_RESPONSE_LOGS: "true",
    });
    const stderr = new Response(child.stderr).text();
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let out = "";
    // A server that never says where it listens, in JSON, is stopped rather than waited for.
    const watchdog = setTimeout(() => child.kill("SIGTERM"), 20_000);
    try {
      while (!/"url":"(http:[^"]+)"/.test(out)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`no JSON start-up line: ${out}${await stderr}`);
        out += value;
      }
      clearTimeout(watchdog);
      const url = out.match(/"url":"(http:[^"]+)"/)![1];
      const asked = await fetch(`${url}/v1/messages`, {
        method: "POST",
        headers: { "x-api-key": ACCESS, "content-type": "application/json" },
        body: JSON.stringify({
          model: "claude-test",
          max_tokens: 5,
          messages: [{ role: "user", content: "hi" }],
        }),
      });
      assert.equal(asked.status, 200);
      await asked.body?.cancel();
      const refused = await fetch(`${url}/v1/messages`, { method: "POST", body: "{}" });
      assert.equal(refused.status, 401);
      await refused.body?.cancel();
      // The request's lines are written after the answer.
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      clearTimeout(watchdog);
      child.kill("SIGTERM");
      await child.status;
      await fake.close();
    }
    while (true) {
      const { value, done } = await reader.read();
      if (done) break;
      out += value;
    }
    const lines = [...jsonLines(out, "stdout"), ...jsonLines(await stderr, "stderr")];
    const messages = lines.map((l) => String(l.msg));
    assert.ok(messages.some((m) => m.startsWith("Claude API proxy listening on http://")));
    assert.ok(messages.some((m) => m.startsWith("store: ")));
    assert.ok(
      lines.some((l) => l.level === "warn" && /ADMIN_PASSWORD is not set/.test(String(l.msg))),
    );
    assert.ok(messages.some((m) => m.includes("/v1/messages 200")), messages.join("\n"));
    for (const l of lines) assert.ok(typeof l.time === "string" && typeof l.level === "string");
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test({
  name:
    "a log reader that stops reading does not stall the server; its lines come out once it reads again, and at SIGTERM",
  sanitizeResources: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "main_test_" });
    const kvPath = `${dir}/proxy.kv`;
    const fake = await startFakeAnthropic();
    const kv = await Deno.openKv(kvPath);
    const store = await ConfigStore.open(kv, "failover", { watch: false });
    await store.replace({
      upstream: [{
        name: "fake",
        baseUrl: fake.url,
        serviceType: "anthropic",
        apiKeys: [UPSTREAM_KEY],
      }],
    });
    store.close();
    kv.close();
    const child = startMain(dir, { KV_PATH: kvPath, PROXY_ACCESS_KEY: ACCESS, LOG_LEVEL: "info" });
    const stderr = new Response(child.stderr).text();
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let out = "";
    const watchdog = setTimeout(() => child.kill("SIGKILL"), 40_000);
    const total = 1500;
    let slowest = 0;
    const failures: string[] = [];
    try {
      while (!/listening on (http:\S+)/.test(out)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`no start-up line: ${out}${await stderr}`);
        out += value;
      }
      const url = out.match(/listening on (http:\S+)/)![1];
      // Nobody reads stdout now (a paused terminal, a stuck log shipper): its pipe fills up.
      let next = 0;
      const giveUp = Date.now() + 20_000;
      await Promise.all(Array.from({ length: 10 }, async () => {
        while (next < total && failures.length === 0 && Date.now() < giveUp) {
          next++;
          const started = Date.now();
          try {
            const res = await fetch(`${url}/v1/messages`, {
              method: "POST",
              headers: { "x-api-key": ACCESS, "content-type": "application/json" },
              body: JSON.stringify({
                model: "claude-test",
                max_tokens: 5,
                messages: [{ role: "user", content: "hi" }],
              }),
              signal: AbortSignal.timeout(5_000),
            });
            await res.body?.cancel();
            if (res.status !== 200) failures.push(String(res.status));
          } catch (err) {
            failures.push(String(err));
          }
          slowest = Math.max(slowest, Date.now() - started);
        }
      }));
    } finally {
      // Reading again, then stopping it: every line is written before it exits.
      const rest = (async () => {
        while (true) {
          const { value, done } = await reader.read();
          if (done) break;
          out += value;
        }
      })();
      try {
        child.kill("SIGTERM");
      } catch { /* the watchdog stopped it */ }
      await child.status;
      await rest;
      clearTimeout(watchdog);
      await fake.close();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
    assert.deepEqual(failures.slice(0, 3), []);
    assert.ok(slowest < 2_000, `a request waited ${slowest} ms on the log`);
    const lines = out.split("\n");
    assert.equal(lines.filter((l) => l.includes("/v1/messages 200")).length, total);
    assert.equal(lines.pop(), "", "the last line is whole");
    assert.equal(await stderr, "");
  },
});

Deno.test("LOG_FORMAT=json: a bad setting at start is reported as one JSON object", async () => {
  const dir = await Deno.makeTempDir({ prefix: "main_test_" });
  const child = startMain(dir, { LOG_FORMAT: "json", ENABLE_CORS: "maybe", PORT: "x" });
  const [status, out, err] = await Promise.all([
    child.status,
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
  ]);
  await Deno.remove(dir, { recursive: true });
  assert.equal(status.code, 1);
  assert.equal(out, "");
  const [line, ...rest] = jsonLines(err, "stderr");
  assert.deepEqual(rest, []);
  assert.equal(line.level, "error");
  assert.equal(line.msg, "Invalid settings");
  const problems = line.problems as string[];
  assert.equal(problems.length, 2);
  assert.match(problems.join("\n"), /ENABLE_CORS: must be true or false/);
  assert.match(problems.join("\n"), /PORT: /);
});

Deno.test({
  name: "a flood of idle connections past the file limit does not stop the server for good",
  ignore: !hasPrlimit(),
  sanitizeResources: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "main_test_" });
    const child = new Deno.Command("prlimit", {
      args: [
        "--nofile=200:200",
        Deno.execPath(),
        "run",
        "-A",
        new URL("../main.ts", import.meta.url).pathname,
      ],
      ...ownEnv({ PORT: "0", HOSTNAME: "127.0.0.1", NO_COLOR: "1", KV_PATH: `${dir}/proxy.kv` }),
      cwd: dir,
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let out = "";
    const watchdog = setTimeout(() => child.kill("SIGKILL"), 30_000);
    const conns: Deno.Conn[] = [];
    try {
      let url: string | undefined;
      while (!(url = /listening on (http:\S+)/.exec(out)?.[1])) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`server did not start: ${out}`);
        out += value;
      }
      const port = Number(new URL(url).port);
      // Connections that send nothing, until the process runs out of descriptors.
      for (let i = 0; i < 400; i++) {
        try {
          conns.push(await Deno.connect({ hostname: "127.0.0.1", port }));
        } catch {
          break;
        }
      }
      for (const c of conns.splice(0)) c.close();
      let status = 0;
      for (let i = 0; i < 40 && status !== 200; i++) {
        await new Promise((r) => setTimeout(r, 250));
        status = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2_000) })
          .then(async (r) => (await r.body?.cancel(), r.status), () => 0);
      }
      assert.equal(status, 200, "the server answers again once the connections are gone");
    } finally {
      for (const c of conns) c.close();
      clearTimeout(watchdog);
      child.kill("SIGTERM");
      await child.status;
      await reader.cancel().catch(() => {});
      await child.stderr.cancel().catch(() => {});
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});

function hasPrlimit(): boolean {
  try {
    return new Deno.Command("prlimit", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

Deno.test({
  name: "a port already in use stops the server at start, as before, for its supervisor to see",
  sanitizeResources: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "main_test_" });
    const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    try {
      const child = new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", new URL("../main.ts", import.meta.url).pathname],
        ...ownEnv({
          PORT: String((taken.addr as Deno.NetAddr).port),
          HOSTNAME: "127.0.0.1",
          NO_COLOR: "1",
          KV_PATH: `${dir}/proxy.kv`,
        }),
        cwd: dir,
        stdout: "null",
        stderr: "null",
        signal: AbortSignal.timeout(20_000),
      }).spawn();
      const status = await child.status;
      assert.notEqual(status.code, 0);
      assert.equal(status.signal, null, "it exited by itself");
    } finally {
      taken.close();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});

/** main.ts run to its exit in an empty directory: its status and what it wrote. */
async function runToExit(env: Record<string, string>) {
  const dir = await Deno.makeTempDir({ prefix: "main_test_" });
  try {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", new URL("../main.ts", import.meta.url).pathname],
      ...ownEnv({
        PORT: "0",
        HOSTNAME: "127.0.0.1",
        NO_COLOR: "1",
        KV_PATH: `${dir}/proxy.kv`,
        ...env,
      }),
      cwd: dir,
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(20_000),
    }).spawn();
    const [status, out, err] = await Promise.all([
      child.status,
      new Response(child.stdout).text(),
      new Response(child.stderr).text(),
    ]);
    return { code: status.code, out, err };
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

Deno.test({
  name:
    "a port in use, a bad HOSTNAME or a KV_PATH that cannot open stops the server with a message naming it, not a stack trace",
  sanitizeResources: false,
  async fn() {
    const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const busyPort = String((taken.addr as Deno.NetAddr).port);
    try {
      const cases: Array<[Record<string, string>, RegExp]> = [
        [{ PORT: busyPort }, new RegExp(`PORT: .*${busyPort}.*in use`)],
        [{ HOSTNAME: "not..valid" }, /HOSTNAME: .*not\.\.valid/],
        [{ HOSTNAME: "192.0.2.1" }, /HOSTNAME: .*192\.0\.2\.1/],
        [{ KV_PATH: Deno.cwd() }, /KV_PATH: .*cannot open/],
      ];
      for (const [env, expected] of cases) {
        const run = await runToExit(env);
        const what = JSON.stringify(env);
        assert.equal(run.code, 1, what);
        assert.match(run.err, expected, `${what}: ${run.err}`);
        assert.doesNotMatch(run.err, /Uncaught|^\s+at /m, `${what}: ${run.err}`);
      }
      const json = await runToExit({ PORT: busyPort, LOG_FORMAT: "json" });
      assert.equal(json.code, 1);
      const [line, ...rest] = jsonLines(json.err, "stderr");
      assert.deepEqual(rest, []);
      assert.equal(line.level, "error");
      assert.match(String((line.problems as string[])[0]), /^PORT: /);
    } finally {
      taken.close();
    }
  },
});

function hasIpv6Loopback(): boolean {
  try {
    Deno.listen({ hostname: "::1", port: 0 }).close();
    return true;
  } catch {
    return false;
  }
}

Deno.test({
  name: "an IPv6 HOSTNAME: the start-up lines give a URL that can be opened, with brackets",
  ignore: !hasIpv6Loopback(),
  sanitizeResources: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "main_test_" });
    const child = startMain(dir, { HOSTNAME: "::1", KV_PATH: `${dir}/proxy.kv` });
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    const watchdog = setTimeout(() => child.kill("SIGKILL"), 20_000);
    let out = "";
    try {
      while (!/listening on \S+/.test(out)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`server did not start: ${out}`);
        out += value;
      }
      const url = /listening on (\S+)/.exec(out)![1];
      assert.match(url, /^http:\/\/\[::1\]:\d+$/);
      const res = await fetch(`${url}/health`);
      assert.equal(res.status, 200);
      await res.body?.cancel();
    } finally {
      clearTimeout(watchdog);
      child.kill("SIGTERM");
      await child.status;
      await reader.cancel().catch(() => {});
      await child.stderr.cancel().catch(() => {});
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});

/** Where Deno keeps the default store of `Deno.openKv()` (per --location) on this machine. */
/**
 * Where Deno keeps the stores of a `--location`: a folder named by the SHA-256 of its origin, in
 * the folder `deno info` names (which, asked with `--location`, hashes the URL with its slash).
 */
async function originStorage(location: string): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), { args: ["info", "--json"] }).output();
  const root = JSON.parse(new TextDecoder().decode(out.stdout)).originStorage;
  const origin = new TextEncoder().encode(new URL(location).origin);
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", origin));
  return `${root}/${Array.from(hash, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

async function dirNames(path: string): Promise<Set<string>> {
  const names = new Set<string>();
  try {
    for await (const e of Deno.readDir(path)) names.add(e.name);
  } catch { /* not made yet */ }
  return names;
}

Deno.test({
  name:
    "on Deno Deploy (only net, env and read granted) the server starts, serves, writes no file, and a store it cannot open is named as Deploy's",
  sanitizeResources: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "main_test_deploy_" });
    // Its own location: Deno.openKv() without a path opens a store of its own for this test, in
    // a folder of its own (others' stores, another run's of this test among them, are not touched).
    const location = `http://deploy-test-${crypto.randomUUID()}.example/`;
    const storage = await originStorage(location);
    assert.equal(await exists(storage), false);
    const fake = await startFakeAnthropic();
    const deploy = () =>
      new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--allow-net",
          "--allow-env",
          "--allow-read",
          "--location",
          location,
          new URL("../main.ts", import.meta.url).pathname,
        ],
        ...ownEnv({
          DENO_DEPLOYMENT_ID: "test-deployment",
          PORT: "0",
          HOSTNAME: "127.0.0.1",
          NO_COLOR: "1",
          PROXY_ACCESS_KEY: ACCESS,
          ADMIN_PASSWORD: "deploy-admin-password",
          LOG_LEVEL: "",
        }),
        cwd: dir,
        stdout: "piped",
        stderr: "piped",
        signal: AbortSignal.timeout(20_000),
      }).spawn();
    try {
      const child = deploy();
      const stderr = new Response(child.stderr).text();
      const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let out = "";
      try {
        while (!/listening on (http:\S+)/.test(out)) {
          const { value, done } = await reader.read();
          if (done) throw new Error(`did not start: ${out}${await stderr}`);
          out += value;
        }
        const url = out.match(/listening on (http:\S+)/)![1];
        assert.match(out, /store: Deno Deploy KV/);
        const put = await fetch(`${url}/admin/api/config`, {
          method: "PUT",
          headers: {
            authorization: "Bearer deploy-admin-password",
            "content-type": "application/json",
          },
          body: JSON.stringify({
            upstream: [{
              name: "fake",
              baseUrl: fake.url,
              serviceType: "anthropic",
              apiKeys: [UPSTREAM_KEY],
            }],
          }),
        });
        assert.equal(put.status, 200, await put.text());
        for (const stream of [false, true]) {
          const asked = await fetch(`${url}/v1/messages`, {
            method: "POST",
            headers: { "x-api-key": ACCESS, "content-type": "application/json" },
            body: JSON.stringify({
              model: "claude-test",
              max_tokens: 5,
              stream,
              messages: [{ role: "user", content: "hi" }],
            }),
          });
          assert.equal(asked.status, 200, await asked.clone().text());
          await asked.text();
        }
        // Deploy stops an instance with SIGINT, and kills it 5 s later: a stream in flight is
        // ended with an error event within that time, not cut, and the instance exits by itself.
        fake.enqueue({ sse: anthropicStream("one two three four five six seven"), delayMs: 1_500 });
        const slow = await fetch(`${url}/v1/messages`, {
          method: "POST",
          headers: { "x-api-key": ACCESS, "content-type": "application/json" },
          body: JSON.stringify({
            model: "claude-test",
            max_tokens: 50,
            stream: true,
            messages: [{ role: "user", content: "hi" }],
          }),
        });
        const body = slow.body!.pipeThrough(new TextDecoderStream()).getReader();
        let text = (await body.read()).value ?? "";
        const signalled = Date.now();
        child.kill("SIGINT");
        while (true) {
          const { value, done } = await body.read();
          if (done) break;
          text += value;
        }
        assert.match(text, /event: error\ndata: .*The proxy is stopping/);
        assert.equal((await child.status).code, 0);
        assert.ok(Date.now() - signalled < 5_000, `stopped after ${Date.now() - signalled} ms`);
      } finally {
        try {
          child.kill("SIGTERM");
        } catch { /* it exited */ }
        await child.status;
        reader.releaseLock();
        await child.stdout.cancel().catch(() => {});
      }
      assert.doesNotMatch(await stderr, /NotCapable|Requires write access|Uncaught/);
      assert.deepEqual([...await dirNames(dir)], [], "nothing is written to the working directory");

      // A store Deploy cannot open (no KV database attached) is not blamed on KV_PATH, unused there.
      assert.ok(await exists(storage), `its store in ${storage}`);
      await Deno.remove(storage, { recursive: true });
      await Deno.writeTextFile(storage, "not a directory");
      const broken = await deploy().output();
      const err = new TextDecoder().decode(broken.stderr);
      assert.equal(broken.code, 1, err);
      assert.doesNotMatch(err, /KV_PATH|Uncaught/, err);
      assert.match(err, /Deno KV: cannot open the Deno Deploy store .*attach a KV database/, err);
    } finally {
      await fake.close();
      await Deno.remove(storage, { recursive: true }).catch(() => {});
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test("a .env that cannot be read (a directory) stops the server with one line naming it, not a stack trace", async () => {
  const dir = await Deno.makeTempDir({ prefix: "main_test_" });
  await Deno.mkdir(`${dir}/.env`);
  const child = startMain(dir, {});
  const [status, out, err] = await Promise.all([
    child.status,
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
  ]);
  await Deno.remove(dir, { recursive: true });
  assert.equal(status.code, 1);
  assert.equal(out, "");
  assert.match(err, /\.env: cannot read it/);
  assert.doesNotMatch(err, /Uncaught|\n\s+at /);
});

Deno.test({
  name: "SIGTERM lets a stream in flight finish, refuses new connections, then exits 0",
  sanitizeResources: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "main_test_" });
    const kvPath = `${dir}/proxy.kv`;
    const fake = await startFakeAnthropic();
    const kv = await Deno.openKv(kvPath);
    const store = await ConfigStore.open(kv, "failover", { watch: false });
    await store.replace({
      upstream: [{
        name: "fake",
        baseUrl: fake.url,
        serviceType: "anthropic",
        apiKeys: [UPSTREAM_KEY],
      }],
    });
    store.close();
    kv.close();
    // An answer of a few events, 300 ms apart: still streaming when the signal comes.
    fake.enqueue({ sse: anthropicStream("one two three four five"), delayMs: 300 });
    const child = startMain(dir, { KV_PATH: kvPath, PROXY_ACCESS_KEY: ACCESS });
    const stderr = new Response(child.stderr).text();
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let out = "";
    const watchdog = setTimeout(() => child.kill("SIGKILL"), 30_000);
    try {
      while (!/listening on (http:\/\/\S+)/.test(out)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`never listened: ${out}${await stderr}`);
        out += value;
      }
      const url = out.match(/listening on (http:\/\/\S+)/)![1];
      const res = await fetch(`${url}/v1/messages`, {
        method: "POST",
        headers: { "x-api-key": ACCESS, "content-type": "application/json" },
        body: JSON.stringify({
          model: "claude-test",
          max_tokens: 50,
          stream: true,
          messages: [{ role: "user", content: "hi" }],
        }),
      });
      assert.equal(res.status, 200);
      const body = res.body!.pipeThrough(new TextDecoderStream()).getReader();
      let text = (await body.read()).value ?? "";
      child.kill("SIGTERM");
      await new Promise((r) => setTimeout(r, 200));
      // Stopping: a new connection is not served.
      await assert.rejects(fetch(`${url}/health`, { headers: { connection: "close" } }));
      while (true) {
        const { value, done } = await body.read();
        if (done) break;
        text += value;
      }
      assert.match(text, /event: message_stop/, "the stream in flight ran to its end");
      assert.equal((await child.status).code, 0);
    } finally {
      clearTimeout(watchdog);
      try {
        child.kill("SIGKILL");
      } catch { /* exited */ }
      await child.status;
      await fake.close();
    }
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test({
  name: "SIGTERM: a stream still being sent when the grace ends gets an error event, not a cut",
  sanitizeResources: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "main_test_" });
    const kvPath = `${dir}/proxy.kv`;
    const fake = await startFakeAnthropic();
    const kv = await Deno.openKv(kvPath);
    const store = await ConfigStore.open(kv, "failover", { watch: false });
    await store.replace({
      upstream: [{
        name: "fake",
        baseUrl: fake.url,
        serviceType: "anthropic",
        apiKeys: [UPSTREAM_KEY],
      }],
    });
    store.close();
    kv.close();
    // Events 2 s apart: still streaming when the 8 s of grace are over.
    fake.enqueue({ sse: anthropicStream("one two three four five six seven"), delayMs: 2_000 });
    const child = startMain(dir, { KV_PATH: kvPath, PROXY_ACCESS_KEY: ACCESS });
    const stderr = new Response(child.stderr).text();
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let out = "";
    const watchdog = setTimeout(() => child.kill("SIGKILL"), 30_000);
    try {
      while (!/listening on (http:\/\/\S+)/.test(out)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`never listened: ${out}${await stderr}`);
        out += value;
      }
      const url = out.match(/listening on (http:\/\/\S+)/)![1];
      const res = await fetch(`${url}/v1/messages`, {
        method: "POST",
        headers: { "x-api-key": ACCESS, "content-type": "application/json" },
        body: JSON.stringify({
          model: "claude-test",
          max_tokens: 50,
          stream: true,
          messages: [{ role: "user", content: "hi" }],
        }),
      });
      assert.equal(res.status, 200);
      const body = res.body!.pipeThrough(new TextDecoderStream()).getReader();
      let text = (await body.read()).value ?? "";
      child.kill("SIGTERM");
      while (true) {
        const { value, done } = await body.read();
        if (done) break;
        text += value;
      }
      assert.doesNotMatch(text, /event: message_stop/);
      assert.match(
        text,
        /event: error\ndata: \{"type":"error","error":\{"details":null,"type":"overloaded_error","message":"The proxy is stopping/,
      );
      assert.equal((await child.status).code, 0);
      assert.match(await stderr + out, /ending the streams still being sent/);
    } finally {
      clearTimeout(watchdog);
      try {
        child.kill("SIGKILL");
      } catch { /* exited */ }
      await child.status;
      await fake.close();
    }
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test({
  name:
    "SIGTERM: a stream opened while its upstream had not answered gets an error event when the grace ends",
  sanitizeResources: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "main_test_" });
    const kvPath = `${dir}/proxy.kv`;
    const fake = await startFakeAnthropic();
    const kv = await Deno.openKv(kvPath);
    const store = await ConfigStore.open(kv, "failover", { watch: false });
    await store.replace({
      upstream: [{
        name: "fake",
        baseUrl: fake.url,
        serviceType: "anthropic",
        apiKeys: [UPSTREAM_KEY],
      }],
    });
    store.close();
    kv.close();
    // An upstream that never answers: the stream opens with keepalives, and waits.
    fake.enqueue({ hang: true });
    const child = startMain(dir, {
      KV_PATH: kvPath,
      PROXY_ACCESS_KEY: ACCESS,
      STREAM_PING_INTERVAL: "200",
    });
    const stderr = new Response(child.stderr).text();
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let out = "";
    const watchdog = setTimeout(() => child.kill("SIGKILL"), 30_000);
    try {
      while (!/listening on (http:\/\/\S+)/.test(out)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`never listened: ${out}${await stderr}`);
        out += value;
      }
      const url = out.match(/listening on (http:\/\/\S+)/)![1];
      const res = await fetch(`${url}/v1/messages`, {
        method: "POST",
        headers: { "x-api-key": ACCESS, "content-type": "application/json" },
        body: JSON.stringify({
          model: "claude-test",
          max_tokens: 50,
          stream: true,
          messages: [{ role: "user", content: "hi" }],
        }),
      });
      assert.equal(res.status, 200);
      const body = res.body!.pipeThrough(new TextDecoderStream()).getReader();
      let text = (await body.read()).value ?? "";
      child.kill("SIGTERM");
      while (true) {
        const { value, done } = await body.read();
        if (done) break;
        text += value;
      }
      assert.doesNotMatch(text, /event: message_stop/);
      assert.match(
        text,
        /event: error\ndata: \{"type":"error","error":\{"details":null,"type":"overloaded_error","message":"The proxy is stopping/,
      );
      assert.equal((await child.status).code, 0);
      assert.match(await stderr + out, /ending the streams still being sent/);
    } finally {
      clearTimeout(watchdog);
      try {
        child.kill("SIGKILL");
      } catch { /* exited */ }
      await child.status;
      await fake.close();
    }
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test({
  name:
    "SIGTERM: requests whose upstream has not answered when the grace ends get 529 (streamed or not), not a cut connection",
  sanitizeResources: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "main_test_" });
    const kvPath = `${dir}/proxy.kv`;
    const fake = await startFakeAnthropic();
    const kv = await Deno.openKv(kvPath);
    const store = await ConfigStore.open(kv, "failover", { watch: false });
    await store.replace({
      upstream: [{
        name: "fake",
        baseUrl: fake.url,
        serviceType: "anthropic",
        apiKeys: [UPSTREAM_KEY],
      }],
    });
    store.close();
    kv.close();
    fake.enqueue({ hang: true }, { hang: true });
    // The default ping interval (15 s): the stream has not opened by the grace's end (8 s).
    const child = startMain(dir, {
      KV_PATH: kvPath,
      PROXY_ACCESS_KEY: ACCESS,
      REQUEST_TIMEOUT: "30000",
    });
    const stderr = new Response(child.stderr).text();
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let out = "";
    const watchdog = setTimeout(() => child.kill("SIGKILL"), 30_000);
    try {
      while (!/listening on (http:\/\/\S+)/.test(out)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`never listened: ${out}${await stderr}`);
        out += value;
      }
      const url = out.match(/listening on (http:\/\/\S+)/)![1];
      const ask = (stream: boolean) =>
        fetch(`${url}/v1/messages`, {
          method: "POST",
          headers: { "x-api-key": ACCESS, "content-type": "application/json" },
          body: JSON.stringify({
            model: "claude-test",
            max_tokens: 50,
            stream,
            messages: [{ role: "user", content: "hi" }],
          }),
        });
      const answers = [ask(false), ask(true)];
      while (fake.requests.length < 2) await new Promise((r) => setTimeout(r, 20));
      const signalled = Date.now();
      child.kill("SIGTERM");
      for (const res of await Promise.all(answers)) {
        assert.equal(res.status, 529);
        const body = await res.json();
        assert.equal(body.error.type, "overloaded_error");
        assert.match(body.error.message, /The proxy is stopping/);
      }
      assert.ok(Date.now() - signalled < 12_000, `${Date.now() - signalled} ms`);
      assert.equal((await child.status).code, 0);
    } finally {
      clearTimeout(watchdog);
      try {
        child.kill("SIGKILL");
      } catch { /* exited */ }
      await child.status;
      await fake.close();
    }
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test({
  name: "a client that stops reading a stream is cut off without a stack trace in the output",
  sanitizeResources: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "main_test_" });
    const kvPath = `${dir}/proxy.kv`;
    const fake = await startFakeAnthropic();
    const kv = await Deno.openKv(kvPath);
    const store = await ConfigStore.open(kv, "failover", { watch: false });
    await store.replace({
      upstream: [{
        name: "fake",
        baseUrl: fake.url,
        serviceType: "anthropic",
        apiKeys: [UPSTREAM_KEY],
      }],
    });
    store.close();
    kv.close();
    // 4 MB of answer: more than the sockets between hold, so the proxy sees the client stall.
    const frames = anthropicStream("x");
    const delta = `event: content_block_delta\ndata: ${
      JSON.stringify({
        type: "content_block_delta",
        index: 0,
        delta: { type: "text_delta", text: "y".repeat(16 * 1024) },
      })
    }\n\n`;
    fake.enqueue({ sse: [...frames.slice(0, 3), ...Array(256).fill(delta), ...frames.slice(3)] });
    const child = startMain(dir, {
      KV_PATH: kvPath,
      PROXY_ACCESS_KEY: ACCESS,
      LOG_FORMAT: "json",
      REQUEST_TIMEOUT: "1000",
    });
    const stderr = new Response(child.stderr).text();
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let out = "";
    let reading: Promise<ReadableStreamReadResult<string>> | undefined;
    const watchdog = setTimeout(() => child.kill("SIGKILL"), 30_000);
    try {
      while (!/"url":"(http:[^"]+)"/.test(out)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`never listened: ${out}${await stderr}`);
        out += value;
      }
      const url = out.match(/"url":"(http:[^"]+)"/)![1];
      const res = await fetch(`${url}/v1/messages`, {
        method: "POST",
        headers: { "x-api-key": ACCESS, "content-type": "application/json" },
        body: JSON.stringify({
          model: "claude-test",
          max_tokens: 50,
          stream: true,
          messages: [{ role: "user", content: "hi" }],
        }),
      });
      assert.equal(res.status, 200);
      // Not read for twice REQUEST_TIMEOUT (from its last write, once the sockets' buffers are
      // full): the proxy gives up on this client and says so, however slow the machine.
      const deadline = Date.now() + 20_000;
      reading = reader.read();
      while (!/stopped reading/.test(out) && Date.now() < deadline) {
        const tick = new Promise<"tick">((r) => setTimeout(() => r("tick"), 500));
        const read = await Promise.race([reading, tick]);
        if (read === "tick") continue;
        if (read.done) break;
        out += read.value;
        reading = reader.read();
      }
      await res.body?.cancel().catch(() => {});
    } finally {
      clearTimeout(watchdog);
      child.kill("SIGTERM");
      await child.status;
      await fake.close();
    }
    for (let r = await (reading ?? reader.read()); !r.done; r = await reader.read()) {
      out += r.value;
    }
    const err = await stderr;
    assert.doesNotMatch(err, /\n\s+at /, "no stack trace");
    const lines = [...jsonLines(out, "stdout"), ...jsonLines(err, "stderr")];
    assert.ok(
      lines.some((l) => /stopped reading/.test(JSON.stringify(l))),
      "the cut is recorded in the log",
    );
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test({
  name: "HTTP_PROXY written in .env carries the upstream calls, as in the real environment",
  sanitizeResources: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "main_test_" });
    const kvPath = `${dir}/proxy.kv`;
    // The egress proxy: asked for the upstream's absolute URL, it answers as the upstream would.
    const asked: string[] = [];
    const egress = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
      asked.push(req.url);
      await req.body?.cancel();
      return Response.json({
        id: "chatcmpl-1",
        object: "chat.completion",
        created: 1,
        model: "gpt-test",
        choices: [{
          index: 0,
          message: { role: "assistant", content: "via the egress proxy" },
          finish_reason: "stop",
        }],
        usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 },
      });
    });
    const kv = await Deno.openKv(kvPath);
    const store = await ConfigStore.open(kv, "failover", { watch: false });
    await store.replace({
      upstream: [{
        name: "remote",
        // Nothing listens here: only the proxy can answer.
        baseUrl: "http://upstream.invalid",
        serviceType: "openai",
        apiKeys: [UPSTREAM_KEY],
      }],
    });
    store.close();
    kv.close();
    await Deno.writeTextFile(
      `${dir}/.env`,
      `HTTP_PROXY=http://127.0.0.1:${egress.addr.port}\nPROXY_ACCESS_KEY=${ACCESS}\n`,
    );
    const child = startMain(dir, { KV_PATH: kvPath });
    const stderr = new Response(child.stderr).text();
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let out = "";
    const watchdog = setTimeout(() => child.kill("SIGKILL"), 30_000);
    try {
      while (!/listening on (http:\/\/\S+)/.test(out)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`never listened: ${out}${await stderr}`);
        out += value;
      }
      const url = out.match(/listening on (http:\/\/\S+)/)![1];
      const res = await fetch(`${url}/v1/messages`, {
        method: "POST",
        headers: { "x-api-key": ACCESS, "content-type": "application/json" },
        body: JSON.stringify({
          model: "claude-test",
          max_tokens: 50,
          messages: [{ role: "user", content: "hi" }],
        }),
      });
      const body = await res.json();
      assert.equal(res.status, 200, JSON.stringify(body));
      assert.equal(body.content[0].text, "via the egress proxy");
      assert.deepEqual(asked, ["http://upstream.invalid/v1/chat/completions"]);
    } finally {
      clearTimeout(watchdog);
      child.kill("SIGTERM");
      await child.status;
      await egress.shutdown();
    }
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test({
  name: "deno task dev ends on SIGTERM, as deno task start does (its file watcher with it)",
  sanitizeResources: false,
  async fn() {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["task", "dev"],
      ...ownEnv({ PORT: "0", HOSTNAME: "127.0.0.1", KV_PATH: ":memory:", NO_COLOR: "1" }),
      cwd: new URL("../", import.meta.url).pathname,
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let out = "";
    const watchdog = setTimeout(() => child.kill("SIGKILL"), 30_000);
    try {
      while (!/next: .*\n/.test(out)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`never listened: ${out}`);
        out += value;
      }
      assert.match(out, /listening on http/);
      // An empty store and no admin password: the hint says how to add an upstream all the same.
      assert.match(
        out,
        /next: add an upstream on the admin pages \(once ADMIN_PASSWORD is set\), or: deno task config add <name> <baseUrl> <openai\|gemini\|anthropic\|custom>/,
      );
      // Settled in, as a server is when a supervisor stops it (the watcher's first moments differ).
      await new Promise((r) => setTimeout(r, 2_000));
      child.kill("SIGTERM");
      const ended = await Promise.race([
        child.status.then(() => true),
        new Promise<false>((r) => setTimeout(() => r(false), 5_000)),
      ]);
      assert.ok(ended, "still running 5 s after SIGTERM");
    } finally {
      clearTimeout(watchdog);
      try {
        child.kill("SIGKILL");
      } catch { /* ended */ }
      await child.status;
      await reader.cancel().catch(() => {});
    }
  },
});
