// A/B harness: two proxy processes (trees A and B) in front of one fake upstream; blocks of N
// requests at fixed concurrency alternate between them; each server's CPU (/proc/<pid>/stat) is
// read around its blocks.
//   deno run -A ab.ts <treeA> <treeB> [--c 8] [--n 2000] [--blocks 10] [--stream] [--flags "..."]
const args = Deno.args;
const opt = (name: string, def: string) => {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? def : args[i + 1];
};
const [treeA, treeB] = args;
const C = Number(opt("c", "8"));
const N = Number(opt("n", "2000"));
const BLOCKS = Number(opt("blocks", "10"));
const STREAM = args.includes("--stream");
const FLAGS_A = opt("flagsA", opt("flags", "--v8-flags=--max-semi-space-size=8")).split(/\s+/)
  .filter(Boolean);
const FLAGS_B = opt("flagsB", opt("flags", "--v8-flags=--max-semi-space-size=8")).split(/\s+/)
  .filter(Boolean);
const CLK_TCK = 100;
const envOf = (s: string) => Object.fromEntries(s.split(",").filter(Boolean).map((kv) => kv.split("=")));
const ENV_A = envOf(opt("envA", ""));
const ENV_B = envOf(opt("envB", ""));

function cpuMs(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) * 1000 / CLK_TCK;
}

async function spawn(cwd: string, args: string[], env: Record<string, string>) {
  const p = new Deno.Command(Deno.execPath(), {
    args,
    cwd,
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let resolve!: (u: string) => void;
  const url = new Promise<string>((r) => resolve = r);
  const drain = async (s: ReadableStream<Uint8Array>) => {
    let buf = "";
    for await (const t of s.pipeThrough(new TextDecoderStream())) {
      if (buf !== null) {
        buf += t;
        const m = buf.match(/listening on (http:\/\/[^\s/]+)/);
        if (m) {
          resolve(m[1]);
          buf = null as unknown as string;
        } else if (buf.length > 100000) buf = buf.slice(-1000);
      }
    }
  };
  drain(p.stdout);
  drain(p.stderr);
  return { p, pid: p.pid, url: await url };
}

const fake = await spawn(treeA, ["run", "-A", "tests/bench/fake_upstream.ts"], {});
const tmp = await Deno.makeTempDir({ prefix: "ab-" });

async function startProxy(tree: string, tag: string, flags: string[], extra: Record<string, string>) {
  const kvPath = `${tmp}/${tag}.kv`;
  const { ConfigStore } = await import(`file://${treeA}/lib/store/config_store.ts`);
  const kv = await Deno.openKv(kvPath);
  const store = await ConfigStore.open(kv, "failover", { watch: false });
  await store.replace({
    upstream: [{ name: "bench", baseUrl: fake.url, serviceType: (Deno.env.get("AB_KIND") ?? "openai"), apiKeys: ["sk-bench-1"] }],
    loadBalance: "round-robin",
  });
  store.close();
  kv.close();
  return await spawn(tree, ["run", ...flags, "--allow-all", "main.ts"], {
    PORT: "0",
    HOSTNAME: "127.0.0.1",
    KV_PATH: kvPath,
    PROXY_ACCESS_KEY: "bench-key",
    LOG_LEVEL: "info",
    MAX_CONCURRENT_REQUESTS: "1000",
    ENABLE_RATE_LIMIT: "false",
    ENABLE_REQUEST_LOGS: "false",
    ENABLE_RESPONSE_LOGS: "false",
    ...extra,
  });
}

const A = await startProxy(treeA, "a", FLAGS_A, ENV_A);
const B = await startProxy(treeB, "b", FLAGS_B, ENV_B);

const body = Deno.env.get("AB_BODY") === "cc"
  ? JSON.stringify({ ...JSON.parse(Deno.readTextFileSync("/work/shared/fixtures/claude-code/claude-code-main-request.json")), stream: STREAM })
  : JSON.stringify({
  model: "claude-sonnet-4-5",
  max_tokens: 256,
  messages: [{ role: "user", content: "Say hello" }],
  ...(STREAM ? { stream: true } : {}),
});
const headers = {
  "content-type": "application/json",
  "x-api-key": "bench-key",
  "anthropic-version": "2023-06-01",
};

async function block(url: string, n: number): Promise<number> {
  let left = n;
  let errors = 0;
  const worker = async () => {
    while (left > 0) {
      left--;
      const res = await fetch(`${url}/v1/messages`, { method: "POST", headers, body });
      const text = await res.text();
      if (res.status !== 200 || (!STREAM && !text.includes('"type":"message"')) ||
        (STREAM && !text.includes("message_stop"))) errors++;
    }
  };
  await Promise.all(Array.from({ length: C }, worker));
  return errors;
}

// warm up
for (let i = 0; i < 2; i++) {
  await block(A.url, N / 2);
  await block(B.url, N / 2);
}
await new Promise((r) => setTimeout(r, 1500));

const per: Record<string, number[]> = { A: [], B: [] };
const total = { A: 0, B: 0 };
const servers = { A, B };
let errs = 0;
// Each server's CPU is read at the start of each of its blocks: a cycle (its block, then the
// other's) holds its deferred work too (request log flushes a second later).
const last = { A: cpuMs(A.pid), B: cpuMs(B.pid) };
for (let i = 0; i <= BLOCKS; i++) {
  for (const k of ["A", "B"] as const) {
    const s = servers[k];
    const c = cpuMs(s.pid);
    if (i > 0) {
      per[k].push((c - last[k]) / N);
      total[k] += c - last[k];
    }
    last[k] = c;
    if (i < BLOCKS) errs += await block(s.url, N);
  }
}
const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const f = (x: number) => x.toFixed(4);
const ratios = per.A.map((a, i) => per.B[i] / a);
console.log(
  `c=${C} n=${N} blocks=${BLOCKS} stream=${STREAM} errors=${errs}\n` +
    `A ${treeA} ${JSON.stringify(ENV_A)}: median ${f(med(per.A))} mean ${f(total.A / (N * BLOCKS))} [${
      per.A.map(f).join(" ")
    }]\n` +
    `B ${treeB} ${JSON.stringify(ENV_B)}: median ${f(med(per.B))} mean ${f(total.B / (N * BLOCKS))} [${
      per.B.map(f).join(" ")
    }]\n` +
    `B/A: mean ${(total.B / total.A).toFixed(3)}, median of pair ratios ${med(ratios).toFixed(3)}; B<A in ${
      ratios.filter((r) => r < 1).length
    }/${BLOCKS} pairs`,
);
for (const s of [A, B, fake]) s.p.kill("SIGKILL");
await Deno.remove(tmp, { recursive: true }).catch(() => {});
Deno.exit(0);
