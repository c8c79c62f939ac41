// `deno task config`: every command on a local store (a temporary KV file) and on a running
// server (--url, through the admin API).
import assert from "node:assert/strict";
import { runCli } from "../../lib/cli.ts";
import { retryingKv } from "../../lib/store/busy_retry.ts";
import { ConfigStore } from "../../lib/store/config_store.ts";
import { ADMIN_PASSWORD, startTestServer } from "../helpers/server.ts";

const KEY_A = "sk-cli-test-key-aaaaaaaaaaaa1111";
const KEY_B = "sk-cli-test-key-bbbbbbbbbbbb2222";
const KEY_C = "sk-cli-test-key-cccccccccccc3333";

interface Run {
  code: number;
  out: string;
  err: string;
}

type Cli = (...args: string[]) => Promise<Run>;

function cliWith(env: Record<string, string>): Cli {
  return async (...args) => {
    let out = "";
    let err = "";
    const code = await runCli(args, {
      stdout: (t) => out += t,
      stderr: (t) => err += t,
      env: { LOG_LEVEL: "error", ...env },
      dotEnvPath: null,
    });
    return { code, out, err };
  };
}

/**
 * What a CLI process wrote to stderr, less Deno's own notice that it waited for another process
 * to finish setting up node_modules (a fresh clone's first test run does that in parallel).
 */
function ownStderr(text: string): string {
  return text.replace(/^Blocking waiting for file lock on [^\n]*\n/gm, "");
}

async function withLocal(fn: (cli: Cli, kvPath: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "cli_test_" });
  try {
    await fn(cliWith({ KV_PATH: `${dir}/store/proxy.kv` }), `${dir}/store/proxy.kv`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function readStore(kvPath: string) {
  const kv = await Deno.openKv(kvPath);
  const store = await ConfigStore.open(kv, "failover", { watch: false });
  const doc = store.snapshot.doc;
  store.close();
  kv.close();
  return doc;
}

function ok(r: Run, pattern?: RegExp): string {
  assert.equal(r.code, 0, `exit ${r.code}: ${r.err}`);
  if (pattern) assert.match(r.out, pattern);
  return r.out;
}

function fails(r: Run, pattern: RegExp, code = 1): void {
  assert.equal(r.code, code, `expected exit ${code}, got ${r.code}: ${r.out}`);
  assert.match(r.err, pattern);
}

/** The same scenario against either backend. */
async function everyCommand(cli: Cli, read: () => Promise<Awaited<ReturnType<typeof readStore>>>) {
  ok(await cli("help"), /Usage: deno task config/);
  const bare = await cli();
  assert.equal(bare.code, 2, "no command is a usage error");
  assert.match(bare.err, /key <upstream> add <key\.\.\.>/);
  ok(await cli("show"), /No upstream configured/);

  ok(
    await cli("add", "openai-main", "https://api.openai.com/v1", "openai"),
    /Added upstream \[0\]/,
  );
  ok(await cli("add", "gemini", "https://generativelanguage.googleapis.com", "gemini"));
  fails(
    await cli("add", "bad-url", "api.example.com", "openai"),
    /baseUrl: must be an http\(s\) URL/,
  );
  fails(await cli("add", "bad-kind", "https://x.example", "llama"), /serviceType: must be one of/);
  const taken = await cli("add", "OPENAI-MAIN", "https://x.example", "openai");
  fails(taken, /name: "OPENAI-MAIN" is already used by another/);
  // Said once, of the name given, not a second time of the upstream that holds it.
  assert.equal(taken.err.match(/already used/g)?.length, 1, taken.err);
  fails(await cli("add", "only-two-args", "https://x.example"), /Usage: deno task config add/, 2);

  ok(
    await cli("key", "openai-main", "add", KEY_A, KEY_B, KEY_A),
    /Added 2 key\(s\) to openai-main/,
  );
  ok(await cli("key", "OpenAI-Main", "add", KEY_B, KEY_C), /Added 1 key\(s\).*skipped 1 duplicate/);
  ok(await cli("key", "1", "add", "AIza-cli-test-gemini-key-000"));
  const list = ok(await cli("key", "0", "list"), /openai-main: 3 key\(s\)/);
  assert.match(list, /\[0\] sk-cli…1111 {2}active/);
  assert.match(list, /\[2\] sk-cli…3333 {2}active/);
  ok(await cli("key", "openai-main", "remove", "1"), /Removed key sk-cli…2222 from openai-main/);
  ok(await cli("key", "openai-main", "remove", KEY_C), /Removed key sk-cli…3333/);
  fails(await cli("key", "openai-main", "remove", "sk-not-there"), /has no such key/);
  fails(
    await cli("key", "nobody", "list"),
    /No upstream "nobody" \(the upstreams: \[0\] openai-main, \[1\] gemini\)/,
  );
  fails(await cli("key", "openai-main", "rotate"), /Unknown key action "rotate"/, 2);
  // `add` forgotten: the key is said back masked, never whole.
  const forgot = await cli("key", "openai-main", "sk-forgot-the-add-0123456789abcd");
  fails(forgot, /Unknown key action "sk-for…abcd"/, 2);
  // A key given where the upstream goes, with the action after it: masked too.
  const misplaced = await cli("key", "sk-pasted-in-the-wrong-place-0123", "list");
  fails(misplaced, /No upstream "sk-pas…0123"/);
  assert.ok(!(misplaced.out + misplaced.err).includes("wrong-place"));
  assert.doesNotMatch(forgot.out + forgot.err, /forgot-the-add/);
  // An action is looked up among the three only, never among what every object has.
  fails(await cli("key", "openai-main", "toString"), /Unknown key action "toString"/, 2);
  fails(
    await cli("key", "openai-main"),
    /Usage: deno task config key <upstream> add\|list\|remove/,
    2,
  );
  fails(
    await cli("key", "openai-main", "add"),
    /Usage: deno task config key <upstream> add <key/,
    2,
  );
  fails(
    await cli("key", "openai-main", "list", "0"),
    /Usage: deno task config key <upstream> list/,
    2,
  );
  fails(
    await cli("key", "openai-main", "remove"),
    /Usage: deno task config key <upstream> remove/,
    2,
  );

  const shown = ok(await cli("show"), /Strategy: failover/);
  assert.match(shown, /\[0\] openai-main {2}\(current\)/);
  assert.match(shown, /base URL: https:\/\/api.openai.com\/v1/);
  assert.match(shown, /keys: +sk-cli…1111/);

  ok(await cli("use", "gemini"), /Current upstream: gemini/);
  ok(await cli("use", "0"), /Current upstream: openai-main/);
  fails(await cli("use", "7"), /No upstream "7"/);
  ok(await cli("balance", "round-robin"), /Strategy: round-robin/);
  fails(
    await cli("balance", "fastest"),
    /Unknown strategy "fastest": use round-robin, random, failover/,
  );

  // The model map: Claude's names sent as the upstream's own.
  ok(
    await cli("model", "openai-main", "default", "gpt-4o"),
    /Models of openai-main: default → gpt-4o\./,
  );
  ok(await cli("model", "0", "opus", "o3"), /default → gpt-4o, opus → o3\./);
  assert.deepEqual((await read()).upstream[0].models, { default: "gpt-4o", opus: "o3" });
  ok(await cli("model", "openai-main", "default", "-"), /Models of openai-main: opus → o3\./);
  fails(await cli("model", "openai-main", "sonnet", "-"), /maps no model "sonnet"/);
  fails(await cli("model", "openai-main", "constructor", "-"), /maps no model "constructor"/);
  fails(await cli("model", "openai-main", "haiku", " "), /^Name the upstream's model to send/);
  fails(await cli("model", "openai-main", "opus"), /Usage: deno task config model /, 2);
  ok(await cli("model", "openai-main", "opus", "-"), /none mapped, each sent as requested/);

  let doc = await read();
  assert.deepEqual(doc.upstream.map((u) => u.name), ["openai-main", "gemini"]);
  assert.deepEqual(doc.upstream[0].apiKeys, [KEY_A]);
  assert.equal(doc.loadBalance, "round-robin");
  assert.equal(doc.currentUpstream, 0);

  const exported = ok(await cli("export"));
  assert.deepEqual(JSON.parse(exported), doc, "export is the document, keys included");

  ok(await cli("remove", "GEMINI"), /Removed upstream gemini and its 1 key/);
  fails(await cli("remove", "gemini"), /No upstream "gemini"/);

  // Import: the original config.json shape, and what an export wrote.
  const dir = await Deno.makeTempDir({ prefix: "cli_import_" });
  try {
    const legacy = `${dir}/config.json`;
    await Deno.writeTextFile(
      legacy,
      JSON.stringify({
        upstream: [
          {
            baseUrl: "https://api.deepseek.com",
            apiKeys: [KEY_B],
            serviceType: "custom",
            description: "DeepSeek",
            modelMapping: {
              opus: "deepseek-reasoner",
              sonnet: "deepseek-chat",
              haiku: "deepseek-chat",
            },
          },
          { name: "relay", baseUrl: "https://relay.example", apiKeys: [], serviceType: "claude" },
        ],
        currentUpstream: 1,
        loadBalance: "random",
      }),
    );
    const imported = ok(await cli("import", legacy), /Imported .*config.json: 2 upstream\(s\)/);
    assert.match(imported, /\+ custom-1/);
    assert.match(imported, /- openai-main/);
    assert.match(imported, /strategy: round-robin → random/);
    doc = await read();
    assert.deepEqual(doc.upstream[0].models, {
      opus: "deepseek-reasoner",
      sonnet: "deepseek-chat",
      haiku: "deepseek-chat",
    });
    assert.equal(doc.upstream[1].serviceType, "claude");

    const bad = `${dir}/bad.json`;
    await Deno.writeTextFile(bad, JSON.stringify({ upstream: [{ name: "x", baseUrl: "nope" }] }));
    fails(await cli("import", bad), /upstream\.0\.baseUrl[\s\S]*upstream\.0\.serviceType/);
    await Deno.writeTextFile(bad, `{"upstream": [${KEY_A}]}`);
    const notJson = await cli("import", bad);
    fails(notJson, /not valid JSON/);
    assert.ok(!notJson.err.includes(KEY_A), "the parse error does not quote the file");
    fails(await cli("import", `${dir}/missing.json`), /Cannot read/);
    await Deno.writeTextFile(bad, JSON.stringify({ upstreams: [] }));
    fails(await cli("import", bad), /upstream: missing[\s\S]*upstreams: unknown setting/);
    assert.equal((await read()).upstream.length, 2, "failed imports change nothing");

    await Deno.writeTextFile(`${dir}/export.json`, exported);
    ok(await cli("import", `${dir}/export.json`), /: 2 upstream\(s\)[\s\S]*\+ gemini/);
    assert.deepEqual(await read(), JSON.parse(exported));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }

  ok(await cli("clear"), /Removed 2 upstream\(s\) and 2 key\(s\)/);
  assert.deepEqual((await read()).upstream, []);
  fails(await cli("frobnicate"), /Unknown command "frobnicate"/, 2);
  // Names every object answers to are unknown commands too, not silent successes.
  fails(await cli("constructor"), /Unknown command "constructor"/, 2);
  fails(await cli("toString"), /Unknown command "toString"/, 2);
}

Deno.test("CLI on the local store: every command, errors and masking", async () => {
  await withLocal(async (cli, kvPath) => {
    await everyCommand(cli, () => readStore(kvPath));
    // No output of show or list holds a key in full.
    ok(await cli("add", "m", "https://api.openai.com", "openai"));
    ok(await cli("key", "m", "add", KEY_A));
    for (const args of [["show"], ["key", "m", "list"]]) {
      const r = await cli(...args);
      assert.ok(!r.out.includes(KEY_A), args.join(" "));
    }
    // Nor a password or key written into a base URL.
    ok(await cli("add", "g", "https://user:hunter2secret@gw.example/v1?key=AIzaUrlKey1", "openai"));
    const shown = ok(await cli("show"));
    assert.match(shown, /base URL: https:\/\/user:•••@gw\.example\/v1\?key=•••/);
    assert.ok(!shown.includes("hunter2secret") && !shown.includes("AIzaUrlKey1"));
  });
});

Deno.test("CLI: a number that is an index means that index, as in the original CLI, even where an upstream has it as its name", async () => {
  await withLocal(async (cli, kvPath) => {
    ok(await cli("add", "first", "https://a.example", "openai"));
    ok(await cli("add", "second", "https://b.example", "openai"));
    // The hint names it by index: "key 0 add" would mean the first upstream.
    ok(await cli("add", "0", "https://c.example", "openai"), /deno task config key 2 add/);
    ok(await cli("add", "7", "https://d.example", "openai"));
    ok(await cli("key", "0", "add", KEY_A), /to first/);
    ok(await cli("key", "0", "list"), /^first: 1 key/);
    ok(await cli("key", "0", "remove", "0"), /from first/);
    ok(await cli("use", "2"), /Current upstream: 0\./);
    ok(await cli("use", "1"), /Current upstream: second/);
    // Not an index here: a name.
    ok(await cli("use", "7"), /Current upstream: 7\./);
    ok(await cli("remove", "0"), /Removed upstream first /);
    const doc = await readStore(kvPath);
    assert.deepEqual(doc.upstream.map((u) => u.name), ["second", "0", "7"]);
    assert.equal(doc.currentUpstream, 2);
  });
});

Deno.test("CLI add: a name a shell would split is quoted in the hint, so it can be pasted as it is", async () => {
  await withLocal(async (cli) => {
    const hint = ok(await cli("add", "my o'key", "https://e.example", "openai"));
    assert.match(hint, /deno task config key 'my o'\\''key' add <key\.\.\.>/);
    ok(await cli("key", "my o'key", "add", KEY_A), /Added 1 key/);
  });
});

Deno.test("CLI key add -: keys read from standard input, one per line, never said back", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cli_stdin_" });
  const kvPath = `${dir}/proxy.kv`;
  try {
    const cli = (stdin: string, ...args: string[]) => {
      let out = "";
      let err = "";
      return runCli(args, {
        stdout: (t) => out += t,
        stderr: (t) => err += t,
        env: { LOG_LEVEL: "error", KV_PATH: kvPath },
        dotEnvPath: null,
        stdin: () => Promise.resolve(stdin),
      }).then((code) => ({ code, out, err }));
    };
    ok(await cli("", "add", "main", "https://api.openai.com", "openai"));
    const added = await cli(`${KEY_A}\r\n\n  ${KEY_B}  \n`, "key", "main", "add", "-");
    assert.equal(added.code, 0, added.err);
    assert.match(added.out, /Added 2 key\(s\) to main/);
    assert.equal(added.out.includes(KEY_A) || added.out.includes(KEY_B), false, added.out);
    assert.deepEqual((await readStore(kvPath)).upstream[0].apiKeys, [KEY_A, KEY_B]);
    const none = await cli("\n \n", "key", "main", "add", "-");
    assert.equal(none.code, 2);
    assert.match(none.err, /No key on standard input/);
    const mixed = await cli(`${KEY_C}\n`, "key", "main", "add", KEY_C, "-");
    assert.equal(mixed.code, 2, "a `-` among typed keys is no key");
    assert.match(mixed.err, /either typed keys or "-"/);
    assert.deepEqual((await readStore(kvPath)).upstream[0].apiKeys, [KEY_A, KEY_B]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("CLI import: a file that repeats a key imports, one copy kept, with a note on stderr", async () => {
  await withLocal(async (cli, kvPath) => {
    const file = kvPath.replace(/store\/proxy\.kv$/, "config.json");
    await Deno.writeTextFile(
      file,
      JSON.stringify({
        upstream: [{
          name: "openai-main",
          baseUrl: "https://api.openai.com",
          serviceType: "openai",
          apiKeys: [KEY_A, KEY_B, KEY_A],
        }],
        currentUpstream: 0,
        loadBalance: "round-robin",
      }),
    );
    const r = await cli("import", file);
    ok(r, /Imported .*: 1 upstream\(s\)/);
    assert.match(r.err, /^Note: openai-main listed 1 key more than once; each is kept once\.\n$/);
    assert.deepEqual((await readStore(kvPath)).upstream[0].apiKeys, [KEY_A, KEY_B]);
  });
});

Deno.test("CLI import: the original config.json's shared, slashed or reserved names are renamed, with a note", async () => {
  await withLocal(async (cli, kvPath) => {
    const file = kvPath.replace(/store\/proxy\.kv$/, "config.json");
    const up = (name: string, baseUrl: string) => ({
      name,
      baseUrl,
      apiKeys: [],
      serviceType: "openai",
    });
    await Deno.writeTextFile(
      file,
      JSON.stringify({
        upstream: [
          up("relay", "https://a.example/v1"),
          up("relay", "https://b.example/v1"),
          up("OpenRouter/free", "https://openrouter.ai/api/v1"),
          up("new", "https://c.example/v1"),
        ],
        currentUpstream: 1,
        loadBalance: "round-robin",
      }),
    );
    const r = await cli("import", file);
    ok(r, /Imported .*: 4 upstream\(s\)[\s\S]*current: none → relay-2/);
    assert.match(r.err, /^Note: upstream \[1\] "relay" is named "relay-2": a name must be unique/m);
    assert.match(r.err, /^Note: upstream \[2\] "OpenRouter\/free" is named "OpenRouter-free"/m);
    assert.match(r.err, /^Note: upstream \[3\] "new" is named "new-1"/m);
    const doc = await readStore(kvPath);
    assert.deepEqual(
      doc.upstream.map((u) => u.name),
      ["relay", "relay-2", "OpenRouter-free", "new-1"],
    );
    assert.equal(doc.upstream[doc.currentUpstream].baseUrl, "https://b.example/v1");
    // With --url too: the CLI renames, the server's PUT takes the names as they then are.
    const server = await startTestServer();
    try {
      const remote = await cliWith({ ADMIN_PASSWORD })("--url", server.url, "import", file);
      ok(remote, /Imported .*: 4 upstream\(s\)/);
      assert.match(remote.err, /"relay" is named "relay-2"/);
      assert.deepEqual(server.services.store.snapshot.doc.upstream.map((u) => u.name), [
        "relay",
        "relay-2",
        "OpenRouter-free",
        "new-1",
      ]);
    } finally {
      await server.close();
    }
  });
});

Deno.test("CLI import of a file too large for the store: one line saying so, exit 1, store kept", async () => {
  await withLocal(async (cli, kvPath) => {
    ok(await cli("add", "m", "https://api.openai.com", "openai"));
    const file = kvPath.replace(/store\/proxy\.kv$/, "big.json");
    const keys = Array.from({ length: 40_000 }, (_, i) => `sk-big-${i}`.padEnd(24, "x"));
    await Deno.writeTextFile(
      file,
      JSON.stringify({
        upstream: [{
          name: "big",
          baseUrl: "https://b.example",
          serviceType: "openai",
          apiKeys: keys,
        }],
      }),
    );
    const r = await cli("import", file);
    assert.equal(r.code, 1);
    assert.match(r.err, /too large to store: about \d+ KB, at most \d+ KB/);
    assert.doesNotMatch(r.err, /\n\s+at |TypeError/);
    assert.deepEqual((await readStore(kvPath)).upstream.map((u) => u.name), ["m"]);
  });
});

Deno.test("CLI key add of 150,000 keys at once: too large to store, said in one line, not a crash", async () => {
  await withLocal(async (cli, kvPath) => {
    ok(await cli("add", "m", "https://api.openai.com", "openai"));
    let err = "";
    const code = await runCli(["key", "m", "add", "-"], {
      stdout: () => {},
      stderr: (t) => err += t,
      env: { LOG_LEVEL: "error", KV_PATH: kvPath },
      dotEnvPath: null,
      stdin: () => Promise.resolve(Array.from({ length: 150_000 }, (_, i) => `k${i}`).join("\n")),
    });
    assert.equal(code, 1, err);
    assert.match(err, /too large to store/);
    assert.doesNotMatch(err, /\n\s+at |RangeError|call stack/);
    assert.deepEqual((await readStore(kvPath)).upstream[0].apiKeys, []);
  });
});

Deno.test("CLI key list shows each key's state from the store", async () => {
  await withLocal(async (cli, kvPath) => {
    ok(await cli("add", "m", "https://api.openai.com", "openai"));
    ok(await cli("key", "m", "add", KEY_A, KEY_B));
    const { KeyHealthStore } = await import("../../lib/store/key_health_store.ts");
    const { healthId } = await import("../../lib/key_pool.ts");
    const kv = await Deno.openKv(kvPath);
    const health = await KeyHealthStore.open(kv, { watch: false });
    await health.disable(healthId("https://api.openai.com", KEY_B), "401: invalid key");
    health.close();
    kv.close();
    const out = ok(await cli("key", "m", "list"));
    assert.match(out, /\[0\] sk-cli…1111 {2}active/);
    assert.match(out, /\[1\] sk-cli…2222 {2}disabled \(401: invalid key\)/);
  });
});

Deno.test("CLI --url: every command against a running server, live", async () => {
  const server = await startTestServer();
  try {
    const cli = cliWith({ ADMIN_PASSWORD });
    const remote: Cli = (...args) => cli("--url", server.url, ...args);
    await everyCommand(
      remote,
      () => Promise.resolve(structuredClone(server.services.store.snapshot.doc)),
    );
    ok(await remote("add", "m", "https://api.openai.com", "openai"));
    ok(await remote("key", "m", "add", KEY_A));
    const shown = ok(await cli(`--url=${server.url}`, "show"));
    assert.ok(!shown.includes(KEY_A));
    assert.equal(server.services.store.snapshot.doc.upstream[0].apiKeys[0], KEY_A);
  } finally {
    await server.close();
  }
});

Deno.test("CLI --url: clear errors for a missing or wrong password and bad or dead URLs", async () => {
  const server = await startTestServer();
  try {
    fails(await cliWith({})("--url", server.url, "show"), /Set ADMIN_PASSWORD/);
    fails(
      await cliWith({ ADMIN_PASSWORD: "wrong" })("--url", server.url, "show"),
      /refused ADMIN_PASSWORD/,
    );
    fails(
      await cliWith({ ADMIN_PASSWORD })("--url", "localhost:3000", "show"),
      /--url must be an http/,
      2,
    );
    fails(await cliWith({ ADMIN_PASSWORD })("--url"), /--url needs a value/, 2);
    const dead = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (dead.addr as Deno.NetAddr).port;
    dead.close();
    fails(
      await cliWith({ ADMIN_PASSWORD })("--url", `http://127.0.0.1:${port}`, "show"),
      /Cannot reach/,
    );
    // Another server that answers 200 with JSON of its own.
    await using other = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      () => Response.json({ status: "ok" }),
    );
    const otherUrl = `http://127.0.0.1:${other.addr.port}`;
    for (const command of [["show"], ["balance", "random"], ["key", "0", "list"]]) {
      fails(
        await cliWith({ ADMIN_PASSWORD })("--url", otherUrl, ...command),
        /not this proxy's admin API: is --url right\?/,
      );
    }
  } finally {
    await server.close();
  }
});

Deno.test("CLI --url: a server that never answers, or answers without end, is given up on with one line", async () => {
  // Accepts, reads the request, answers nothing.
  const silent = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  (async () => {
    for await (const conn of silent) held.push(conn);
  })();
  const endless = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => {
    const chunk = new Uint8Array(64 * 1024).fill(0x20);
    return new Response(new ReadableStream({ pull: (c) => c.enqueue(chunk) }));
  });
  try {
    const run = async (url: string) => {
      let out = "";
      let err = "";
      const code = await runCli(["--url", url, "show"], {
        stdout: (t) => out += t,
        stderr: (t) => err += t,
        env: { LOG_LEVEL: "error", ADMIN_PASSWORD },
        dotEnvPath: null,
        remoteTimeoutMs: 500,
      });
      return { code, out, err };
    };
    const port = (silent.addr as Deno.NetAddr).port;
    fails(
      await run(`http://127.0.0.1:${port}`),
      new RegExp(
        `^http://127\\.0\\.0\\.1:${port} did not answer within 0\\.5 s: is --url right\\?`,
      ),
    );
    fails(
      await run(`http://127.0.0.1:${endless.addr.port}`),
      /The answer of http:\/\/127\.0\.0\.1:\d+ is larger than 8 MB: no configuration/,
    );
  } finally {
    silent.close();
    for (const conn of held) conn.close();
    await endless.shutdown();
  }
});

Deno.test("CLI import of a file without end (/dev/zero) stops at 8 MB with one line", async () => {
  await withLocal(async (cli) => {
    fails(await cli("import", "/dev/zero"), /^\/dev\/zero is larger than 8 MB: no configuration/);
  });
});

Deno.test("CLI --url: a change saved by someone else between its read and its write is applied again on top", async () => {
  const server = await startTestServer();
  // Between the CLI's read and its write, another admin adds an upstream: the server refuses the
  // CLI's stale write (412), and the CLI reads again and re-applies its own change.
  let puts = 0;
  const between = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const url = new URL(req.url);
    if (req.method === "PUT" && puts++ === 0) {
      const current = structuredClone(server.services.store.snapshot.doc);
      current.upstream.push(
        {
          name: "theirs",
          serviceType: "openai",
          baseUrl: "https://api.openai.com",
          apiKeys: [KEY_B],
        } as (typeof current.upstream)[number],
      );
      await server.services.store.replace(current);
    }
    return fetch(`${server.url}${url.pathname}${url.search}`, {
      method: req.method,
      headers: req.headers,
      body: req.body,
    });
  });
  try {
    const cli = cliWith({ ADMIN_PASSWORD });
    ok(
      await cli(
        "--url",
        `http://127.0.0.1:${between.addr.port}`,
        "add",
        "mine",
        "https://api.openai.com",
        "openai",
      ),
    );
    assert.equal(puts, 2, "the stale write was refused and made again");
    assert.deepEqual(server.services.store.snapshot.doc.upstream.map((u) => u.name).sort(), [
      "mine",
      "theirs",
    ]);
  } finally {
    await between.shutdown();
    await server.close();
  }
});

Deno.test("CLI: a bad setting in the environment is reported, not thrown", async () => {
  const r = await cliWith({ KV_PATH: ":memory:", LOAD_BALANCE_STRATEGY: "fastest" })("show");
  fails(r, /LOAD_BALANCE_STRATEGY/);
});

Deno.test("`deno task config` runs lib/cli.ts as a program, with its exit code", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cli_main_" });
  try {
    const run = (...args: string[]) =>
      new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--allow-net",
          "--allow-env",
          "--allow-read",
          "--allow-write",
          "lib/cli.ts",
          ...args,
        ],
        env: { KV_PATH: `${dir}/proxy.kv`, NO_COLOR: "1" },
        cwd: new URL("../../", import.meta.url).pathname,
        stdout: "piped",
        stderr: "piped",
      }).output();
    const added = await run("add", "main", "https://api.openai.com", "openai");
    assert.equal(added.code, 0, new TextDecoder().decode(added.stderr));
    const shown = await run("show");
    assert.match(new TextDecoder().decode(shown.stdout), /\[0\] main {2}\(current\)/);
    const piped = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "lib/cli.ts", "key", "main", "add", "-"],
      env: { KV_PATH: `${dir}/proxy.kv`, NO_COLOR: "1" },
      cwd: new URL("../../", import.meta.url).pathname,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const writer = piped.stdin.getWriter();
    await writer.write(new TextEncoder().encode(`${KEY_C}\n`));
    await writer.close();
    const fromStdin = await piped.output();
    assert.equal(fromStdin.code, 0, new TextDecoder().decode(fromStdin.stderr));
    assert.match(new TextDecoder().decode(fromStdin.stdout), /Added 1 key\(s\) to main/);
    const bad = await run("balance", "sideways");
    assert.equal(bad.code, 1);
    assert.match(new TextDecoder().decode(bad.stderr), /Unknown strategy "sideways"/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("CLI --url: HTTP_PROXY written in .env carries its calls, as in the real environment", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cli_proxy_" });
  const asked: string[] = [];
  const egress = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    asked.push(req.url);
    return Response.json({
      upstream: [{
        name: "seen-through-the-proxy",
        baseUrl: "https://api.openai.com",
        serviceType: "openai",
        apiKeys: [],
      }],
      currentUpstream: 0,
      loadBalance: "failover",
    }, { headers: { etag: '"1"' } });
  });
  try {
    await Deno.writeTextFile(
      `${dir}/.env`,
      `HTTP_PROXY=http://127.0.0.1:${egress.addr.port}\nADMIN_PASSWORD=cli-proxy-test-password\n`,
    );
    const shown = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL("../../lib/cli.ts", import.meta.url).pathname,
        "--url",
        "http://admin.invalid",
        "show",
      ],
      env: { NO_COLOR: "1" },
      cwd: dir,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(shown.code, 0, new TextDecoder().decode(shown.stderr));
    assert.match(new TextDecoder().decode(shown.stdout), /seen-through-the-proxy/);
    assert.deepEqual(asked, ["http://admin.invalid/admin/api/config"]);
  } finally {
    await egress.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("CLI: stdout closed early (`| head -1`) ends every command quietly with exit 0", async () => {
  await withLocal(async (_cli, kvPath) => {
    const env = { LOG_LEVEL: "error", KV_PATH: kvPath };
    const run = async (...args: string[]) => {
      let err = "";
      let writes = 0;
      const code = await runCli(args, {
        stdout: () => {
          if (writes++ > 0) throw new Deno.errors.BrokenPipe("Broken pipe (os error 32)");
        },
        stderr: (t) => err += t,
        env,
        dotEnvPath: null,
      });
      return { code, err, writes };
    };
    assert.equal((await cliWith(env)("add", "m", "https://api.openai.com", "openai")).code, 0);
    assert.equal((await cliWith(env)("key", "m", "add", KEY_A, KEY_B, KEY_C)).code, 0);
    for (const args of [["help"], ["show"], ["key", "m", "list"], ["export"], ["use", "m"]]) {
      const r = await run(...args);
      assert.deepEqual([r.code, r.err], [0, ""], args.join(" "));
    }
  });
});

Deno.test("`deno task config key <upstream> list | head -1` with many keys exits 0, no stack trace", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cli_pipe_" });
  try {
    const kvPath = `${dir}/proxy.kv`;
    const keys = Array.from(
      { length: 3000 },
      (_, i) => `sk-pipe-test-${String(i).padStart(6, "0")}`,
    );
    const cli = cliWith({ KV_PATH: kvPath });
    assert.equal((await cli("add", "many", "https://api.openai.com", "openai")).code, 0);
    assert.equal((await cli("key", "many", "add", ...keys)).code, 0);
    for (const args of [["key", "many", "list"], ["export"]]) {
      const child = new Deno.Command(Deno.execPath(), {
        args: ["run", "--allow-net", "--allow-env", "--allow-read", "--allow-write", "lib/cli.ts"]
          .concat(args),
        env: { KV_PATH: kvPath, NO_COLOR: "1" },
        cwd: new URL("../../", import.meta.url).pathname,
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      // Read the first line, then close the pipe while the output (well past a pipe's buffer)
      // is still being written, as `head -1` does.
      const reader = child.stdout.getReader();
      const first = await reader.read();
      assert.ok(first.value && first.value.length > 0);
      await reader.cancel();
      const [status, stderr] = await Promise.all([
        child.status,
        new Response(child.stderr).text(),
      ]);
      assert.equal(ownStderr(stderr), "", args.join(" "));
      assert.equal(status.code, 0, args.join(" "));
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("CLI: parallel edits from many processes on one KV file all land, none fails", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cli_parallel_" });
  const kvPath = `${dir}/proxy.kv`;
  const spawn = (...args: string[]) =>
    new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-net", "--allow-env", "--allow-read", "--allow-write", "lib/cli.ts"]
        .concat(args),
      env: { KV_PATH: kvPath, NO_COLOR: "1" },
      cwd: new URL("../../", import.meta.url).pathname,
      stdout: "piped",
      stderr: "piped",
    }).output();
  // A server on the same file reads it all the while, as the proxy's poll does.
  const kv = await Deno.openKv(kvPath);
  let reading = true;
  const reader = (async () => {
    while (reading) {
      await kv.get(["config", "meta"]);
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  try {
    assert.equal((await spawn("add", "fake", "https://api.openai.com", "openai")).code, 0);
    const keys = Array.from({ length: 8 }, (_, i) => `sk-conc-${i}-xxxxxxxxxxxx`);
    const runs = await Promise.all([
      ...keys.map((k) => spawn("key", "fake", "add", k)),
      ...keys.map((_, i) => spawn("balance", i % 2 ? "random" : "round-robin")),
    ]);
    for (const r of runs) {
      assert.equal(ownStderr(new TextDecoder().decode(r.stderr)), "");
      assert.equal(r.code, 0);
    }
    reading = false;
    await reader;
    const doc = await readStore(kvPath);
    assert.deepEqual([...doc.upstream[0].apiKeys].sort(), [...keys].sort(), "no edit was lost");
  } finally {
    reading = false;
    await reader;
    kv.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("CLI: a KV file locked past every retry gets a one-line message, not a stack trace", async () => {
  const real = await Deno.openKv(":memory:");
  // Every write finds the file locked by another process, for longer than the retries wait.
  const locked = {
    get: (key: Deno.KvKey) => real.get(key),
    getMany: (keys: Deno.KvKey[]) => real.getMany(keys),
    atomic: () => ({
      check() {
        return this;
      },
      set() {
        return this;
      },
      delete() {
        return this;
      },
      commit: () => Promise.reject(new TypeError("database is locked")),
    }),
    close: () => real.close(),
  } as unknown as Deno.Kv;
  let err = "";
  const code = await runCli(["balance", "random"], {
    stdout: () => {},
    stderr: (t) => err += t,
    env: { LOG_LEVEL: "error" },
    dotEnvPath: null,
    openKv: () => Promise.resolve(retryingKv(locked, { budgetMs: 50 })),
  });
  assert.equal(code, 1);
  assert.equal(err, "The configuration kept changing while this command ran; try again.\n");
});

Deno.test("CLI: a KV_PATH that cannot be opened is said in one line naming it, exit 1", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cli_test_" });
  try {
    // A directory is no database file.
    const run = await cliWith({ KV_PATH: dir })("show");
    fails(run, /^KV_PATH: cannot open the store at /);
    assert.equal(run.err.trim().split("\n").length, 1, run.err);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("CLI: add takes the later original CLI's order too (<name> <serviceType> <baseUrl>)", async () => {
  await withLocal(async (cli, kvPath) => {
    ok(await cli("add", "old-order", "openai", "https://api.openai.com/v1"), /Added upstream/);
    ok(await cli("add", "new-order", "https://x.example", "gemini"), /Added upstream/);
    const doc = await readStore(kvPath);
    assert.deepEqual(
      doc.upstream.map((u) => [u.name, u.baseUrl, u.serviceType]),
      [
        ["old-order", "https://api.openai.com/v1", "openai"],
        ["new-order", "https://x.example", "gemini"],
      ],
    );
  });
});

Deno.test("CLI: a config.json saved with a byte order mark (Windows editors) imports", async () => {
  await withLocal(async (cli, kvPath) => {
    const file = await Deno.makeTempFile({ suffix: ".json" });
    await Deno.writeTextFile(
      file,
      "\uFEFF" + JSON.stringify({
        upstream: [{ name: "bom", baseUrl: "https://x.example", serviceType: "openai" }],
        currentUpstream: 0,
        loadBalance: "random",
      }),
    );
    try {
      ok(await cli("import", file), /1 upstream\(s\)/);
    } finally {
      await Deno.remove(file);
    }
    assert.equal((await readStore(kvPath)).upstream[0].name, "bom");
  });
});

Deno.test("deno task config with a .env it cannot read says so and exits 1, instead of editing the default store", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cli_dotenv_" });
  try {
    await Deno.mkdir(`${dir}/.env`);
    let err = "";
    const code = await runCli(["show"], {
      stdout: () => {},
      stderr: (t) => err += t,
      env: { KV_PATH: ":memory:" },
      dotEnvPath: `${dir}/.env`,
    });
    assert.equal(code, 1);
    assert.match(err, /\.env: cannot read it/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
