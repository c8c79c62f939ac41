// `deno task bench`: the proxy in front of a local fake upstream that answers at once, beside the
// same load sent straight to that fake, in one run. The proxy and the fake each run as their own
// process; this process is the load generator. It prints a Markdown table and exits non-zero only
// when the proxy answered with an error or a malformed stream, never because of timing.
//
//   BENCH_SECONDS=5        seconds per measured scenario (default 5; CI uses 1)
//   BENCH_CPU_PROF=<dir>   run the proxy with --cpu-prof, writing its profiles to <dir>
//   BENCH_ONLY=<regex>     run only the rows whose "<scenario>, <clients> clients" matches
//   BENCH_PROXY_FLAGS="…"  `deno run` flags for the proxy instead of those of `deno task start`

import { ConfigStore } from "../../lib/store/config_store.ts";
import { providerKinds } from "../../lib/providers/registry.ts";
import { EVENT_PER_WRITE, STREAM_CHUNKS } from "./fake_upstream.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
/**
 * The captured Claude Code request: in the shared folder beside the repository, as the tests find
 * it, or at the build machine's; without it the Claude Code rows are left out, with a note.
 */
const FIXTURE = [
  new URL("../../../shared/fixtures/claude-code/claude-code-main-request.json", import.meta.url)
    .pathname,
  "/work/shared/fixtures/claude-code/claude-code-main-request.json",
].find((path) => {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
});
const ACCESS_KEY = "bench-key";
const SECONDS = Number(Deno.env.get("BENCH_SECONDS") ?? "5");
if (!(SECONDS > 0)) {
  console.error("BENCH_SECONDS must be a positive number");
  Deno.exit(2);
}
const ONLY = Deno.env.get("BENCH_ONLY") ? new RegExp(Deno.env.get("BENCH_ONLY")!, "i") : null;
const WARMUP_SECONDS = Math.min(0.5, SECONDS / 2);
/** After a scenario, time for the proxy's deferred work (request log batches) to land in it. */
const SETTLE_MS = 300;

const TARGET = {
  cpuStreamMs: 0.75,
  cpuSmallMs: 0.15,
  cpuLargeMs: 0.6,
  addedTtfbMs: 0.5,
  peakStreamMb: 128,
};

// ---------------------------------------------------------------------------------------------
// Processes

interface Child {
  name: string;
  process: Deno.ChildProcess;
  pid: number;
  url: string;
  /** The last lines it wrote, for a report when it fails. */
  tail: string[];
}

const children = new Set<Child>();
let tempDir: string | undefined;

async function drain(stream: ReadableStream<Uint8Array>, onLine: (line: string) => void) {
  let buffer = "";
  try {
    for await (const text of stream.pipeThrough(new TextDecoderStream())) {
      buffer += text;
      let nl: number;
      while ((nl = buffer.indexOf("\n")) !== -1) {
        onLine(buffer.slice(0, nl));
        buffer = buffer.slice(nl + 1);
      }
    }
  } catch { /* the process went away */ }
  if (buffer) onLine(buffer);
}

/** Starts a process and waits for its `listening on http://host:port` line. */
async function spawn(
  name: string,
  args: string[],
  env: Record<string, string>,
): Promise<Child> {
  const process = new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const tail: string[] = [];
  let resolveUrl!: (url: string) => void;
  const listening = new Promise<string>((resolve) => resolveUrl = resolve);
  const onLine = (line: string) => {
    tail.push(line);
    if (tail.length > 40) tail.shift();
    const m = line.match(/listening on (http:\/\/[^\s/]+)/);
    if (m) resolveUrl(m[1]);
  };
  drain(process.stdout, onLine);
  drain(process.stderr, onLine);
  const child: Child = { name, process, pid: process.pid, url: "", tail };
  children.add(child);
  const exited = process.status.then((s) => {
    throw new Error(`${name} exited (code ${s.code}) before listening:\n  ${tail.join("\n  ")}`);
  });
  const timeout = new Promise<never>((_, reject) => {
    const t = setTimeout(() => reject(new Error(`${name} did not start within 60 s`)), 60_000);
    Deno.unrefTimer(t);
  });
  child.url = await Promise.race([listening, exited, timeout]);
  exited.catch(() => {});
  return child;
}

async function stop(child: Child): Promise<void> {
  if (!children.delete(child)) return;
  try {
    child.process.kill("SIGTERM");
  } catch { /* already gone */ }
  const t = setTimeout(() => {
    try {
      child.process.kill("SIGKILL");
    } catch { /* already gone */ }
  }, 3_000);
  await child.process.status;
  clearTimeout(t);
}

async function cleanup(): Promise<void> {
  await Promise.all([...children].map(stop));
  if (tempDir) {
    await Deno.remove(tempDir, { recursive: true }).catch(() => {});
    tempDir = undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// /proc readings of the proxy process

const CLK_TCK = (() => {
  try {
    const out = new Deno.Command("getconf", { args: ["CLK_TCK"], stdout: "piped", stderr: "null" })
      .outputSync();
    const n = Number(new TextDecoder().decode(out.stdout).trim());
    return n > 0 ? n : 100;
  } catch {
    return 100;
  }
})();

/** User + system CPU time of the process (all its threads), in ms. */
function cpuMs(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  // Fields after the parenthesised command name start at field 3 (state).
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const utime = Number(fields[14 - 3]);
  const stime = Number(fields[15 - 3]);
  return (utime + stime) * 1000 / CLK_TCK;
}

function statusKb(pid: number, field: string): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const m = status.match(new RegExp(`^${field}:\\s+(\\d+) kB`, "m"));
  return m ? Number(m[1]) : NaN;
}

let peakResettable = true;

/** Resets the process's VmHWM to its current RSS, so the next reading is this scenario's peak. */
function resetPeak(pid: number): void {
  if (!peakResettable) return;
  try {
    Deno.writeTextFileSync(`/proc/${pid}/clear_refs`, "5");
  } catch {
    peakResettable = false;
  }
}

// ---------------------------------------------------------------------------------------------
// Requests

interface Target {
  url: string;
  headers: Record<string, string>;
  body: string;
  stream: boolean;
  /** Why the answer is wrong, or null. */
  check(text: string): string | null;
}

function checkAnthropicStream(text: string): string | null {
  const start = text.indexOf("event: message_start");
  if (start === -1) return "stream without message_start";
  if (text.includes("event: error")) {
    const at = text.indexOf("event: error");
    return `stream with an error event: ${text.slice(at, at + 300).replace(/\n/g, " ")}`;
  }
  const stop = text.indexOf("event: message_stop");
  if (stop === -1 || stop < start) return "stream without message_stop after message_start";
  return null;
}

function checkAnthropicJson(text: string): string | null {
  try {
    const json = JSON.parse(text);
    return json?.type === "message" ? null : `not a message: ${text.slice(0, 200)}`;
  } catch {
    return `not JSON: ${text.slice(0, 200)}`;
  }
}

function checkOpenAiStream(text: string): string | null {
  return text.includes("data: [DONE]") ? null : "stream without data: [DONE]";
}

function checkOpenAiJson(text: string): string | null {
  try {
    const json = JSON.parse(text);
    return json?.object === "chat.completion" ? null : `not a completion: ${text.slice(0, 200)}`;
  } catch {
    return `not JSON: ${text.slice(0, 200)}`;
  }
}

// deno-lint-ignore no-explicit-any
type Json = any;

/** A rough OpenAI rendering of an Anthropic request: same content, same size, for the baseline. */
function toOpenAi(body: Json): Json {
  const text = (content: Json): string =>
    typeof content === "string"
      ? content
      : (content as Json[]).map((b) => b.type === "text" ? b.text : JSON.stringify(b)).join("\n");
  const messages: Json[] = [];
  if (body.system) messages.push({ role: "system", content: text(body.system) });
  for (const m of body.messages) messages.push({ role: m.role, content: text(m.content) });
  const out: Json = {
    model: "gpt-bench",
    messages,
    max_completion_tokens: body.max_tokens,
    stream: body.stream === true,
  };
  if (body.stream === true) out.stream_options = { include_usage: true };
  if (body.tools) {
    out.tools = body.tools.map((t: Json) => ({
      type: "function",
      function: { name: t.name, description: t.description, parameters: t.input_schema },
    }));
  }
  return out;
}

function proxyTarget(proxyUrl: string, body: Json): Target {
  const stream = body.stream === true;
  return {
    url: `${proxyUrl}/v1/messages`,
    headers: {
      "content-type": "application/json",
      "x-api-key": ACCESS_KEY,
      "anthropic-version": "2023-06-01",
    },
    body: JSON.stringify(body),
    stream,
    check: stream ? checkAnthropicStream : checkAnthropicJson,
  };
}

function directTarget(fakeUrl: string, format: "openai" | "anthropic", body: Json): Target {
  const stream = body.stream === true;
  if (format === "anthropic") {
    return {
      url: `${fakeUrl}/v1/messages`,
      headers: {
        "content-type": "application/json",
        "x-api-key": "sk-bench-1",
        "anthropic-version": "2023-06-01",
      },
      body: JSON.stringify(body),
      stream,
      check: stream ? checkAnthropicStream : checkAnthropicJson,
    };
  }
  return {
    url: `${fakeUrl}/v1/chat/completions`,
    headers: { "content-type": "application/json", authorization: "Bearer sk-bench-1" },
    body: JSON.stringify(toOpenAi(body)),
    stream,
    check: stream ? checkOpenAiStream : checkOpenAiJson,
  };
}

// ---------------------------------------------------------------------------------------------
// Load

interface LoadResult {
  requests: number;
  errors: number;
  firstErrors: string[];
  seconds: number;
  /** ms from sending to the first body chunk, per successful request. */
  ttfb: number[];
  /** ms from sending to the end of the body. */
  total: number[];
}

async function once(target: Target, result: LoadResult): Promise<void> {
  const t0 = performance.now();
  let problem: string | null = null;
  let first = 0;
  try {
    const res = await fetch(target.url, {
      method: "POST",
      headers: target.headers,
      body: target.body,
    });
    const decoder = new TextDecoder();
    let text = "";
    if (res.body) {
      const reader = res.body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        if (first === 0) first = performance.now();
        text += decoder.decode(value, { stream: true });
      }
    }
    text += decoder.decode();
    if (res.status < 200 || res.status > 299) {
      problem = `HTTP ${res.status}: ${text.slice(0, 300)}`;
    } else {
      problem = target.check(text);
    }
  } catch (err) {
    problem = `fetch failed: ${err instanceof Error ? err.message : String(err)}`;
  }
  const t1 = performance.now();
  result.requests++;
  if (problem) {
    result.errors++;
    if (result.firstErrors.length < 5) result.firstErrors.push(problem);
    return;
  }
  result.ttfb.push((first || t1) - t0);
  result.total.push(t1 - t0);
}

/** `clients` workers, each sending one request after another until `seconds` have passed. */
async function load(target: Target, clients: number, seconds: number): Promise<LoadResult> {
  const result: LoadResult = {
    requests: 0,
    errors: 0,
    firstErrors: [],
    seconds: 0,
    ttfb: [],
    total: [],
  };
  const start = performance.now();
  const deadline = start + seconds * 1000;
  const worker = async () => {
    while (performance.now() < deadline) await once(target, result);
  };
  await Promise.all(Array.from({ length: clients }, worker));
  result.seconds = (performance.now() - start) / 1000;
  return result;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p / 100 * sorted.length) - 1));
  return sorted[i];
}

interface Measured {
  rps: number;
  /** Requests sent (and checked); rps is computed before warm-up failures are added. */
  requests: number;
  errors: number;
  firstErrors: string[];
  ttfbP50: number;
  ttfbP99: number;
  totalP50: number;
  totalP99: number;
  /** CPU time of the server process (the proxy, or the fake when direct) per request. */
  cpuMsPerRequest?: number;
  /** Proxy only. */
  peakMb?: number;
}

function summarise(r: LoadResult): Measured {
  const ttfb = r.ttfb.sort((a, b) => a - b);
  const total = r.total.sort((a, b) => a - b);
  return {
    rps: r.requests / r.seconds,
    requests: r.requests,
    errors: r.errors,
    firstErrors: r.firstErrors,
    ttfbP50: percentile(ttfb, 50),
    ttfbP99: percentile(ttfb, 99),
    totalP50: percentile(total, 50),
    totalP99: percentile(total, 99),
  };
}

async function measureDirect(fake: Child, target: Target, clients: number): Promise<Measured> {
  const cpuBefore = cpuMs(fake.pid);
  const result = await load(target, clients, SECONDS);
  const m = summarise(result);
  m.cpuMsPerRequest = (cpuMs(fake.pid) - cpuBefore) / Math.max(1, result.requests);
  return m;
}

/** A server in front of the fake (the proxy, or the bare passthrough): its CPU and peak. */
async function measureServer(server: Child, target: Target, clients: number): Promise<Measured> {
  resetPeak(server.pid);
  const cpuBefore = cpuMs(server.pid);
  const result = await load(target, clients, SECONDS);
  await new Promise((r) => setTimeout(r, SETTLE_MS));
  const cpuAfter = cpuMs(server.pid);
  const m = summarise(result);
  m.cpuMsPerRequest = (cpuAfter - cpuBefore) / Math.max(1, result.requests);
  m.peakMb = statusKb(server.pid, "VmHWM") / 1024;
  return m;
}

// ---------------------------------------------------------------------------------------------
// Scenarios

/** "event-per-write": the small stream, sent by the fake an event per write as real upstreams do. */
type Kind = "small" | "claude-code" | "event-per-write";

interface Row {
  label: string;
  upstream: "openai" | "anthropic";
  kind: Kind;
  stream: boolean;
  clients: number;
  proxy?: Measured;
  direct?: Measured;
  /** The same load as direct, through the bare passthrough. */
  bare?: Measured;
}

function smallBody(stream: boolean, content = "Say hello"): Json {
  const body: Json = {
    model: "claude-sonnet-4-5",
    max_tokens: 256,
    messages: [{ role: "user", content }],
  };
  if (stream) body.stream = true;
  return body;
}

async function claudeCodeBody(stream: boolean): Promise<Json> {
  if (!FIXTURE) throw new Error("no Claude Code capture");
  const raw = JSON.parse(await Deno.readTextFile(FIXTURE));
  // The capture is the request body itself; accept a wrapper `{ body: {...} }` too.
  const body = raw?.messages ? raw : raw?.body ?? raw?.request?.body ?? raw?.request;
  if (!body?.messages) throw new Error(`${FIXTURE}: no Messages request body found`);
  return { ...body, stream };
}

function rowsFor(upstream: "openai" | "anthropic"): Row[] {
  const rows: Row[] = [];
  const name = upstream === "openai" ? "" : " (passthrough)";
  if (upstream === "openai") {
    for (const stream of [false, true]) {
      for (const clients of [1, 8, 64]) {
        rows.push({
          label: `${stream ? `stream, ${STREAM_CHUNKS} chunks` : "non-streaming"}${name}`,
          upstream,
          kind: "small",
          stream,
          clients,
        });
      }
    }
    rows.push({
      label: `stream, ${STREAM_CHUNKS} chunks, ${EVENT_PER_WRITE}`,
      upstream,
      kind: "event-per-write",
      stream: true,
      clients: 8,
    });
    for (const stream of FIXTURE ? [false, true] : []) {
      rows.push({
        label: `Claude Code request, ${stream ? "stream" : "non-streaming"}${name}`,
        upstream,
        kind: "claude-code",
        stream,
        clients: 8,
      });
    }
  } else {
    for (const stream of [false, true]) {
      rows.push({
        label: `${stream ? `stream, ${STREAM_CHUNKS} chunks` : "non-streaming"}${name}`,
        upstream,
        kind: "small",
        stream,
        clients: 8,
      });
    }
  }
  return ONLY ? rows.filter((r) => ONLY.test(`${r.label}, ${r.clients} clients`)) : rows;
}

async function writeConfig(kvPath: string, fakeUrl: string, serviceType: string): Promise<void> {
  const kv = await Deno.openKv(kvPath);
  try {
    const store = await ConfigStore.open(kv, "failover", { watch: false });
    await store.replace({
      upstream: [{ name: "bench", baseUrl: fakeUrl, serviceType, apiKeys: ["sk-bench-1"] }],
      loadBalance: "round-robin",
    });
    store.close();
  } finally {
    kv.close();
  }
}

/** The `deno run` flags of `deno task start`, so the bench measures the server users run. */
async function startFlags(): Promise<string[]> {
  const override = Deno.env.get("BENCH_PROXY_FLAGS");
  if (override !== undefined) return override.split(/\s+/).filter(Boolean);
  const { tasks } = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`));
  const words = String(tasks.start).split(/\s+/);
  return words.slice(words.indexOf("run") + 1).filter((w) => w.startsWith("--"));
}

async function startProxy(kvPath: string): Promise<Child> {
  const profileDir = Deno.env.get("BENCH_CPU_PROF");
  const flags = await startFlags();
  const args = profileDir
    ? [
      "run",
      ...flags,
      "--cpu-prof",
      `--cpu-prof-dir=${profileDir}`,
      "tests/bench/profiled_main.ts",
    ]
    : ["run", ...flags, Deno.env.get("BENCH_PROXY_SCRIPT") ?? "main.ts"];
  return await spawn("proxy", args, {
    PORT: "0",
    HOSTNAME: "127.0.0.1",
    KV_PATH: kvPath,
    PROXY_ACCESS_KEY: ACCESS_KEY,
    // The default log level: a line per request, as the proxy runs out of the box.
    LOG_LEVEL: "info",
    MAX_CONCURRENT_REQUESTS: "1000",
    ENABLE_RATE_LIMIT: "false",
    ENABLE_REQUEST_LOGS: "false",
    ENABLE_RESPONSE_LOGS: "false",
  });
}

function progress(text: string): void {
  Deno.stderr.writeSync(new TextEncoder().encode(text));
}

async function runUpstream(
  upstream: "openai" | "anthropic",
  fake: Child,
  bare: Child,
): Promise<Row[]> {
  const rows = rowsFor(upstream);
  if (rows.length === 0) return rows;
  const kvPath = `${tempDir}/${upstream}.kv`;
  await writeConfig(kvPath, fake.url, upstream);
  const proxy = await startProxy(kvPath);
  progress(`proxy (${upstream} upstream) pid ${proxy.pid} at ${proxy.url}\n`);
  try {
    const bodies = new Map<string, Json>();
    const bodyOf = async (kind: Kind, stream: boolean) => {
      const key = `${kind}/${stream}`;
      if (!bodies.has(key)) {
        bodies.set(
          key,
          kind === "small"
            ? smallBody(stream)
            : kind === "event-per-write"
            ? smallBody(stream, `Say hello, ${EVENT_PER_WRITE}`)
            : await claudeCodeBody(stream),
        );
      }
      return bodies.get(key);
    };
    const warmed = new Set<string>();
    for (const row of rows) {
      const body = await bodyOf(row.kind, row.stream);
      const viaProxy = proxyTarget(proxy.url, body);
      const direct = directTarget(fake.url, upstream, body);
      const viaBare = { ...direct, url: direct.url.replace(fake.url, bare.url) };
      const key = `${row.kind}/${row.stream}`;
      if (!warmed.has(key)) {
        warmed.add(key);
        progress(`  warm-up ${row.label} ...\n`);
        await load(direct, 8, WARMUP_SECONDS);
        await load(viaBare, 8, WARMUP_SECONDS);
        const w = await load(viaProxy, 8, WARMUP_SECONDS);
        if (w.errors > 0) {
          row.proxy = summarise(w);
          progress(`  proxy errors during warm-up: ${w.firstErrors[0]}\n`);
        }
      }
      progress(`  ${row.label}, ${row.clients} client(s): direct`);
      row.direct = await measureDirect(fake, direct, row.clients);
      progress(` ${row.direct.rps.toFixed(0)}/s, proxy`);
      const measured = await measureServer(proxy, viaProxy, row.clients);
      if (row.proxy && row.proxy.errors > 0) {
        // Warm-up failures count too, with the warm-up's requests beside them.
        measured.errors += row.proxy.errors;
        measured.requests += row.proxy.requests;
        measured.firstErrors = [...row.proxy.firstErrors, ...measured.firstErrors].slice(0, 5);
      }
      row.proxy = measured;
      progress(
        ` ${measured.rps.toFixed(0)}/s, ${measured.cpuMsPerRequest!.toFixed(3)} ms CPU/req${
          measured.errors ? `, ${measured.errors} ERRORS` : ""
        }, bare passthrough`,
      );
      row.bare = await measureServer(bare, viaBare, row.clients);
      progress(` ${row.bare.cpuMsPerRequest!.toFixed(3)} ms CPU/req\n`);
    }
  } finally {
    await stop(proxy);
  }
  return rows;
}

// ---------------------------------------------------------------------------------------------
// Report

const ms = (n: number | undefined) =>
  n === undefined || Number.isNaN(n) ? "–" : n < 10 ? n.toFixed(2) : n.toFixed(1);
const pair = (a: number, b: number) => `${ms(a)} / ${ms(b)}`;

/** The row's CPU target; none for the event-per-write stream, which the targets do not name. */
function cpuTarget(row: Row): number | undefined {
  if (row.kind === "event-per-write") return undefined;
  if (row.kind === "claude-code") return TARGET.cpuLargeMs;
  return row.stream ? TARGET.cpuStreamMs : TARGET.cpuSmallMs;
}

function verdict(ok: boolean): string {
  return ok ? "ok" : "**MISS**";
}

function report(rows: Row[]): string {
  const out: string[] = [];
  out.push(
    `Proxy benchmark: ${SECONDS} s per scenario, fake upstream answering at once ` +
      `(streams: ${STREAM_CHUNKS} text chunks), load generated by the bench process with ` +
      `keep-alive fetch. Deno ${Deno.version.deno}, ${navigator.hardwareConcurrency} CPUs.`,
    "",
    "Columns: req/s through the proxy and sent straight to the fake upstream (direct), and their " +
      "ratio; latency p50 / p99 in ms, proxy and direct, to the first body chunk (TTFB, streams " +
      "only) and to the last byte; the proxy process's own CPU time (user + system, " +
      "`/proc/<pid>/stat`) per request served, with its target, and the fake upstream's own " +
      "CPU per request in the direct run (what a bare Deno.serve costs here, for scale); " +
      "the CPU per request and peak of a bare Deno byte passthrough (Deno.serve in front of " +
      "fetch, no translation) under the direct run's load, the floor for any Deno proxy on this " +
      "machine; the proxy's peak resident " +
      `memory (VmHWM${
        peakResettable
          ? ", reset before each scenario: the highest RSS reached during it"
          : " since it started"
      }). Small requests are "Say hello"; the Claude Code request is the captured ~85 KB body ` +
      "with 24 tools. Rows marked passthrough go to an Anthropic upstream; the others are " +
      "translated to OpenAI Chat Completions. The other streams come from the fake in one body; " +
      `the row "${EVENT_PER_WRITE}" gets the same events one write at a time, as a real upstream ` +
      "sends them, so the proxy reads and relays about an event at a time (not in the targets).",
    "",
  );
  out.push(
    "| Scenario | Clients | Proxy req/s | Direct req/s | Ratio | TTFB p50 / p99 proxy | " +
      "TTFB p50 / p99 direct | Total p50 / p99 proxy | Total p50 / p99 direct | " +
      "Proxy CPU ms/req (target) | Fake CPU ms/req, direct | Bare passthrough CPU ms/req (peak MB) | " +
      "Proxy peak MB | Proxy errors |",
    "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
  );
  for (const row of rows) {
    const p = row.proxy!, d = row.direct!, b = row.bare!;
    const cpu = p.cpuMsPerRequest!;
    const target = cpuTarget(row);
    const peak = row.stream && row.clients === 64 && row.kind === "small"
      ? `${p.peakMb!.toFixed(0)} (< ${TARGET.peakStreamMb}${
        p.peakMb! < TARGET.peakStreamMb ? "" : " **MISS**"
      })`
      : p.peakMb!.toFixed(0);
    out.push(
      `| ${row.label} | ${row.clients} | ${p.rps.toFixed(0)} | ${d.rps.toFixed(0)} | ${
        (p.rps / d.rps).toFixed(2)
      } | ${row.stream ? pair(p.ttfbP50, p.ttfbP99) : "–"} | ${
        row.stream ? pair(d.ttfbP50, d.ttfbP99) : "–"
      } | ${pair(p.totalP50, p.totalP99)} | ${pair(d.totalP50, d.totalP99)} | ${cpu.toFixed(3)}${
        target === undefined ? "" : ` (≤ ${target}${cpu <= target ? "" : " **MISS**"})`
      } | ${d.cpuMsPerRequest!.toFixed(3)} | ${b.cpuMsPerRequest!.toFixed(3)} (${
        b.peakMb!.toFixed(0)
      }) | ${peak} | ${p.errors ? `**${p.errors}**` : 0} |`,
    );
  }

  const translated = rows.filter((r) => r.upstream === "openai");
  const targets: string[] = [];
  type Side = "proxy" | "bare";
  const line = (
    what: string,
    limit: number,
    unit: "ms" | "MB",
    value: (side: Side) => number | undefined,
  ) => {
    const proxy = value("proxy");
    if (proxy === undefined || !Number.isFinite(proxy)) return;
    const shown = (v: number | undefined) =>
      v === undefined || !Number.isFinite(v)
        ? "–"
        : unit === "MB"
        ? `${v.toFixed(0)} MB`
        : `${v.toFixed(3)} ms`;
    const ok = unit === "MB" || what.startsWith("Added") ? proxy < limit : proxy <= limit;
    const sign = unit === "MB" || what.startsWith("Added") ? "<" : "≤";
    targets.push(
      `| ${what} | ${sign} ${limit} ${unit} | ${shown(proxy)} | ${verdict(ok)} | ${
        shown(value("bare"))
      } |`,
    );
  };
  const worst = (pick: (r: Row) => boolean) => (side: Side) => {
    const values = translated.filter(pick).map((r) => r[side]!.cpuMsPerRequest!);
    return values.length ? Math.max(...values) : undefined;
  };
  line(
    `CPU per ${STREAM_CHUNKS}-chunk stream (worst of 1/8/64 clients)`,
    TARGET.cpuStreamMs,
    "ms",
    worst((r) => r.kind === "small" && r.stream),
  );
  line(
    "CPU per small non-streaming request (worst of 1/8/64 clients)",
    TARGET.cpuSmallMs,
    "ms",
    worst((r) => r.kind === "small" && !r.stream),
  );
  line(
    "CPU per Claude-Code-sized request (worst of non-streaming/stream)",
    TARGET.cpuLargeMs,
    "ms",
    worst((r) => r.kind === "claude-code"),
  );
  const one = translated.find((r) => r.kind === "small" && r.stream && r.clients === 1);
  line(
    "Added to the first byte at 1 client (p50 TTFB proxy − direct)",
    TARGET.addedTtfbMs,
    "ms",
    (side) => one && one[side]!.ttfbP50 - one.direct!.ttfbP50,
  );
  const many = translated.find((r) => r.kind === "small" && r.stream && r.clients === 64);
  line(
    "Peak memory while streaming to 64 clients",
    TARGET.peakStreamMb,
    "MB",
    (side) => many?.[side]?.peakMb,
  );
  if (targets.length > 0) {
    out.push(
      "",
      "| Target (OpenAI upstream) | Limit | Measured | | Bare passthrough, same load |",
      "|---|--:|--:|---|--:|",
    );
    out.push(...targets);
  }
  return out.join("\n");
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  tempDir = await Deno.makeTempDir({ prefix: "proxy-bench-" });
  const fake = await spawn("fake upstream", ["run", "-A", "tests/bench/fake_upstream.ts"], {});
  progress(`fake upstream pid ${fake.pid} at ${fake.url}\n`);

  const bare = await spawn("bare passthrough", [
    "run",
    "-A",
    "tests/bench/bare_passthrough.ts",
    fake.url,
  ], {});
  progress(`bare passthrough pid ${bare.pid} at ${bare.url}\n`);

  const rows: Row[] = [];
  if (!FIXTURE) {
    progress(
      "!! no Claude Code capture (../shared/fixtures/claude-code/ beside the repository): " +
        "the Claude Code rows are left out\n",
    );
  }
  if (providerKinds().includes("openai")) {
    rows.push(...await runUpstream("openai", fake, bare));
  } else {
    progress("!! serviceType openai is not registered yet: only the passthrough rows run\n");
  }
  rows.push(...await runUpstream("anthropic", fake, bare));
  await stop(bare);
  await stop(fake);

  console.log(report(rows));
  const failed = rows.filter((r) => r.proxy!.errors > 0);
  for (
    const [side, name] of [["direct", "the fake upstream itself"], [
      "bare",
      "the bare passthrough",
    ]] as const
  ) {
    for (const row of rows.filter((r) => r[side]!.errors > 0)) {
      console.error(
        `\n${name} failed (${row.label}, ${row.clients} clients): ${
          row[side]!.firstErrors.join("\n  ")
        }`,
      );
    }
  }
  if (failed.length > 0) {
    for (const row of failed) {
      console.error(
        `\nproxy errors in "${row.label}", ${row.clients} clients (${row.proxy!.errors} of ${
          row.proxy!.requests
        }):\n  ${row.proxy!.firstErrors.join("\n  ")}`,
      );
    }
    return 1;
  }
  return 0;
}

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(signal, () => {
    cleanup().finally(() => Deno.exit(130));
  });
}

let code = 1;
try {
  code = await main();
} catch (err) {
  console.error("bench failed:", err instanceof Error ? err.message : err);
  code = 2;
} finally {
  await cleanup();
}
Deno.exit(code);
