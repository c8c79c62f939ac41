import Anthropic from "@anthropic-ai/sdk";
import assert from "node:assert/strict";
import { startFakeOpenAI } from "../fakes/openai_upstream.ts";
import { ACCESS_KEY, startTestServer } from "../helpers/server.ts";
import { createLogger, type Level, type StartupLine } from "../../lib/log.ts";

const STARTUP: StartupLine[] = [
  {
    level: "info",
    message: "Claude API proxy listening on http://localhost:3000",
    fields: { url: "http://localhost:3000" },
  },
  { level: "info", message: "store: ./data/proxy.kv" },
  { level: "warn", message: "ADMIN_PASSWORD is not set: the admin pages at /admin are disabled" },
];

function capture(format: "text" | "json", logLevel: Level = "error") {
  const lines: Array<[string, Level]> = [];
  const log = createLogger(
    { logFormat: format, logLevel },
    (line, level) => lines.push([line, level]),
  );
  return { log, lines };
}

Deno.test("log: start-up lines in text are one indented block, shown at any LOG_LEVEL", () => {
  const { log, lines } = capture("text");
  log.log("info", "hidden below error");
  log.announce(STARTUP);
  assert.deepEqual(lines, [[
    [
      "Claude API proxy listening on http://localhost:3000",
      "  store: ./data/proxy.kv",
      "  !! ADMIN_PASSWORD is not set: the admin pages at /admin are disabled",
    ].join("\n"),
    "info",
  ]]);
});

Deno.test("log: start-up lines in JSON are one object per line, with their level and fields", () => {
  const { log, lines } = capture("json");
  log.addSecret("./data/proxy.kv");
  log.announce(STARTUP);
  assert.equal(lines.length, 3);
  const parsed = lines.map(([line]) => JSON.parse(line));
  assert.deepEqual(parsed.map((p) => [p.level, p.msg]), [
    ["info", "Claude API proxy listening on http://localhost:3000"],
    ["info", "store: [REDACTED]"],
    ["warn", "ADMIN_PASSWORD is not set: the admin pages at /admin are disabled"],
  ]);
  assert.equal(parsed[0].url, "http://localhost:3000");
  assert.ok(parsed.every((p) => !Number.isNaN(Date.parse(p.time))));
  assert.deepEqual(lines.map(([, level]) => level), ["info", "info", "warn"]);
});

Deno.test("log: control characters a client sent (terminal escapes) are written escaped", () => {
  // A requested model name reaches the request's log line as the client wrote it.
  const model = "claude\x1b[2J\x1b]0;owned\x07\x9b31m\x7f";
  for (const format of ["text", "json"] as const) {
    const { log, lines } = capture(format, "info");
    log.log("info", "/v1/messages 200", { model });
    const [line] = lines[0];
    assert.doesNotMatch(line, /\p{Cc}/u, `${format}: ${JSON.stringify(line)}`);
    if (format === "json") assert.equal(JSON.parse(line).model, model);
    else assert.equal(JSON.parse(line.slice(line.indexOf("model=") + 6)), model);
  }
});

Deno.test("log: a message holding a line break, an escape or a direction character is one quoted line, never a forged second one", () => {
  const { log, lines } = capture("text", "info");
  log.log("warn", "/v1/x\n2026-11-27T00:00:00.000Z ERROR forged\u202eabc\x1b[31m", { status: 401 });
  const [line] = lines[0];
  assert.ok(!["\n", "\u202e", "\x1b"].some((c) => line.includes(c)), line);
  assert.match(line, /WARN {2}"\/v1\/x\\n2026/);
  // The proxy's own words stay as they are.
  log.log("info", "configuration replaced through the admin API", {});
  assert.match(lines[1][0], / INFO {2}configuration replaced through the admin API$/);
});

Deno.test("log: invisible and direction characters, quotes and = in a value are written quoted and escaped", () => {
  const values = ["abc\u202egnp.exe\u200b", '"', "==HYPERLINK(x)", 'a"b', "one\u2028two"];
  for (const format of ["text", "json"] as const) {
    const { log, lines } = capture(format, "info");
    for (const model of values) log.log("info", "/v1/messages 400", { model, status: 400 });
    for (const [i, [line]] of lines.entries()) {
      assert.doesNotMatch(line, /[\p{Cf}\u2028\u2029]/u, `${format}: ${JSON.stringify(line)}`);
      if (format === "json") assert.equal(JSON.parse(line).model, values[i]);
      else {
        // logfmt: the value is one quoted string, and the field after it is read as written.
        const m = /model=("(?:[^"\\]|\\.)*") status=400$/.exec(line);
        assert.ok(m, line);
        assert.equal(JSON.parse(m[1]), values[i]);
      }
    }
  }
});

Deno.test("log: lines batched to stdout all come out, in order, before a warning and at exit", async () => {
  const script = `
    import { createLogger } from ${
    JSON.stringify(new URL("../../lib/log.ts", import.meta.url).href)
  };
    const log = createLogger({ logFormat: "text", logLevel: "info" });
    for (let i = 0; i < 3000; i++) log.log("info", "line", { n: i });
    log.log("warn", "after the first lines");
    log.log("info", "last", { n: 3000 });
    Deno.exit(0);
  `;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", script],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const lines = new TextDecoder().decode(out.stdout).trimEnd().split("\n");
  assert.equal(lines.length, 3001);
  lines.forEach((line, i) => assert.match(line, new RegExp(` n=${i}$`)));
  assert.match(new TextDecoder().decode(out.stderr), /WARN {2}after the first lines/);
});

Deno.test("log: a reader that stops reading holds nothing up; past 4 MB waiting, lines are dropped and counted", async () => {
  const script = `
    import { createLogger, drainLog } from ${
    JSON.stringify(new URL("../../lib/log.ts", import.meta.url).href)
  };
    const log = createLogger({ logFormat: "text", logLevel: "info" });
    let last = Date.now();
    let gap = 0;
    const tick = setInterval(() => {
      gap = Math.max(gap, Date.now() - last);
      last = Date.now();
    }, 10);
    const filler = "f".repeat(80);
    // In slices, as a server logs between requests, for longer than a stalled reader is waited
    // on: a stall of the process shows as a gap between ticks.
    const started = Date.now();
    let n = 0;
    while (n < 60000 || Date.now() - started < 1_500) {
      log.log("info", "line", { n: n++, filler });
      if (n % 500 === 0) await new Promise((r) => setTimeout(r, n < 60000 ? 0 : 20));
    }
    await drainLog(10_000);
    clearInterval(tick);
    log.log("warn", "done", { gap, total: n });
    await drainLog(10_000);
  `;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", script],
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(30_000),
  }).spawn();
  const stderr = new Response(child.stderr).text();
  // Nobody reads its output for two seconds: the pipe fills, then its queue.
  await new Promise((r) => setTimeout(r, 2_000));
  const stdout = await new Response(child.stdout).text();
  assert.equal((await child.status).code, 0);
  const err = await stderr;
  const dropped = Number(
    err.match(/log lines were dropped: the output was not read in time dropped=(\d+)/)?.[1],
  );
  assert.ok(dropped > 0, err);
  const lines = stdout.trimEnd().split("\n");
  const total = Number(err.match(/done gap=\d+ total=(\d+)/)?.[1]);
  assert.equal(lines.length + dropped, total);
  // Those kept are the first, in order (those dropped came once the queue was full).
  lines.forEach((line, i) => assert.match(line, new RegExp(` n=${i} `)));
  const gap = Number(err.match(/done gap=(\d+)/)?.[1]);
  // Blocking writes would hold it until the reader came back, two seconds on.
  assert.ok(gap < 1_000, `the process stood still for ${gap} ms`);
});

Deno.test("log: lines that come while a reader slowly takes a batch of many MB are all written", async () => {
  const script = `
    import { createLogger, drainLog } from ${
    JSON.stringify(new URL("../../lib/log.ts", import.meta.url).href)
  };
    const log = createLogger({ logFormat: "text", logLevel: "info" });
    const body = "b".repeat(76 * 1024);
    const pause = (ms) => new Promise((r) => setTimeout(r, ms));
    // Request bodies, as the request log's flush writes each second's: 1.5 MB, then 4 MB more
    // while those are being written, then a few lines more than a second on.
    for (let i = 0; i < 20; i++) log.log("info", "request body", { n: i, body });
    await pause(100);
    for (let i = 20; i < 75; i++) log.log("info", "request body", { n: i, body });
    await pause(1_100);
    for (let i = 75; i < 85; i++) log.log("info", "line", { n: i });
    await drainLog(30_000);
  `;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", script],
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(40_000),
  }).spawn();
  // A reader taking about 1 MB/s (a log shipper), never stopping.
  const read = (async () => {
    let text = "";
    const decoder = new TextDecoder();
    for await (const chunk of child.stdout) {
      text += decoder.decode(chunk, { stream: true });
      await new Promise((r) => setTimeout(r, Math.ceil(chunk.length / 1024)));
    }
    return text;
  })();
  const [status, out, err] = await Promise.all([
    child.status,
    read,
    new Response(child.stderr).text(),
  ]);
  assert.equal(status.code, 0);
  assert.doesNotMatch(err, /dropped/);
  const lines = out.trimEnd().split("\n");
  assert.equal(lines.length, 85);
  lines.forEach((line, i) => assert.match(line, new RegExp(` n=${i}\\b`)));
});

Deno.test("log: text lines keep their shape: time, level, message, fields", () => {
  const { log, lines } = capture("text", "debug");
  log.log("info", "/v1/messages 200", {
    stream: true,
    model: "claude x",
    in: 12,
    skipped: undefined,
    fallbacks: null,
  });
  assert.match(
    lines[0][0],
    /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z INFO {2}\/v1\/messages 200 stream=true model="claude x" in=12 fallbacks=null$/,
  );
  assert.ok(Math.abs(Date.parse(lines[0][0].slice(0, 24)) - Date.now()) < 5_000);
});

Deno.test("log: a configuration with thousands of keys is learned quickly, every key still masked", () => {
  // Every instance learns every upstream key at start: on Deno Deploy that is every cold start.
  const { log, lines } = capture("text", "info");
  const keys = Array.from({ length: 2000 }, (_, i) => `sk-ant-api03-${i}-${"x".repeat(80)}`);
  const started = performance.now();
  for (const key of keys) log.addSecret(key);
  log.log("info", "first line", { a: keys[0], b: keys[1999], c: keys[1000] });
  const ms = performance.now() - started;
  assert.ok(ms < 1000, `learning 2000 keys and writing a line took ${Math.round(ms)} ms`);
  assert.equal(lines[0][0].includes("sk-ant"), false, lines[0][0]);
  assert.equal(lines[0][0].match(/\[REDACTED\]/g)?.length, 3);
  // A key added after lines were written is masked from then on.
  log.addSecret("sk-added-later-1234");
  log.log("info", "later", { k: "sk-added-later-1234" });
  assert.equal(lines[1][0].includes("sk-added-later"), false, lines[1][0]);
});

Deno.test("log: keys replaced again and again: each change is learned quickly, a key just removed stays masked", () => {
  const { log, lines } = capture("text", "info");
  let previous: string[] = [];
  const times: number[] = [];
  for (let round = 0; round < 6; round++) {
    const keys = Array.from({ length: 20_000 }, () => `sk-proj-${crypto.randomUUID()}`);
    const started = performance.now();
    log.setKeys(keys);
    log.log("info", "line", { now: keys[7], before: previous[7] ?? "" });
    times.push(performance.now() - started);
    assert.ok(!lines.at(-1)![0].includes("sk-proj-"), lines.at(-1)![0]);
    previous = keys;
  }
  // Every key ever configured kept in one pattern made each change slower than the last (2.4 to
  // 3.5 s by the sixth). Compared with the first changes, not with a clock, and each side by the
  // quicker of two, so that a machine busy with other work does not make it fail.
  const early = Math.min(times[0], times[1]);
  const late = Math.min(times[4], times[5]);
  assert.ok(late < 4 * early + 300, times.map((ms) => Math.round(ms)).join(", "));
});

Deno.test('log: an upstream key or URL password shorter than 8 (a stand-in, "pass") is not cut out of words', () => {
  const { log, lines } = capture("text", "info");
  log.setKeys(["ollama", "pass", "sk-real-key-0123456789"]);
  log.log("info", "admin API: wrong password", { host: "ollama:11434" });
  assert.match(lines.at(-1)![0], /wrong password/);
  assert.match(lines.at(-1)![0], /ollama:11434/);
  log.log("info", "line", { key: "sk-real-key-0123456789" });
  assert.doesNotMatch(lines.at(-1)![0], /sk-real-key/);
});

Deno.test("log: a secret too long for one pattern (a file pasted as a key) is masked, and logging goes on", () => {
  const { log, lines } = capture("text", "info");
  const long = `sk-${"z".repeat(70_000)}`;
  log.addSecret("sk-short-secret-1234");
  log.addSecret(long);
  log.log("info", "line", { a: long, b: "sk-short-secret-1234" });
  assert.equal(lines.length, 1);
  assert.equal(lines[0][0].includes("zzzz"), false, lines[0][0].slice(0, 200));
  assert.equal(lines[0][0].match(/\[REDACTED\]/g)?.length, 2);
  assert.equal(log.redact(`x ${long} y`), "x [REDACTED] y");
});

Deno.test("log: with LOG_FORMAT=json every line is JSON even when a secret reads as JSON ('true', '1234')", async () => {
  const fake = await startFakeOpenAI();
  // Local servers take any key; short ones like these are common there.
  const keys = ["true", "1234"];
  const server = await startTestServer({
    env: { LOG_FORMAT: "json" },
    config: {
      upstream: [{ name: "local", baseUrl: fake.url, serviceType: "custom", apiKeys: keys }],
      loadBalance: "round-robin",
    },
  });
  try {
    const client = new Anthropic({ apiKey: ACCESS_KEY, baseURL: server.url, maxRetries: 0 });
    const body = {
      model: "m",
      max_tokens: 64,
      messages: [{ role: "user" as const, content: "hi" }],
    };
    await client.messages.create(body);
    await client.messages.stream(body).finalMessage();
    await server.services.observability.flush();
    const lines = server.logs.filter((l) => l.includes("/v1/messages"));
    assert.equal(lines.length, 2);
    for (const line of server.logs) {
      const parsed = JSON.parse(line);
      assert.equal(typeof parsed.msg, "string", line);
    }
    assert.deepEqual(lines.map((l) => JSON.parse(l).stream), [false, true]);
  } finally {
    await server.close();
    await fake.close();
  }
});
